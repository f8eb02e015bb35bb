// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Builds the trace Merkle tree the way `src/trace/` does: leaves in index order,
///         commutative keccak256 nodes (sorted pair), an odd node at the end of a level is
///         promoted unhashed. Proofs verify with OpenZeppelin's MerkleProof.
library Merkle {
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        require(leaves.length > 0, "Merkle: no leaves");
        bytes32[] memory level = leaves;
        while (level.length > 1) level = _up(level);
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory out) {
        require(index < leaves.length, "Merkle: index out of range");
        bytes32[] memory buf = new bytes32[](256);
        uint256 n;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) buf[n++] = level[sibling];
            index >>= 1;
            level = _up(level);
        }
        out = new bytes32[](n);
        for (uint256 i; i < n; ++i) out[i] = buf[i];
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < next.length; ++i) {
            uint256 l = 2 * i;
            next[i] = l + 1 < level.length ? hashPair(level[l], level[l + 1]) : level[l];
        }
    }
}
