// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./utils/TestBase.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {RejectingReceiver} from "./utils/Attackers.sol";

contract ReenteringVerifier {
    VerifierRegistry public immutable reg;
    bytes public reentryError;
    uint256 public received;

    constructor(VerifierRegistry r) {
        reg = r;
    }

    function join() external payable {
        reg.register{value: msg.value}();
    }

    function leave() external {
        reg.requestExit();
    }

    function exit() external {
        reg.exit();
    }

    receive() external payable {
        received += msg.value;
        try reg.exit() {} catch (bytes memory e) {
            reentryError = e;
        }
    }
}

contract VerifierRegistryTest is TestBase {
    VerifierRegistry internal reg;
    address internal alice = address(0xA1);
    address internal bob = address(0xB0);

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(100);
        reg = new VerifierRegistry(1 ether, 10 days);
        vm.deal(alice, 10 ether);
        vm.deal(bob, 10 ether);
    }

    function test_register() public {
        vm.expectEmit(address(reg));
        emit VerifierRegistry.VerifierRegistered(alice, 2 ether);
        vm.prank(alice);
        reg.register{value: 2 ether}();
        VerifierRegistry.Verifier memory v = reg.verifier(alice);
        assertEq(v.stake, 2 ether);
        assertEq(v.registeredBlock, block.number);
        assertEq(v.exitRequestedAt, 0);
        assertEq(reg.totalStake(), 2 ether);
        assertEq(reg.verifiers().length, 1);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.AlreadyRegistered.selector, alice));
        reg.register{value: 1 ether}();
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.StakeTooLow.selector, 1 ether - 1, 1 ether));
        reg.register{value: 1 ether - 1}();
    }

    function test_register_zeroStakeRejectedEvenWithZeroMinimum() public {
        VerifierRegistry free = new VerifierRegistry(0, 1 days);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.StakeTooLow.selector, 0, 0));
        free.register{value: 0}();
    }

    function test_exitLifecycle() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, alice));
        reg.requestExit();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, alice));
        reg.exit();

        vm.prank(alice);
        reg.register{value: 3 ether}();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.ExitNotRequested.selector, alice));
        reg.exit();

        uint64 t = uint64(block.timestamp);
        vm.expectEmit(address(reg));
        emit VerifierRegistry.ExitRequested(alice, t + 10 days);
        vm.prank(alice);
        reg.requestExit();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.ExitAlreadyRequested.selector, alice));
        reg.requestExit();

        vm.warp(t + 10 days - 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.ExitNotReady.selector, t + 10 days));
        reg.exit();

        vm.warp(t + 10 days);
        vm.expectEmit(address(reg));
        emit VerifierRegistry.VerifierExited(alice, 3 ether);
        vm.prank(alice);
        reg.exit();
        assertEq(alice.balance, 10 ether);
        assertEq(reg.totalStake(), 0);
        assertEq(reg.verifier(alice).stake, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, alice));
        reg.exit();

        // coming back is a fresh registration, listed once
        vm.roll(block.number + 5);
        vm.prank(alice);
        reg.register{value: 1 ether}();
        assertEq(reg.verifier(alice).registeredBlock, block.number);
        assertEq(reg.verifiers().length, 1);
    }

    function test_votingWeight_onlyForEarlierBlocks() public {
        vm.prank(alice);
        reg.register{value: 2 ether}();
        uint64 b = uint64(block.number);
        assertEq(reg.votingWeight(alice, b), 0, "registered in the opening block");
        assertEq(reg.votingWeight(alice, b - 1), 0, "registered after the opening block");
        assertEq(reg.votingWeight(alice, b + 1), 2 ether);
        assertEq(reg.votingWeight(bob, b + 1), 0, "not registered");
        // an exit and re-registration resets the block: the new stake cannot vote on old disputes
        vm.prank(alice);
        reg.requestExit();
        vm.warp(block.timestamp + 10 days);
        vm.roll(block.number + 10);
        vm.prank(alice);
        reg.exit();
        assertEq(reg.votingWeight(alice, b + 1), 0, "exited");
        vm.prank(alice);
        reg.register{value: 2 ether}();
        assertEq(reg.votingWeight(alice, b + 1), 0, "re-registered after the dispute opened");
    }

    function testFuzz_votingWeight(uint64 registeredAt, uint64 openedAt, uint96 stake) public {
        registeredAt = uint64(bound(registeredAt, 1, type(uint64).max));
        stake = uint96(bound(stake, 1 ether, type(uint96).max));
        vm.roll(registeredAt);
        vm.deal(alice, stake);
        vm.prank(alice);
        reg.register{value: stake}();
        assertEq(reg.votingWeight(alice, openedAt), registeredAt < openedAt ? stake : 0);
    }

    function test_eligibleStake_excludesThisBlocksRegistrations() public {
        assertEq(reg.eligibleStake(), 0);
        vm.prank(alice);
        reg.register{value: 2 ether}();
        assertEq(reg.totalStake(), 2 ether);
        assertEq(reg.eligibleStake(), 0, "registered in this block");
        vm.roll(block.number + 1);
        assertEq(reg.eligibleStake(), 2 ether);
        vm.prank(bob);
        reg.register{value: 3 ether}();
        assertEq(reg.eligibleStake(), 2 ether, "bob joined in this block");
        vm.roll(block.number + 1);
        assertEq(reg.eligibleStake(), 5 ether);
        // an exit lowers it at once
        vm.prank(alice);
        reg.requestExit();
        vm.warp(block.timestamp + 10 days);
        vm.roll(block.number + 1);
        vm.prank(alice);
        reg.exit();
        assertEq(reg.eligibleStake(), 3 ether);
    }

    function testFuzz_eligibleStake_matchesVotingWeights(uint8 perBlock, uint96 seed) public {
        address[] memory who = new address[](8);
        for (uint256 i; i < 8; ++i) {
            who[i] = address(uint160(0xC000 + i));
            if ((perBlock >> i) & 1 == 1) vm.roll(block.number + 1);
            uint256 stake = bound(uint256(keccak256(abi.encode(seed, i))), 1 ether, 100 ether);
            vm.deal(who[i], stake);
            vm.prank(who[i]);
            reg.register{value: stake}();
        }
        uint256 sum;
        for (uint256 i; i < 8; ++i) sum += reg.votingWeight(who[i], uint64(block.number));
        assertEq(reg.eligibleStake(), sum, "eligible stake is exactly the stake that can vote now");
    }

    function test_exit_rejectingReceiverKeepsStake() public {
        RejectingReceiver r = new RejectingReceiver();
        vm.deal(address(r), 1 ether);
        vm.prank(address(r));
        reg.register{value: 1 ether}();
        vm.prank(address(r));
        reg.requestExit();
        vm.warp(block.timestamp + 10 days);
        vm.prank(address(r));
        vm.expectRevert(VerifierRegistry.TransferFailed.selector);
        reg.exit();
        assertEq(reg.verifier(address(r)).stake, 1 ether);
        assertEq(reg.totalStake(), 1 ether);
    }

    function test_exit_reentryPaysOnce() public {
        ReenteringVerifier r = new ReenteringVerifier(reg);
        vm.prank(bob);
        reg.register{value: 5 ether}();
        r.join{value: 1 ether}();
        r.leave();
        vm.warp(block.timestamp + 10 days);
        r.exit();
        assertEq(address(r).balance, 1 ether);
        assertEq(r.received(), 1 ether);
        assertTrue(r.reentryError().length >= 4, "re-entry reverted");
        assertEq(address(reg).balance, 5 ether);
        assertEq(reg.totalStake(), 5 ether);
    }
}
