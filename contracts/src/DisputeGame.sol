// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {AgentRegistry} from "./AgentRegistry.sol";
import {BondVault} from "./BondVault.sol";
import {TraceLog} from "./TraceLog.sol";
import {VerifierRegistry} from "./VerifierRegistry.sol";
import {LeafEncoding} from "./LeafEncoding.sol";
import {AgentAccount} from "./AgentAccount.sol";
import {Batch, BatchHeader, Breach, DisputeKind, DisputeStatus, WalletStep} from "./CovenantTypes.sol";

/// @title DisputeGame
/// @notice Where an agent's bond is slashed.
///   - Provable on chain, settled at once: a policy breach (a committed wallet step, with
///     its Merkle proof, that the agent's registered policy forbids) and equivocation (two
///     different operator-signed batches for one sequence).
///   - Settled by the verifier quorum: inference fraud, data withheld, untraced action and
///     subjective claims. The challenger posts a bond; registered verifiers sign EIP-712
///     verdicts bound to this chain, this contract and the dispute id; at the stake-weighted
///     quorum the agent is slashed or the challenger bond is forfeited to the agent's owner.
///     A dispute nobody answers expires at its deadline: nobody is slashed and the bond is
///     refunded.
/// @dev Every challenge is commit-reveal: the challenger first commits
///      keccak256(abi.encode(challenger, evidenceHash, salt)) and reveals in a later block,
///      so a front-runner who copies the reveal cannot have committed it first.
contract DisputeGame is EIP712, ReentrancyGuard {
    struct Dispute {
        DisputeKind kind;
        DisputeStatus status;
        uint256 agentId;
        uint64 sequence;
        uint32 stepIndex;
        bytes32 subject;
        address challenger;
        uint256 bond;
        uint64 openedAt;
        uint64 openedBlock;
        uint64 deadline;
        uint256 stakeSnapshot;
        uint256 forStake;
        uint256 againstStake;
        uint256 slashedEth;
        uint256 slashedToken;
    }

    struct Vote {
        bool agentAtFault;
        bytes signature;
    }

    bytes32 public constant VERDICT_TYPEHASH = keccak256("Verdict(uint256 disputeId,bool agentAtFault)");
    uint16 public constant BPS = 10_000;
    /// At the deadline, a dispute without a quorum is decided by the stake that voted when at
    /// least this share of the snapshot voted: a silent minority cannot veto, and a minority
    /// that votes alone cannot slash. Below it the dispute expires.
    uint16 public constant TURNOUT_BPS = 5_000;

    AgentRegistry public immutable registry;
    TraceLog public immutable traceLog;
    BondVault public immutable vault;
    VerifierRegistry public immutable verifiers;
    uint256 public immutable challengerBond;
    uint256 public immutable subjectiveBond;
    uint16 public immutable slashBps;
    uint16 public immutable quorumBps;

    uint256 public disputeCount;
    mapping(uint256 => Dispute) private _disputes;
    /// target key => id of the open dispute on it (0 when none)
    mapping(bytes32 => uint256) public openDisputeOn;
    /// target key or leaf => a fault already punished there
    mapping(bytes32 => bool) public faultProven;
    mapping(uint256 => mapping(address => bool)) public hasVoted;
    /// commit-reveal: commitment => block it was made in
    mapping(bytes32 => uint256) public evidenceBlock;
    /// commit-reveal: commitment => verifier stake eligible when it was made (a quorum
    /// dispute's base: stake that joins between commit and reveal neither counts nor votes)
    mapping(bytes32 => uint256) public evidenceStake;

    event EvidenceCommitted(bytes32 indexed commitment, address indexed by);
    event DisputeOpened(
        uint256 indexed disputeId,
        uint256 indexed agentId,
        DisputeKind kind,
        uint64 sequence,
        uint32 stepIndex,
        bytes32 subject,
        address challenger,
        uint256 bond,
        uint64 deadline
    );
    event VerdictCounted(uint256 indexed disputeId, address indexed verifier, bool agentAtFault, uint256 weight);
    event DisputeResolved(
        uint256 indexed disputeId, uint256 indexed agentId, DisputeStatus status, uint256 slashedEth, uint256 slashedToken
    );
    event PolicyBreachProven(
        uint256 indexed disputeId, uint256 indexed agentId, uint64 sequence, uint64 stepIndex, Breach breach
    );
    event EquivocationProven(uint256 indexed disputeId, uint256 indexed agentId, uint64 sequence);
    event UntracedCallProven(uint256 indexed disputeId, uint256 indexed agentId, uint32 callSequence, uint64 coverBy);

    error BadParameters();
    error NotQuorumKind(DisputeKind kind);
    error WrongBond(uint256 given, uint256 required);
    error EvidenceNotCommitted();
    error EvidenceTooFresh();
    error OutsideChallengeWindow(uint256 agentId, uint64 sequence, uint64 closedAt);
    error StepNotInBatch(uint64 index, uint64 firstIndex, uint32 stepCount);
    error InvalidMerkleProof();
    error NoBreach();
    error AlreadyProven();
    error AlreadyDisputed(uint256 disputeId);
    error NotEquivocation();
    error BadOperatorSignature();
    error BadTarget();
    error NoVerifiers();
    error UnknownDispute(uint256 disputeId);
    error DisputeNotOpen(uint256 disputeId, DisputeStatus status);
    error DeadlinePassed(uint256 disputeId, uint64 deadline);
    error DeadlineNotReached(uint256 disputeId, uint64 deadline);
    error CoverDeadlineNotPassed(uint32 callSequence, uint64 coverBy);
    error CallCovered(uint32 callSequence, uint32 coveredCalls);
    error NotTheCall(uint32 callSequence);

    /// @dev An AgentAccount call's arguments, as its `Executed` event gives them.
    struct AccountCall {
        address to;
        uint256 value;
        bytes32 dataHash;
        uint64 stepIndex;
        bytes32 prevHash;
        uint32 policyVersion;
        uint64 nonce;
    }

    constructor(
        AgentRegistry registry_,
        TraceLog traceLog_,
        BondVault vault_,
        VerifierRegistry verifiers_,
        uint256 challengerBond_,
        uint256 subjectiveBond_,
        uint16 slashBps_,
        uint16 quorumBps_
    ) EIP712("Covenant DisputeGame", "1") {
        // A quorum above half means "slash" and "reject" can never both be reached; a
        // verifier's stake must stay registered for longer than any dispute lasts.
        if (quorumBps_ <= BPS / 2 || quorumBps_ > BPS) revert BadParameters();
        if (slashBps_ == 0 || slashBps_ > BPS) revert BadParameters();
        if (challengerBond_ == 0 || subjectiveBond_ < challengerBond_) revert BadParameters();
        if (verifiers_.exitDelay() <= registry_.disputePeriod()) revert BadParameters();
        registry = registry_;
        traceLog = traceLog_;
        vault = vault_;
        verifiers = verifiers_;
        challengerBond = challengerBond_;
        subjectiveBond = subjectiveBond_;
        slashBps = slashBps_;
        quorumBps = quorumBps_;
    }

    // ------------------------------------------------------------------ commit-reveal

    function commitEvidence(bytes32 commitment) external {
        if (evidenceBlock[commitment] == 0) {
            evidenceBlock[commitment] = block.number;
            evidenceStake[commitment] = verifiers.eligibleStake();
            emit EvidenceCommitted(commitment, msg.sender);
        }
    }

    function evidenceCommitment(address challenger, bytes32 evidenceHash, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(challenger, evidenceHash, salt));
    }

    // ------------------------------------------------------------------ proven on chain

    function policyBreachEvidence(WalletStep calldata step, uint64 sequence) public pure returns (bytes32) {
        return keccak256(abi.encode(DisputeKind.PolicyBreach, sequence, LeafEncoding.walletStepLeaf(step)));
    }

    /// @notice Prove that a committed wallet step breaks the agent's policy. Slashes at once.
    function provePolicyBreach(WalletStep calldata step, uint64 sequence, bytes32[] calldata proof, bytes32 salt)
        external
        nonReentrant
        returns (uint256 disputeId, Breach breach)
    {
        uint256 agentId = step.agentId;
        Batch memory b = traceLog.batch(agentId, sequence);
        _requireOpenWindow(agentId, sequence, b);
        if (step.index < b.firstIndex || step.index >= uint256(b.firstIndex) + b.stepCount) {
            revert StepNotInBatch(step.index, b.firstIndex, b.stepCount);
        }
        bytes32 leaf = LeafEncoding.walletStepLeaf(step);
        if (!MerkleProof.verifyCalldata(proof, b.merkleRoot, leaf)) revert InvalidMerkleProof();
        if (faultProven[leaf]) revert AlreadyProven();
        breach = registry.evaluate(agentId, step.policyVersion, step.to, step.value, step.data, b.committedAt);
        if (breach == Breach.None) revert NoBreach();
        _consumeEvidence(keccak256(abi.encode(DisputeKind.PolicyBreach, sequence, leaf)), salt);

        faultProven[leaf] = true;
        disputeId = _recordProven(DisputeKind.PolicyBreach, agentId, sequence, uint32(step.index - b.firstIndex), leaf);
        emit PolicyBreachProven(disputeId, agentId, sequence, step.index, breach);
        _slash(disputeId);
    }

    function equivocationEvidence(BatchHeader calldata a, BatchHeader calldata b) public pure returns (bytes32) {
        return keccak256(abi.encode(DisputeKind.Equivocation, a, b));
    }

    /// @notice Prove the operator signed two different batches for one sequence. With an
    ///         empty `sigB`, header `b` must be the batch committed on chain for that
    ///         sequence (the operator's transaction is its signature).
    function proveEquivocation(
        BatchHeader calldata a,
        bytes calldata sigA,
        BatchHeader calldata b,
        bytes calldata sigB,
        bytes32 salt
    ) external nonReentrant returns (uint256 disputeId) {
        if (a.agentId != b.agentId || a.sequence != b.sequence) revert NotEquivocation();
        bytes32 digestA = traceLog.hashBatchHeader(a);
        bytes32 digestB = traceLog.hashBatchHeader(b);
        if (digestA == digestB) revert NotEquivocation();
        address operator = registry.agent(a.agentId).operator;
        if (ECDSA.recover(digestA, sigA) != operator) revert BadOperatorSignature();
        if (sigB.length == 0) {
            Batch memory committed = traceLog.batch(b.agentId, b.sequence);
            if (
                committed.merkleRoot != b.merkleRoot || committed.daCommitmentHash != b.daCommitmentHash
                    || committed.stepCount != b.stepCount
            ) revert NotEquivocation();
        } else if (ECDSA.recover(digestB, sigB) != operator) {
            revert BadOperatorSignature();
        }
        bytes32 key = keccak256(abi.encode(DisputeKind.Equivocation, a.agentId, a.sequence));
        if (faultProven[key]) revert AlreadyProven();
        _consumeEvidence(equivocationEvidence(a, b), salt);

        faultProven[key] = true;
        disputeId = _recordProven(DisputeKind.Equivocation, a.agentId, a.sequence, 0, digestA);
        emit EquivocationProven(disputeId, a.agentId, a.sequence);
        _slash(disputeId);
    }

    function untracedCallEvidence(uint256 agentId, uint32 callSequence) public pure returns (bytes32) {
        return keccak256(abi.encode(DisputeKind.UntracedAction, agentId, "account-call", callSequence));
    }

    /// @notice Prove that the agent's account made call `callSequence` and no committed
    ///         batch covered it by its deadline. Slashes at once, no vote: both facts are
    ///         on chain (AgentAccount stores each call's cover-by time; TraceLog the calls
    ///         covered). `call` is the call's arguments, as its `Executed` event gives them:
    ///         they must hash to the leaf the account stored, and the value the call moved
    ///         is taken from the bond first and paid to the agent's owner (the party harmed).
    function proveUntracedCall(uint256 agentId, uint32 callSequence, AccountCall calldata call, bytes32 salt)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        uint64 coverBy = _checkUntracedCall(agentId, callSequence, call);
        bytes32 key = untracedCallEvidence(agentId, callSequence);
        if (faultProven[key]) revert AlreadyProven();
        _consumeEvidence(key, salt);

        faultProven[key] = true;
        // stepIndex records the call's sequence number (sequence 0: no batch is involved)
        disputeId = _recordProven(DisputeKind.UntracedAction, agentId, 0, callSequence, key);
        emit UntracedCallProven(disputeId, agentId, callSequence, coverBy);
        _slashCompensating(disputeId, call.value);
    }

    /// @dev The call exists, is past its cover-by time, not declared covered, and `call` is
    ///      what it was (its arguments hash to the stored leaf). Returns its cover-by time.
    function _checkUntracedCall(uint256 agentId, uint32 callSequence, AccountCall calldata call)
        internal
        view
        returns (uint64 coverBy)
    {
        AgentAccount account = AgentAccount(payable(registry.accountOf(agentId)));
        (, coverBy) = account.callAt(callSequence);
        if (block.timestamp <= coverBy) revert CoverDeadlineNotPassed(callSequence, coverBy);
        uint32 covered = traceLog.coveredCalls(agentId);
        if (callSequence < covered) revert CallCovered(callSequence, covered);
        bytes32 leaf = account.callLeaf(
            call.to, call.value, call.dataHash, call.stepIndex, call.prevHash, call.nonce, call.policyVersion
        );
        if (!account.isCallLeaf(callSequence, leaf)) revert NotTheCall(callSequence);
    }

    /// @dev Slashes for a fault whose moved value is known: that value first, to the owner.
    function _slashCompensating(uint256 disputeId, uint256 movedEth) internal {
        Dispute storage d = _disputes[disputeId];
        address owner = registry.ownerOf(d.agentId);
        (uint256 eth, uint256 tok) = vault.slashFor(d.agentId, slashBps, d.challenger, owner, movedEth);
        d.slashedEth = eth;
        d.slashedToken = tok;
        emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Slashed, eth, tok);
    }

    // ------------------------------------------------------------------ quorum disputes

    function targetKey(DisputeKind kind, uint256 agentId, uint64 sequence, uint32 stepIndex, bytes32 subject)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(kind, agentId, sequence, stepIndex, subject));
    }

    function bondFor(DisputeKind kind) public view returns (uint256) {
        return kind == DisputeKind.SubjectiveClaim ? subjectiveBond : challengerBond;
    }

    /// @notice Open a dispute the verifier quorum settles.
    ///   - InferenceFraud / SubjectiveClaim / TraceMismatch: on (sequence, stepIndex) of a batch in its window.
    ///   - DataWithheld: on a batch in its window (stepIndex 0).
    ///   - UntracedAction: on a transaction hash (`subject`); sequence and stepIndex 0.
    function openDispute(
        DisputeKind kind,
        uint256 agentId,
        uint64 sequence,
        uint32 stepIndex,
        bytes32 subject,
        bytes32 salt
    ) external payable nonReentrant returns (uint256 disputeId) {
        if (kind == DisputeKind.PolicyBreach || kind == DisputeKind.Equivocation) revert NotQuorumKind(kind);
        uint256 required = bondFor(kind);
        if (msg.value != required) revert WrongBond(msg.value, required);
        if (!registry.exists(agentId)) revert AgentRegistry.UnknownAgent(agentId);
        if (kind == DisputeKind.UntracedAction) {
            if (subject == bytes32(0) || sequence != 0 || stepIndex != 0) revert BadTarget();
        } else {
            Batch memory b = traceLog.batch(agentId, sequence);
            _requireOpenWindow(agentId, sequence, b);
            if (kind == DisputeKind.DataWithheld) {
                if (stepIndex != 0) revert BadTarget();
            } else if (stepIndex >= b.stepCount) {
                revert StepNotInBatch(uint64(stepIndex) + b.firstIndex, b.firstIndex, b.stepCount);
            }
        }
        bytes32 key = targetKey(kind, agentId, sequence, stepIndex, subject);
        if (openDisputeOn[key] != 0) revert AlreadyDisputed(openDisputeOn[key]);
        if (faultProven[key]) revert AlreadyProven();
        // the quorum base is the stake eligible when the challenge was committed, and only
        // verifiers registered before that block vote
        (uint256 committedBlock, uint256 total) = _consumeEvidence(key, salt);
        if (total == 0) revert NoVerifiers();

        disputeId = ++disputeCount;
        uint64 deadline = uint64(block.timestamp) + registry.disputePeriod();
        _disputes[disputeId] = Dispute({
            kind: kind,
            status: DisputeStatus.Open,
            agentId: agentId,
            sequence: sequence,
            stepIndex: stepIndex,
            subject: subject,
            challenger: msg.sender,
            bond: msg.value,
            openedAt: uint64(block.timestamp),
            openedBlock: uint64(committedBlock),
            deadline: deadline,
            stakeSnapshot: total,
            forStake: 0,
            againstStake: 0,
            slashedEth: 0,
            slashedToken: 0
        });
        openDisputeOn[key] = disputeId;
        emit DisputeOpened(disputeId, agentId, kind, sequence, stepIndex, subject, msg.sender, msg.value, deadline);
        registry.disputeOpened(agentId);
    }

    /// @notice The EIP-712 digest a verifier signs for its verdict.
    function verdictDigest(uint256 disputeId, bool agentAtFault) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VERDICT_TYPEHASH, disputeId, agentAtFault)));
    }

    /// @notice Submit signed verdicts (anyone may relay them). Malformed signatures, and those
    ///         from accounts with no voting weight or that already voted, are skipped. Settles at quorum.
    function submitVerdicts(uint256 disputeId, Vote[] calldata votes) external nonReentrant returns (DisputeStatus) {
        Dispute storage d = _openDispute(disputeId);
        if (block.timestamp > d.deadline) revert DeadlinePassed(disputeId, d.deadline);
        for (uint256 i; i < votes.length; ++i) {
            // A malformed signature is skipped like any other vote that carries no weight, so
            // one bad entry cannot make a relayer's whole batch revert.
            (address signer, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(verdictDigest(disputeId, votes[i].agentAtFault), votes[i].signature);
            if (err != ECDSA.RecoverError.NoError || hasVoted[disputeId][signer]) continue;
            uint256 weight = verifiers.votingWeight(signer, d.openedBlock);
            if (weight == 0) continue;
            hasVoted[disputeId][signer] = true;
            if (votes[i].agentAtFault) d.forStake += weight;
            else d.againstStake += weight;
            emit VerdictCounted(disputeId, signer, votes[i].agentAtFault, weight);
        }
        uint256 needed = d.stakeSnapshot * quorumBps;
        if (d.forStake * BPS >= needed) {
            _close(d, DisputeStatus.Slashed);
            _slash(disputeId);
            vault.creditEth{value: d.bond}(d.challenger);
        } else if (d.againstStake * BPS >= needed) {
            _close(d, DisputeStatus.Rejected);
            vault.creditEth{value: d.bond}(registry.agent(d.agentId).owner);
            emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Rejected, 0, 0);
        }
        return d.status;
    }

    /// @notice Settle a dispute that reached no quorum by its deadline. When at least
    ///         TURNOUT_BPS of the snapshot voted, the stake that voted decides (more for:
    ///         slashed; more against: rejected); otherwise, or on a tie, it expires: nobody is
    ///         slashed and the challenger bond is refunded.
    function resolveExpired(uint256 disputeId) external nonReentrant {
        Dispute storage d = _openDispute(disputeId);
        if (block.timestamp <= d.deadline) revert DeadlineNotReached(disputeId, d.deadline);
        uint256 turnout = d.forStake + d.againstStake;
        bool decided = turnout * BPS >= d.stakeSnapshot * TURNOUT_BPS && d.forStake != d.againstStake;
        if (decided && d.forStake > d.againstStake) {
            _close(d, DisputeStatus.Slashed);
            _slash(disputeId);
            vault.creditEth{value: d.bond}(d.challenger);
        } else if (decided) {
            _close(d, DisputeStatus.Rejected);
            vault.creditEth{value: d.bond}(registry.agent(d.agentId).owner);
            emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Rejected, 0, 0);
        } else {
            _close(d, DisputeStatus.Expired);
            vault.creditEth{value: d.bond}(d.challenger);
            emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Expired, 0, 0);
        }
    }

    // ------------------------------------------------------------------ views

    function dispute(uint256 disputeId) external view returns (Dispute memory d) {
        d = _disputes[disputeId];
        if (d.status == DisputeStatus.None) revert UnknownDispute(disputeId);
    }

    // ------------------------------------------------------------------ internal

    function _consumeEvidence(bytes32 evidenceHash, bytes32 salt) internal returns (uint256 at, uint256 stake) {
        bytes32 c = evidenceCommitment(msg.sender, evidenceHash, salt);
        at = evidenceBlock[c];
        if (at == 0) revert EvidenceNotCommitted();
        if (at >= block.number) revert EvidenceTooFresh();
        stake = evidenceStake[c];
        delete evidenceBlock[c];
        delete evidenceStake[c];
    }

    function _requireOpenWindow(uint256 agentId, uint64 sequence, Batch memory b) internal view {
        uint64 closesAt = b.committedAt + b.challengeWindow;
        if (block.timestamp > closesAt) revert OutsideChallengeWindow(agentId, sequence, closesAt);
    }

    function _recordProven(DisputeKind kind, uint256 agentId, uint64 sequence, uint32 stepIndex, bytes32 subject)
        internal
        returns (uint256 disputeId)
    {
        disputeId = ++disputeCount;
        _disputes[disputeId] = Dispute({
            kind: kind,
            status: DisputeStatus.Slashed,
            agentId: agentId,
            sequence: sequence,
            stepIndex: stepIndex,
            subject: subject,
            challenger: msg.sender,
            bond: 0,
            openedAt: uint64(block.timestamp),
            openedBlock: uint64(block.number),
            deadline: uint64(block.timestamp),
            stakeSnapshot: 0,
            forStake: 0,
            againstStake: 0,
            slashedEth: 0,
            slashedToken: 0
        });
    }

    function _slash(uint256 disputeId) internal {
        Dispute storage d = _disputes[disputeId];
        if (d.kind != DisputeKind.PolicyBreach && d.kind != DisputeKind.Equivocation && d.bond != 0) {
            faultProven[targetKey(d.kind, d.agentId, d.sequence, d.stepIndex, d.subject)] = true;
        }
        (uint256 eth, uint256 tok) = vault.slash(d.agentId, slashBps, d.challenger);
        d.slashedEth = eth;
        d.slashedToken = tok;
        emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Slashed, eth, tok);
    }

    function _openDispute(uint256 disputeId) internal view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.status == DisputeStatus.None) revert UnknownDispute(disputeId);
        if (d.status != DisputeStatus.Open) revert DisputeNotOpen(disputeId, d.status);
    }

    function _close(Dispute storage d, DisputeStatus status) internal {
        d.status = status;
        delete openDisputeOn[targetKey(d.kind, d.agentId, d.sequence, d.stepIndex, d.subject)];
        registry.disputeClosed(d.agentId);
    }
}
