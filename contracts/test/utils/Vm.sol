// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// The forge cheatcodes the Covenant suites use, declared by hand: the npm `forge-std` is
// too old for forge 1.x and is not installed. Signatures follow forge's cheatcode ABI; the
// cheatcode contract lives at `VM_ADDRESS`.
address constant VM_ADDRESS = address(uint160(uint256(keccak256("hevm cheat code"))));

interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    // ---------------------------------------------------------------- environment
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;
    function chainId(uint256 newChainId) external;
    function deal(address account, uint256 newBalance) external;
    function etch(address target, bytes calldata newRuntimeBytecode) external;

    // ---------------------------------------------------------------- callers
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;

    // ---------------------------------------------------------------- expectations
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit() external;
    function expectEmit(address emitter) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter)
        external;
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);

    // ---------------------------------------------------------------- keys and signatures
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata newLabel) external;

    // ---------------------------------------------------------------- fuzzing
    function assume(bool condition) external pure;

    // ---------------------------------------------------------------- files and JSON
    function projectRoot() external view returns (string memory path);
    function readFile(string calldata path) external view returns (string memory data);
    function keyExistsJson(string calldata json, string calldata key) external view returns (bool);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
    function parseJsonBytes32Array(string calldata json, string calldata key)
        external
        pure
        returns (bytes32[] memory);
    function toString(uint256 value) external pure returns (string memory);
    function toString(address value) external pure returns (string memory);
    function toString(bytes32 value) external pure returns (string memory);
    function toString(bytes calldata value) external pure returns (string memory);
    function toString(bool value) external pure returns (string memory);
}
