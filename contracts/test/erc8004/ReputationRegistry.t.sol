// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {ReputationRegistry} from "../../src/erc8004/ReputationRegistry.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

contract ReputationRegistryTest is TestBase {
    IdentityRegistry internal identity;
    ReputationRegistry internal rep;

    address internal owner = address(0xA11CE);
    address internal operator = address(0x0BE2);
    address internal alice = address(0xA1);
    address internal bob = address(0xB0);
    address internal carol = address(0xCA);
    uint256 internal agentId;

    function setUp() public {
        identity = new IdentityRegistry();
        rep = new ReputationRegistry(address(identity));
        vm.prank(owner);
        agentId = identity.register("ipfs://agent");
    }

    function _give(address by, int128 value, uint8 decimals, string memory tag1, string memory tag2) internal {
        vm.prank(by);
        rep.giveFeedback(agentId, value, decimals, tag1, tag2, "https://agent.example/pay", "ipfs://fb", bytes32(0));
    }

    function _clients(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function _clients(address a, address b) internal pure returns (address[] memory l) {
        l = new address[](2);
        l[0] = a;
        l[1] = b;
    }

    function _eqStr(string memory a, string memory b) internal pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }

    function test_identity() public {
        assertEq(rep.getIdentityRegistry(), address(identity));
        vm.expectRevert(ReputationRegistry.ZeroAddress.selector);
        new ReputationRegistry(address(0));
    }

    function test_giveFeedback_numbersPerClient() public {
        vm.expectEmit(address(rep));
        emit ReputationRegistry.NewFeedback(
            agentId, alice, 1, 87, 0, "starred", "starred", "", "https://agent.example/pay", "ipfs://fb", bytes32(0)
        );
        _give(alice, 87, 0, "starred", "");
        _give(alice, 9977, 2, "uptime", "");
        _give(bob, -32, 1, "tradingYield", "week");

        assertEq(rep.getLastIndex(agentId, alice), 2);
        assertEq(rep.getLastIndex(agentId, bob), 1);
        assertEq(rep.getLastIndex(agentId, carol), 0);
        address[] memory clients = rep.getClients(agentId);
        assertEq(clients.length, 2, "each client listed once");
        assertEq(clients[0], alice);
        assertEq(clients[1], bob);

        (int128 value, uint8 decimals, string memory tag1, string memory tag2, bool revoked) = rep.readFeedback(agentId, bob, 1);
        assertTrue(value == -32, "a signed value");
        assertEq(decimals, 1);
        assertTrue(_eqStr(tag1, "tradingYield") && _eqStr(tag2, "week"), "tags");
        assertFalse(revoked);

        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.UnknownFeedback.selector, agentId, bob, 2));
        rep.readFeedback(agentId, bob, 2);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.UnknownFeedback.selector, agentId, bob, 0));
        rep.readFeedback(agentId, bob, 0);
    }

    /// The cheater: the owner (or its operator) rates its own agent. Refused.
    function test_giveFeedback_noSelfFeedback() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.SelfFeedback.selector, agentId, owner));
        rep.giveFeedback(agentId, 100, 0, "", "", "", "", bytes32(0));

        vm.prank(owner);
        identity.setApprovalForAll(operator, true);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.SelfFeedback.selector, agentId, operator));
        rep.giveFeedback(agentId, 100, 0, "", "", "", "", bytes32(0));

        vm.prank(owner);
        identity.approve(carol, agentId);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.SelfFeedback.selector, agentId, carol));
        rep.giveFeedback(agentId, 100, 0, "", "", "", "", bytes32(0));

        assertEq(rep.getClients(agentId).length, 0);
    }

    function test_giveFeedback_refusals() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.DecimalsOutOfRange.selector, 19));
        rep.giveFeedback(agentId, 1, 19, "", "", "", "", bytes32(0));

        int128 tooBig = 1e38 + 1;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.ValueOutOfRange.selector, tooBig));
        rep.giveFeedback(agentId, tooBig, 0, "", "", "", "", bytes32(0));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.ValueOutOfRange.selector, -tooBig));
        rep.giveFeedback(agentId, -tooBig, 0, "", "", "", "", bytes32(0));

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 77));
        rep.giveFeedback(77, 1, 0, "", "", "", "", bytes32(0));
    }

    function test_revoke() public {
        _give(alice, 10, 0, "", "");
        _give(alice, 90, 0, "", "");

        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.UnknownFeedback.selector, agentId, bob, 1));
        rep.revokeFeedback(agentId, 1);

        vm.expectEmit(address(rep));
        emit ReputationRegistry.FeedbackRevoked(agentId, alice, 1);
        vm.prank(alice);
        rep.revokeFeedback(agentId, 1);
        (,,,, bool revoked) = rep.readFeedback(agentId, alice, 1);
        assertTrue(revoked);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.AlreadyRevoked.selector, agentId, alice, 1));
        rep.revokeFeedback(agentId, 1);

        (uint64 count, int128 value,) = rep.getSummary(agentId, _clients(alice), "", "");
        assertEq(count, 1, "revoked feedback is not counted");
        assertTrue(value == 90, "only the unrevoked value");

        (address[] memory c,,,,,, bool[] memory r) = rep.readAllFeedback(agentId, new address[](0), "", "", false);
        assertEq(c.length, 1, "revoked feedback omitted by default");
        (c,,,,,, r) = rep.readAllFeedback(agentId, new address[](0), "", "", true);
        assertEq(c.length, 2, "and listed on request");
        assertTrue(r[0] && !r[1], "with its status");
    }

    function test_responses() public {
        _give(alice, 10, 0, "", "");
        _give(alice, 20, 0, "", "");
        _give(bob, 30, 0, "", "");

        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.UnknownFeedback.selector, agentId, alice, 3));
        rep.appendResponse(agentId, alice, 3, "ipfs://r", bytes32(0));

        vm.expectEmit(address(rep));
        emit ReputationRegistry.ResponseAppended(agentId, alice, 1, owner, "ipfs://refund", keccak256("refund"));
        vm.prank(owner);
        rep.appendResponse(agentId, alice, 1, "ipfs://refund", keccak256("refund"));
        vm.prank(carol);
        rep.appendResponse(agentId, alice, 1, "ipfs://spam-tag", bytes32(0));
        vm.prank(carol);
        rep.appendResponse(agentId, alice, 2, "ipfs://spam-tag", bytes32(0));
        vm.prank(carol);
        rep.appendResponse(agentId, bob, 1, "ipfs://spam-tag", bytes32(0));

        address[] memory none = new address[](0);
        assertEq(rep.getResponseCount(agentId, alice, 1, none), 2, "one feedback, anyone");
        assertEq(rep.getResponseCount(agentId, alice, 1, _clients(owner)), 1, "one feedback, the owner");
        assertEq(rep.getResponseCount(agentId, alice, 0, none), 3, "all of alice's feedback");
        assertEq(rep.getResponseCount(agentId, alice, 0, _clients(carol)), 2);
        assertEq(rep.getResponseCount(agentId, address(0), 0, none), 4, "all of the agent's");
        assertEq(rep.getResponseCount(agentId, address(0), 0, _clients(owner, carol)), 4);
        assertEq(rep.getResponseCount(agentId, bob, 1, _clients(owner)), 0);
    }

    function test_summary_andReadAll_filters() public {
        vm.expectRevert(ReputationRegistry.ClientAddressesRequired.selector);
        rep.getSummary(agentId, new address[](0), "", "");

        _give(alice, 87, 0, "starred", "");
        _give(alice, 9977, 2, "uptime", "");
        _give(bob, 50, 0, "starred", "x");
        _give(carol, 1, 0, "starred", "");

        (uint64 count, int128 value, uint8 decimals) = rep.getSummary(agentId, _clients(alice, bob), "starred", "");
        assertEq(count, 2);
        assertTrue(value == 68, "(87 + 50) / 2, toward zero");
        assertEq(decimals, 0);

        (count, value, decimals) = rep.getSummary(agentId, _clients(alice), "", "");
        assertEq(count, 2);
        // 87 and 99.77 → mean 93.385 at the finest precision used (2 decimals)
        assertTrue(value == 9338, "93.38");
        assertEq(decimals, 2);

        (count,,) = rep.getSummary(agentId, _clients(alice, bob), "starred", "x");
        assertEq(count, 1, "tag2 filter");
        (count, value, decimals) = rep.getSummary(agentId, _clients(alice), "nope", "");
        assertEq(count, 0);
        assertTrue(value == 0 && decimals == 0, "empty summary");

        (address[] memory c, uint64[] memory idx, int128[] memory v, uint8[] memory d, string[] memory t1, string[] memory t2,) =
            rep.readAllFeedback(agentId, new address[](0), "starred", "", false);
        assertEq(c.length, 3, "every client when none is given");
        assertEq(c[0], alice);
        assertEq(idx[0], 1);
        assertTrue(v[1] == 50 && d[1] == 0, "bob's");
        assertTrue(_eqStr(t1[2], "starred") && _eqStr(t2[1], "x"), "tags");
        (c,,,,,,) = rep.readAllFeedback(agentId, _clients(carol), "", "", false);
        assertEq(c.length, 1);
    }

    /// Same decimals: the mean, truncated toward zero, at those decimals.
    function testFuzz_summary_sameDecimals(int64[8] memory values, uint8 decimals) public {
        decimals = uint8(bound(decimals, 0, 18));
        int256 sum;
        for (uint256 i; i < values.length; ++i) {
            _give(alice, int128(values[i]), decimals, "", "");
            sum += values[i];
        }
        (uint64 count, int128 value, uint8 d) = rep.getSummary(agentId, _clients(alice), "", "");
        assertEq(count, values.length);
        assertEq(d, decimals);
        assertTrue(int256(value) == sum / int256(values.length), "the mean");
    }

    /// Mixed decimals, values up to the bound: never reverts, never wraps, and the
    /// result (value × 10^-decimals) is within one unit of its last digit of the true mean.
    function testFuzz_summary_mixedDecimals(int128[4] memory values, uint8[4] memory decimals) public {
        int256 sumWad;
        uint8 finest;
        for (uint256 i; i < 4; ++i) {
            int128 v = int128(int256(uint256(uint128(values[i])) % (2e38 + 1)) - 1e38);
            uint8 dec = uint8(bound(decimals[i], 0, 18));
            _give(i % 2 == 0 ? alice : bob, v, dec, "", "");
            sumWad += int256(v) * int256(10 ** (18 - uint256(dec)));
            if (dec > finest) finest = dec;
        }
        (uint64 count, int128 value, uint8 d) = rep.getSummary(agentId, _clients(alice, bob), "", "");
        assertEq(count, 4);
        assertLe(d, finest, "no finer than the feedback");
        int256 meanWad = sumWad / 4;
        int256 expected = meanWad / int256(10 ** (18 - uint256(d)));
        assertTrue(int256(value) == expected, "the mean at the returned precision");
        if (d < finest) {
            // it had to be coarser: the finer one would not fit an int128
            int256 finer = meanWad / int256(10 ** (18 - uint256(d) - 1));
            assertTrue(finer > type(int128).max || finer < type(int128).min, "coarser only when needed");
        }
    }
}
