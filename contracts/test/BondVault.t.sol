// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {ReenteringReceiver, RejectingReceiver, FeeToken} from "./utils/Attackers.sol";
import {BondVault} from "../src/BondVault.sol";
import {AgentRegistry} from "../src/AgentRegistry.sol";
import {Policy, WalletStep, DisputeKind, Breach} from "../src/CovenantTypes.sol";

contract BondVaultTest is Fixture {
    // ---------------------------------------------------------------- deployment and wiring

    function test_constructor_checks() public {
        vm.expectRevert(BondVault.ZeroAddress.selector);
        new BondVault(registry, traceLog, IERC20(address(0)), redistribution, 1, 1);
        vm.expectRevert(BondVault.ZeroAddress.selector);
        new BondVault(registry, traceLog, token, address(0), 1, 1);
        vm.expectRevert(abi.encodeWithSelector(BondVault.BadShares.selector, 6000, 4001));
        new BondVault(registry, traceLog, token, redistribution, 6000, 4001);
        BondVault v = new BondVault(registry, traceLog, token, redistribution, 6000, 4000);
        assertEq(v.challengerBps(), 6000);
        assertEq(v.redistributionBps(), 4000);
    }

    function test_setDisputeGame_onlyDeployerOnceNonZero() public {
        BondVault v = new BondVault(registry, traceLog, token, redistribution, 1, 1);
        vm.prank(mallory);
        vm.expectRevert(BondVault.OnlyDeployer.selector);
        v.setDisputeGame(mallory);
        vm.expectRevert(BondVault.ZeroAddress.selector);
        v.setDisputeGame(address(0));
        v.setDisputeGame(address(game));
        vm.expectRevert(BondVault.AlreadyWired.selector);
        v.setDisputeGame(mallory);
        assertEq(v.disputeGame(), address(game));
    }

    // ---------------------------------------------------------------- deposits

    function test_deposits_fromFixture() public view {
        BondVault.Bond memory b = vault.bondOf(agentId);
        assertEq(b.eth, BOND_ETH);
        assertEq(b.token, BOND_TOKEN);
        assertEq(vault.totalDepositedEth(), BOND_ETH);
        assertEq(vault.totalDepositedToken(), BOND_TOKEN);
        assertEq(address(vault).balance, BOND_ETH);
        assertEq(token.balanceOf(address(vault)), BOND_TOKEN);
    }

    function test_depositEth_topUpByAnyone() public {
        vm.deal(stranger, 3 ether);
        vm.expectEmit(address(vault));
        emit BondVault.Deposited(agentId, stranger, 3 ether, 0);
        vm.prank(stranger);
        vault.depositEth{value: 3 ether}(agentId);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH + 3 ether);
        assertEq(vault.totalDepositedEth(), BOND_ETH + 3 ether);
    }

    function test_depositToken_topUpByAnyone() public {
        token.mint(stranger, 5e18);
        vm.prank(stranger);
        token.approve(address(vault), 5e18);
        vm.expectEmit(address(vault));
        emit BondVault.Deposited(agentId, stranger, 0, 5e18);
        vm.prank(stranger);
        vault.depositToken(agentId, 5e18);
        assertEq(vault.bondOf(agentId).token, BOND_TOKEN + 5e18);
        assertEq(token.balanceOf(stranger), 0);
    }

    function test_deposits_rejectZeroAndUnknownAgent() public {
        vm.expectRevert(BondVault.ZeroAmount.selector);
        vault.depositEth{value: 0}(agentId);
        vm.expectRevert(BondVault.ZeroAmount.selector);
        vault.depositToken(agentId, 0);
        vm.deal(address(this), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 77));
        vault.depositEth{value: 1 ether}(77);
        token.mint(address(this), 1);
        token.approve(address(vault), 1);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 77));
        vault.depositToken(77, 1);
    }

    function test_depositToken_creditsWhatArrived() public {
        FeeToken fee = new FeeToken();
        BondVault v = new BondVault(registry, traceLog, IERC20(address(fee)), redistribution, 5000, 3000);
        fee.mint(stranger, 1000);
        vm.prank(stranger);
        fee.approve(address(v), 1000);
        vm.prank(stranger);
        v.depositToken(agentId, 1000);
        assertEq(v.bondOf(agentId).token, 990);
        assertEq(v.totalDepositedToken(), 990);
        assertEq(fee.balanceOf(address(v)), 990);
    }

    function testFuzz_deposits(uint128 eth1, uint128 eth2, uint128 tok) public {
        eth1 = uint128(bound(eth1, 1, type(uint128).max));
        eth2 = uint128(bound(eth2, 1, type(uint128).max));
        tok = uint128(bound(tok, 1, type(uint128).max));
        _bond(agentId, stranger, eth1, tok);
        _bond(agentId, owner, eth2, 0);
        BondVault.Bond memory b = vault.bondOf(agentId);
        assertEq(b.eth, BOND_ETH + uint256(eth1) + eth2);
        assertEq(b.token, BOND_TOKEN + uint256(tok));
        assertEq(address(vault).balance, b.eth);
        assertEq(token.balanceOf(address(vault)), b.token);
        assertEq(vault.totalDepositedEth(), b.eth);
    }

    // ---------------------------------------------------------------- withdrawal requests

    function _request(uint256 eth, uint256 tok) internal {
        vm.prank(owner);
        vault.requestWithdraw(agentId, eth, tok);
    }

    function test_requestWithdraw_checks() public {
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NotAgentOwner.selector, agentId, mallory));
        vault.requestWithdraw(agentId, 1, 0);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NotAgentOwner.selector, agentId, operator));
        vault.requestWithdraw(agentId, 1, 0);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 5));
        vault.requestWithdraw(5, 1, 0);
        vm.prank(owner);
        vm.expectRevert(BondVault.ZeroAmount.selector);
        vault.requestWithdraw(agentId, 0, 0);
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(BondVault.AmountExceedsBond.selector, BOND_ETH + 1, BOND_ETH, 0, BOND_TOKEN)
        );
        vault.requestWithdraw(agentId, BOND_ETH + 1, 0);
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(BondVault.AmountExceedsBond.selector, 0, BOND_ETH, BOND_TOKEN + 1, BOND_TOKEN)
        );
        vault.requestWithdraw(agentId, 0, BOND_TOKEN + 1);
        assertEq(vault.withdrawableAt(agentId), 0, "nothing pending");
    }

    function test_requestWithdraw_recordsAndRestarts() public {
        uint64 t0 = uint64(block.timestamp);
        vm.expectEmit(address(vault));
        emit BondVault.WithdrawRequested(agentId, 1 ether, 2e18, t0);
        _request(1 ether, 2e18);
        BondVault.Bond memory b = vault.bondOf(agentId);
        assertEq(b.pendingEth, 1 ether);
        assertEq(b.pendingToken, 2e18);
        assertEq(b.requestedAt, t0);
        assertEq(vault.withdrawableAt(agentId), t0 + UNBONDING_DELAY);

        vm.warp(t0 + UNBONDING_DELAY - 1);
        _request(2 ether, 0); // a new request replaces the old one and restarts the delay
        b = vault.bondOf(agentId);
        assertEq(b.pendingEth, 2 ether);
        assertEq(b.pendingToken, 0);
        assertEq(vault.withdrawableAt(agentId), t0 + 2 * UNBONDING_DELAY - 1);
        vm.warp(t0 + UNBONDING_DELAY);
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(BondVault.WithdrawalLocked.selector, agentId, t0 + 2 * UNBONDING_DELAY - 1)
        );
        vault.withdraw(agentId);
    }

    function test_cancelWithdraw() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NoWithdrawalRequested.selector, agentId));
        vault.cancelWithdraw(agentId);
        _request(1 ether, 0);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NotAgentOwner.selector, agentId, mallory));
        vault.cancelWithdraw(agentId);
        vm.expectEmit(address(vault));
        emit BondVault.WithdrawCancelled(agentId);
        vm.prank(owner);
        vault.cancelWithdraw(agentId);
        BondVault.Bond memory b = vault.bondOf(agentId);
        assertEq(b.pendingEth + b.pendingToken + b.requestedAt, 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NoWithdrawalRequested.selector, agentId));
        vault.withdraw(agentId);
    }

    // ---------------------------------------------------------------- withdrawals

    function test_withdraw_exactlyAfterUnbondingDelay() public {
        uint64 t0 = uint64(block.timestamp);
        _request(4 ether, 300e18);
        vm.warp(t0 + UNBONDING_DELAY - 1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.WithdrawalLocked.selector, agentId, t0 + UNBONDING_DELAY));
        vault.withdraw(agentId);

        vm.warp(t0 + UNBONDING_DELAY);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NotAgentOwner.selector, agentId, mallory));
        vault.withdraw(agentId);

        vm.expectEmit(address(vault));
        emit BondVault.Withdrawn(agentId, owner, 4 ether, 300e18);
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, 4 ether);
        assertEq(token.balanceOf(owner), 300e18);
        BondVault.Bond memory b = vault.bondOf(agentId);
        assertEq(b.eth, BOND_ETH - 4 ether);
        assertEq(b.token, BOND_TOKEN - 300e18);
        assertEq(b.pendingEth + b.pendingToken + b.requestedAt, 0);
        assertEq(vault.totalWithdrawnEth(), 4 ether);
        assertEq(vault.totalWithdrawnToken(), 300e18);
        // the request is used up: no second withdrawal
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.NoWithdrawalRequested.selector, agentId));
        vault.withdraw(agentId);
    }

    function test_withdraw_commitAfterRequestPushesUnlockOut() public {
        uint64 t0 = uint64(block.timestamp);
        _request(BOND_ETH, BOND_TOKEN);
        // the operator keeps committing right up to the unlock time
        vm.warp(t0 + UNBONDING_DELAY - 1);
        _honestBatch();
        uint64 unlock = uint64(block.timestamp) + WINDOW + DISPUTE_PERIOD + 1;
        assertEq(traceLog.lastFinalizesAt(agentId), block.timestamp + WINDOW);
        assertEq(vault.withdrawableAt(agentId), unlock);
        vm.warp(t0 + UNBONDING_DELAY);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.WithdrawalLocked.selector, agentId, unlock));
        vault.withdraw(agentId);
        vm.warp(unlock - 1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.WithdrawalLocked.selector, agentId, unlock));
        vault.withdraw(agentId);
        vm.warp(unlock);
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, BOND_ETH);
    }

    function test_withdraw_blockedWhileDisputeOpen() public {
        uint64 t0 = uint64(block.timestamp);
        _request(1 ether, 0);
        vm.warp(t0 + UNBONDING_DELAY - DISPUTE_PERIOD);
        uint256 d = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, keccak256("tx-1"));
        vm.warp(t0 + UNBONDING_DELAY);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.DisputeOpen.selector, agentId));
        vault.withdraw(agentId);
        vm.warp(game.dispute(d).deadline + 1);
        game.resolveExpired(d);
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, 1 ether);
    }

    /// An operator that wants to keep its bond shortens its challenge window after a
    /// batch with a long window, commits one more batch under the short window, and
    /// withdraws while the long-window batch can still be challenged. The unlock time
    /// must follow the latest-closing window, not the latest batch.
    function test_withdraw_waitsForLongestOpenWindow() public {
        uint64 t0 = uint64(block.timestamp);
        _request(BOND_ETH, BOND_TOKEN);
        vm.warp(t0 + 10 days);
        uint64 longWindow = UNBONDING_DELAY - DISPUTE_PERIOD - 1;
        _update(_policy(MAX_VALUE, longWindow, COMMIT_DEADLINE));
        // propose the short window now, so it activates right after the long-window batch
        Policy memory shortP = _policy(MAX_VALUE, 1 hours, COMMIT_DEADLINE);
        bytes32[] memory d = _digests();
        vm.prank(owner);
        registry.proposeUpdate(agentId, keccak256("short"), d, shortP);
        // shrinking the window waits for the long one (readyAt), so a batch committed just
        // before activation is still open long after the short-window batches that follow
        uint64 readyAt = registry.version(agentId, 3).readyAt;
        assertEq(readyAt, uint64(block.timestamp) + longWindow, "a shrink waits for the current window");
        vm.warp(readyAt - 1);

        WalletStep memory bad = _ws(mallory, 5 ether, ""); // over the cap, off the allowlist
        (uint64 seqLong, bytes32[] memory leaves) = _commitSteps(_one(bad));
        uint64 longCloses = uint64(block.timestamp) + longWindow;
        vm.warp(readyAt);
        vm.prank(owner);
        registry.activateUpdate(agentId);
        vm.warp(block.timestamp + 1);
        _honestBatch(); // the latest batch now has a 1 hour window

        uint64 unlock = longCloses + DISPUTE_PERIOD + 1;
        assertEq(vault.withdrawableAt(agentId), unlock, "unlock follows the longest open window");
        vm.warp(block.timestamp + 1 hours + DISPUTE_PERIOD + 1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.WithdrawalLocked.selector, agentId, unlock));
        vault.withdraw(agentId);

        // the long-window batch is still challengeable, and the bond is still there
        vm.warp(longCloses);
        (, Breach breach) = _proveBreach(challenger, bad, seqLong, Merkle.proof(leaves, 1), "s");
        assertEq(uint8(breach), uint8(Breach.ValueCap));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
        vm.warp(unlock);
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, BOND_ETH / 2, "pending clamped to what the slash left");
    }

    function _update(Policy memory p) internal {
        bytes32[] memory d = _digests();
        vm.prank(owner);
        uint32 v = registry.proposeUpdate(agentId, keccak256(abi.encode(p)), d, p);
        vm.warp(registry.version(agentId, v).readyAt);
        vm.prank(owner);
        registry.activateUpdate(agentId);
    }

    function test_withdraw_ownerThatRejectsEthKeepsBond() public {
        RejectingReceiver r = new RejectingReceiver();
        uint256 id = _registerAgent(address(r), operator, agentWallet);
        _bond(id, stranger, 1 ether, 0);
        vm.prank(address(r));
        vault.requestWithdraw(id, 1 ether, 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(address(r));
        vm.expectRevert(BondVault.TransferFailed.selector);
        vault.withdraw(id);
        assertEq(vault.bondOf(id).eth, 1 ether);
        assertEq(vault.bondOf(id).pendingEth, 1 ether);
    }

    /// forge-config: default.fuzz.runs = 512
    function testFuzz_withdraw_neverBeforeUnlock(uint32 requestAfter, uint32 commitAfter, uint32 tryAt) public {
        uint256 r = block.timestamp + bound(requestAfter, 0, 30 days);
        vm.warp(r);
        _request(1 ether, 1e18);
        uint256 c = r + bound(commitAfter, 0, 20 days);
        vm.warp(c);
        _honestBatch();
        uint256 unlock = r + UNBONDING_DELAY;
        if (c + WINDOW + DISPUTE_PERIOD + 1 > unlock) unlock = c + WINDOW + DISPUTE_PERIOD + 1;
        uint256 t = bound(tryAt, c, c + 40 days);
        vm.warp(t);
        if (t < unlock) {
            vm.expectRevert(abi.encodeWithSelector(BondVault.WithdrawalLocked.selector, agentId, uint64(unlock)));
        }
        vm.prank(owner);
        vault.withdraw(agentId);
        if (t >= unlock) assertEq(owner.balance, 1 ether);
    }

    function testFuzz_withdraw_partialAmounts(uint256 eth, uint256 tok) public {
        eth = bound(eth, 0, BOND_ETH);
        tok = bound(tok, 0, BOND_TOKEN);
        vm.assume(eth != 0 || tok != 0);
        _request(eth, tok);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, eth);
        assertEq(token.balanceOf(owner), tok);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - eth);
        assertEq(vault.bondOf(agentId).token, BOND_TOKEN - tok);
        assertEq(address(vault).balance, BOND_ETH - eth);
        assertEq(vault.totalDepositedEth(), vault.bondOf(agentId).eth + vault.totalWithdrawnEth());
    }

    // ---------------------------------------------------------------- slashing

    function test_slash_onlyDisputeGame() public {
        address[3] memory callers = [owner, operator, mallory];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(BondVault.OnlyDisputeGame.selector);
            vault.slash(agentId, 10_000, callers[i]);
        }
        vm.expectRevert(BondVault.OnlyDisputeGame.selector);
        vault.slash(agentId, 10_000, address(this));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
    }

    function test_slash_rejectsBadBpsAndZeroChallenger() public {
        vm.startPrank(address(game));
        vm.expectRevert(abi.encodeWithSelector(BondVault.BadBps.selector, 0));
        vault.slash(agentId, 0, challenger);
        vm.expectRevert(abi.encodeWithSelector(BondVault.BadBps.selector, 10_001));
        vault.slash(agentId, 10_001, challenger);
        vm.expectRevert(BondVault.ZeroAddress.selector);
        vault.slash(agentId, 5000, address(0));
        vm.stopPrank();
    }

    function test_slash_splitAddsUpToTheWei() public {
        _bond(agentId, stranger, 7, 13); // odd amounts force rounding
        uint256 eth = BOND_ETH + 7;
        uint256 tok = BOND_TOKEN + 13;
        uint256 sEth = eth * SLASH_BPS / 10_000;
        uint256 sTok = tok * SLASH_BPS / 10_000;
        uint256 cEth = sEth * CHALLENGER_BPS / 10_000;
        uint256 rEth = sEth * REDISTRIBUTION_BPS / 10_000;
        vm.expectEmit(address(vault));
        emit BondVault.Slashed(agentId, challenger, sEth, sTok, cEth, rEth, sEth - cEth - rEth);
        vm.prank(address(game));
        (uint256 gotEth, uint256 gotTok) = vault.slash(agentId, SLASH_BPS, challenger);
        assertEq(gotEth, sEth);
        assertEq(gotTok, sTok);
        assertEq(vault.ethCredits(challenger) + vault.ethCredits(redistribution) + vault.burnedEth(), sEth);
        assertEq(vault.tokenCredits(challenger) + vault.tokenCredits(redistribution) + vault.burnedToken(), sTok);
        assertEq(vault.bondOf(agentId).eth, eth - sEth);
        assertEq(vault.totalSlashedEth(), sEth);
        assertEq(address(vault).balance, vault.bondOf(agentId).eth + cEth + rEth + vault.burnedEth());
    }

    /// forge-config: default.fuzz.runs = 512
    function testFuzz_slash_split(uint256 eth, uint256 tok, uint16 cBps, uint16 rBps, uint16 bps) public {
        eth = bound(eth, 1, 1e30);
        tok = bound(tok, 1, 1e30);
        cBps = uint16(bound(cBps, 0, 10_000));
        rBps = uint16(bound(rBps, 0, 10_000 - cBps));
        bps = uint16(bound(bps, 1, 10_000));
        BondVault v = new BondVault(registry, traceLog, token, redistribution, cBps, rBps);
        v.setDisputeGame(address(this)); // this test plays the dispute game
        vm.deal(stranger, eth);
        vm.prank(stranger);
        v.depositEth{value: eth}(agentId);
        token.mint(stranger, tok);
        vm.prank(stranger);
        token.approve(address(v), tok);
        vm.prank(stranger);
        v.depositToken(agentId, tok);

        (uint256 sEth, uint256 sTok) = v.slash(agentId, bps, challenger);
        assertEq(sEth, eth * bps / 10_000);
        assertEq(sTok, tok * bps / 10_000);
        assertEq(v.ethCredits(challenger), sEth * cBps / 10_000);
        assertEq(v.ethCredits(redistribution), sEth * rBps / 10_000);
        assertEq(v.ethCredits(challenger) + v.ethCredits(redistribution) + v.burnedEth(), sEth, "eth split");
        assertEq(v.tokenCredits(challenger) + v.tokenCredits(redistribution) + v.burnedToken(), sTok, "token split");
        assertEq(v.bondOf(agentId).eth + sEth, eth);
        assertEq(v.bondOf(agentId).token + sTok, tok);

        if (v.ethCredits(challenger) + v.tokenCredits(challenger) != 0) {
            vm.prank(challenger);
            v.claim();
        }
        if (v.ethCredits(redistribution) + v.tokenCredits(redistribution) != 0) {
            vm.prank(redistribution);
            v.claim();
        }
        assertEq(address(v).balance, v.bondOf(agentId).eth + v.burnedEth(), "eth balance");
        assertEq(token.balanceOf(address(v)), v.bondOf(agentId).token + v.burnedToken(), "token balance");
        assertEq(challenger.balance + redistribution.balance + v.burnedEth(), sEth);
    }

    function test_slash_clampsPendingWithdrawal() public {
        _request(BOND_ETH, BOND_TOKEN / 4);
        vm.prank(address(game));
        vault.slash(agentId, 8000, challenger);
        BondVault.Bond memory b = vault.bondOf(agentId);
        assertEq(b.eth, BOND_ETH / 5);
        assertEq(b.pendingEth, BOND_ETH / 5, "clamped to the bond left");
        assertEq(b.pendingToken, BOND_TOKEN / 5, "clamped to the bond left");
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, BOND_ETH / 5);
        assertEq(vault.bondOf(agentId).eth, 0);
    }

    function test_slash_pendingBelowBondIsKept() public {
        _request(1 ether, 0);
        vm.prank(address(game));
        vault.slash(agentId, 5000, challenger);
        assertEq(vault.bondOf(agentId).pendingEth, 1 ether);
    }

    // ---------------------------------------------------------------- credits and claims

    function test_creditEth_onlyDisputeGame() public {
        vm.deal(mallory, 1 ether);
        vm.prank(mallory);
        vm.expectRevert(BondVault.OnlyDisputeGame.selector);
        vault.creditEth{value: 1 ether}(mallory);
        vm.deal(address(game), 1 ether);
        vm.prank(address(game));
        vm.expectRevert(BondVault.ZeroAddress.selector);
        vault.creditEth{value: 1 ether}(address(0));
        vm.expectEmit(address(vault));
        emit BondVault.Credited(challenger, 1 ether, 0);
        vm.prank(address(game));
        vault.creditEth{value: 1 ether}(challenger);
        assertEq(vault.ethCredits(challenger), 1 ether);
        assertEq(vault.totalCreditedFromGame(), 1 ether);
    }

    function test_claim_paysOnce() public {
        vm.prank(challenger);
        vm.expectRevert(BondVault.NothingToClaim.selector);
        vault.claim();
        vm.prank(address(game));
        vault.slash(agentId, SLASH_BPS, challenger);
        uint256 ce = vault.ethCredits(challenger);
        uint256 ct = vault.tokenCredits(challenger);
        assertGt(ce, 0, "eth credit");
        assertGt(ct, 0, "token credit");
        vm.expectEmit(address(vault));
        emit BondVault.Claimed(challenger, ce, ct);
        vm.prank(challenger);
        vault.claim();
        assertEq(challenger.balance, ce);
        assertEq(token.balanceOf(challenger), ct);
        assertEq(vault.ethCredits(challenger), 0);
        vm.prank(challenger);
        vm.expectRevert(BondVault.NothingToClaim.selector);
        vault.claim();

        uint256 re = vault.ethCredits(redistribution);
        vm.prank(redistribution);
        vault.claim();
        assertEq(redistribution.balance, re);
        // what is left is the bond and the burn, for good
        assertEq(address(vault).balance, vault.bondOf(agentId).eth + vault.burnedEth());
        assertEq(token.balanceOf(address(vault)), vault.bondOf(agentId).token + vault.burnedToken());
    }

    // ---------------------------------------------------------------- reentrancy

    function _attackerOwnedAgent(uint256 eth) internal returns (ReenteringReceiver r, uint256 id) {
        r = new ReenteringReceiver(vault);
        id = _registerAgent(address(r), operator, agentWallet);
        _bond(id, stranger, eth, 0);
    }

    function test_reentrancy_withdrawReenteringWithdrawReverts() public {
        (ReenteringReceiver r, uint256 id) = _attackerOwnedAgent(4 ether);
        vm.prank(address(r));
        vault.requestWithdraw(id, 1 ether, 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        r.arm(id, ReenteringReceiver.Target.Withdraw, false);
        uint256 before = address(vault).balance;
        vm.prank(address(r));
        vm.expectRevert(BondVault.TransferFailed.selector); // the re-entry reverted inside receive()
        vault.withdraw(id);
        assertEq(address(vault).balance, before);
        assertEq(address(r).balance, 0);
        assertEq(vault.bondOf(id).eth, 4 ether);
        assertEq(vault.bondOf(id).pendingEth, 1 ether);
    }

    function test_reentrancy_withdrawSwallowedReentryPaysOnce() public {
        (ReenteringReceiver r, uint256 id) = _attackerOwnedAgent(4 ether);
        vm.prank(address(r));
        vault.requestWithdraw(id, 1 ether, 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        r.arm(id, ReenteringReceiver.Target.Withdraw, true);
        vm.prank(address(r));
        vault.withdraw(id);
        assertEq(address(r).balance, 1 ether, "paid exactly once");
        assertEq(r.received(), 1 ether);
        assertFalse(r.reentrySucceeded());
        assertEq(r.reentryError(), abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector));
        assertEq(vault.bondOf(id).eth, 3 ether);
        assertEq(vault.totalWithdrawnEth(), 1 ether);
    }

    function test_reentrancy_withdrawReenteringRequestAndWithdrawPaysOnce() public {
        (ReenteringReceiver r, uint256 id) = _attackerOwnedAgent(4 ether);
        vm.prank(address(r));
        vault.requestWithdraw(id, 1 ether, 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        r.arm(id, ReenteringReceiver.Target.RequestThenWithdraw, true);
        vm.prank(address(r));
        vault.withdraw(id);
        assertEq(address(r).balance, 1 ether, "paid exactly once");
        assertFalse(r.reentrySucceeded());
        assertEq(vault.bondOf(id).eth, 3 ether);
        assertEq(vault.bondOf(id).pendingEth, 0, "the re-entered request was rolled back with the re-entry");
    }

    function test_reentrancy_claimReenteringClaimReverts() public {
        ReenteringReceiver r = new ReenteringReceiver(vault);
        vm.prank(address(game));
        vault.slash(agentId, SLASH_BPS, address(r));
        uint256 credit = vault.ethCredits(address(r));
        uint256 tokenCredit = vault.tokenCredits(address(r));
        r.arm(0, ReenteringReceiver.Target.Claim, false);
        vm.prank(address(r));
        vm.expectRevert(BondVault.TransferFailed.selector);
        vault.claim();
        assertEq(vault.ethCredits(address(r)), credit, "credit intact after the failed attempt");
        assertEq(token.balanceOf(address(r)), 0);

        // now the receiver swallows its failed re-entry (the failed attempt above was rolled
        // back, receive() counter included)
        r.arm(0, ReenteringReceiver.Target.Claim, true);
        vm.prank(address(r));
        vault.claim();
        assertEq(address(r).balance, credit, "paid exactly once");
        assertEq(token.balanceOf(address(r)), tokenCredit);
        assertEq(r.reentryError(), abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector));
        assertEq(vault.ethCredits(address(r)), 0);
        vm.prank(address(r));
        vm.expectRevert(BondVault.NothingToClaim.selector);
        vault.claim();
    }

    function test_reentrancy_claimReenteringWithdrawPaysOnce() public {
        (ReenteringReceiver r, uint256 id) = _attackerOwnedAgent(4 ether);
        vm.prank(address(game));
        vault.slash(agentId, SLASH_BPS, address(r)); // credits on the fixture agent's slash
        vm.prank(address(r));
        vault.requestWithdraw(id, 4 ether, 0);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        uint256 credit = vault.ethCredits(address(r));
        r.arm(id, ReenteringReceiver.Target.Withdraw, true);
        vm.prank(address(r));
        vault.claim(); // receive() tries to withdraw the bond in the middle of the claim
        assertEq(address(r).balance, credit);
        assertEq(vault.bondOf(id).eth, 4 ether, "cross-function re-entry blocked");
    }
}
