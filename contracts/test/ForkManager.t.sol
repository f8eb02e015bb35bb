// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ForkFixture} from "./utils/ForkFixture.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {ForkManager} from "../src/ForkManager.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {WorkToken} from "../src/WorkToken.sol";
import {DisputeKind, DisputeStatus} from "../src/CovenantTypes.sol";

/// @notice The forkable backstop (issue 12): verdicts wait out an escalation window, a
///         contested verdict pays nobody until its fork resolves, the fork slashes the side
///         that lied in the canonical child, and the dispute is settled as that child says.
///         Each story has the attacker trying and losing, and an honest party never slashed.
contract ForkManagerTest is ForkFixture {
    // ---------------------------------------------------------------- escalation window

    function test_verdict_isDecidedNotPaid_untilTheWindowPasses() public {
        uint256 id = _fraudDispute();
        uint256 bondBefore = vault.bondOf(agentId).eth;
        _majorityVerdict(id, true);
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.status), uint8(DisputeStatus.Decided));
        assertEq(d.finalizesAt, block.timestamp + ESCALATION_WINDOW);
        assertEq(vault.bondOf(agentId).eth, bondBefore, "nobody is slashed while the verdict is contestable");
        assertEq(vault.ethCredits(challenger), 0, "nobody is paid either");
        assertEq(registry.openDisputes(agentId), 1, "the bond stays locked");

        // no more votes, no expiry path, no early finalize
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeNotOpen.selector, id, DisputeStatus.Decided));
        game.submitVerdicts(id, _votes(id, false, 1));
        vm.warp(d.finalizesAt);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.EscalationWindowOpen.selector, id, d.finalizesAt));
        game.finalize(id);

        vm.warp(d.finalizesAt + 1);
        vm.prank(stranger); // anyone
        game.finalize(id);
        d = game.dispute(id);
        assertEq(uint8(d.status), uint8(DisputeStatus.Slashed));
        assertEq(vault.bondOf(agentId).eth, bondBefore - bondBefore * SLASH_BPS / 10_000);
        assertEq(vault.ethCredits(challenger), CHALLENGER_BOND + (bondBefore * SLASH_BPS / 10_000) * CHALLENGER_BPS / 10_000);
        assertEq(registry.openDisputes(agentId), 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotDecided.selector, id, DisputeStatus.Slashed));
        game.finalize(id);
    }

    function test_finalize_rejectedVerdict_paysTheOwner() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, false);
        vm.warp(game.dispute(id).finalizesAt + 1);
        game.finalize(id);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Rejected));
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH, "an honest agent is never slashed");
    }

    function test_resolveExpired_turnoutDecision_alsoWaitsTheWindow() public {
        uint256 id = _fraudDispute();
        _voteMask(id, 0x3, true); // half the stake votes, no quorum
        vm.warp(game.dispute(id).deadline + 1);
        game.resolveExpired(id);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Decided));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        // an undecided one expires at once: it pays nobody but the refund, nothing to contest
        uint256 id2 = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, keccak256("tx"));
        vm.warp(game.dispute(id2).deadline + 1);
        game.resolveExpired(id2);
        assertEq(uint8(game.dispute(id2).status), uint8(DisputeStatus.Expired));
        vm.deal(contester, FORK_BOND);
        vm.prank(contester);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotDecided.selector, id2, DisputeStatus.Expired));
        forks.contest{value: FORK_BOND}(id2);
    }

    // ---------------------------------------------------------------- contest

    function test_contest_rules() public {
        uint256 id = _fraudDispute();
        vm.deal(contester, 3 * FORK_BOND);
        vm.prank(contester);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotDecided.selector, id, DisputeStatus.Open));
        forks.contest{value: FORK_BOND}(id);
        _majorityVerdict(id, true);
        vm.prank(contester);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.WrongBond.selector, FORK_BOND - 1, FORK_BOND));
        forks.contest{value: FORK_BOND - 1}(id);

        uint64 fin = game.dispute(id).finalizesAt;
        vm.warp(fin);
        vm.expectEmit(address(forks));
        emit ForkManager.ForkStarted(1, id, contester, FORK_BOND, true, uint64(block.timestamp) + FORK_PERIOD);
        vm.prank(contester);
        uint256 forkId = forks.contest{value: FORK_BOND}(id);
        assertEq(forkId, 1);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Contested));
        assertEq(forks.forkOfDispute(id), 1);
        assertEq(forks.pendingForks(), 1);
        assertEq(address(forks).balance, FORK_BOND);

        vm.prank(contester);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.AlreadyContested.selector, id, 1));
        forks.contest{value: FORK_BOND}(id);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotDecided.selector, id, DisputeStatus.Contested));
        game.finalize(id);
    }

    function test_contest_closesWithTheWindow() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        uint64 fin = game.dispute(id).finalizesAt;
        vm.warp(fin + 1);
        vm.deal(contester, FORK_BOND);
        vm.prank(contester);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.EscalationWindowClosed.selector, id, fin));
        forks.contest{value: FORK_BOND}(id);
    }

    function test_hooks_onlyTheForkManager() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.OnlyForks.selector);
        game.escalate(id);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.OnlyForks.selector);
        game.settleContested(id, false);
    }

    // ---------------------------------------------------------------- the stories

    /// A bribed 75 % majority votes an honest agent guilty; one honest party contests; honest
    /// stake and token holders redeem into the child where the verdict is overturned. The
    /// colluders lose their whole stake, the agent keeps its bond, the contester is repaid.
    function test_story_colludingMajorityAgainstAnHonestAgent_losesTheFork() public {
        uint256 id = _fraudDispute(); // the batch is honest
        _majorityVerdict(id, true);
        uint256 forkId = _contest(owner, id); // the agent's owner contests

        // the colluders have no balance in the child that overturns their verdict
        for (uint256 i; i < 3; ++i) {
            assertEq(forks.balanceIn(forkId, ForkManager.Side.Overturned, verifierAddrs[i]), 0);
            assertEq(forks.balanceIn(forkId, ForkManager.Side.Stands, verifierAddrs[i]), MIN_STAKE);
            vm.prank(verifierAddrs[i]);
            vm.expectRevert(
                abi.encodeWithSelector(ForkManager.SlashedInFork.selector, forkId, ForkManager.Side.Overturned)
            );
            forks.redeemStake(forkId, ForkManager.Side.Overturned);
            _redeemStake(i, forkId, ForkManager.Side.Stands);
        }
        _redeemStake(3, forkId, ForkManager.Side.Overturned);
        _lock(holder, forkId, ForkManager.Side.Overturned, 5 ether); // honest token holders
        assertEq(uint8(forks.leadingSide(forkId)), uint8(ForkManager.Side.Overturned));

        // nothing is paid while the fork runs
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        assertEq(vault.ethCredits(owner) + vault.ethCredits(challenger), 0);

        uint256 totalBefore = verifiers.totalStake();
        _resolve(forkId);
        ForkManager.Fork memory f = forks.fork(forkId);
        assertEq(uint8(f.canonical), uint8(ForkManager.Side.Overturned));
        assertEq(f.slashedStake, 3 * MIN_STAKE);
        assertEq(uint8(forks.canonicalSide(forkId)), uint8(ForkManager.Side.Overturned));

        // the dispute is settled as the canonical fork says
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.status), uint8(DisputeStatus.Rejected));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH, "the honest agent keeps its whole bond");
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND, "and its owner gets the false challenger's bond");
        // the colluding stake is gone in the canonical fork, the honest stake is whole
        for (uint256 i; i < 3; ++i) assertEq(_stakeOf(i), 0);
        assertEq(_stakeOf(3), MIN_STAKE);
        assertEq(verifiers.totalStake(), totalBefore - 3 * MIN_STAKE);
        assertEq(forks.pendingForks(), 0);
        // the contester: bond back and a share of the slashed stake
        assertEq(forks.ethCredits(owner), FORK_BOND);
        assertEq(forks.tokenCredits(owner), 3 * MIN_STAKE * REWARD_BPS / 10_000);
        assertEq(forks.burnedTokens(), 3 * MIN_STAKE - 3 * MIN_STAKE * REWARD_BPS / 10_000);
        uint256 before = owner.balance;
        vm.prank(owner);
        forks.claim();
        assertEq(owner.balance, before + FORK_BOND);
        // the token holders take back what they locked in the canonical child
        vm.prank(holder);
        forks.reclaim(forkId);
        assertEq(work.balanceOf(holder), 5 ether);
        // and the colluders cannot take anything out
        for (uint256 i; i < 3; ++i) {
            vm.prank(verifierAddrs[i]);
            vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, verifierAddrs[i]));
            verifiers.requestExit();
        }
    }

    /// A bribed majority votes a real fraud "not at fault" (the honest challenger's bond would
    /// go to the cheater's owner). Contested and forked, the cheater is slashed and the
    /// honest challenger paid; the colluders' stake is gone.
    function test_story_colludingMajorityHidingAFraud_losesTheFork() public {
        uint256 id = _fraudDispute(); // say the inference really was forged
        _majorityVerdict(id, false);
        uint256 forkId = _contest(challenger, id);
        for (uint256 i; i < 3; ++i) _redeemStake(i, forkId, ForkManager.Side.Stands);
        _redeemStake(3, forkId, ForkManager.Side.Overturned);
        _lock(holder, forkId, ForkManager.Side.Overturned, 4 ether);
        assertEq(vault.ethCredits(owner), 0, "the cheater's owner is not paid the challenger bond meanwhile");

        _resolve(forkId);
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.status), uint8(DisputeStatus.Slashed));
        uint256 slashed = BOND_ETH * SLASH_BPS / 10_000;
        assertEq(d.slashedEth, slashed);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - slashed, "the cheater is slashed");
        assertEq(
            vault.ethCredits(challenger),
            CHALLENGER_BOND + slashed * CHALLENGER_BPS / 10_000,
            "the honest challenger gets its bond back and the reward"
        );
        assertEq(vault.ethCredits(owner), 0);
        for (uint256 i; i < 3; ++i) assertEq(_stakeOf(i), 0, "colluding stake gone");
        assertEq(_stakeOf(3), MIN_STAKE, "honest stake whole");
        assertEq(forks.ethCredits(challenger), FORK_BOND);
    }

    /// Someone contests an honest verdict. The honest majority and the token holders keep
    /// the verdict; the contester's fork bond is burned and the verdict stands. The dissenting
    /// voter (wrong, here) is slashed in the canonical child.
    function test_story_frivolousContest_losesTheForkBond_verdictStands() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, false); // the batch is honest: "not at fault" is right
        uint256 forkId = _contest(mallory, id);
        _lock(mallory, forkId, ForkManager.Side.Overturned, 2 ether);
        _redeemStake(3, forkId, ForkManager.Side.Overturned);
        for (uint256 i; i < 3; ++i) _redeemStake(i, forkId, ForkManager.Side.Stands);

        _resolve(forkId);
        assertEq(uint8(forks.canonicalSide(forkId)), uint8(ForkManager.Side.Stands));
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.status), uint8(DisputeStatus.Rejected), "the verdict stands");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH, "the honest agent is never slashed");
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND);
        assertEq(forks.ethCredits(mallory), 0, "the fork bond is not returned");
        assertEq(forks.burnedEth(), FORK_BOND, "it is burned");
        assertEq(address(forks).balance, FORK_BOND, "and stays locked here for good");
        assertEq(forks.burnedTokens(), 2 ether + MIN_STAKE, "the losing child's tokens and stake are burned");
        for (uint256 i; i < 3; ++i) assertEq(_stakeOf(i), MIN_STAKE, "the honest majority keeps its stake");
        assertEq(_stakeOf(3), 0);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NothingToReclaim.selector, forkId));
        forks.reclaim(forkId);
    }

    // ---------------------------------------------------------------- fork choice

    function test_forkChoice_tieAndEmptyFork_keepTheVerdict() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        uint256 forkId = _contest(contester, id);
        assertEq(uint8(forks.leadingSide(forkId)), uint8(ForkManager.Side.Stands), "nobody redeemed");
        _lock(holder, forkId, ForkManager.Side.Overturned, 3 ether);
        _lock(stranger, forkId, ForkManager.Side.Stands, 3 ether);
        assertEq(uint8(forks.leadingSide(forkId)), uint8(ForkManager.Side.Stands), "a tie");
        _lock(holder, forkId, ForkManager.Side.Overturned, 1);
        assertEq(uint8(forks.leadingSide(forkId)), uint8(ForkManager.Side.Overturned), "one more wei");
    }

    function test_forkChoice_isReadAfterThePeriod() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        uint256 forkId = _contest(contester, id);
        uint64 endsAt = forks.fork(forkId).endsAt;
        vm.warp(endsAt - 1);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.ForkNotOver.selector, forkId, endsAt));
        forks.resolve(forkId);
        _lock(holder, forkId, ForkManager.Side.Overturned, 1 ether);
        vm.warp(endsAt);
        _giveWork(stranger, 1 ether);
        vm.prank(stranger);
        work.approve(address(forks), 1 ether);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.ForkOver.selector, forkId, endsAt));
        forks.redeemTokens(forkId, ForkManager.Side.Stands, 1 ether);
        forks.resolve(forkId);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.ForkResolvedAlready.selector, forkId));
        forks.resolve(forkId);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Rejected));
    }

    // ---------------------------------------------------------------- redemption rules

    function test_redeem_rules() public {
        uint256 id = _fraudDispute();
        _voteMask(id, 0x7, true); // verifier 3 does not vote
        uint256 forkId = _contest(contester, id);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.UnknownFork.selector, 2));
        forks.redeemStake(2, ForkManager.Side.Stands);
        vm.prank(verifierAddrs[3]);
        vm.expectRevert(ForkManager.BadSide.selector);
        forks.redeemStake(forkId, ForkManager.Side.None);
        // a verifier that did not vote is whole in both children and picks one
        assertEq(forks.balanceIn(forkId, ForkManager.Side.Stands, verifierAddrs[3]), MIN_STAKE);
        assertEq(forks.balanceIn(forkId, ForkManager.Side.Overturned, verifierAddrs[3]), MIN_STAKE);
        _redeemStake(3, forkId, ForkManager.Side.Overturned);
        vm.prank(verifierAddrs[3]);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.AlreadyRedeemed.selector, forkId));
        forks.redeemStake(forkId, ForkManager.Side.Overturned);
        _giveWork(verifierAddrs[3], 1 ether);
        vm.prank(verifierAddrs[3]);
        work.approve(address(forks), 1 ether);
        vm.prank(verifierAddrs[3]);
        vm.expectRevert(
            abi.encodeWithSelector(ForkManager.OtherSideChosen.selector, forkId, ForkManager.Side.Overturned)
        );
        forks.redeemTokens(forkId, ForkManager.Side.Stands, 1 ether);
        vm.prank(verifierAddrs[3]);
        forks.redeemTokens(forkId, ForkManager.Side.Overturned, 1 ether); // more on the same side is fine
        assertEq(forks.fork(forkId).redeemedOverturned, MIN_STAKE + 1 ether);
        vm.prank(holder);
        vm.expectRevert(ForkManager.ZeroAmount.selector);
        forks.redeemTokens(forkId, ForkManager.Side.Stands, 0);
        // someone with no stake has nothing to redeem
        vm.prank(holder);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.SlashedInFork.selector, forkId, ForkManager.Side.Stands));
        forks.redeemStake(forkId, ForkManager.Side.Stands);
    }

    /// A verifier may leave only once no fork is pending: the stake behind a contested vote
    /// cannot run from the fork that slashes it.
    function test_pendingFork_keepsTheColludersStakeIn() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        vm.prank(verifierAddrs[0]);
        verifiers.requestExit(); // the colluder tries to leave right after voting
        uint256 forkId = _contest(owner, id);
        _redeemStake(3, forkId, ForkManager.Side.Overturned);
        vm.warp(block.timestamp + EXIT_DELAY);
        assertTrue(block.timestamp < forks.fork(forkId).endsAt || EXIT_DELAY >= FORK_PERIOD, "setup");
        vm.prank(verifierAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.ForksPending.selector, 1));
        verifiers.exit();
        _resolve(forkId);
        vm.prank(verifierAddrs[0]);
        vm.expectRevert(abi.encodeWithSelector(VerifierRegistry.NotRegistered.selector, verifierAddrs[0]));
        verifiers.exit();
        // the honest verifier leaves with its stake once the fork is over
        vm.prank(verifierAddrs[3]);
        verifiers.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(verifierAddrs[3]);
        verifiers.exit();
        assertEq(work.balanceOf(verifierAddrs[3]), MIN_STAKE);
    }

    function test_stakeRedeemedIntoTheLosingChild_isGone() public {
        uint256 id = _fraudDispute();
        _voteMask(id, 0x7, true);
        uint256 forkId = _contest(contester, id);
        _redeemStake(3, forkId, ForkManager.Side.Stands); // a non-voter backs the losing child
        _lock(holder, forkId, ForkManager.Side.Overturned, 10 ether);
        _resolve(forkId);
        assertEq(_stakeOf(3), 0);
        assertEq(forks.fork(forkId).slashedStake, 4 * MIN_STAKE, "three voters and the redeemer");
    }

    /// A colluder slashed without a fork (a double verdict) who comes back with new stake:
    /// the fork takes nothing more, since the new stake never voted.
    function test_aVoterBackWithNewStake_isNotSlashedForTheOldVote() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        bytes memory yes = _sig(verifierPks[0], game.verdictDigest(id, true));
        bytes memory no = _sig(verifierPks[0], game.verdictDigest(id, false));
        assertEq(forks.proveDoubleVerdict(id, yes, no), MIN_STAKE);
        vm.roll(block.number + 1);
        _stake(verifierAddrs[0], 2 * MIN_STAKE); // back, after the dispute opened
        vm.roll(block.number + 1);
        uint256 forkId = _contest(owner, id);
        assertEq(forks.balanceIn(forkId, ForkManager.Side.Overturned, verifierAddrs[0]), 2 * MIN_STAKE, "not the stake that voted");
        _redeemStake(3, forkId, ForkManager.Side.Overturned);
        _lock(holder, forkId, ForkManager.Side.Overturned, 5 ether);
        _resolve(forkId);
        assertEq(uint8(forks.canonicalSide(forkId)), uint8(ForkManager.Side.Overturned));
        assertEq(_stakeOf(0), 2 * MIN_STAKE, "the new stake is untouched");
        assertEq(_stakeOf(1) + _stakeOf(2), 0, "the other colluders lose theirs");
        assertEq(forks.fork(forkId).slashedStake, 2 * MIN_STAKE);
    }

    /// Stake registered once the fork started has no balance in it (lock tokens instead).
    function test_stakeJoiningDuringTheFork_cannotRedeem() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        uint256 forkId = _contest(owner, id);
        _stake(stranger, 5 ether);
        assertEq(forks.balanceIn(forkId, ForkManager.Side.Overturned, stranger), 0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.SlashedInFork.selector, forkId, ForkManager.Side.Overturned));
        forks.redeemStake(forkId, ForkManager.Side.Overturned);
    }

    function test_nonVoters_whoDoNotRedeem_keepTheirStake() public {
        uint256 id = _fraudDispute();
        _voteMask(id, 0x7, true);
        uint256 forkId = _contest(contester, id);
        _lock(holder, forkId, ForkManager.Side.Overturned, 10 ether);
        _resolve(forkId);
        assertEq(_stakeOf(3), MIN_STAKE, "silence is not slashed");
    }

    // ---------------------------------------------------------------- wiring and parameters

    function test_constructor_andWiring() public {
        vm.expectRevert(ForkManager.BadParameters.selector);
        new ForkManager(work, verifiers, 1 days, 0, FORK_BOND, 5000, 0); // a window with no fork period
        vm.expectRevert(ForkManager.BadParameters.selector);
        new ForkManager(work, verifiers, 1 days, 1 days, 0, 5000, 0); // a free fork
        vm.expectRevert(ForkManager.BadParameters.selector);
        new ForkManager(work, verifiers, 1 days, 1 days, 1, 4999, 0); // a minority could overturn
        vm.expectRevert(ForkManager.BadParameters.selector);
        new ForkManager(work, verifiers, 1 days, 1 days, 1, 10_000, 0); // nothing could overturn
        vm.expectRevert(ForkManager.BadParameters.selector);
        new ForkManager(work, verifiers, 1 days, 1 days, 1, 5000, 10_001);
        address[] memory h = new address[](0);
        WorkToken other = new WorkToken(h, new uint256[](0));
        vm.expectRevert(ForkManager.BadParameters.selector);
        new ForkManager(other, verifiers, 1 days, 1 days, 1, 5000, 0); // stake of another token
        ForkManager ok = new ForkManager(work, verifiers, 0, 0, 0, 5000, 0); // no backstop at all
        vm.expectRevert(ForkManager.BadParameters.selector);
        ok.setDisputeGame(game); // a game wired to another fork manager
        vm.expectRevert(ForkManager.AlreadyWired.selector);
        forks.setDisputeGame(game);
        vm.prank(mallory);
        vm.expectRevert(ForkManager.OnlyDeployer.selector);
        ok.setDisputeGame(game);
        // the exit delay must outlast a dispute plus its window
        ForkManager slow = new ForkManager(work, verifiers, EXIT_DELAY - DISPUTE_PERIOD, 1 days, 1, 5000, 0);
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 1, 1, 5000, 6000, slow);
    }

    // ---------------------------------------------------------------- fuzz

    /// Whatever the votes and the redemptions: nobody has a balance in a child that slashes
    /// its vote, no stake grows through a fork, the losers' stake is exactly what is removed,
    /// and every token is accounted for.
    function testFuzz_forkNeverMintsToTheSlashedSide(
        uint8 forMask,
        uint8 againstMask,
        uint8 redeemMask,
        uint8 sideMask,
        uint96 lockedOverturned,
        uint96 lockedStands
    ) public {
        // three more verifiers of varied stake
        for (uint256 i; i < 3; ++i) {
            uint256 pk = 0xF1F0 + i;
            verifierPks.push(pk);
            verifierAddrs.push(vm.addr(pk));
            _stake(vm.addr(pk), MIN_STAKE * (i + 2));
        }
        vm.roll(block.number + 1);
        uint256 id = _fraudDispute();
        _voteMask(id, againstMask & 0x7f, false);
        if (game.dispute(id).status == DisputeStatus.Open) _voteMask(id, forMask & 0x7f & ~againstMask, true);
        DisputeGame.Dispute memory d = game.dispute(id);
        if (d.status == DisputeStatus.Open) {
            vm.warp(d.deadline + 1);
            game.resolveExpired(id);
            d = game.dispute(id);
        }
        if (d.status != DisputeStatus.Decided) return; // expired: nothing to contest
        uint256 forkId = _contest(contester, id);
        bool verdict = d.forStake > d.againstStake;

        uint256 n = verifierAddrs.length;
        uint256[] memory before = new uint256[](n);
        // 1: voted with the verdict, 2: against it, 0: did not vote
        uint8[] memory stance = new uint8[](n);
        for (uint256 i; i < n; ++i) {
            before[i] = _stakeOf(i);
            uint8 vote = game.voteOf(id, verifierAddrs[i]);
            stance[i] = vote == 0 ? 0 : ((vote == 1) == verdict ? 1 : 2);
            assertEq(forks.balanceIn(forkId, ForkManager.Side.Overturned, verifierAddrs[i]), stance[i] == 1 ? 0 : before[i]);
            assertEq(forks.balanceIn(forkId, ForkManager.Side.Stands, verifierAddrs[i]), stance[i] == 2 ? 0 : before[i]);
            if ((redeemMask >> i) & 1 == 1) {
                ForkManager.Side side = (sideMask >> i) & 1 == 1 ? ForkManager.Side.Overturned : ForkManager.Side.Stands;
                if (forks.balanceIn(forkId, side, verifierAddrs[i]) == 0) {
                    vm.expectRevert(abi.encodeWithSelector(ForkManager.SlashedInFork.selector, forkId, side));
                    vm.prank(verifierAddrs[i]);
                    forks.redeemStake(forkId, side);
                } else {
                    _redeemStake(i, forkId, side);
                }
            }
        }
        lockedOverturned = uint96(bound(lockedOverturned, 0, WORK_SUPPLY / 4));
        lockedStands = uint96(bound(lockedStands, 0, WORK_SUPPLY / 4));
        if (lockedOverturned != 0) _lock(holder, forkId, ForkManager.Side.Overturned, lockedOverturned);
        if (lockedStands != 0) _lock(stranger, forkId, ForkManager.Side.Stands, lockedStands);

        uint256 totalBefore = verifiers.totalStake();
        _resolve(forkId);
        ForkManager.Side canonical = forks.canonicalSide(forkId);
        uint256 removed;
        for (uint256 i; i < n; ++i) {
            uint256 nowStake = _stakeOf(i);
            assertTrue(nowStake <= before[i], "no stake grows through a fork");
            bool slashedVote = canonical == ForkManager.Side.Overturned ? stance[i] == 1 : stance[i] == 2;
            bool redeemedElsewhere = forks.stakeRedeemed(forkId, verifierAddrs[i]) != 0
                && forks.sideOf(forkId, verifierAddrs[i]) != canonical;
            assertEq(nowStake, (slashedVote || redeemedElsewhere) ? 0 : before[i], "losers lose all, others nothing");
            removed += before[i] - nowStake;
        }
        assertEq(forks.fork(forkId).slashedStake, removed);
        assertEq(verifiers.totalStake(), totalBefore - removed);
        assertEq(work.balanceOf(address(verifiers)), verifiers.totalStake());
        assertEq(
            work.balanceOf(address(forks)),
            forks.heldDeposits() + forks.totalTokenCredits() + forks.burnedTokens(),
            "fork manager tokens accounted for"
        );
        assertEq(work.totalSupply(), WORK_SUPPLY, "supply conserved");
        // the dispute is settled as the canonical child says
        bool atFault = verdict != (canonical == ForkManager.Side.Overturned);
        assertEq(uint8(game.dispute(id).status), uint8(atFault ? DisputeStatus.Slashed : DisputeStatus.Rejected));
    }

    /// The fork bond comes back exactly when the contester's child wins; otherwise it is burned.
    function testFuzz_forkBondReturnedOnlyIfItsForkWins(uint96 overturned, uint96 stands, bool verdict) public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, verdict);
        uint256 forkId = _contest(contester, id);
        overturned = uint96(bound(overturned, 0, WORK_SUPPLY / 4));
        stands = uint96(bound(stands, 0, WORK_SUPPLY / 4));
        if (overturned != 0) _lock(holder, forkId, ForkManager.Side.Overturned, overturned);
        if (stands != 0) _lock(stranger, forkId, ForkManager.Side.Stands, stands);
        _resolve(forkId);
        bool won = uint256(overturned) * 10_000 > (uint256(overturned) + stands) * FORK_CHOICE_BPS;
        assertEq(uint8(forks.canonicalSide(forkId)), uint8(won ? ForkManager.Side.Overturned : ForkManager.Side.Stands));
        assertEq(forks.ethCredits(contester), won ? FORK_BOND : 0);
        assertEq(forks.burnedEth(), won ? 0 : FORK_BOND);
        assertEq(address(forks).balance, forks.totalEthCredits() + forks.burnedEth() + forks.heldBonds());
        if (!won) {
            vm.prank(contester);
            vm.expectRevert(ForkManager.NothingToClaim.selector);
            forks.claim();
        }
    }

    /// Between the contest and the resolution nothing is paid to anyone, whatever is tried.
    function testFuzz_contestedDisputeNeverPaysBeforeResolution(uint32 dt, uint8 tries, bool verdict) public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, verdict);
        uint256 forkId = _contest(contester, id);
        uint256 bond = vault.bondOf(agentId).eth;
        uint64 endsAt = forks.fork(forkId).endsAt;
        vm.warp(block.timestamp + bound(dt, 0, FORK_PERIOD - 1));
        if (tries & 1 == 1) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotDecided.selector, id, DisputeStatus.Contested));
            game.finalize(id);
        }
        if (tries & 2 == 2) {
            vm.expectRevert(abi.encodeWithSelector(ForkManager.ForkNotOver.selector, forkId, endsAt));
            forks.resolve(forkId);
        }
        if (tries & 4 == 4) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeNotOpen.selector, id, DisputeStatus.Contested));
            game.resolveExpired(id);
        }
        if (tries & 8 == 8) {
            vm.prank(contester);
            vm.expectRevert(ForkManager.NothingToClaim.selector);
            forks.claim();
        }
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Contested));
        assertEq(vault.bondOf(agentId).eth, bond, "no slash");
        assertEq(vault.ethCredits(challenger) + vault.ethCredits(owner), 0, "no bond paid out");
        assertEq(address(game).balance, CHALLENGER_BOND, "the challenger bond is still held");
        assertEq(forks.totalEthCredits(), 0);
        assertEq(registry.openDisputes(agentId), 1, "the agent's bond stays locked");
    }
}

/// @notice The fork-choice threshold is a parameter: with 60 %, a 55 % redemption for the
///         overturning child is not enough.
contract ForkChoiceSupermajorityTest is ForkFixture {
    function _forkChoiceBps() internal pure override returns (uint16) {
        return 6000;
    }

    function test_forkChoice_needsMoreThanTheThreshold() public {
        uint256 id = _fraudDispute();
        _majorityVerdict(id, true);
        uint256 forkId = _contest(contester, id);
        _lock(holder, forkId, ForkManager.Side.Overturned, 55 ether);
        _lock(stranger, forkId, ForkManager.Side.Stands, 45 ether);
        assertEq(uint8(forks.leadingSide(forkId)), uint8(ForkManager.Side.Stands));
        _lock(holder, forkId, ForkManager.Side.Overturned, 13 ether); // 68 / 113 > 60 %
        assertEq(uint8(forks.leadingSide(forkId)), uint8(ForkManager.Side.Overturned));
        _resolve(forkId);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Rejected));
        assertEq(forks.forkChoiceBps(), 6000);
    }
}
