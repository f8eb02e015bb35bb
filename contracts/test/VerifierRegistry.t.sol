// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./utils/TestBase.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {WorkToken} from "../src/WorkToken.sol";
import {IForks} from "../src/IForks.sol";

/// @dev A stand-in ForkManager: reports pending forks and may slash.
contract ForksStub is IForks {
    uint256 public pendingForks;
    uint64 public escalationWindow;

    function setPending(uint256 n) external {
        pendingForks = n;
    }

    function slash(VerifierRegistry reg, address v) external returns (uint256) {
        return reg.slash(v, type(uint256).max);
    }

    function slashUpTo(VerifierRegistry reg, address v, uint256 maxAmount) external returns (uint256) {
        return reg.slash(v, maxAmount);
    }
}

contract VerifierRegistryTest is TestBase {
    VerifierRegistry internal reg;
    WorkToken internal work;
    ForksStub internal forks;
    address internal alice = address(0xA1);
    address internal bob = address(0xB0);

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(100);
        address[] memory holders = new address[](1);
        holders[0] = address(this);
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = type(uint128).max;
        work = new WorkToken(holders, amounts);
        reg = new VerifierRegistry(work, 1 ether, 10 days);
        forks = new ForksStub();
        reg.setForks(forks);
        work.transfer(alice, 10 ether);
        work.transfer(bob, 10 ether);
    }

    /// @dev `who` approves and stakes `amount` (given the tokens first when it has too few).
    function _register(VerifierRegistry r, address who, uint256 amount) internal {
        uint256 has = work.balanceOf(who);
        if (has < amount) work.transfer(who, amount - has);
        vm.prank(who);
        work.approve(address(r), amount);
        vm.prank(who);
        r.register(amount);
    }

    function test_register() public {
        vm.prank(alice);
        work.approve(address(reg), 2 ether);
        vm.expectEmit(address(reg));
        emit VerifierRegistry.VerifierRegistered(alice, 2 ether);
        vm.prank(alice);
        reg.register(2 ether);
        assertEq(work.balanceOf(alice), 8 ether, "the stake is locked in the registry");
        VerifierRegistry.Verifier memory v = reg.verifier(alice);
        assertEq(v.stake, 2 ether);
        assertEq(v.registeredBlock, block.number);
        assertEq(v.exitRequestedAt, 0);
        assertEq(reg.totalStake(), 2 ether);
        assertEq(reg.verifiers().length, 1);

        vm.prank(alice);
        work.approve(address(reg), 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.AlreadyRegistered.selector, alice));
        reg.register(1 ether);
        vm.prank(bob);
        work.approve(address(reg), 1 ether - 1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.StakeTooLow.selector, 1 ether - 1, 1 ether));
        reg.register(1 ether - 1);
    }

    function test_register_zeroStakeRejectedEvenWithZeroMinimum() public {
        VerifierRegistry free = new VerifierRegistry(work, 0, 1 days);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.StakeTooLow.selector, 0, 0));
        free.register(0);
    }

    function test_exitLifecycle() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, alice));
        reg.requestExit();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, alice));
        reg.exit();

        _register(reg, alice, 3 ether);
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
        assertEq(work.balanceOf(alice), 10 ether, "the whole stake back");
        assertEq(reg.totalStake(), 0);
        assertEq(reg.verifier(alice).stake, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, alice));
        reg.exit();

        // coming back is a fresh registration, listed once
        vm.roll(block.number + 5);
        _register(reg, alice, 1 ether);
        assertEq(reg.verifier(alice).registeredBlock, block.number);
        assertEq(reg.verifiers().length, 1);
    }

    function test_votingWeight_onlyForEarlierBlocks() public {
        _register(reg, alice, 2 ether);
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
        _register(reg, alice, 2 ether);
        assertEq(reg.votingWeight(alice, b + 1), 0, "re-registered after the dispute opened");
    }

    function testFuzz_votingWeight(uint64 registeredAt, uint64 openedAt, uint96 stake) public {
        registeredAt = uint64(bound(registeredAt, 1, type(uint64).max));
        stake = uint96(bound(stake, 1 ether, type(uint96).max));
        vm.roll(registeredAt);
        _register(reg, alice, stake);
        assertEq(reg.votingWeight(alice, openedAt), registeredAt < openedAt ? stake : 0);
    }

    function test_eligibleStake_excludesThisBlocksRegistrations() public {
        assertEq(reg.eligibleStake(), 0);
        _register(reg, alice, 2 ether);
        assertEq(reg.totalStake(), 2 ether);
        assertEq(reg.eligibleStake(), 0, "registered in this block");
        vm.roll(block.number + 1);
        assertEq(reg.eligibleStake(), 2 ether);
        _register(reg, bob, 3 ether);
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
            _register(reg, who[i], stake);
        }
        uint256 sum;
        for (uint256 i; i < 8; ++i) sum += reg.votingWeight(who[i], uint64(block.number));
        assertEq(reg.eligibleStake(), sum, "eligible stake is exactly the stake that can vote now");
    }

    function test_stakedForm_readsLikeAnErc20() public {
        _register(reg, alice, 2 ether);
        _register(reg, bob, 3 ether);
        assertEq(reg.balanceOf(alice), 2 ether);
        assertEq(reg.totalSupply(), 5 ether);
        assertEq(reg.decimals(), 18);
        assertEq(work.balanceOf(address(reg)), reg.totalStake(), "every staked token is held here");
    }

    function test_exit_refusedWhileAForkIsPending() public {
        _register(reg, alice, 2 ether);
        vm.prank(alice);
        reg.requestExit();
        vm.warp(block.timestamp + 10 days);
        forks.setPending(1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.ForksPending.selector, 1));
        reg.exit();
        forks.setPending(0);
        vm.prank(alice);
        reg.exit();
        assertEq(work.balanceOf(alice), 10 ether);
    }

    function test_slash_onlyTheForkManager() public {
        _register(reg, alice, 2 ether);
        vm.prank(alice);
        vm.expectRevert(VerifierRegistry.OnlyForks.selector);
        reg.slash(alice, 1);
        vm.expectRevert(VerifierRegistry.OnlyForks.selector);
        reg.slash(alice, 1);

        vm.expectEmit(address(reg));
        emit VerifierRegistry.StakeSlashed(alice, 2 ether);
        assertEq(forks.slash(reg, alice), 2 ether);
        assertEq(work.balanceOf(address(forks)), 2 ether, "the slashed stake goes to the fork manager");
        assertEq(reg.verifier(alice).stake, 0);
        assertEq(reg.totalStake(), 0);
        assertEq(reg.votingWeight(alice, uint64(block.number + 1)), 0, "a slashed verifier has no vote");
        assertEq(forks.slash(reg, alice), 0, "nothing left to slash");
        assertEq(forks.slash(reg, bob), 0, "never registered");
    }

    function test_slash_upToAnAmount_leavesTheRest() public {
        _register(reg, alice, 5 ether);
        assertEq(forks.slashUpTo(reg, alice, 2 ether), 2 ether);
        assertEq(reg.verifier(alice).stake, 3 ether, "the rest stays staked");
        assertEq(reg.totalStake(), 3 ether);
        assertEq(work.balanceOf(address(reg)), 3 ether);
        assertEq(forks.slashUpTo(reg, alice, 0), 0, "nothing asked, nothing taken");
        assertEq(forks.slashUpTo(reg, alice, 10 ether), 3 ether, "never more than the stake");
        assertEq(reg.verifier(alice).registeredBlock, 0, "a stake slashed to zero is gone");
    }

    function test_slash_inTheJoiningBlockKeepsEligibleStakeExact() public {
        vm.roll(block.number + 1);
        _register(reg, bob, 3 ether);
        vm.roll(block.number + 1);
        _register(reg, alice, 2 ether);
        forks.slash(reg, alice);
        assertEq(reg.eligibleStake(), 3 ether);
        vm.roll(block.number + 1);
        assertEq(reg.eligibleStake(), 3 ether);
    }

    function test_setForks_onceByTheDeployer() public {
        VerifierRegistry r = new VerifierRegistry(work, 1 ether, 1 days);
        vm.prank(alice);
        vm.expectRevert(VerifierRegistry.OnlyDeployer.selector);
        r.setForks(forks);
        vm.expectRevert(VerifierRegistry.ZeroAddress.selector);
        r.setForks(IForks(address(0)));
        r.setForks(forks);
        vm.expectRevert(VerifierRegistry.AlreadyWired.selector);
        r.setForks(forks);
    }

    /// Whatever joins, leaves and is slashed, the registry holds exactly the stake it records.
    function testFuzz_conservation(uint8 ops, uint256 seed) public {
        address[] memory who = new address[](4);
        for (uint256 i; i < 4; ++i) who[i] = address(uint160(0xD000 + i));
        for (uint256 k; k < uint256(ops) % 24; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            address a = who[r % 4];
            uint256 action = (r >> 8) % 4;
            if (action == 0 && reg.verifier(a).stake == 0) _register(reg, a, bound(r >> 16, 1 ether, 50 ether));
            else if (action == 1 && reg.verifier(a).stake != 0 && reg.verifier(a).exitRequestedAt == 0) {
                vm.prank(a);
                reg.requestExit();
            } else if (action == 2) {
                vm.warp(block.timestamp + 10 days);
                vm.roll(block.number + 1);
                vm.prank(a);
                try reg.exit() {} catch {}
            } else if (action == 3) {
                forks.slashUpTo(reg, a, bound(r >> 24, 0, 60 ether));
            }
            uint256 sum;
            for (uint256 i; i < 4; ++i) sum += reg.verifier(who[i]).stake;
            assertEq(reg.totalStake(), sum, "total is the sum of stakes");
            assertEq(work.balanceOf(address(reg)), sum, "tokens held == stake recorded");
        }
    }
}
