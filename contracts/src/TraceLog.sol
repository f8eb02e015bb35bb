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
///         Storage (gas): one slot per batch, the hash of its record (`Batch`, see
///         `recordHash`); the record itself is in the `BatchCommitted` event, and the functions
///         that need it (DisputeGame, `isFinal`) take it as an argument and check it against
///         the stored hash. The per-agent counters share one slot (`AgentLog`).
///         A bundle (`commitBundle`) stores one slot for many batches — of one operator's
///         agents, or several sequences of one — the hash of their leaves; a bundled batch's
///         own slot is written only when someone needs it (`openBatch`, before a dispute or
///         `isFinal`), from the bundle's leaves. Until then it is committed (its sequence is
///         taken, its window runs, its calls are covered) but `checkBatch` answers
///         `BatchNotOpened`.
/// @dev The operator also signs batch headers off chain (EIP-712, this contract's domain)
///      as receipts; two different signed headers for one sequence, or a signed header
///      that differs from the committed batch, is equivocation (see DisputeGame).
contract TraceLog is EIP712 {
    bytes32 public constant BATCH_HEADER_TYPEHASH = keccak256(
        "BatchHeader(uint256 agentId,uint64 sequence,bytes32 merkleRoot,bytes32 daCommitmentHash,uint32 stepCount)"
    );
    uint256 public constant MAX_DA_COMMITMENT_BYTES = 8192;
    /// the most batches in one bundle (`commitBundle`): the leaves `openBatch` takes stay small
    uint256 public constant MAX_BUNDLE_BATCHES = 256;

    AgentRegistry public immutable registry;

    /// @dev An agent's counters, packed in one slot (64 + 64 + 64 + 32 bits).
    struct AgentLog {
        uint64 nextSequence;
        uint64 nextStepIndex;
        /// the latest committedAt + challengeWindow over all the agent's batches: when the last
        /// of them stops being challengeable (a later batch under a shorter window does not
        /// bring it forward)
        uint64 lastFinalizesAt;
        /// the agent's account calls [0, coveredCalls) are declared covered by committed batches
        uint32 coveredCalls;
    }

    /// agentId => sequence => keccak256(abi.encode(Batch)) (0: not committed, or bundled and not opened yet)
    mapping(uint256 => mapping(uint64 => bytes32)) public batchHash;
    mapping(uint256 => AgentLog) private _logs;
    /// keccak256(abi.encodePacked(leaves)) of each committed bundle => true (see `bundleLeaf`)
    mapping(bytes32 => bool) public bundleCommitted;

    /// Every field of the batch record (`Batch`) but the commitment's hash, which is
    /// keccak256(daCommitment): anyone rebuilds the record from this event. Its five small
    /// fields share one word (`packBatchFields`): an event pays for every byte it logs, and
    /// four words fewer save about 1,000 gas on each batch.
    event BatchCommitted(
        uint256 indexed agentId, uint64 indexed sequence, bytes32 merkleRoot, uint256 fields, bytes daCommitment
    );

    /// A bundle: its batches' `BatchCommitted` events come before it in the same transaction;
    /// `leaves[i]` is `bundleLeaf` of its i-th batch, and `bundle` the hash the chain keeps.
    event BundleCommitted(bytes32 indexed bundle, bytes32[] leaves);

    /// a bundled batch's record hash was written to `batchHash` (`openBatch`)
    event BatchOpened(uint256 indexed agentId, uint64 indexed sequence, bytes32 indexed bundle);

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
    /// a bundle of no batches, or of more than MAX_BUNDLE_BATCHES
    error BadBundleSize(uint256 batches);
    /// the batch was committed in a bundle and its slot is not written yet: call `openBatch`
    /// with the bundle's leaves (its `BundleCommitted` event), then retry
    error BatchNotOpened(uint256 agentId, uint64 sequence);
    /// `openBatch`: the leaves are not those of a committed bundle, or the batch's leaf is
    /// not at `index` among them (take both from the bundle's `BundleCommitted` event)
    error NotInBundle(uint256 agentId, uint64 sequence);
    /// the record given for a committed batch is not the one committed (its hash differs):
    /// take it from the batch's `BatchCommitted` event
    error WrongBatchRecord(uint256 agentId, uint64 sequence);

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
    ) external {
        batchHash[agentId][sequence] = _commit(agentId, sequence, merkleRoot, daCommitment, stepCount, false, 0);
    }

    /// @notice Commit the next batch. `callsCovered`: the agent's account calls
    ///         [0, callsCovered) have their wallet steps in this batch or an earlier one.
    ///         Sequences are gapless and written once: a taken sequence reverts
    ///         (`SequenceTaken`), whether or not the content is the one committed — the chain
    ///         keeps only the record's hash, whose committedAt a re-send cannot repeat; a
    ///         committer that retries compares its batch with the `BatchCommitted` event.
    function commitCovering(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes calldata daCommitment,
        uint32 stepCount,
        uint32 callsCovered
    ) external {
        batchHash[agentId][sequence] = _commit(agentId, sequence, merkleRoot, daCommitment, stepCount, true, callsCovered);
    }

    /// @dev One batch of `commitMany`: the arguments of `commitCovering`, or of `commit` when
    ///      `setCoverage` is false (`callsCovered` is then ignored).
    struct Commit {
        uint256 agentId;
        uint64 sequence;
        bytes32 merkleRoot;
        bytes daCommitment;
        uint32 stepCount;
        bool setCoverage;
        uint32 callsCovered;
    }

    /// @notice Commit several batches in one transaction — of several agents that share this
    ///         operator, or several sequences of one agent, in order. Each is checked as by
    ///         `commit` / `commitCovering`; any one refused reverts them all.
    function commitMany(Commit[] calldata batches) external {
        for (uint256 i; i < batches.length; ++i) {
            Commit calldata c = batches[i];
            batchHash[c.agentId][c.sequence] =
                _commit(c.agentId, c.sequence, c.merkleRoot, c.daCommitment, c.stepCount, c.setCoverage, c.callsCovered);
        }
    }

    /// @notice Commit several batches as one bundle: each is checked and counted as by
    ///         `commitMany` (sequence, window, coverage, `BatchCommitted`), but the chain stores
    ///         one slot for all of them — the hash of their leaves — instead of one each. A
    ///         bundled batch's record is proven from the leaves when it is needed (`openBatch`).
    ///         Any one refused reverts them all.
    function commitBundle(Commit[] calldata batches) external returns (bytes32 bundle) {
        uint256 n = batches.length;
        if (n == 0 || n > MAX_BUNDLE_BATCHES) revert BadBundleSize(n);
        bytes32[] memory leaves = new bytes32[](n);
        // Each batch's memory (its record, the encodings it hashes and logs) is dead once its
        // leaf is written: every batch reuses the same memory instead of growing it, whose
        // cost rises with its size (about 200 gas a batch at 64 batches).
        uint256 mark;
        assembly ("memory-safe") {
            mark := mload(0x40)
        }
        for (uint256 i; i < n; ++i) {
            assembly ("memory-safe") {
                mstore(0x40, mark)
            }
            Commit calldata c = batches[i];
            bytes32 record =
                _commit(c.agentId, c.sequence, c.merkleRoot, c.daCommitment, c.stepCount, c.setCoverage, c.callsCovered);
            leaves[i] = bundleLeaf(c.agentId, c.sequence, record);
        }
        bundle = keccak256(abi.encodePacked(leaves));
        bundleCommitted[bundle] = true;
        emit BundleCommitted(bundle, leaves);
    }

    /// @notice Write a bundled batch's record hash to `batchHash`, proven by its bundle's
    ///         leaves (the `BundleCommitted` event) and the batch's place among them. Anyone may
    ///         call it — a challenger before a dispute, the operator, a verifier; it writes only
    ///         what the bundle already committed, so it is idempotent.
    function openBatch(uint256 agentId, uint64 sequence, Batch calldata b, bytes32[] calldata leaves, uint256 index)
        external
    {
        bytes32 record = keccak256(abi.encode(b));
        bytes32 stored = batchHash[agentId][sequence];
        if (stored == record) return;
        if (stored != bytes32(0)) revert WrongBatchRecord(agentId, sequence);
        if (index >= leaves.length || leaves[index] != bundleLeaf(agentId, sequence, record)) {
            revert NotInBundle(agentId, sequence);
        }
        bytes32 bundle = keccak256(abi.encodePacked(leaves));
        if (!bundleCommitted[bundle]) revert NotInBundle(agentId, sequence);
        batchHash[agentId][sequence] = record;
        emit BatchOpened(agentId, sequence, bundle);
    }

    /// @notice A bundle's leaf for one batch: (agentId, sequence) is committed once, so each
    ///         leaf is in exactly one bundle.
    function bundleLeaf(uint256 agentId, uint64 sequence, bytes32 record) public pure returns (bytes32) {
        return keccak256(abi.encode(agentId, sequence, record));
    }

    /// @notice Declare more account calls covered without a new batch: for a call that was
    ///         executed after the batch holding its wallet step had been committed.
    function cover(uint256 agentId, uint32 callsCovered) external {
        (address operator,, address account) = registry.commitTerms(agentId, true);
        if (msg.sender != operator) revert NotOperator(agentId, msg.sender);
        AgentLog memory l = _logs[agentId];
        if (l.nextSequence == 0) revert UnknownBatch(agentId, 0);
        _checkCoverage(account, l.coveredCalls, callsCovered);
        _logs[agentId].coveredCalls = callsCovered;
        emit CallsCovered(agentId, l.nextSequence - 1, callsCovered);
    }

    /// @dev Checks a batch, moves the agent's counters and emits `BatchCommitted`; returns the
    ///      record's hash for the caller to store (its own slot, or a bundle's leaf).
    ///      `setCoverage` false: coverage stays where it is (`commit`).
    function _commit(
        uint256 agentId,
        uint64 sequence,
        bytes32 merkleRoot,
        bytes calldata daCommitment,
        uint32 stepCount,
        bool setCoverage,
        uint32 callsCovered
    ) internal returns (bytes32) {
        AgentLog memory l = _logs[agentId];
        if (!setCoverage) callsCovered = l.coveredCalls;
        // unchanged coverage needs neither the account nor its call count: it was within the
        // account's call count when it was set, and that count never goes down
        // (commitTerms gives the account only when asked: zero means coverage stays)
        (address operator, uint64 window, address account) =
            registry.commitTerms(agentId, callsCovered != l.coveredCalls);
        if (msg.sender != operator) revert NotOperator(agentId, msg.sender);
        if (stepCount == 0) revert EmptyBatch();
        if (merkleRoot == bytes32(0)) revert EmptyRoot();
        if (daCommitment.length == 0 || daCommitment.length > MAX_DA_COMMITMENT_BYTES) {
            revert BadDaCommitment(daCommitment.length);
        }
        if (sequence < l.nextSequence) revert SequenceTaken(agentId, sequence);
        if (sequence != l.nextSequence) revert SequenceGap(agentId, l.nextSequence, sequence);
        if (account != address(0)) _checkCoverage(account, l.coveredCalls, callsCovered);

        Batch memory b;
        b.merkleRoot = merkleRoot;
        b.daCommitmentHash = keccak256(daCommitment);
        b.firstIndex = l.nextStepIndex;
        b.stepCount = stepCount;
        b.committedAt = uint64(block.timestamp);
        b.challengeWindow = window;
        b.callsCovered = callsCovered;
        return _advance(agentId, sequence, l, b, daCommitment);
    }

    /// @dev Moves the counters, emits `BatchCommitted`, returns the record's hash.
    function _advance(uint256 agentId, uint64 sequence, AgentLog memory l, Batch memory b, bytes calldata daCommitment)
        internal
        returns (bytes32)
    {
        // logged before the counters' write: after it, the optimizer no longer merges that
        // write's four fields into one SSTORE (measured: three more SLOAD + SSTORE pairs)
        emit BatchCommitted(agentId, sequence, b.merkleRoot, packBatchFields(b), daCommitment);
        uint64 finalizesAt = b.committedAt + b.challengeWindow;
        if (finalizesAt < l.lastFinalizesAt) finalizesAt = l.lastFinalizesAt;
        _logs[agentId] = AgentLog({
            nextSequence: sequence + 1,
            nextStepIndex: b.firstIndex + b.stepCount,
            lastFinalizesAt: finalizesAt,
            coveredCalls: b.callsCovered
        });
        return keccak256(abi.encode(b));
    }

    /// @notice The `fields` word of `BatchCommitted`: firstIndex (bits 255-192), stepCount
    ///         (191-160), committedAt (159-96), challengeWindow (95-32), callsCovered (31-0).
    function packBatchFields(Batch memory b) public pure returns (uint256) {
        return uint256(b.firstIndex) << 192 | uint256(b.stepCount) << 160 | uint256(b.committedAt) << 96
            | uint256(b.challengeWindow) << 32 | b.callsCovered;
    }

    function _checkCoverage(address account, uint32 before, uint32 callsCovered) internal view {
        uint32 made = AgentAccount(payable(account)).callCount();
        if (callsCovered < before || callsCovered > made) revert BadCoverage(callsCovered, before, made);
    }

    // ------------------------------------------------------------------ reads

    function nextSequence(uint256 agentId) external view returns (uint64) {
        return _logs[agentId].nextSequence;
    }

    function nextStepIndex(uint256 agentId) external view returns (uint64) {
        return _logs[agentId].nextStepIndex;
    }

    /// @notice When the last of the agent's batches stops being challengeable (the latest
    ///         committedAt + challengeWindow over all of them).
    function lastFinalizesAt(uint256 agentId) external view returns (uint64) {
        return _logs[agentId].lastFinalizesAt;
    }

    /// @notice The agent's account calls [0, coveredCalls) are declared covered by committed batches.
    function coveredCalls(uint256 agentId) external view returns (uint32) {
        return _logs[agentId].coveredCalls;
    }

    /// @notice The hash the chain keeps for a batch record.
    function recordHash(Batch calldata b) public pure returns (bytes32) {
        return keccak256(abi.encode(b));
    }

    /// @notice Reverts unless `b` is the record committed at (agentId, sequence):
    ///         `UnknownBatch` when nothing is, `BatchNotOpened` when it is in a bundle not yet
    ///         opened (`openBatch`), `WrongBatchRecord` when its hash differs.
    function checkBatch(uint256 agentId, uint64 sequence, Batch calldata b) public view {
        bytes32 stored = batchHash[agentId][sequence];
        if (stored == bytes32(0)) {
            if (sequence < _logs[agentId].nextSequence) revert BatchNotOpened(agentId, sequence);
            revert UnknownBatch(agentId, sequence);
        }
        if (keccak256(abi.encode(b)) != stored) revert WrongBatchRecord(agentId, sequence);
    }

    /// @notice Whether a batch is committed at (agentId, sequence), bundled or not (sequences
    ///         are gapless: every one below `nextSequence` is).
    function isCommitted(uint256 agentId, uint64 sequence) external view returns (bool) {
        return sequence < _logs[agentId].nextSequence;
    }

    /// @notice Whether the batch's challenge window has passed; `b` is its record.
    function isFinal(uint256 agentId, uint64 sequence, Batch calldata b) external view returns (bool) {
        checkBatch(agentId, sequence, b);
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
