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
import {IForks} from "./IForks.sol";
import {Batch, BatchHeader, Breach, DisputeKind, DisputeStatus, WalletStep} from "./CovenantTypes.sol";

/// @title DisputeGame
/// @notice Where an agent's bond is slashed.
///   - Provable on chain, settled at once: a policy breach (a committed wallet step, with
///     its Merkle proof, that the agent's registered policy forbids) and equivocation (two
///     different operator-signed batches for one sequence).
///   - Settled by evidence: data withheld on a commitment the chain can check (Covenant's
///     local `0xc0 ‖ sha256(blob)` commitment). Anyone may answer the challenge by publishing
///     the blob in calldata (`answerDataWithheld`, emitted in `DataPublished`) before the
///     deadline: answered, the challenge fails and its bond pays the one who answered;
///     unanswered at the deadline, the agent is slashed. No vote, so no verifier's network
///     path can slash an honest agent.
///   - Settled by the verifier quorum: inference fraud, data withheld on commitments the
///     chain cannot check (EigenDA certificates), invalid batches, untraced action and
///     subjective claims. The challenger posts a bond; registered verifiers sign EIP-712
///     verdicts bound to this chain, this contract and the dispute id; at the stake-weighted
///     quorum the agent is slashed or the challenger bond is forfeited to the agent's owner.
///     A dispute nobody answers expires at its deadline: nobody is slashed and the bond is
///     refunded.
///   - Forkable: a quorum verdict is first only *decided*. For the ForkManager's escalation
///     window anyone can contest it by posting a fork bond; an uncontested verdict is settled
///     by `finalize` after the window (anyone may call it; verifier nodes do), a contested one
///     pays nobody until the fork resolves and is then settled as the canonical fork says
///     (`settleContested`). With a zero window verdicts settle at once (no backstop).
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
        /// What the challenger says the faulty action moved (wei): on a slash, at least this is
        /// taken and paid to the agent's owner before any reward. Verifiers vote "at fault"
        /// only when the fault is real and this does not exceed what the action moved.
        uint256 harm;
        /// end of the escalation window of a decided verdict (0 until decided)
        uint64 finalizesAt;
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
    /// First byte of Covenant's local DA commitment: `0xc0 ‖ sha256(blob)`, 33 bytes.
    bytes1 public constant LOCAL_COMMITMENT_VERSION = 0xc0;
    uint8 public constant VOTE_FAULT = 1;
    uint8 public constant VOTE_NO_FAULT = 2;
    /// The selectors AgentAccount's token authorizations carry in their call data (EIP-3009, EIP-2612).
    bytes4 internal constant TRANSFER_WITH_AUTHORIZATION = bytes4(
        keccak256("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)")
    );
    bytes4 internal constant PERMIT = bytes4(keccak256("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"));

    AgentRegistry public immutable registry;
    TraceLog public immutable traceLog;
    BondVault public immutable vault;
    VerifierRegistry public immutable verifiers;
    uint256 public immutable challengerBond;
    uint256 public immutable subjectiveBond;
    uint16 public immutable slashBps;
    uint16 public immutable quorumBps;
    /// the ForkManager: contests verdicts and settles contested ones
    IForks public immutable forks;
    uint64 public immutable escalationWindow;

    uint256 public disputeCount;
    mapping(uint256 => Dispute) private _disputes;
    /// target key => id of the open dispute on it (0 when none)
    mapping(bytes32 => uint256) public openDisputeOn;
    /// target key or leaf => a fault already punished there
    mapping(bytes32 => bool) public faultProven;
    /// dispute => verifier => 0 (no vote), VOTE_FAULT or VOTE_NO_FAULT: a fork slashes by it
    mapping(uint256 => mapping(address => uint8)) public voteOf;
    mapping(uint256 => address[]) private _voters;
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
    event DisputeDecided(uint256 indexed disputeId, bool agentAtFault, uint64 finalizesAt);
    event DisputeResolved(
        uint256 indexed disputeId, uint256 indexed agentId, DisputeStatus status, uint256 slashedEth, uint256 slashedToken
    );
    event PolicyBreachProven(
        uint256 indexed disputeId, uint256 indexed agentId, uint64 sequence, uint64 stepIndex, Breach breach
    );
    event EquivocationProven(uint256 indexed disputeId, uint256 indexed agentId, uint64 sequence);
    /// The blob of a batch challenged as withheld, published on chain: readable from this
    /// event by anyone, whatever the DA layer does.
    event DataPublished(
        uint256 indexed disputeId, uint256 indexed agentId, bytes32 indexed blobSha256, uint64 sequence, bytes blob
    );
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
    error NotAnAuthorization(uint32 callSequence);
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
    error UseChallengeData();
    error WrongCommitment();
    error NotAnswerable(uint256 disputeId);
    error BlobMismatch(bytes32 expectedSha256, bytes32 givenSha256);
    error DecidedByEvidence(uint256 disputeId);
    error OnlyForks();
    error NotDecided(uint256 disputeId, DisputeStatus status);
    error EscalationWindowOpen(uint256 disputeId, uint64 finalizesAt);
    error EscalationWindowClosed(uint256 disputeId, uint64 finalizesAt);

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
        uint16 quorumBps_,
        IForks forks_
    ) EIP712("Covenant DisputeGame", "1") {
        // A quorum above half means "slash" and "reject" can never both be reached; a
        // verifier's stake must stay registered for longer than a dispute and its escalation
        // window last, so a fork can still slash it.
        if (quorumBps_ <= BPS / 2 || quorumBps_ > BPS) revert BadParameters();
        if (slashBps_ == 0 || slashBps_ > BPS) revert BadParameters();
        if (challengerBond_ == 0 || subjectiveBond_ < challengerBond_) revert BadParameters();
        uint64 window = forks_.escalationWindow();
        if (verifiers_.exitDelay() <= uint256(registry_.disputePeriod()) + window) revert BadParameters();
        registry = registry_;
        traceLog = traceLog_;
        vault = vault_;
        verifiers = verifiers_;
        challengerBond = challengerBond_;
        subjectiveBond = subjectiveBond_;
        slashBps = slashBps_;
        quorumBps = quorumBps_;
        forks = forks_;
        escalationWindow = window;
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
    ///         `b`: the batch's record, as its `BatchCommitted` event gives it (checked
    ///         against the hash TraceLog keeps).
    function provePolicyBreach(
        WalletStep calldata step,
        uint64 sequence,
        Batch calldata b,
        bytes32[] calldata proof,
        bytes32 salt
    ) external nonReentrant returns (uint256 disputeId, Breach breach) {
        uint256 agentId = step.agentId;
        _checkBatch(agentId, sequence, b);
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
    ///         sequence (the operator's transaction is its signature) and `committed` that
    ///         batch's record (its `BatchCommitted` event); with two signatures `committed`
    ///         is not read.
    function proveEquivocation(
        BatchHeader calldata a,
        bytes calldata sigA,
        BatchHeader calldata b,
        bytes calldata sigB,
        Batch calldata committed,
        bytes32 salt
    ) external nonReentrant returns (uint256 disputeId) {
        if (a.agentId != b.agentId || a.sequence != b.sequence) revert NotEquivocation();
        bytes32 digestA = traceLog.hashBatchHeader(a);
        bytes32 digestB = traceLog.hashBatchHeader(b);
        if (digestA == digestB) revert NotEquivocation();
        address operator = registry.agent(a.agentId).operator;
        if (ECDSA.recover(digestA, sigA) != operator) revert BadOperatorSignature();
        if (sigB.length == 0) {
            _checkBatch(b.agentId, b.sequence, committed);
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
        return _proveUntraced(agentId, callSequence, call, salt, 0);
    }

    /// @notice `proveUntracedCall` for a token authorization (AgentAccount.authorizeTransfer /
    ///         authorizePermit): `data` is the call's data, which must hash to the leaf's
    ///         `dataHash` — the EIP-3009 / EIP-2612 selector, then (account, payee, amount, …)
    ///         as the account built it. When the token is the vault's bond token, the amount
    ///         authorized (a permit's whole allowance) is repaid to the owner from the token
    ///         bond first (up to all of it), as `proveUntracedCall` repays moved ETH; for
    ///         another token nothing is repaid in kind.
    function proveUntracedAuthorization(
        uint256 agentId,
        uint32 callSequence,
        AccountCall calldata call,
        bytes calldata data,
        bytes32 salt
    ) external nonReentrant returns (uint256 disputeId) {
        if (keccak256(data) != call.dataHash) revert NotTheCall(callSequence);
        bytes4 sel = data.length >= 100 ? bytes4(data[:4]) : bytes4(0);
        if (
            !(sel == TRANSFER_WITH_AUTHORIZATION && data.length == 196) && !(sel == PERMIT && data.length == 164)
        ) revert NotAnAuthorization(callSequence);
        uint256 amount = call.to == address(vault.token()) ? uint256(bytes32(data[68:100])) : 0;
        return _proveUntraced(agentId, callSequence, call, salt, amount);
    }

    function _proveUntraced(
        uint256 agentId,
        uint32 callSequence,
        AccountCall calldata call,
        bytes32 salt,
        uint256 movedToken
    ) internal returns (uint256 disputeId) {
        uint64 coverBy = _checkUntracedCall(agentId, callSequence, call);
        bytes32 key = untracedCallEvidence(agentId, callSequence);
        if (faultProven[key]) revert AlreadyProven();
        _consumeEvidence(key, salt);

        faultProven[key] = true;
        // stepIndex records the call's sequence number (sequence 0: no batch is involved)
        disputeId = _recordProven(DisputeKind.UntracedAction, agentId, 0, callSequence, key);
        emit UntracedCallProven(disputeId, agentId, callSequence, coverBy);
        _slashCompensating(disputeId, call.value, movedToken);
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
    function _slashCompensating(uint256 disputeId, uint256 movedEth, uint256 movedToken) internal {
        Dispute storage d = _disputes[disputeId];
        address owner = registry.ownerOf(d.agentId);
        (uint256 eth, uint256 tok) = vault.slashFor(d.agentId, slashBps, d.challenger, owner, movedEth, movedToken);
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
    ///   - InvalidBatch: on a batch in its window (stepIndex 0).
    ///   - UntracedAction: on a transaction hash (`subject`); sequence and stepIndex 0.
    ///   DataWithheld goes through `challengeData`, which needs the commitment itself.
    ///   `harm`: the value (wei) the challenger says the faulty action moved, repaid to the
    ///   agent's owner first if the agent is slashed (0 for a batch-level fault or a claim).
    ///   `b`: the batch's record, as its `BatchCommitted` event gives it (checked against the
    ///   hash TraceLog keeps); not read for UntracedAction.
    function openDispute(
        DisputeKind kind,
        uint256 agentId,
        uint64 sequence,
        Batch calldata b,
        uint32 stepIndex,
        bytes32 subject,
        uint256 harm,
        bytes32 salt
    ) external payable nonReentrant returns (uint256 disputeId) {
        if (kind == DisputeKind.PolicyBreach || kind == DisputeKind.Equivocation) revert NotQuorumKind(kind);
        if (kind == DisputeKind.DataWithheld) revert UseChallengeData();
        _checkTarget(kind, agentId, sequence, b, stepIndex, subject);
        disputeId = _open(kind, agentId, sequence, stepIndex, subject, salt, true);
        if (harm != 0) {
            if (kind == DisputeKind.InvalidBatch) revert BadTarget();
            _disputes[disputeId].harm = harm;
        }
    }

    /// @notice The dispute target of a DataWithheld challenge on `daCommitment`: its blob's
    ///         sha256 when the chain can check a blob against it (a local commitment), else 0
    ///         (the quorum decides).
    function dataSubject(bytes calldata daCommitment) public pure returns (bytes32) {
        if (daCommitment.length == 33 && daCommitment[0] == LOCAL_COMMITMENT_VERSION) return bytes32(daCommitment[1:33]);
        return bytes32(0);
    }

    /// @notice Challenge a batch's blob as withheld. `daCommitment` must be the commitment the
    ///         batch was committed with. On a commitment the chain can check, the challenge is
    ///         settled by evidence: anyone may publish the blob with `answerDataWithheld` until
    ///         the deadline; after it, an unanswered challenge slashes (`resolveExpired`). On
    ///         any other commitment the verifier quorum decides, as for the other quorum kinds.
    ///         The reveal's evidence key is `targetKey(DataWithheld, agentId, sequence, 0,
    ///         dataSubject(daCommitment))`. `b`: the batch's record (its `BatchCommitted` event).
    function challengeData(
        uint256 agentId,
        uint64 sequence,
        Batch calldata b,
        bytes calldata daCommitment,
        bytes32 salt
    ) external payable nonReentrant returns (uint256 disputeId) {
        _checkBatch(agentId, sequence, b);
        if (keccak256(daCommitment) != b.daCommitmentHash) revert WrongCommitment();
        bytes32 subject = dataSubject(daCommitment);
        _requireBond(DisputeKind.DataWithheld);
        _requireOpenWindow(agentId, sequence, b);
        return _open(DisputeKind.DataWithheld, agentId, sequence, 0, subject, salt, subject == bytes32(0));
    }

    /// @notice Answer a DataWithheld challenge by publishing the blob: it must hash (sha256)
    ///         to the challenged commitment. Anyone may answer (the operator, a verifier, the DA
    ///         node): the challenge fails and its bond is paid to whoever answered.
    function answerDataWithheld(uint256 disputeId, bytes calldata blob) external nonReentrant {
        Dispute storage d = _openDispute(disputeId);
        if (d.kind != DisputeKind.DataWithheld || d.subject == bytes32(0)) revert NotAnswerable(disputeId);
        if (block.timestamp > d.deadline) revert DeadlinePassed(disputeId, d.deadline);
        bytes32 got = sha256(blob);
        if (got != d.subject) revert BlobMismatch(d.subject, got);
        _close(d, DisputeStatus.Rejected);
        emit DataPublished(disputeId, d.agentId, got, d.sequence, blob);
        emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Rejected, 0, 0);
        vault.creditEth{value: d.bond}(msg.sender);
    }

    /// @dev Opens a dispute; `needsVerifiers`: the quorum decides it, so an empty verifier set refuses it.
    /// @dev What a quorum dispute (not DataWithheld) targets exists and is in its window.
    function _checkTarget(
        DisputeKind kind,
        uint256 agentId,
        uint64 sequence,
        Batch calldata b,
        uint32 stepIndex,
        bytes32 subject
    ) internal view {
        _requireBond(kind);
        if (!registry.exists(agentId)) revert AgentRegistry.UnknownAgent(agentId);
        if (kind == DisputeKind.UntracedAction) {
            if (subject == bytes32(0) || sequence != 0 || stepIndex != 0) revert BadTarget();
            return;
        }
        _checkBatch(agentId, sequence, b);
        _requireOpenWindow(agentId, sequence, b);
        if (kind == DisputeKind.InvalidBatch) {
            if (stepIndex != 0) revert BadTarget();
        } else if (stepIndex >= b.stepCount) {
            revert StepNotInBatch(uint64(stepIndex) + b.firstIndex, b.firstIndex, b.stepCount);
        }
    }

    function _requireBond(DisputeKind kind) internal view {
        uint256 required = bondFor(kind);
        if (msg.value != required) revert WrongBond(msg.value, required);
    }

    /// @dev Opens a dispute on a target its caller checked (`_checkTarget`, or challengeData).
    function _open(
        DisputeKind kind,
        uint256 agentId,
        uint64 sequence,
        uint32 stepIndex,
        bytes32 subject,
        bytes32 salt,
        bool needsVerifiers
    ) internal returns (uint256 disputeId) {
        bytes32 key = targetKey(kind, agentId, sequence, stepIndex, subject);
        if (openDisputeOn[key] != 0) revert AlreadyDisputed(openDisputeOn[key]);
        if (faultProven[key]) revert AlreadyProven();
        // the quorum base is the stake eligible when the challenge was committed, and only
        // verifiers registered before that block vote
        (uint256 committedBlock, uint256 total) = _consumeEvidence(key, salt);
        if (needsVerifiers && total == 0) revert NoVerifiers();

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
            slashedToken: 0,
            harm: 0,
            finalizesAt: 0
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
    ///         from accounts with no voting weight or that already voted, are skipped. Decides at
    ///         quorum (settled then, or after the escalation window: see `_decide`).
    function submitVerdicts(uint256 disputeId, Vote[] calldata votes) external nonReentrant returns (DisputeStatus) {
        Dispute storage d = _openDispute(disputeId);
        if (block.timestamp > d.deadline) revert DeadlinePassed(disputeId, d.deadline);
        if (_decidedByEvidence(d)) revert DecidedByEvidence(disputeId);
        for (uint256 i; i < votes.length; ++i) {
            // A malformed signature is skipped like any other vote that carries no weight, so
            // one bad entry cannot make a relayer's whole batch revert.
            (address signer, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(verdictDigest(disputeId, votes[i].agentAtFault), votes[i].signature);
            if (err != ECDSA.RecoverError.NoError || voteOf[disputeId][signer] != 0) continue;
            uint256 weight = verifiers.votingWeight(signer, d.openedBlock);
            if (weight == 0) continue;
            voteOf[disputeId][signer] = votes[i].agentAtFault ? VOTE_FAULT : VOTE_NO_FAULT;
            _voters[disputeId].push(signer);
            if (votes[i].agentAtFault) d.forStake += weight;
            else d.againstStake += weight;
            emit VerdictCounted(disputeId, signer, votes[i].agentAtFault, weight);
        }
        uint256 needed = d.stakeSnapshot * quorumBps;
        if (d.forStake * BPS >= needed) _decide(disputeId, true);
        else if (d.againstStake * BPS >= needed) _decide(disputeId, false);
        return d.status;
    }

    /// @notice Close a dispute that reached no quorum by its deadline. When at least
    ///         TURNOUT_BPS of the snapshot voted, the stake that voted decides (more for:
    ///         at fault; more against: not), like a quorum; otherwise, or on a tie, it expires:
    ///         nobody is slashed and the challenger bond is refunded. A DataWithheld challenge on
    ///         a checkable commitment that nobody answered slashes (no vote, no escalation: the
    ///         chain checked the answer).
    function resolveExpired(uint256 disputeId) external nonReentrant {
        Dispute storage d = _openDispute(disputeId);
        if (block.timestamp <= d.deadline) revert DeadlineNotReached(disputeId, d.deadline);
        if (_decidedByEvidence(d)) {
            _close(d, DisputeStatus.Slashed);
            _slash(disputeId);
            vault.creditEth{value: d.bond}(d.challenger);
            return;
        }
        uint256 turnout = d.forStake + d.againstStake;
        bool decided = turnout * BPS >= d.stakeSnapshot * TURNOUT_BPS && d.forStake != d.againstStake;
        if (decided) {
            _decide(disputeId, d.forStake > d.againstStake);
        } else {
            _close(d, DisputeStatus.Expired);
            vault.creditEth{value: d.bond}(d.challenger);
            emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Expired, 0, 0);
        }
    }

    // ------------------------------------------------------------------ escalation

    /// @notice Settle a decided verdict nobody contested, once its escalation window has
    ///         passed. Anyone may call it (verifier nodes do).
    function finalize(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (d.status != DisputeStatus.Decided) revert NotDecided(disputeId, d.status);
        if (block.timestamp <= d.finalizesAt) revert EscalationWindowOpen(disputeId, d.finalizesAt);
        _settle(disputeId, d.forStake > d.againstStake);
    }

    /// @notice The ForkManager marks a decided verdict contested (within its window): it then
    ///         pays nobody until `settleContested`. Returns the verdict (agent at fault or not).
    function escalate(uint256 disputeId) external returns (bool agentAtFault) {
        if (msg.sender != address(forks)) revert OnlyForks();
        Dispute storage d = _disputes[disputeId];
        if (d.status != DisputeStatus.Decided) revert NotDecided(disputeId, d.status);
        if (block.timestamp > d.finalizesAt) revert EscalationWindowClosed(disputeId, d.finalizesAt);
        d.status = DisputeStatus.Contested;
        return d.forStake > d.againstStake;
    }

    /// @notice The ForkManager settles a contested dispute as the canonical fork says.
    function settleContested(uint256 disputeId, bool agentAtFault) external nonReentrant {
        if (msg.sender != address(forks)) revert OnlyForks();
        Dispute storage d = _disputes[disputeId];
        if (d.status != DisputeStatus.Contested) revert NotDecided(disputeId, d.status);
        _settle(disputeId, agentAtFault);
    }

    // ------------------------------------------------------------------ views

    /// @notice The verifiers whose votes on `disputeId` were counted, in counting order.
    function votersOf(uint256 disputeId) external view returns (address[] memory) {
        return _voters[disputeId];
    }

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

    /// @dev `b` is the record committed at (agentId, sequence) (TraceLog keeps its hash). The
    ///      errors are TraceLog's, raised here so that they are in this contract's ABI.
    function _checkBatch(uint256 agentId, uint64 sequence, Batch calldata b) internal view {
        bytes32 stored = traceLog.batchHash(agentId, sequence);
        if (stored == bytes32(0)) {
            // a bundled batch: committed, its slot written by `TraceLog.openBatch` on demand
            if (traceLog.isCommitted(agentId, sequence)) revert TraceLog.BatchNotOpened(agentId, sequence);
            revert TraceLog.UnknownBatch(agentId, sequence);
        }
        if (keccak256(abi.encode(b)) != stored) revert TraceLog.WrongBatchRecord(agentId, sequence);
    }

    function _requireOpenWindow(uint256 agentId, uint64 sequence, Batch calldata b) internal view {
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
            slashedToken: 0,
            harm: 0,
            finalizesAt: 0
        });
    }

    function _slash(uint256 disputeId) internal {
        Dispute storage d = _disputes[disputeId];
        if (d.kind != DisputeKind.PolicyBreach && d.kind != DisputeKind.Equivocation && d.bond != 0) {
            faultProven[targetKey(d.kind, d.agentId, d.sequence, d.stepIndex, d.subject)] = true;
        }
        if (d.harm != 0) return _slashCompensating(disputeId, d.harm, 0);
        (uint256 eth, uint256 tok) = vault.slash(d.agentId, slashBps, d.challenger);
        d.slashedEth = eth;
        d.slashedToken = tok;
        emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Slashed, eth, tok);
    }

    /// @dev A verdict is reached: with no escalation window it is settled at once; otherwise it
    ///      waits out the window (contestable) before `finalize` settles it.
    function _decide(uint256 disputeId, bool agentAtFault) internal {
        if (escalationWindow == 0) {
            _settle(disputeId, agentAtFault);
            return;
        }
        Dispute storage d = _disputes[disputeId];
        d.status = DisputeStatus.Decided;
        d.finalizesAt = uint64(block.timestamp) + escalationWindow;
        emit DisputeDecided(disputeId, agentAtFault, d.finalizesAt);
    }

    /// @dev Pays out a quorum dispute: at fault, the agent is slashed and the challenger bond
    ///      refunded; not at fault, the bond goes to the agent's owner.
    function _settle(uint256 disputeId, bool agentAtFault) internal {
        Dispute storage d = _disputes[disputeId];
        if (agentAtFault) {
            _close(d, DisputeStatus.Slashed);
            _slash(disputeId);
            vault.creditEth{value: d.bond}(d.challenger);
        } else {
            _close(d, DisputeStatus.Rejected);
            vault.creditEth{value: d.bond}(registry.agent(d.agentId).owner);
            emit DisputeResolved(disputeId, d.agentId, DisputeStatus.Rejected, 0, 0);
        }
    }

    function _openDispute(uint256 disputeId) internal view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.status == DisputeStatus.None) revert UnknownDispute(disputeId);
        if (d.status != DisputeStatus.Open) revert DisputeNotOpen(disputeId, d.status);
    }

    /// @dev A DataWithheld challenge on a commitment the chain can check: no votes count.
    function _decidedByEvidence(Dispute storage d) internal view returns (bool) {
        return d.kind == DisputeKind.DataWithheld && d.subject != bytes32(0);
    }

    function _close(Dispute storage d, DisputeStatus status) internal {
        d.status = status;
        delete openDisputeOn[targetKey(d.kind, d.agentId, d.sequence, d.stepIndex, d.subject)];
        registry.disputeClosed(d.agentId);
    }
}
