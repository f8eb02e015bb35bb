// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {WalletStep} from "./CovenantTypes.sol";

/// @title The one definition of a trace step's Merkle leaf.
/// @notice `src/trace/leaf.ts` implements the same encoding; `test/leaf-vectors.test.ts`
///         and `contracts/test/LeafEncoding.t.sol` hash the same vectors in both.
///
///   leaf        = keccak256(abi.encode(STEP_TYPEHASH, agentId, index, kind, prevHash, payloadHash))
///   prevHash    = leaf of the agent's previous step (zero for its first step): the hash chain
///   payloadHash = for a wallet step: keccak256(abi.encode(WALLET_TX_TYPEHASH, chainId, from, to,
///                 value, keccak256(data), nonce, policyVersion));
///                 for every other kind: keccak256 of the step's canonical bytes (off-chain only)
///
/// The batch root is a Merkle tree over the leaves in index order with commutative
/// (sorted-pair) keccak256 nodes, verified with OpenZeppelin's MerkleProof. A leaf is 160
/// encoded bytes behind a type hash and a node is 64 bytes, so neither can pass as the other.
library LeafEncoding {
    bytes32 internal constant STEP_TYPEHASH =
        keccak256("CovenantStep(uint256 agentId,uint64 index,uint8 kind,bytes32 prevHash,bytes32 payloadHash)");
    bytes32 internal constant WALLET_TX_TYPEHASH = keccak256(
        "CovenantWalletTx(uint256 chainId,address from,address to,uint256 value,bytes32 dataHash,uint64 nonce,uint32 policyVersion)"
    );

    uint8 internal constant KIND_INPUT = 0;
    uint8 internal constant KIND_INFERENCE = 1;
    uint8 internal constant KIND_TOOL = 2;
    uint8 internal constant KIND_WALLET = 3;
    uint8 internal constant KIND_OUTPUT = 4;

    function stepLeaf(uint256 agentId, uint64 index, uint8 kind, bytes32 prevHash, bytes32 payloadHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(STEP_TYPEHASH, agentId, index, kind, prevHash, payloadHash));
    }

    function walletPayloadHash(WalletStep calldata s) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                WALLET_TX_TYPEHASH, s.chainId, s.from, s.to, s.value, keccak256(s.data), s.nonce, s.policyVersion
            )
        );
    }

    function walletStepLeaf(WalletStep calldata s) internal pure returns (bytes32) {
        return stepLeaf(s.agentId, s.index, KIND_WALLET, s.prevHash, walletPayloadHash(s));
    }
}
