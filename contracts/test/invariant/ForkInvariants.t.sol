// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {ForkHandler} from "./ForkHandler.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ForkManager} from "../../src/ForkManager.sol";
import {VerifierRegistry} from "../../src/VerifierRegistry.sol";
import {WorkToken} from "../../src/WorkToken.sol";
import {BondVault} from "../../src/BondVault.sol";
import {DisputeStatus} from "../../src/CovenantTypes.sol";

/// @notice The fork backstop under random sequences of disputes, contests, redemptions,
///         resolutions, exits and payouts (runs x depth in foundry.toml [invariant]):
///           - the work token's supply is conserved across forks, and every token is where
///             the books say (staked, locked in a fork, credited, burned, or held);
///           - a fork never mints to the slashed side: a voter the canonical child slashes,
///             and stake redeemed into the losing child, keep nothing;
///           - a contested dispute pays nothing before its fork resolves, and then settles as
///             the canonical child says;
///           - the fork bond comes back only when its fork wins, and is burned otherwise.
contract ForkInvariants is TestBase {
    ForkHandler internal h;
    DisputeGame internal game;
    ForkManager internal forks;
    VerifierRegistry internal verifiers;
    WorkToken internal work;
    BondVault internal vault;
    uint256 internal supply;

    function setUp() public {
        h = new ForkHandler();
        address g;
        address f;
        address v;
        address w;
        address b;
        (g, f, v, w, b) = h.system();
        game = DisputeGame(g);
        forks = ForkManager(f);
        verifiers = VerifierRegistry(v);
        work = WorkToken(w);
        vault = BondVault(b);
        supply = work.totalSupply();
        bytes4[] memory s = new bytes4[](13);
        s[0] = h.decide.selector;
        s[1] = h.expire.selector;
        s[2] = h.contest.selector;
        s[3] = h.redeemStake.selector;
        s[4] = h.lockTokens.selector;
        s[5] = h.resolve.selector;
        s[6] = h.finalize.selector;
        s[7] = h.reclaim.selector;
        s[8] = h.claim.selector;
        s[9] = h.leave.selector;
        s[10] = h.join.selector;
        s[11] = h.doubleVerdict.selector;
        s[12] = h.warp.selector;
        targetContract(address(h));
        targetSelector(FuzzSelector(address(h), s));
    }

    function invariant_forks() public view {
        _checkAll();
    }

    function _checkAll() internal view {
        _supplyConserved();
        _stakeBooks();
        _forkBooks();
        _contestedPayNothingUntilResolved();
        assertEq(h.slashedKeptStake(), 0, "a fork left stake to the side it slashes");
        assertEq(h.wrongSettlements(), 0, "a contested dispute settled against the canonical child");
    }

    function _supplyConserved() internal view {
        assertEq(work.totalSupply(), supply, "no token is ever minted or destroyed");
        uint256 sum = work.balanceOf(address(verifiers)) + work.balanceOf(address(forks));
        for (uint256 i; i < h.holderCount(); ++i) sum += work.balanceOf(h.holders(i));
        assertEq(sum, supply, "every token is with a holder, staked, or in the fork manager");
    }

    function _stakeBooks() internal view {
        uint256 staked;
        for (uint256 i; i < h.verifierCount(); ++i) staked += verifiers.verifier(h.verifierAt(i)).stake;
        assertEq(verifiers.totalStake(), staked, "total stake is the sum of stakes");
        assertEq(work.balanceOf(address(verifiers)), staked, "the registry holds exactly the stake");
    }

    function _forkBooks() internal view {
        assertEq(
            work.balanceOf(address(forks)),
            forks.heldDeposits() + forks.totalTokenCredits() + forks.burnedTokens(),
            "fork manager tokens: locked + credited + burned"
        );
        assertEq(
            address(forks).balance,
            forks.heldBonds() + forks.totalEthCredits() + forks.burnedEth(),
            "fork manager ETH: pending bonds + credited + burned"
        );
        uint256 bond = forks.forkBond();
        assertEq(forks.heldBonds(), forks.pendingForks() * bond, "one bond per pending fork");
        assertEq(forks.burnedEth(), h.resolvedStands() * bond, "a bond is burned exactly when its fork loses");
        assertEq(
            forks.totalEthCredits() + h.claimedEth(),
            h.resolvedOverturned() * bond,
            "a bond comes back exactly when its fork wins"
        );
        assertEq(forks.forkCount(), forks.pendingForks() + h.resolvedStands() + h.resolvedOverturned());
    }

    function _contestedPayNothingUntilResolved() internal view {
        for (uint256 forkId = 1; forkId <= forks.forkCount(); ++forkId) {
            ForkManager.Fork memory f = forks.fork(forkId);
            DisputeGame.Dispute memory d = game.dispute(f.disputeId);
            if (f.canonical == ForkManager.Side.None) {
                assertEq(uint8(d.status), uint8(DisputeStatus.Contested), "a pending fork's dispute stays contested");
                assertEq(d.slashedEth + d.slashedToken, 0, "nothing slashed before resolution");
            } else {
                assertTrue(
                    d.status == DisputeStatus.Slashed || d.status == DisputeStatus.Rejected, "resolved fork, settled dispute"
                );
            }
        }
    }

    // ---------------------------------------------------------------- the handler is not vacuous

    /// A scripted sequence through every path the invariants rely on.
    function test_handlerReachesEveryPath() public {
        h.decide(0x7, 0x8); // 75 % at fault: decided
        h.decide(0x8, 0x7); // 75 % not at fault: decided
        h.decide(0x1, 0x2); // a quarter each: open
        h.contest(0, 0); // the contester contests dispute 1
        h.contest(1, 1); // the holder contests dispute 2
        h.redeemStake(0, 3, true); // verifier 3 into Overturned of fork 1
        h.redeemStake(0, 0, true); // a colluder tries the child that slashes it: refused
        h.redeemStake(0, 0, false);
        h.lockTokens(0, 1, true, 5 ether); // the holder backs Overturned of fork 1
        h.lockTokens(1, 2, false, 5 ether); // the stranger backs Stands of fork 2
        h.leave(0); // a colluder asks to leave
        h.join(2 ether);
        h.doubleVerdict(0, 0); // colluder 0 signed both verdicts of dispute 1: slashed before its fork resolves
        h.warp(3 days);
        h.expire(0); // the open dispute: half voted, tie: expired
        h.leave(0); // refused while forks are pending
        h.resolve(0);
        h.resolve(1);
        h.reclaim(0, 1);
        h.claim(0);
        h.decide(0x1F, 0); // the honest verifier and the newcomer: a unanimous verdict
        h.finalize(2, 0); // the newest decided dispute, after its window
        h.leave(3);
        for (uint256 i; i < 4; ++i) h.warp(3 days);
        h.leave(3); // no fork pending any more: the honest verifier leaves

        string[14] memory paths = [
            "decide",
            "expire",
            "contest",
            "redeemStake",
            "lockTokens",
            "resolve",
            "finalize",
            "reclaim",
            "claim",
            "requestExit",
            "exit",
            "join",
            "doubleVerdict",
            "warp"
        ];
        for (uint256 i; i < paths.length; ++i) assertGt(h.hits(bytes32(bytes(paths[i]))), 0, paths[i]);
        assertEq(h.resolvedOverturned(), 1, "fork 1 overturned");
        assertEq(h.resolvedStands(), 1, "fork 2 stands");
        _checkAll();
    }
}
