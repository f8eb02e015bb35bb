// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title VerifierRegistry
/// @notice Verifiers (the EigenVerify role) stake ETH to vote on disputes. A stake is fixed
///         at registration and leaves only after an exit delay longer than any dispute, so
///         no stake can vote twice in one dispute by leaving and coming back: a vote counts
///         only if the verifier registered in a block before the dispute opened.
contract VerifierRegistry is ReentrancyGuard {
    struct Verifier {
        uint256 stake;
        uint64 registeredBlock;
        uint64 exitRequestedAt;
    }

    uint256 public immutable minStake;
    uint64 public immutable exitDelay;

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

    error StakeTooLow(uint256 given, uint256 min);
    error AlreadyRegistered(address verifier);
    error NotRegistered(address verifier);
    error ExitAlreadyRequested(address verifier);
    error ExitNotRequested(address verifier);
    error ExitNotReady(uint64 exitableAt);
    error TransferFailed();

    constructor(uint256 minStake_, uint64 exitDelay_) {
        minStake = minStake_;
        exitDelay = exitDelay_;
    }

    function register() external payable {
        if (_verifiers[msg.sender].stake != 0) revert AlreadyRegistered(msg.sender);
        if (msg.value < minStake || msg.value == 0) revert StakeTooLow(msg.value, minStake);
        _verifiers[msg.sender] = Verifier(msg.value, uint64(block.number), 0);
        totalStake += msg.value;
        if (_joinBlock != block.number) {
            _joinBlock = uint64(block.number);
            _joinedStake = 0;
        }
        _joinedStake += msg.value;
        if (!_listed[msg.sender]) {
            _listed[msg.sender] = true;
            _everRegistered.push(msg.sender);
        }
        emit VerifierRegistered(msg.sender, msg.value);
    }

    function requestExit() external {
        Verifier storage v = _verifiers[msg.sender];
        if (v.stake == 0) revert NotRegistered(msg.sender);
        if (v.exitRequestedAt != 0) revert ExitAlreadyRequested(msg.sender);
        v.exitRequestedAt = uint64(block.timestamp);
        emit ExitRequested(msg.sender, uint64(block.timestamp) + exitDelay);
    }

    function exit() external nonReentrant {
        Verifier memory v = _verifiers[msg.sender];
        if (v.stake == 0) revert NotRegistered(msg.sender);
        if (v.exitRequestedAt == 0) revert ExitNotRequested(msg.sender);
        uint64 exitableAt = v.exitRequestedAt + exitDelay;
        if (block.timestamp < exitableAt) revert ExitNotReady(exitableAt);
        delete _verifiers[msg.sender];
        totalStake -= v.stake;
        emit VerifierExited(msg.sender, v.stake);
        (bool ok,) = msg.sender.call{value: v.stake}("");
        if (!ok) revert TransferFailed();
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
}
