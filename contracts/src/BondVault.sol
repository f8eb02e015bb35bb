// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {AgentRegistry} from "./AgentRegistry.sol";
import {TraceLog} from "./TraceLog.sol";
import {AgentAccount} from "./AgentAccount.sol";

/// @title BondVault
/// @notice Agent bonds in native ETH and in one ERC-20. Anyone may deposit for an agent;
///         only its owner may withdraw, and only after
///           - the unbonding delay since the request,
///           - the challenge window of the agent's latest batch plus the dispute period,
///           - every call its AgentAccount made declared covered by a committed batch
///             (the account makes no new call while a withdrawal is requested), and
///           - with no dispute open against the agent.
///         Only the dispute game can slash. Slashed value is split into a challenger reward,
///         a redistribution share and a burn; payouts are credits that their owners claim
///         (pull payments), so no recipient can block a slash.
/// @dev Conservation, checked by the invariant suite:
///        balance == sum(bonds) + sum(unclaimed credits) + burned      (ETH and token alike)
///        deposited == sum(bonds) + withdrawn + slashed
contract BondVault is ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Bond {
        uint256 eth;
        uint256 token;
        /// part of the bond asked back; still slashable until withdrawn
        uint256 pendingEth;
        uint256 pendingToken;
        uint64 requestedAt;
    }

    uint16 public constant BPS = 10_000;

    AgentRegistry public immutable registry;
    TraceLog public immutable traceLog;
    IERC20 public immutable token;
    address public immutable redistribution;
    uint16 public immutable challengerBps;
    uint16 public immutable redistributionBps;

    address public disputeGame;
    address private immutable _deployer;

    mapping(uint256 => Bond) private _bonds;
    mapping(address => uint256) public ethCredits;
    mapping(address => uint256) public tokenCredits;

    uint256 public totalDepositedEth;
    uint256 public totalDepositedToken;
    uint256 public totalWithdrawnEth;
    uint256 public totalWithdrawnToken;
    uint256 public totalSlashedEth;
    uint256 public totalSlashedToken;
    uint256 public burnedEth;
    uint256 public burnedToken;
    /// ETH the dispute game parked here as credits (challenger bonds refunded or forfeited)
    uint256 public totalCreditedFromGame;

    event Deposited(uint256 indexed agentId, address indexed from, uint256 eth, uint256 tokenAmount);
    event WithdrawRequested(uint256 indexed agentId, uint256 eth, uint256 tokenAmount, uint64 requestedAt);
    event WithdrawCancelled(uint256 indexed agentId);
    event Withdrawn(uint256 indexed agentId, address indexed to, uint256 eth, uint256 tokenAmount);
    event Slashed(
        uint256 indexed agentId,
        address indexed challenger,
        uint256 eth,
        uint256 tokenAmount,
        uint256 challengerEth,
        uint256 redistributedEth,
        uint256 burnedEthAmount
    );
    event Credited(address indexed to, uint256 eth, uint256 tokenAmount);
    /// the party a proven faulty call harmed is paid the value it moved, before any split
    event Compensated(uint256 indexed agentId, address indexed to, uint256 eth);
    event CompensatedToken(uint256 indexed agentId, address indexed to, uint256 amount);
    event Claimed(address indexed to, uint256 eth, uint256 tokenAmount);

    error BadShares(uint256 challengerBps, uint256 redistributionBps);
    error ZeroAddress();
    error ZeroAmount();
    error OnlyDeployer();
    error AlreadyWired();
    error OnlyDisputeGame();
    error NotAgentOwner(uint256 agentId, address caller);
    error AmountExceedsBond(uint256 askedEth, uint256 bondEth, uint256 askedToken, uint256 bondToken);
    error NoWithdrawalRequested(uint256 agentId);
    error WithdrawalLocked(uint256 agentId, uint64 unlocksAt);
    error DisputeOpen(uint256 agentId);
    error NothingToClaim();
    error TransferFailed();
    error BadBps(uint256 bps);
    error UncoveredCalls(uint256 agentId, uint32 covered, uint32 made);

    constructor(
        AgentRegistry registry_,
        TraceLog traceLog_,
        IERC20 token_,
        address redistribution_,
        uint16 challengerBps_,
        uint16 redistributionBps_
    ) {
        if (address(token_) == address(0) || redistribution_ == address(0)) revert ZeroAddress();
        if (uint256(challengerBps_) + redistributionBps_ > BPS) revert BadShares(challengerBps_, redistributionBps_);
        registry = registry_;
        traceLog = traceLog_;
        token = token_;
        redistribution = redistribution_;
        challengerBps = challengerBps_;
        redistributionBps = redistributionBps_;
        _deployer = msg.sender;
    }

    function setDisputeGame(address game) external {
        if (msg.sender != _deployer) revert OnlyDeployer();
        if (disputeGame != address(0)) revert AlreadyWired();
        if (game == address(0)) revert ZeroAddress();
        disputeGame = game;
    }

    // ------------------------------------------------------------------ deposits

    function depositEth(uint256 agentId) external payable {
        if (msg.value == 0) revert ZeroAmount();
        registry.agent(agentId); // reverts for an unknown agent
        _bonds[agentId].eth += msg.value;
        totalDepositedEth += msg.value;
        emit Deposited(agentId, msg.sender, msg.value, 0);
    }

    /// @dev Credits what actually arrived, so a fee-on-transfer token cannot inflate a bond.
    function depositToken(uint256 agentId, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        registry.agent(agentId);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        _bonds[agentId].token += received;
        totalDepositedToken += received;
        emit Deposited(agentId, msg.sender, 0, received);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Ask for part of the bond back. A new request replaces the previous one and
    ///         restarts the unbonding delay.
    function requestWithdraw(uint256 agentId, uint256 ethAmount, uint256 tokenAmount) external {
        _onlyOwner(agentId);
        if (ethAmount == 0 && tokenAmount == 0) revert ZeroAmount();
        Bond storage b = _bonds[agentId];
        if (ethAmount > b.eth || tokenAmount > b.token) {
            revert AmountExceedsBond(ethAmount, b.eth, tokenAmount, b.token);
        }
        b.pendingEth = ethAmount;
        b.pendingToken = tokenAmount;
        b.requestedAt = uint64(block.timestamp);
        emit WithdrawRequested(agentId, ethAmount, tokenAmount, uint64(block.timestamp));
    }

    function cancelWithdraw(uint256 agentId) external {
        _onlyOwner(agentId);
        Bond storage b = _bonds[agentId];
        if (b.requestedAt == 0) revert NoWithdrawalRequested(agentId);
        b.pendingEth = 0;
        b.pendingToken = 0;
        b.requestedAt = 0;
        emit WithdrawCancelled(agentId);
    }

    /// @notice The earliest time the pending withdrawal can be made (ignores open disputes,
    ///         which block it until they are resolved). Zero when nothing is pending.
    function withdrawableAt(uint256 agentId) public view returns (uint64) {
        Bond storage b = _bonds[agentId];
        if (b.requestedAt == 0) return 0;
        uint64 afterDelay = b.requestedAt + registry.unbondingDelay();
        uint64 afterDisputes = traceLog.lastFinalizesAt(agentId) + registry.disputePeriod() + 1;
        return afterDelay > afterDisputes ? afterDelay : afterDisputes;
    }

    function withdraw(uint256 agentId) external nonReentrant {
        address owner = _onlyOwner(agentId);
        Bond storage b = _bonds[agentId];
        if (b.requestedAt == 0) revert NoWithdrawalRequested(agentId);
        uint64 unlocksAt = withdrawableAt(agentId);
        if (block.timestamp < unlocksAt) revert WithdrawalLocked(agentId, unlocksAt);
        if (registry.openDisputes(agentId) != 0) revert DisputeOpen(agentId);
        // A call made before the request must be covered by a batch whose window (counted in
        // withdrawableAt) has passed; none can be made after it (AgentAccount.isUnbonding).
        uint32 made = AgentAccount(payable(registry.accountOf(agentId))).callCount();
        uint32 covered = traceLog.coveredCalls(agentId);
        if (covered < made) revert UncoveredCalls(agentId, covered, made);

        uint256 ethOut = b.pendingEth;
        uint256 tokenOut = b.pendingToken;
        b.eth -= ethOut;
        b.token -= tokenOut;
        b.pendingEth = 0;
        b.pendingToken = 0;
        b.requestedAt = 0;
        totalWithdrawnEth += ethOut;
        totalWithdrawnToken += tokenOut;
        emit Withdrawn(agentId, owner, ethOut, tokenOut);

        if (tokenOut != 0) token.safeTransfer(owner, tokenOut);
        if (ethOut != 0) {
            (bool ok,) = owner.call{value: ethOut}("");
            if (!ok) revert TransferFailed();
        }
    }

    // ------------------------------------------------------------------ slashing

    /// @notice Take `bps` of the agent's bond and split it. Only the dispute game.
    /// @return ethSlashed , tokenSlashed  what was taken
    function slash(uint256 agentId, uint16 bps, address challenger)
        external
        returns (uint256 ethSlashed, uint256 tokenSlashed)
    {
        return _slashFor(agentId, bps, challenger, address(0), 0, 0);
    }

    /// @notice Like `slash`, for a fault whose moved value is known (a proven untraced account
    ///         call): at least `harmedEth` is taken (up to the whole ETH bond) and that part is
    ///         credited to `harmed` before the challenger, redistribution and burn shares; the
    ///         same for `harmedToken` (bond tokens an untraced authorization let go) from the
    ///         token bond.
    function slashFor(
        uint256 agentId,
        uint16 bps,
        address challenger,
        address harmed,
        uint256 harmedEth,
        uint256 harmedToken
    ) external returns (uint256 ethSlashed, uint256 tokenSlashed) {
        if (harmed == address(0)) revert ZeroAddress();
        return _slashFor(agentId, bps, challenger, harmed, harmedEth, harmedToken);
    }

    function _slashFor(
        uint256 agentId,
        uint16 bps,
        address challenger,
        address harmed,
        uint256 harmedEth,
        uint256 harmedToken
    ) internal returns (uint256 ethSlashed, uint256 tokenSlashed) {
        if (msg.sender != disputeGame) revert OnlyDisputeGame();
        if (bps == 0 || bps > BPS) revert BadBps(bps);
        if (challenger == address(0)) revert ZeroAddress();
        Bond storage b = _bonds[agentId];
        ethSlashed = b.eth * bps / BPS;
        uint256 owed = harmedEth < b.eth ? harmedEth : b.eth;
        if (owed > ethSlashed) ethSlashed = owed;
        tokenSlashed = b.token * bps / BPS;
        uint256 owedToken = harmedToken < b.token ? harmedToken : b.token;
        if (owedToken > tokenSlashed) tokenSlashed = owedToken;
        b.eth -= ethSlashed;
        b.token -= tokenSlashed;
        if (b.pendingEth > b.eth) b.pendingEth = b.eth;
        if (b.pendingToken > b.token) b.pendingToken = b.token;
        totalSlashedEth += ethSlashed;
        totalSlashedToken += tokenSlashed;

        if (owed != 0) {
            ethCredits[harmed] += owed;
            emit Compensated(agentId, harmed, owed);
        }
        if (owedToken != 0) {
            tokenCredits[harmed] += owedToken;
            emit CompensatedToken(agentId, harmed, owedToken);
        }
        (uint256 toChallengerEth, uint256 toRedistEth, uint256 burnEth) =
            _split(challenger, ethSlashed - owed, tokenSlashed - owedToken);
        emit Slashed(agentId, challenger, ethSlashed, tokenSlashed, toChallengerEth, toRedistEth, burnEth);
    }

    /// @dev Splits slashed value into the challenger reward, the redistribution share and the burn.
    function _split(address challenger, uint256 eth, uint256 tok)
        internal
        returns (uint256 toChallengerEth, uint256 toRedistEth, uint256 burnEth)
    {
        toChallengerEth = eth * challengerBps / BPS;
        toRedistEth = eth * redistributionBps / BPS;
        burnEth = eth - toChallengerEth - toRedistEth;
        uint256 toChallengerToken = tok * challengerBps / BPS;
        uint256 toRedistToken = tok * redistributionBps / BPS;
        ethCredits[challenger] += toChallengerEth;
        tokenCredits[challenger] += toChallengerToken;
        ethCredits[redistribution] += toRedistEth;
        tokenCredits[redistribution] += toRedistToken;
        // Burned value stays in this contract for good: no function can move it.
        burnedEth += burnEth;
        burnedToken += tok - toChallengerToken - toRedistToken;
    }

    /// @notice The dispute game parks challenger bonds here as claimable credits.
    function creditEth(address to) external payable {
        if (msg.sender != disputeGame) revert OnlyDisputeGame();
        if (to == address(0)) revert ZeroAddress();
        ethCredits[to] += msg.value;
        totalCreditedFromGame += msg.value;
        emit Credited(to, msg.value, 0);
    }

    function claim() external nonReentrant {
        uint256 ethOut = ethCredits[msg.sender];
        uint256 tokenOut = tokenCredits[msg.sender];
        if (ethOut == 0 && tokenOut == 0) revert NothingToClaim();
        ethCredits[msg.sender] = 0;
        tokenCredits[msg.sender] = 0;
        emit Claimed(msg.sender, ethOut, tokenOut);
        if (tokenOut != 0) token.safeTransfer(msg.sender, tokenOut);
        if (ethOut != 0) {
            (bool ok,) = msg.sender.call{value: ethOut}("");
            if (!ok) revert TransferFailed();
        }
    }

    // ------------------------------------------------------------------ views

    /// @notice Whether the owner asked for (part of) the bond back: the agent's account
    ///         makes no call until the request is withdrawn or cancelled.
    function isUnbonding(uint256 agentId) public view returns (bool) {
        return _bonds[agentId].requestedAt != 0;
    }

    /// @notice What the agent's account checks before every call: whether the owner is
    ///         unbonding, and the ETH bond (compared with what the policy lets it move).
    function bondGate(uint256 agentId) external view returns (bool unbonding, uint256 bondEth) {
        Bond storage b = _bonds[agentId];
        return (b.requestedAt != 0, b.eth);
    }

    function bondOf(uint256 agentId) external view returns (Bond memory) {
        return _bonds[agentId];
    }

    function _onlyOwner(uint256 agentId) internal view returns (address owner) {
        owner = registry.agent(agentId).owner;
        if (owner != msg.sender) revert NotAgentOwner(agentId, msg.sender);
    }
}
