// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev What the VerifierRegistry and the DisputeGame read from the ForkManager.
interface IForks {
    /// Seconds after a quorum verdict during which anyone can contest it (0: verdicts are final at once).
    function escalationWindow() external view returns (uint64);
    /// Forks started and not yet resolved: while any is pending, no stake leaves the registry.
    function pendingForks() external view returns (uint256);
}
