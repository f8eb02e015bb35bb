// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {TestBase} from "./utils/TestBase.sol";
import {Merkle} from "./utils/Merkle.sol";
import {LeafHarness} from "./utils/Fixture.sol";
import {LeafEncoding} from "../src/LeafEncoding.sol";
import {WalletStep} from "../src/CovenantTypes.sol";

/// @notice Checks `LeafEncoding` and the Merkle tree against test/vectors/leaf-vectors.json,
///         which scripts/leaf-vectors.mjs computes with viem alone. The TypeScript trace code
///         is checked against the same file, so the two sides cannot drift apart.
contract LeafEncodingTest is TestBase {
    LeafHarness internal harness;
    string internal json;

    function setUp() public {
        harness = new LeafHarness();
        json = vm.readFile(string.concat(vm.projectRoot(), "/test/vectors/leaf-vectors.json"));
    }

    function _at(string memory list, uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(".", list, "[", vm.toString(i), "].", field);
    }

    function _count(string memory list) internal view returns (uint256 n) {
        while (vm.keyExistsJson(json, string.concat(".", list, "[", vm.toString(n), "]"))) ++n;
    }

    function test_typehashes() public pure {
        assertEq(
            LeafEncoding.STEP_TYPEHASH,
            keccak256("CovenantStep(uint256 agentId,uint64 index,uint8 kind,bytes32 prevHash,bytes32 payloadHash)")
        );
        assertEq(
            LeafEncoding.WALLET_TX_TYPEHASH,
            keccak256(
                "CovenantWalletTx(uint256 chainId,address from,address to,uint256 value,bytes32 dataHash,uint64 nonce,uint32 policyVersion)"
            )
        );
    }

    function test_vectors_stepLeaves() public view {
        uint256 n = _count("steps");
        assertGe(n, 5, "vector file has steps");
        for (uint256 i; i < n; ++i) {
            uint256 agentId = vm.parseJsonUint(json, _at("steps", i, "agentId"));
            uint256 index = vm.parseJsonUint(json, _at("steps", i, "index"));
            uint256 kind = vm.parseJsonUint(json, _at("steps", i, "kind"));
            bytes32 prev = vm.parseJsonBytes32(json, _at("steps", i, "prevHash"));
            bytes32 payload = vm.parseJsonBytes32(json, _at("steps", i, "payloadHash"));
            bytes32 leaf = vm.parseJsonBytes32(json, _at("steps", i, "leaf"));
            bytes32 got = harness.stepLeaf(agentId, uint64(index), uint8(kind), prev, payload);
            assertEq(got, leaf, string.concat("step vector ", vm.toString(i)));
        }
    }

    function _walletStep(uint256 i) internal view returns (WalletStep memory s) {
        s.agentId = vm.parseJsonUint(json, _at("walletSteps", i, "agentId"));
        s.index = uint64(vm.parseJsonUint(json, _at("walletSteps", i, "index")));
        s.prevHash = vm.parseJsonBytes32(json, _at("walletSteps", i, "prevHash"));
        s.chainId = vm.parseJsonUint(json, _at("walletSteps", i, "chainId"));
        s.from = vm.parseJsonAddress(json, _at("walletSteps", i, "from"));
        s.to = vm.parseJsonAddress(json, _at("walletSteps", i, "to"));
        s.value = vm.parseJsonUint(json, _at("walletSteps", i, "value"));
        s.data = vm.parseJsonBytes(json, _at("walletSteps", i, "data"));
        s.nonce = uint64(vm.parseJsonUint(json, _at("walletSteps", i, "nonce")));
        s.policyVersion = uint32(vm.parseJsonUint(json, _at("walletSteps", i, "policyVersion")));
    }

    function test_vectors_walletLeaves() public view {
        uint256 n = _count("walletSteps");
        assertGe(n, 3, "vector file has wallet steps");
        bool sawEmptyData;
        bool sawBigValue;
        for (uint256 i; i < n; ++i) {
            WalletStep memory s = _walletStep(i);
            bytes32 leaf = vm.parseJsonBytes32(json, _at("walletSteps", i, "leaf"));
            assertEq(harness.walletStepLeaf(s), leaf, string.concat("wallet vector ", vm.toString(i)));
            // a wallet leaf is a step leaf of kind 3 over the wallet payload
            bytes32 viaStep =
                harness.stepLeaf(s.agentId, s.index, LeafEncoding.KIND_WALLET, s.prevHash, harness.walletPayloadHash(s));
            assertEq(viaStep, leaf);
            if (s.data.length == 0) sawEmptyData = true;
            if (s.value == type(uint256).max) sawBigValue = true;
        }
        assertTrue(sawEmptyData && sawBigValue, "vectors cover empty calldata and a 2^256-1 value");
    }

    function test_vectors_treesAndProofs() public view {
        uint256 n = _count("trees");
        assertGe(n, 4, "vector file has trees");
        for (uint256 t; t < n; ++t) {
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, _at("trees", t, "leaves"));
            bytes32 root = vm.parseJsonBytes32(json, _at("trees", t, "root"));
            assertEq(Merkle.root(leaves), root, string.concat("tree ", vm.toString(t), ": test builder root"));
            for (uint256 i; i < leaves.length; ++i) {
                string memory key = string.concat(".trees[", vm.toString(t), "].proofs[", vm.toString(i), "]");
                bytes32[] memory proof = vm.parseJsonBytes32Array(json, key);
                assertTrue(MerkleProof.verify(proof, root, leaves[i]), string.concat("tree ", vm.toString(t)));
                assertEq(keccak256(abi.encode(proof)), keccak256(abi.encode(Merkle.proof(leaves, i))), "same proof");
                // the proof is for that leaf only
                if (leaves.length > 1) {
                    uint256 j = (i + 1) % leaves.length;
                    assertFalse(MerkleProof.verify(proof, root, leaves[j]), "proof must not fit another leaf");
                }
            }
        }
    }

    /// forge-config: default.fuzz.runs = 128
    function testFuzz_merkleBuilderMatchesOpenZeppelin(bytes32 seed, uint8 size, uint8 pick) public pure {
        uint256 n = bound(size, 1, 40);
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) leaves[i] = keccak256(abi.encode(seed, i));
        bytes32 root = Merkle.root(leaves);
        uint256 i = bound(pick, 0, n - 1);
        bytes32[] memory proof = Merkle.proof(leaves, i);
        assertTrue(MerkleProof.verify(proof, root, leaves[i]));
        assertFalse(MerkleProof.verify(proof, root, keccak256(abi.encode(leaves[i]))));
    }

    function testFuzz_walletLeafBindsEveryField(uint256 field, uint256 salt) public view {
        WalletStep memory s = _walletStep(1);
        bytes32 before = harness.walletStepLeaf(s);
        field = bound(field, 0, 9);
        if (field == 0) s.agentId ^= (salt | 1);
        else if (field == 1) s.index ^= uint64(salt | 1);
        else if (field == 2) s.prevHash ^= bytes32(salt | 1);
        else if (field == 3) s.chainId ^= (salt | 1);
        else if (field == 4) s.from = address(uint160(s.from) ^ uint160(salt | 1));
        else if (field == 5) s.to = address(uint160(s.to) ^ uint160(salt | 1));
        else if (field == 6) s.value ^= (salt | 1);
        else if (field == 7) s.data = abi.encodePacked(s.data, bytes1(uint8(salt)));
        else if (field == 8) s.nonce ^= uint64(salt | 1);
        else s.policyVersion ^= uint32(salt | 1);
        assertTrue(harness.walletStepLeaf(s) != before, "every field is bound by the leaf");
    }
}
