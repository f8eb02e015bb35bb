// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The ERC-721 reads the Reputation and Validation registries make of an ERC-8004
///      Identity Registry: who owns an agent and who may act for the owner. Plain ERC-721,
///      so the two registries work with any Identity Registry, not only Covenant's.
interface IERC721Owned {
    function ownerOf(uint256 tokenId) external view returns (address);
    function getApproved(uint256 tokenId) external view returns (address);
    function isApprovedForAll(address owner, address operator) external view returns (bool);
}

/// @dev Whether `who` owns agent `agentId` of `identity` or is approved for it (the
///      standard's "owner or operator"); reverts, as `ownerOf` does, for an unknown agent.
function isOwnerOrOperator(IERC721Owned identity, uint256 agentId, address who) view returns (bool) {
    address owner = identity.ownerOf(agentId);
    return who == owner || identity.isApprovedForAll(owner, who) || identity.getApproved(agentId) == who;
}
