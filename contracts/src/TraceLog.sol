// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AgentRegistry} from "./AgentRegistry.sol";
import {Batch, BatchHeader} from "./CovenantTypes.sol";

/// @title TraceLog
/// @notice The operator of an agent commits its trace in batches: a Merkle root over the
///         step leaves, the DA commitment of the blob holding the steps, and the step
///         count. Sequence numbers are gapless and each is written once; batches never
///         change. A batch is final once its challenge window has passed.
/// @dev The operator also signs batch headers off chain (EIP-712, this contract's domain)
///      as receipts; two different signed headers for one sequence, or a signed header
///      that differs from the committed batch, is equivocation (see DisputeGame).
contract TraceLog is EIP712 {
    bytes32 public constant BATCH_HEADER_TYPEHASH = keccak256(
        "BatchHeader(uint256 agentId,uint64 sequence,bytes32 merkleRoot,bytes32 daCommitmentHash,uint32 stepCount)"
    );
    uint256 public constant MAX_DA_COMMITMENT_BYTES = 8192;

    AgentRegistry public immutable registry;

    mapping(uint256 => mapping(uint64 => Batch)) private _batches;
    mapping(uint256 => uint64) public nextSequence;
    mapping(uint256 => uint64) public nextStepIndex;
    /// the latest committedAt + challengeWindow over all the agent's batches: when the last
    /// of them stops being challengeable (a later batch under a shorter window does not
    /// bring it forward)
    mapping(uint256 => uint64) public lastFinalizesAt;

    event BatchCommitted(
        uint256 indexed agentId,
        uint64 indexed sequence,
        bytes32 merkleRoot,
        bytes daCommitment,
        uint64 firstIndex,
        uint32 stepCount,
        uint64 committedAt
    );

    error NotOperator(uint256 agentId, address caller);
    error SequenceGap(uint256 agentId, uint64 expected, uint64 given);
    error SequenceTaken(uint256 agentId, uint64 sequence);
    error EmptyBatch();
    error EmptyRoot();
    error BadDaCommitment(uint256 length);
    error UnknownBatch(uint256 agentId, uint64 sequence);

    constructor(AgentRegistry registry_) EIP712("Covenant TraceLog", "1") {
        registry = registry_;
    }

    /// @notice Commit the next batch. Re-sending a batch that is already committed with the
    ///         same content is a no-op (returns false), so a committer that crashed after
    ///         sending can simply retry; different content for a taken sequence reverts.
    function commit(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes calldata daCommitment,
        uint32 stepCount
    ) external returns (bool written) {
        AgentRegistry.Agent memory a = registry.agent(agentId);
        if (msg.sender != a.operator) revert NotOperator(agentId, msg.sender);
        if (stepCount == 0) revert EmptyBatch();
        if (merkleRoot == bytes32(0)) revert EmptyRoot();
        if (daCommitment.length == 0 || daCommitment.length > MAX_DA_COMMITMENT_BYTES) {
            revert BadDaCommitment(daCommitment.length);
        }
        bytes32 daHash = keccak256(daCommitment);
        uint64 expected = nextSequence[agentId];
        if (sequence < expected) {
            Batch storage old = _batches[agentId][sequence];
            if (old.merkleRoot == merkleRoot && old.daCommitmentHash == daHash && old.stepCount == stepCount) {
                return false;
            }
            revert SequenceTaken(agentId, sequence);
        }
        if (sequence != expected) revert SequenceGap(agentId, expected, sequence);

        uint64 window = registry.challengeWindowOf(agentId);
        uint64 first = nextStepIndex[agentId];
        _batches[agentId][sequence] = Batch({
            merkleRoot: merkleRoot,
            daCommitmentHash: daHash,
            firstIndex: first,
            stepCount: stepCount,
            committedAt: uint64(block.timestamp),
            challengeWindow: window
        });
        nextSequence[agentId] = expected + 1;
        nextStepIndex[agentId] = first + stepCount;
        uint64 finalizesAt = uint64(block.timestamp) + window;
        if (finalizesAt > lastFinalizesAt[agentId]) lastFinalizesAt[agentId] = finalizesAt;
        emit BatchCommitted(agentId, sequence, merkleRoot, daCommitment, first, stepCount, uint64(block.timestamp));
        return true;
    }

    function batch(uint256 agentId, uint64 sequence) external view returns (Batch memory b) {
        b = _batches[agentId][sequence];
        if (b.stepCount == 0) revert UnknownBatch(agentId, sequence);
    }

    function isCommitted(uint256 agentId, uint64 sequence) external view returns (bool) {
        return _batches[agentId][sequence].stepCount != 0;
    }

    function isFinal(uint256 agentId, uint64 sequence) external view returns (bool) {
        Batch storage b = _batches[agentId][sequence];
        if (b.stepCount == 0) revert UnknownBatch(agentId, sequence);
        return block.timestamp > uint256(b.committedAt) + b.challengeWindow;
    }

    /// @notice The EIP-712 digest an operator signs for a batch header.
    function hashBatchHeader(BatchHeader calldata h) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(BATCH_HEADER_TYPEHASH, h.agentId, h.sequence, h.merkleRoot, h.daCommitmentHash, h.stepCount)
            )
        );
    }
}
