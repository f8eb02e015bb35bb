// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IForks} from "./IForks.sol";
import {VerifierRegistry} from "./VerifierRegistry.sol";
import {DisputeGame} from "./DisputeGame.sol";
import {AgentAccount} from "./AgentAccount.sol";
import {DisputeKind} from "./CovenantTypes.sol";

/// @title ForkManager
/// @notice The backstop against a corrupt verifier majority: a quorum verdict can be
///         escalated to a fork of the staked work token, and a verifier whose vote the chain
///         can prove false is slashed without one.
///
///   - **Contest.** Within the escalation window after a verdict is decided, anyone posts
///     the fork bond (`forkBond`, ETH) on it. The dispute then pays nobody until the fork
///     resolves.
///   - **The fork.** The staked token splits into two children: *Stands* (the verdict was
///     right) and *Overturned* (it was wrong). In each child the stake that voted against
///     that child's outcome is slashed: in Overturned the stake that voted for the verdict
///     has no balance, in Stands the stake that voted against it has none. Stake that did
///     not vote is whole in both (silence proves nothing the chain can see, and an honest
///     verifier may have been offline).
///   - **Redemption.** During the fork period each account picks one child: a verifier
///     registered before the fork redeems its stake there (its balance in that child; never
///     in a child where it is slashed), and any holder of the transferable WorkToken may lock
///     tokens there. A stake registered after the vote (the voter slashed and back with new
///     stake) is not the stake that voted: it is whole in both children.
///   - **Fork choice** (`canonicalSide`, readable by any contract): after `forkPeriod`,
///     Overturned is canonical when it holds more than `forkChoiceBps` of the redeemed
///     supply; otherwise (a tie or nobody redeeming included) Stands is. The contester
///     carries the burden.
///   - **Resolution** (`resolve`, anyone, after the period). In the canonical fork the
///     slashed side's stake and the stake redeemed into the losing child are gone (taken
///     from the registry); tokens locked in the losing child are burned; tokens locked in
///     the canonical one are returned (`reclaim`). The fork bond is returned only if
///     Overturned wins, with `rewardBps` of the slashed stake; else it is burned, as is the
///     slashed stake. The dispute is then settled as the canonical fork says
///     (DisputeGame.settleContested): the honest agent's bond untouched and the challenger
///     bond paid to its owner, or the cheater slashed and the honest challenger paid.
///   - **Without a fork.** `proveFalseVerdict`: a "not at fault" vote on an UntracedAction
///     dispute whose subject is an account call the chain proves untraced;
///     `proveDoubleVerdict`: one verifier signed both verdicts of one dispute. Either takes
///     the verifier's whole stake (`rewardBps` to the prover, the rest burned).
/// @dev Burned value stays in this contract for good: no function can move it.
///      Conservation, checked by the invariant suite:
///        workToken.balanceOf(this) == heldDeposits + totalTokenCredits + burnedTokens
///        address(this).balance     == heldBonds + totalEthCredits + burnedEth
///      Resolution walks the dispute's voters and the fork's stake redeemers; both lists hold
///      each registered verifier at most once, so they are bounded by totalStake / minStake.
contract ForkManager is IForks, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Side {
        None,
        Stands,
        Overturned
    }

    struct Fork {
        uint256 disputeId;
        address contester;
        uint256 bond;
        uint64 startedAt;
        /// a stake registered in or after this block has no balance in the fork
        uint64 startedBlock;
        /// the dispute's base block: a vote was cast by the stake registered before it
        uint64 openedBlock;
        uint64 endsAt;
        /// what the contested verdict said
        bool verdictAtFault;
        /// None while the fork is pending
        Side canonical;
        uint256 redeemedStands;
        uint256 redeemedOverturned;
        /// the part of each side's redeemed supply that is WorkToken locked here
        uint256 lockedStands;
        uint256 lockedOverturned;
        /// stake removed from the registry in the canonical fork
        uint256 slashedStake;
    }

    uint16 public constant BPS = 10_000;

    IERC20 public immutable workToken;
    VerifierRegistry public immutable verifiers;
    /// seconds after a verdict is decided during which it can be contested (0: no backstop)
    uint64 public immutable escalationWindow;
    /// seconds a fork stays open for redemption
    uint64 public immutable forkPeriod;
    /// ETH a contester posts; burned if its fork loses
    uint256 public immutable forkBond;
    /// Overturned is canonical when it holds more than this share of the redeemed supply
    uint16 public immutable forkChoiceBps;
    /// share of slashed verifier stake paid to a winning contester or a false-verdict prover
    uint16 public immutable rewardBps;
    address private immutable _deployer;

    DisputeGame public disputeGame;
    uint256 public forkCount;
    uint256 public pendingForks;
    mapping(uint256 => Fork) private _forks;
    /// dispute id => fork id (0: never contested)
    mapping(uint256 => uint256) public forkOfDispute;
    /// fork id => account => the child it redeemed into
    mapping(uint256 => mapping(address => Side)) public sideOf;
    mapping(uint256 => mapping(address => uint256)) public stakeRedeemed;
    mapping(uint256 => mapping(address => uint256)) public tokensLocked;
    mapping(uint256 => address[]) private _stakeRedeemers;

    mapping(address => uint256) public ethCredits;
    mapping(address => uint256) public tokenCredits;
    uint256 public totalEthCredits;
    uint256 public totalTokenCredits;
    /// fork bonds of pending forks
    uint256 public heldBonds;
    /// WorkToken locked in pending forks, or in canonical children and not yet reclaimed
    uint256 public heldDeposits;
    uint256 public burnedEth;
    uint256 public burnedTokens;

    event ForkStarted(
        uint256 indexed forkId,
        uint256 indexed disputeId,
        address indexed contester,
        uint256 bond,
        bool verdictAtFault,
        uint64 endsAt
    );
    event Redeemed(uint256 indexed forkId, address indexed account, Side side, uint256 stake, uint256 tokens);
    event ForkResolved(
        uint256 indexed forkId,
        uint256 indexed disputeId,
        Side canonical,
        bool agentAtFault,
        uint256 redeemedStands,
        uint256 redeemedOverturned,
        uint256 slashedStake
    );
    event VerifierSlashed(uint256 indexed forkId, address indexed verifier, uint256 stake);
    event FalseVerdictProven(uint256 indexed disputeId, address indexed verifier, address indexed prover, uint256 stake);
    event Reclaimed(uint256 indexed forkId, address indexed account, uint256 tokens);
    event Claimed(address indexed to, uint256 eth, uint256 tokens);

    error BadParameters();
    error OnlyDeployer();
    error AlreadyWired();
    error ZeroAddress();
    error WrongBond(uint256 given, uint256 required);
    error AlreadyContested(uint256 disputeId, uint256 forkId);
    error UnknownFork(uint256 forkId);
    error ForkOver(uint256 forkId, uint64 endsAt);
    error ForkNotOver(uint256 forkId, uint64 endsAt);
    error ForkResolvedAlready(uint256 forkId);
    error ForkNotResolved(uint256 forkId);
    error BadSide();
    error OtherSideChosen(uint256 forkId, Side chosen);
    error AlreadyRedeemed(uint256 forkId);
    error SlashedInFork(uint256 forkId, Side side);
    error ZeroAmount();
    error NothingToReclaim(uint256 forkId);
    error NothingToClaim();
    error NotProvable(uint256 disputeId);
    error NotAFalseVerdict(uint256 disputeId, address verifier);
    error NotADoubleVerdict();
    error NothingToSlash(address verifier);
    error TransferFailed();

    constructor(
        IERC20 workToken_,
        VerifierRegistry verifiers_,
        uint64 escalationWindow_,
        uint64 forkPeriod_,
        uint256 forkBond_,
        uint16 forkChoiceBps_,
        uint16 rewardBps_
    ) {
        if (address(workToken_) == address(0) || address(verifiers_) == address(0)) revert ZeroAddress();
        if (verifiers_.workToken() != workToken_) revert BadParameters();
        // a fork must be possible whenever a verdict can be contested, and cost something
        if (escalationWindow_ != 0 && (forkPeriod_ == 0 || forkBond_ == 0)) revert BadParameters();
        if (forkChoiceBps_ < BPS / 2 || forkChoiceBps_ >= BPS) revert BadParameters();
        if (rewardBps_ > BPS) revert BadParameters();
        workToken = workToken_;
        verifiers = verifiers_;
        escalationWindow = escalationWindow_;
        forkPeriod = forkPeriod_;
        forkBond = forkBond_;
        forkChoiceBps = forkChoiceBps_;
        rewardBps = rewardBps_;
        _deployer = msg.sender;
    }

    function setDisputeGame(DisputeGame game) external {
        if (msg.sender != _deployer) revert OnlyDeployer();
        if (address(disputeGame) != address(0)) revert AlreadyWired();
        if (address(game) == address(0)) revert ZeroAddress();
        if (address(game.forks()) != address(this)) revert BadParameters();
        disputeGame = game;
    }

    // ------------------------------------------------------------------ contest

    /// @notice Contest a decided verdict within its escalation window, posting the fork bond.
    ///         Starts a fork that is open for redemption for `forkPeriod`.
    function contest(uint256 disputeId) external payable nonReentrant returns (uint256 forkId) {
        if (msg.value != forkBond) revert WrongBond(msg.value, forkBond);
        uint256 existing = forkOfDispute[disputeId];
        if (existing != 0) revert AlreadyContested(disputeId, existing);
        // reverts unless the dispute is decided and inside its window
        bool verdictAtFault = disputeGame.escalate(disputeId);

        forkId = ++forkCount;
        uint64 endsAt = uint64(block.timestamp) + forkPeriod;
        Fork storage f = _forks[forkId];
        f.disputeId = disputeId;
        f.contester = msg.sender;
        f.bond = msg.value;
        f.startedAt = uint64(block.timestamp);
        f.startedBlock = uint64(block.number);
        f.openedBlock = disputeGame.dispute(disputeId).openedBlock;
        f.endsAt = endsAt;
        f.verdictAtFault = verdictAtFault;
        forkOfDispute[disputeId] = forkId;
        pendingForks += 1;
        heldBonds += msg.value;
        emit ForkStarted(forkId, disputeId, msg.sender, msg.value, verdictAtFault, endsAt);
    }

    // ------------------------------------------------------------------ redemption

    /// @notice `account`'s staked balance in one child of fork `forkId`: its stake if it was
    ///         registered before the fork, or zero where its vote is slashed (a vote against
    ///         that child's outcome, cast by this stake).
    function balanceIn(uint256 forkId, Side side, address account) public view returns (uint256) {
        Fork storage f = _known(forkId);
        if (side == Side.None) revert BadSide();
        VerifierRegistry.Verifier memory v = verifiers.verifier(account);
        if (v.stake == 0 || v.registeredBlock >= f.startedBlock) return 0;
        if (_slashedIn(f, side, account) && _votedWith(f, account) != 0) return 0;
        return v.stake;
    }

    /// @notice Redeem your stake into one child of a pending fork: its balance there counts
    ///         for that child. Stake redeemed into the child that loses is gone.
    function redeemStake(uint256 forkId, Side side) external nonReentrant {
        Fork storage f = _pending(forkId);
        _choose(forkId, side);
        if (stakeRedeemed[forkId][msg.sender] != 0) revert AlreadyRedeemed(forkId);
        uint256 amount = balanceIn(forkId, side, msg.sender);
        if (amount == 0) revert SlashedInFork(forkId, side);
        stakeRedeemed[forkId][msg.sender] = amount;
        _stakeRedeemers[forkId].push(msg.sender);
        if (side == Side.Stands) f.redeemedStands += amount;
        else f.redeemedOverturned += amount;
        emit Redeemed(forkId, msg.sender, side, amount, 0);
    }

    /// @notice Lock transferable WorkToken (approved to this contract) into one child of a
    ///         pending fork: returned if that child becomes canonical, burned if it loses.
    function redeemTokens(uint256 forkId, Side side, uint256 amount) external nonReentrant {
        Fork storage f = _pending(forkId);
        _choose(forkId, side);
        if (amount == 0) revert ZeroAmount();
        uint256 before = workToken.balanceOf(address(this));
        workToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = workToken.balanceOf(address(this)) - before;
        tokensLocked[forkId][msg.sender] += received;
        heldDeposits += received;
        if (side == Side.Stands) {
            f.redeemedStands += received;
            f.lockedStands += received;
        } else {
            f.redeemedOverturned += received;
            f.lockedOverturned += received;
        }
        emit Redeemed(forkId, msg.sender, side, 0, received);
    }

    // ------------------------------------------------------------------ fork choice

    /// @notice The child the fork-choice rule picks from the redemptions so far.
    function leadingSide(uint256 forkId) public view returns (Side) {
        Fork storage f = _known(forkId);
        uint256 total = f.redeemedStands + f.redeemedOverturned;
        return f.redeemedOverturned * BPS > total * forkChoiceBps ? Side.Overturned : Side.Stands;
    }

    /// @notice The canonical child of a resolved fork (None while it is pending). Contracts
    ///         that follow the canonical fork read this.
    function canonicalSide(uint256 forkId) external view returns (Side) {
        return _known(forkId).canonical;
    }

    /// @notice Resolve a fork whose period is over: apply the canonical child (slash, burn,
    ///         return), then settle the contested dispute as it says. Anyone may call it.
    function resolve(uint256 forkId) external nonReentrant {
        Fork storage f = _known(forkId);
        if (f.canonical != Side.None) revert ForkResolvedAlready(forkId);
        if (block.timestamp < f.endsAt) revert ForkNotOver(forkId, f.endsAt);
        Side canonical = leadingSide(forkId);
        bool overturned = canonical == Side.Overturned;
        bool agentAtFault = f.verdictAtFault != overturned;

        f.canonical = canonical;
        pendingForks -= 1;
        heldBonds -= f.bond;
        if (overturned) _creditEth(f.contester, f.bond);
        else burnedEth += f.bond;
        uint256 lostDeposits = overturned ? f.lockedStands : f.lockedOverturned;
        heldDeposits -= lostDeposits;
        burnedTokens += lostDeposits;

        uint256 slashed = _slashLosers(forkId, f, canonical);
        f.slashedStake = slashed;
        uint256 reward = overturned ? slashed * rewardBps / BPS : 0;
        if (reward != 0) _creditTokens(f.contester, reward);
        burnedTokens += slashed - reward;

        emit ForkResolved(
            forkId, f.disputeId, canonical, agentAtFault, f.redeemedStands, f.redeemedOverturned, slashed
        );
        disputeGame.settleContested(f.disputeId, agentAtFault);
    }

    /// @notice Take back WorkToken you locked in the child that became canonical.
    function reclaim(uint256 forkId) external nonReentrant {
        Fork storage f = _known(forkId);
        if (f.canonical == Side.None) revert ForkNotResolved(forkId);
        uint256 amount = tokensLocked[forkId][msg.sender];
        if (amount == 0 || sideOf[forkId][msg.sender] != f.canonical) revert NothingToReclaim(forkId);
        tokensLocked[forkId][msg.sender] = 0;
        heldDeposits -= amount;
        emit Reclaimed(forkId, msg.sender, amount);
        workToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ accountability without a fork

    /// @notice Slash a verifier that voted "not at fault" on an UntracedAction dispute whose
    ///         subject is the leaf of account call `callSequence`, where the chain proves that
    ///         call untraced: proven by `DisputeGame.proveUntracedCall`, or past its cover-by
    ///         time with no committed batch covering it.
    function proveFalseVerdict(uint256 disputeId, address verifier, uint32 callSequence)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        DisputeGame game = disputeGame;
        DisputeGame.Dispute memory d = game.dispute(disputeId);
        if (d.kind != DisputeKind.UntracedAction) revert NotProvable(disputeId);
        if (game.voteOf(disputeId, verifier) != game.VOTE_NO_FAULT()) revert NotAFalseVerdict(disputeId, verifier);
        AgentAccount account = AgentAccount(payable(game.registry().accountOf(d.agentId)));
        if (!account.isCallLeaf(callSequence, d.subject)) revert NotProvable(disputeId);
        if (!game.faultProven(game.untracedCallEvidence(d.agentId, callSequence))) {
            (, uint64 coverBy) = account.callAt(callSequence);
            bool uncovered = game.traceLog().coveredCalls(d.agentId) <= callSequence;
            if (block.timestamp <= coverBy || !uncovered) revert NotProvable(disputeId);
        }
        slashed = _slashProven(disputeId, verifier);
    }

    /// @notice Slash a verifier that signed both verdicts of one dispute.
    function proveDoubleVerdict(uint256 disputeId, bytes calldata sigAtFault, bytes calldata sigNotAtFault)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        DisputeGame game = disputeGame;
        (address a, ECDSA.RecoverError ea,) = ECDSA.tryRecover(game.verdictDigest(disputeId, true), sigAtFault);
        (address b, ECDSA.RecoverError eb,) = ECDSA.tryRecover(game.verdictDigest(disputeId, false), sigNotAtFault);
        if (ea != ECDSA.RecoverError.NoError || eb != ECDSA.RecoverError.NoError || a != b) revert NotADoubleVerdict();
        slashed = _slashProven(disputeId, a);
    }

    // ------------------------------------------------------------------ payouts

    /// @notice Pay out your credits: a returned fork bond, fork and proof rewards.
    function claim() external nonReentrant {
        uint256 eth = ethCredits[msg.sender];
        uint256 tokens = tokenCredits[msg.sender];
        if (eth == 0 && tokens == 0) revert NothingToClaim();
        ethCredits[msg.sender] = 0;
        tokenCredits[msg.sender] = 0;
        totalEthCredits -= eth;
        totalTokenCredits -= tokens;
        emit Claimed(msg.sender, eth, tokens);
        if (tokens != 0) workToken.safeTransfer(msg.sender, tokens);
        if (eth != 0) {
            (bool ok,) = msg.sender.call{value: eth}("");
            if (!ok) revert TransferFailed();
        }
    }

    // ------------------------------------------------------------------ views

    function fork(uint256 forkId) external view returns (Fork memory) {
        return _known(forkId);
    }

    function stakeRedeemers(uint256 forkId) external view returns (address[] memory) {
        return _stakeRedeemers[forkId];
    }

    // ------------------------------------------------------------------ internal

    function _known(uint256 forkId) internal view returns (Fork storage f) {
        f = _forks[forkId];
        if (f.startedAt == 0) revert UnknownFork(forkId);
    }

    function _pending(uint256 forkId) internal view returns (Fork storage f) {
        f = _known(forkId);
        if (f.canonical != Side.None) revert ForkResolvedAlready(forkId);
        if (block.timestamp >= f.endsAt) revert ForkOver(forkId, f.endsAt);
    }

    /// @dev One child per account and fork.
    function _choose(uint256 forkId, Side side) internal {
        if (side == Side.None) revert BadSide();
        Side chosen = sideOf[forkId][msg.sender];
        if (chosen != Side.None && chosen != side) revert OtherSideChosen(forkId, chosen);
        sideOf[forkId][msg.sender] = side;
    }

    /// @dev The stake behind `account`'s vote that is still registered (0 once it left or was
    ///      slashed and came back with new stake).
    function _votedWith(Fork storage f, address account) internal view returns (uint256) {
        return verifiers.votingWeight(account, f.openedBlock);
    }

    /// @dev Whether `account`'s vote on the fork's dispute is slashed in child `side`.
    function _slashedIn(Fork storage f, Side side, address account) internal view returns (bool) {
        uint8 vote = disputeGame.voteOf(f.disputeId, account);
        if (vote == 0) return false;
        bool votedForVerdict = (vote == disputeGame.VOTE_FAULT()) == f.verdictAtFault;
        return side == Side.Overturned ? votedForVerdict : !votedForVerdict;
    }

    /// @dev Removes, in the canonical child, the stake of the voters it slashes (the stake
    ///      that voted) and the stake redeemed into the other child (that registration's).
    function _slashLosers(uint256 forkId, Fork storage f, Side canonical) internal returns (uint256 slashed) {
        address[] memory voters = disputeGame.votersOf(f.disputeId);
        for (uint256 i; i < voters.length; ++i) {
            if (_slashedIn(f, canonical, voters[i])) slashed += _slash(forkId, voters[i], _votedWith(f, voters[i]));
        }
        address[] storage redeemers = _stakeRedeemers[forkId];
        for (uint256 i; i < redeemers.length; ++i) {
            address r = redeemers[i];
            if (sideOf[forkId][r] == canonical || verifiers.verifier(r).registeredBlock >= f.startedBlock) continue;
            slashed += _slash(forkId, r, stakeRedeemed[forkId][r]);
        }
    }

    function _slash(uint256 forkId, address verifier, uint256 maxAmount) internal returns (uint256 amount) {
        if (maxAmount == 0) return 0;
        amount = verifiers.slash(verifier, maxAmount);
        if (amount != 0) emit VerifierSlashed(forkId, verifier, amount);
    }

    /// @dev Takes the stake that was eligible in the dispute (a later registration is not).
    function _slashProven(uint256 disputeId, address verifier) internal returns (uint256 slashed) {
        uint256 eligible = verifiers.votingWeight(verifier, disputeGame.dispute(disputeId).openedBlock);
        slashed = eligible == 0 ? 0 : verifiers.slash(verifier, eligible);
        if (slashed == 0) revert NothingToSlash(verifier);
        uint256 reward = slashed * rewardBps / BPS;
        if (reward != 0) _creditTokens(msg.sender, reward);
        burnedTokens += slashed - reward;
        emit FalseVerdictProven(disputeId, verifier, msg.sender, slashed);
    }

    function _creditEth(address to, uint256 amount) internal {
        ethCredits[to] += amount;
        totalEthCredits += amount;
    }

    function _creditTokens(address to, uint256 amount) internal {
        tokenCredits[to] += amount;
        totalTokenCredits += amount;
    }
}
