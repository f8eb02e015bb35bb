// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {AgentAccount} from "../../src/AgentAccount.sol";
import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {OneDigestWallet} from "./IdentityRegistry.t.sol";

/// @notice The AgentAccount as an ERC-8004 agentWallet: it answers ERC-1271 for the agent's
///         owner and nobody else, so the owner (and only the owner) can make the account the
///         wallet of an ERC-8004 identity.
contract AgentAccountWalletTest is Fixture {
    bytes4 internal constant MAGIC = 0x1626ba7e;
    bytes4 internal constant NO = 0xffffffff;
    uint256 internal constant OWNER_PK = 0x0A11CE;
    uint256 internal constant SIGNER_PK = 0x51617E;
    address internal keyedOwner;
    address internal signerKey;
    AgentAccount internal account;
    IdentityRegistry internal identity;

    function setUp() public override {
        super.setUp();
        keyedOwner = vm.addr(OWNER_PK);
        signerKey = vm.addr(SIGNER_PK);
        agentId = _registerAgent(keyedOwner, operator, signerKey);
        account = AgentAccount(payable(registry.accountOf(agentId)));
        identity = new IdentityRegistry();
    }

    function test_isValidSignature_ownerOnly() public view {
        bytes32 h = keccak256("anything");
        assertTrue(account.isValidSignature(h, _sig(OWNER_PK, h)) == MAGIC, "the owner's signature");
        assertTrue(account.isValidSignature(h, _sig(SIGNER_PK, h)) == NO, "never the signer key's");
        assertTrue(account.isValidSignature(h, _sig(MALLORY_PK, h)) == NO, "nor a stranger's");
        assertTrue(account.isValidSignature(h, _sig(OWNER_PK, keccak256("other"))) == NO, "another hash");
        assertTrue(account.isValidSignature(h, hex"00") == NO, "garbage");
    }

    function test_isValidSignature_contractOwner() public {
        OneDigestWallet safe = new OneDigestWallet();
        uint256 id = _registerAgent(address(safe), operator, signerKey);
        AgentAccount a = AgentAccount(payable(registry.accountOf(id)));
        bytes32 h = keccak256("owner-approved");
        assertTrue(a.isValidSignature(h, "") == NO, "before the owner contract approves");
        safe.accept(h);
        assertTrue(a.isValidSignature(h, "") == MAGIC, "the owner contract's own ERC-1271 answer");
    }

    function test_isValidSignature_implementationAnswersNothing() public {
        AgentAccount impl = AgentAccount(payable(registry.accountImplementation()));
        bytes32 h = keccak256("x");
        vm.expectRevert();
        impl.isValidSignature(h, _sig(OWNER_PK, h));
    }

    /// The honest owner makes its agent's account the ERC-8004 agentWallet.
    function test_ownerMakesTheAccountTheAgentWallet() public {
        vm.prank(keyedOwner);
        uint256 id = identity.register("covenant:manifest/0x1234");
        uint256 deadline = block.timestamp + 60;
        bytes32 digest = identity.agentWalletDigest(id, address(account), keyedOwner, deadline);
        vm.prank(keyedOwner);
        identity.setAgentWallet(id, address(account), deadline, _sig(OWNER_PK, digest));
        assertEq(identity.getAgentWallet(id), address(account));
        assertEq(AgentAccount(payable(identity.getAgentWallet(id))).agentId(), agentId, "the wallet names the Covenant agent");
    }

    /// The cheater: an ERC-8004 identity that claims an honest agent's account (to borrow
    /// its validations) — with its own key, with the agent's signer key, or replaying the
    /// owner's signature made for the owner's identity. Every try fails.
    function test_strangerCannotClaimTheAccount() public {
        vm.prank(keyedOwner);
        uint256 honest = identity.register("covenant:manifest/0x1234");
        vm.prank(malloryKeyed);
        uint256 rogue = identity.register("https://rogue.example/agent.json");
        uint256 deadline = block.timestamp + 60;

        bytes memory own = _sig(MALLORY_PK, identity.agentWalletDigest(rogue, address(account), malloryKeyed, deadline));
        vm.prank(malloryKeyed);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, address(account)));
        identity.setAgentWallet(rogue, address(account), deadline, own);

        bytes memory bySigner = _sig(SIGNER_PK, identity.agentWalletDigest(rogue, address(account), malloryKeyed, deadline));
        vm.prank(malloryKeyed);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, address(account)));
        identity.setAgentWallet(rogue, address(account), deadline, bySigner);

        bytes memory ownersForHonest = _sig(OWNER_PK, identity.agentWalletDigest(honest, address(account), keyedOwner, deadline));
        vm.prank(malloryKeyed);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, address(account)));
        identity.setAgentWallet(rogue, address(account), deadline, ownersForHonest);

        assertEq(identity.getAgentWallet(rogue), malloryKeyed, "the rogue identity keeps its own wallet");
    }

    /// Only the owner's key is ever accepted for the account.
    function testFuzz_isValidSignature_onlyTheOwnersKey(uint256 pk, bytes32 h) public view {
        pk = bound(pk, 1, 2 ** 200);
        bool ok = account.isValidSignature(h, _sig(pk, h)) == MAGIC;
        assertEq(ok, vm.addr(pk) == keyedOwner, "accepted iff signed by the owner");
    }
}
