// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm, VM_ADDRESS} from "./Vm.sol";

/// @notice What the Covenant suites need from a test base: the cheatcodes, assertions that
///         revert with a message naming both sides, a `bound` for fuzz inputs, and the
///         invariant-target functions forge's invariant engine calls (same names and ABI as
///         forge-std's StdInvariant, so the engine picks them up).
abstract contract TestBase {
    Vm internal constant vm = Vm(VM_ADDRESS);

    // ---------------------------------------------------------------- assertions

    error AssertionFailed(string message);

    function fail(string memory message) internal pure {
        revert AssertionFailed(message);
    }

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) fail(string.concat("assertTrue failed: ", message));
    }

    function assertTrue(bool condition) internal pure {
        assertTrue(condition, "");
    }

    function assertFalse(bool condition, string memory message) internal pure {
        if (condition) fail(string.concat("assertFalse failed: ", message));
    }

    function assertFalse(bool condition) internal pure {
        assertFalse(condition, "");
    }

    function assertEq(uint256 left, uint256 right, string memory message) internal pure {
        if (left != right) {
            fail(string.concat("assertEq(uint256) failed: ", vm.toString(left), " != ", vm.toString(right), ": ", message));
        }
    }

    function assertEq(uint256 left, uint256 right) internal pure {
        assertEq(left, right, "");
    }

    function assertEq(address left, address right, string memory message) internal pure {
        if (left != right) {
            fail(string.concat("assertEq(address) failed: ", vm.toString(left), " != ", vm.toString(right), ": ", message));
        }
    }

    function assertEq(address left, address right) internal pure {
        assertEq(left, right, "");
    }

    function assertEq(bytes32 left, bytes32 right, string memory message) internal pure {
        if (left != right) {
            fail(string.concat("assertEq(bytes32) failed: ", vm.toString(left), " != ", vm.toString(right), ": ", message));
        }
    }

    function assertEq(bytes32 left, bytes32 right) internal pure {
        assertEq(left, right, "");
    }

    function assertEq(bool left, bool right, string memory message) internal pure {
        if (left != right) {
            fail(string.concat("assertEq(bool) failed: ", vm.toString(left), " != ", vm.toString(right), ": ", message));
        }
    }

    function assertEq(bool left, bool right) internal pure {
        assertEq(left, right, "");
    }

    function assertEq(bytes memory left, bytes memory right, string memory message) internal pure {
        if (keccak256(left) != keccak256(right)) {
            fail(string.concat("assertEq(bytes) failed: ", vm.toString(left), " != ", vm.toString(right), ": ", message));
        }
    }

    function assertEq(bytes memory left, bytes memory right) internal pure {
        assertEq(left, right, "");
    }

    function assertGe(uint256 left, uint256 right, string memory message) internal pure {
        if (left < right) {
            fail(string.concat("assertGe failed: ", vm.toString(left), " < ", vm.toString(right), ": ", message));
        }
    }

    function assertGt(uint256 left, uint256 right, string memory message) internal pure {
        if (left <= right) {
            fail(string.concat("assertGt failed: ", vm.toString(left), " <= ", vm.toString(right), ": ", message));
        }
    }

    function assertLe(uint256 left, uint256 right, string memory message) internal pure {
        if (left > right) {
            fail(string.concat("assertLe failed: ", vm.toString(left), " > ", vm.toString(right), ": ", message));
        }
    }

    function assertLt(uint256 left, uint256 right, string memory message) internal pure {
        if (left >= right) {
            fail(string.concat("assertLt failed: ", vm.toString(left), " >= ", vm.toString(right), ": ", message));
        }
    }

    // ---------------------------------------------------------------- fuzz helpers

    /// @dev Maps `x` into [min, max]; values already inside are kept, so the fuzzer's
    ///      edge values (0, max, min - 1 ...) land on the edges of the range.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }

    // ---------------------------------------------------------------- invariant targets
    // forge's invariant engine calls these by name (forge-std's StdInvariant ABI).

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    struct FuzzArtifactSelector {
        string artifact;
        bytes4[] selectors;
    }

    struct FuzzInterface {
        address addr;
        string[] artifacts;
    }

    address[] private _targetedContracts;
    address[] private _excludedContracts;
    address[] private _targetedSenders;
    address[] private _excludedSenders;
    string[] private _targetedArtifacts;
    string[] private _excludedArtifacts;
    FuzzSelector[] private _targetedSelectors;
    FuzzSelector[] private _excludedSelectors;
    FuzzArtifactSelector[] private _targetedArtifactSelectors;
    FuzzInterface[] private _targetedInterfaces;

    function targetContract(address target) internal {
        _targetedContracts.push(target);
    }

    function excludeContract(address target) internal {
        _excludedContracts.push(target);
    }

    function targetSender(address sender) internal {
        _targetedSenders.push(sender);
    }

    function excludeSender(address sender) internal {
        _excludedSenders.push(sender);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetedSelectors.push(selector);
    }

    function excludeSelector(FuzzSelector memory selector) internal {
        _excludedSelectors.push(selector);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    function excludeContracts() public view returns (address[] memory) {
        return _excludedContracts;
    }

    function targetSenders() public view returns (address[] memory) {
        return _targetedSenders;
    }

    function excludeSenders() public view returns (address[] memory) {
        return _excludedSenders;
    }

    function targetArtifacts() public view returns (string[] memory) {
        return _targetedArtifacts;
    }

    function excludeArtifacts() public view returns (string[] memory) {
        return _excludedArtifacts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function excludeSelectors() public view returns (FuzzSelector[] memory) {
        return _excludedSelectors;
    }

    function targetArtifactSelectors() public view returns (FuzzArtifactSelector[] memory) {
        return _targetedArtifactSelectors;
    }

    function targetInterfaces() public view returns (FuzzInterface[] memory) {
        return _targetedInterfaces;
    }
}
