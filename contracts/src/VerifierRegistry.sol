// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IForks} from "./IForks.sol";

/// @title VerifierRegistry
/// @notice The staked form of the work token (sCVW): verifiers (the EigenVerify role) lock
///         WorkToken here to vote on disputes, and a vote weighs what its signer has staked.
///         A stake is fixed at registration and leaves only after an exit delay longer than a
///         dispute plus its escalation window, and never while a fork is pending, so no stake
///         can vote twice in one dispute by leaving and coming back, nor leave before a fork
///         can slash it: a vote counts only if the verifier registered in a block before the
///         dispute opened.
/// @dev The staked form is not transferable: a staked balance that could move would let the
///      stake behind a vote walk away before a fork or a proof slashes it. `balanceOf` and
///      `totalSupply` read like an ERC-20's so wallets and explorers can show it.
///      Only the ForkManager slashes (a fork's losing side; a provably false verdict); what it
///      slashes is sent to it, which burns it or pays the party that proved it.
///      Conservation: workToken.balanceOf(this) == totalStake.
contract VerifierRegistry is ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Verifier {
        uint256 stake;
        uint64 registeredBlock;
        uint64 exitRequestedAt;
    }

    string public constant name = "Staked Covenant Work";
    string public constant symbol = "sCVW";
    uint8 public constant decimals = 18;

    IERC20 public immutable workToken;
    uint256 public immutable minStake;
    uint64 public immutable exitDelay;
    address private immutable _deployer;
    /// the ForkManager: the only account that can slash a stake; set once
    IForks public forks;

    uint256 public totalStake;
    /// stake registered in block `_joinBlock` (the latest block anyone registered in)
    uint256 private _joinedStake;
    uint64 private _joinBlock;
    mapping(address => Verifier) private _verifiers;
    address[] private _everRegistered;
    mapping(address => bool) private _listed;

    event VerifierRegistered(address indexed verifier, uint256 stake);
    event ExitRequested(address indexed verifier, uint64 exitableAt);
    event VerifierExited(address indexed verifier, uint256 stake);
    event StakeSlashed(address indexed verifier, uint256 stake);

    error StakeTooLow(uint256 given, uint256 min);
    error AlreadyRegistered(address verifier);
    error NotRegistered(address verifier);
    error ExitAlreadyRequested(address verifier);
    error ExitNotRequested(address verifier);
    error ExitNotReady(uint64 exitableAt);
    error ForksPending(uint256 pending);
    error OnlyDeployer();
    error OnlyForks();
    error AlreadyWired();
    error ZeroAddress();

    constructor(IERC20 workToken_, uint256 minStake_, uint64 exitDelay_) {
        if (address(workToken_) == address(0)) revert ZeroAddress();
        workToken = workToken_;
        minStake = minStake_;
        exitDelay = exitDelay_;
        _deployer = msg.sender;
    }

    function setForks(IForks forks_) external {
        if (msg.sender != _deployer) revert OnlyDeployer();
        if (address(forks) != address(0)) revert AlreadyWired();
        if (address(forks_) == address(0)) revert ZeroAddress();
        forks = forks_;
    }

    /// @notice Lock `amount` WorkToken (approved to this contract) as a verifier stake.
    /// @dev Counts what actually arrived, so a token that charged a fee could not inflate a stake.
    function register(uint256 amount) external nonReentrant {
        if (_verifiers[msg.sender].stake != 0) revert AlreadyRegistered(msg.sender);
        if (amount < minStake || amount == 0) revert StakeTooLow(amount, minStake);
        uint256 before = workToken.balanceOf(address(this));
        workToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = workToken.balanceOf(address(this)) - before;
        if (received < minStake || received == 0) revert StakeTooLow(received, minStake);
        _verifiers[msg.sender] = Verifier(received, uint64(block.number), 0);
        totalStake += received;
        if (_joinBlock != block.number) {
            _joinBlock = uint64(block.number);
            _joinedStake = 0;
        }
        _joinedStake += received;
        if (!_listed[msg.sender]) {
            _listed[msg.sender] = true;
            _everRegistered.push(msg.sender);
        }
        emit VerifierRegistered(msg.sender, received);
    }

    function requestExit() external {
        Verifier storage v = _verifiers[msg.sender];
        if (v.stake == 0) revert NotRegistered(msg.sender);
        if (v.exitRequestedAt != 0) revert ExitAlreadyRequested(msg.sender);
        v.exitRequestedAt = uint64(block.timestamp);
        emit ExitRequested(msg.sender, uint64(block.timestamp) + exitDelay);
    }

    /// @notice Take the stake back once the exit delay has passed and no fork is pending.
    function exit() external nonReentrant {
        Verifier memory v = _verifiers[msg.sender];
        if (v.stake == 0) revert NotRegistered(msg.sender);
        if (v.exitRequestedAt == 0) revert ExitNotRequested(msg.sender);
        uint64 exitableAt = v.exitRequestedAt + exitDelay;
        if (block.timestamp < exitableAt) revert ExitNotReady(exitableAt);
        uint256 pending = address(forks) == address(0) ? 0 : forks.pendingForks();
        if (pending != 0) revert ForksPending(pending);
        _remove(msg.sender, v);
        emit VerifierExited(msg.sender, v.stake);
        workToken.safeTransfer(msg.sender, v.stake);
    }

    /// @notice Take up to `maxAmount` of `verifier`'s stake and send it to the ForkManager.
    ///         Only the ForkManager, for a fork's losing side or a provably false verdict; it
    ///         passes the stake that voted or redeemed, so a later registration is not taken.
    /// @return amount what was taken (0 when the account has no stake)
    function slash(address verifier, uint256 maxAmount) external nonReentrant returns (uint256 amount) {
        if (msg.sender != address(forks)) revert OnlyForks();
        Verifier storage v = _verifiers[verifier];
        amount = v.stake < maxAmount ? v.stake : maxAmount;
        if (amount == 0) return 0;
        if (amount == v.stake) _remove(verifier, v);
        else _reduce(v, amount);
        emit StakeSlashed(verifier, amount);
        workToken.safeTransfer(msg.sender, amount);
    }

    function _remove(address account, Verifier memory v) internal {
        _reduce(_verifiers[account], v.stake);
        delete _verifiers[account];
    }

    function _reduce(Verifier storage v, uint256 amount) internal {
        totalStake -= amount;
        // stake that joined in this block and leaves in it no longer counts as joined
        if (v.registeredBlock == _joinBlock && _joinBlock == block.number) _joinedStake -= amount;
        v.stake -= amount;
    }

    /// @notice The weight of `verifier`'s vote in a dispute opened at `openedBlock`.
    function votingWeight(address verifier, uint64 openedBlock) external view returns (uint256) {
        Verifier storage v = _verifiers[verifier];
        if (v.stake == 0 || v.registeredBlock >= openedBlock) return 0;
        return v.stake;
    }

    /// @notice The stake that can vote in a dispute opened in this block: all stake except
    ///         what registered in this block, which `votingWeight` gives no weight there. A
    ///         dispute's quorum is measured against this, so stake that joins in the opening
    ///         block (say, front-running the reveal) cannot make the quorum unreachable.
    function eligibleStake() external view returns (uint256) {
        uint256 fresh = _joinBlock == block.number ? _joinedStake : 0;
        return totalStake > fresh ? totalStake - fresh : 0;
    }

    function verifier(address account) external view returns (Verifier memory) {
        return _verifiers[account];
    }

    function verifiers() external view returns (address[] memory) {
        return _everRegistered;
    }

    /// @notice The staked balance of `account` (sCVW).
    function balanceOf(address account) external view returns (uint256) {
        return _verifiers[account].stake;
    }

    function totalSupply() external view returns (uint256) {
        return totalStake;
    }
}
