// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AgentRegistry} from "./AgentRegistry.sol";
import {Batch, BatchHeader} from "./CovenantTypes.sol";
import {AgentAccount} from "./AgentAccount.sol";

/// @title TraceLog
/// @notice The operator of an agent commits its trace in batches: a Merkle root over the
///         step leaves, the DA commitment of the blob holding the steps, and the step
///         count. Sequence numbers are gapless and each is written once; batches never
///         change. A batch is final once its challenge window has passed.
///         A batch also declares how many of the agent's AgentAccount calls the batches so
///         far cover (`callsCovered`, cumulative, never more than the account has made):
///         a call not covered by its deadline is provable on chain (DisputeGame), and the
///         account refuses new calls while an old one is uncovered.
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
    /// the agent's account calls [0, coveredCalls) are declared covered by committed batches
    mapping(uint256 => uint32) public coveredCalls;

    event BatchCommitted(
        uint256 indexed agentId,
        uint64 indexed sequence,
        bytes32 merkleRoot,
        bytes daCommitment,
        uint64 firstIndex,
        uint32 stepCount,
        uint64 committedAt,
        uint32 callsCovered
    );

    /// coverage moved without a new batch (`cover`): the steps are in batches up to `lastSequence`
    event CallsCovered(uint256 indexed agentId, uint64 lastSequence, uint32 callsCovered);

    error NotOperator(uint256 agentId, address caller);
    error SequenceGap(uint256 agentId, uint64 expected, uint64 given);
    error SequenceTaken(uint256 agentId, uint64 sequence);
    error EmptyBatch();
    error EmptyRoot();
    error BadDaCommitment(uint256 length);
    error UnknownBatch(uint256 agentId, uint64 sequence);
    error BadCoverage(uint32 given, uint32 coveredBefore, uint32 callCount);

    constructor(AgentRegistry registry_) EIP712("Covenant TraceLog", "1") {
        registry = registry_;
    }

    /// @notice Commit the next batch without covering more account calls.
    function commit(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes calldata daCommitment,
        uint32 stepCount
    ) external returns (bool written) {
        uint32 covered = sequence < nextSequence[agentId] ? _batches[agentId][sequence].callsCovered : coveredCalls[agentId];
        return _commit(agentId, sequence, merkleRoot, daCommitment, stepCount, covered);
    }

    /// @notice Commit the next batch. Re-sending a batch that is already committed with the
    ///         same content is a no-op (returns false), so a committer that crashed after
    ///         sending can simply retry; different content for a taken sequence reverts.
    ///         `callsCovered`: the agent's account calls [0, callsCovered) have their wallet
    ///         steps in this batch or an earlier one.
    function commitCovering(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes calldata daCommitment,
        uint32 stepCount,
        uint32 callsCovered
    ) external returns (bool written) {
        return _commit(agentId, sequence, merkleRoot, daCommitment, stepCount, callsCovered);
    }

    /// @notice Declare more account calls covered without a new batch: for a call that was
    ///         executed after the batch holding its wallet step had been committed.
    function cover(uint256 agentId, uint32 callsCovered) external {
        AgentRegistry.Agent memory a = registry.agent(agentId);
        if (msg.sender != a.operator) revert NotOperator(agentId, msg.sender);
        if (nextSequence[agentId] == 0) revert UnknownBatch(agentId, 0);
        _checkCoverage(agentId, a.account, callsCovered);
        coveredCalls[agentId] = callsCovered;
        emit CallsCovered(agentId, nextSequence[agentId] - 1, callsCovered);
    }

    function _commit(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes calldata daCommitment,
        uint32 stepCount,
        uint32 callsCovered
    ) internal returns (bool written) {
        address account = _checkHeader(agentId, merkleRoot, daCommitment, stepCount);
        bytes32 daHash = keccak256(daCommitment);
        uint64 expected = nextSequence[agentId];
        if (sequence < expected) {
            Batch storage old = _batches[agentId][sequence];
            if (
                old.merkleRoot == merkleRoot && old.daCommitmentHash == daHash && old.stepCount == stepCount
                    && old.callsCovered == callsCovered
            ) {
                return false;
            }
            revert SequenceTaken(agentId, sequence);
        }
        if (sequence != expected) revert SequenceGap(agentId, expected, sequence);
        _checkCoverage(agentId, account, callsCovered);
        uint64 first = _store(agentId, sequence, merkleRoot, daHash, stepCount, callsCovered);
        emit BatchCommitted(
            agentId, sequence, merkleRoot, daCommitment, first, stepCount, uint64(block.timestamp), callsCovered
        );
        return true;
    }

    /// @dev The caller is the operator and the header is well formed; returns the account.
    function _checkHeader(uint256 agentId, bytes32 merkleRoot, bytes calldata daCommitment, uint32 stepCount)
        internal
        view
        returns (address account)
    {
        AgentRegistry.Agent memory a = registry.agent(agentId);
        if (msg.sender != a.operator) revert NotOperator(agentId, msg.sender);
        if (stepCount == 0) revert EmptyBatch();
        if (merkleRoot == bytes32(0)) revert EmptyRoot();
        if (daCommitment.length == 0 || daCommitment.length > MAX_DA_COMMITMENT_BYTES) {
            revert BadDaCommitment(daCommitment.length);
        }
        return a.account;
    }

    function _store(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes32 daHash,
        uint32 stepCount,
        uint32 callsCovered
    ) internal returns (uint64 first) {
        uint64 window = registry.challengeWindowOf(agentId);
        first = nextStepIndex[agentId];
        _batches[agentId][sequence] = Batch({
            merkleRoot: merkleRoot,
            daCommitmentHash: daHash,
            firstIndex: first,
            stepCount: stepCount,
            committedAt: uint64(block.timestamp),
            challengeWindow: window,
            callsCovered: callsCovered
        });
        nextSequence[agentId] = sequence + 1;
        nextStepIndex[agentId] = first + stepCount;
        coveredCalls[agentId] = callsCovered;
        uint64 finalizesAt = uint64(block.timestamp) + window;
        if (finalizesAt > lastFinalizesAt[agentId]) lastFinalizesAt[agentId] = finalizesAt;
    }

    function _checkCoverage(uint256 agentId, address account, uint32 callsCovered) internal view {
        uint32 before = coveredCalls[agentId];
        uint32 made = AgentAccount(payable(account)).callCount();
        if (callsCovered < before || callsCovered > made) revert BadCoverage(callsCovered, before, made);
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
