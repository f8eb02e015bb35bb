// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Relay7702 (dev/tests only)
/// @notice The shape of a typical EIP-7702 delegate ("batch executor" smart-wallet code): an
///         EOA that delegates to it lets whoever calls `forward` make calls *as that EOA*. A
///         careless or malicious authorization signed with an agent's signer key puts this at
///         the key's address; the tests show what a relayer can and cannot do with the agent
///         account then (it can reach the funds only through `execute`, under the policy, and
///         every such call is recorded and provable when untraced).
contract Relay7702 {
    function forward(address to, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }
}
