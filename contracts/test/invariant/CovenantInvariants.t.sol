// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CovenantChecks} from "./CovenantChecks.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {Batch, DisputeStatus} from "../../src/CovenantTypes.sol";

/// @notice The whole system under random sequences of every handler action (runs x depth
///         in foundry.toml [invariant]).
contract CovenantInvariants is CovenantChecks {
    function setUp() public {
        bytes4[] memory s = new bytes4[](17);
        s[0] = h.depositEth.selector;
        s[1] = h.depositToken.selector;
        s[2] = h.requestWithdraw.selector;
        s[3] = h.cancelWithdraw.selector;
        s[4] = h.withdraw.selector;
        s[5] = h.claim.selector;
        s[6] = h.commitBatch.selector;
        s[7] = h.recommit.selector;
        s[8] = h.proveBreach.selector;
        s[9] = h.proveEquivocation.selector;
        s[10] = h.openDispute.selector;
        s[11] = h.registerVerifier.selector;
        s[12] = h.vote.selector;
        s[13] = h.resolveExpired.selector;
        s[14] = h.updatePolicy.selector;
        s[15] = h.attack.selector;
        s[16] = h.warp.selector;
        _deploy(s);
    }

    function invariant_covenant() public view {
        _checkAll();
    }

    // ---------------------------------------------------------------- the handler is not vacuous

    /// A scripted sequence that walks every path the invariants rely on, so a handler that
    /// silently stopped doing anything would fail here.
    function test_handlerReachesEveryPath() public {
        h.depositEth(0, 3 ether, true);
        h.depositToken(1, 10e18);
        h.requestWithdraw(0, 1 ether, 1e18);
        h.requestWithdraw(1, 2 ether, 0);
        h.cancelWithdraw(1);
        h.commitBatch(0, 0x0504030201, 3); // honest is kind 0; these are breaches 1, 2, 3
        h.commitBatch(1, 0, 1);
        h.recommit(0, false);
        h.recommit(0, true);
        h.proveBreach(1, 0, true, 5); // step 1 of batch 0: off the allowlist, with a front-run attempt and a moved window
        h.proveBreach(1, 1, false, 0); // the same leaf again
        h.proveBreach(3, 0, false, 0); // the honest step of agent 1: NoBreach
        h.proveEquivocation(1, 0, 2, true);
        h.openDispute(2, 0, 7, 0); // untraced action on agent 2
        h.registerVerifier(2 ether, true, 2); // joins in the opening block of another dispute
        h.vote(0, 0xF, 0xF, 0xF); // four verifiers at fault, with replays: slashed
        h.vote(1, 0x1F, 0, 0); // the jit dispute: four against + the late verifier
        h.openDispute(0, 1, 0, 1); // data withheld on agent 0
        h.warp(3 * 4 days, 1); // four days
        h.resolveExpired(2);
        h.claim(3); // challenger
        h.claim(6); // redistribution
        h.attack(12345, 0);
        h.withdraw(0, true, 0, 0); // waits for its unlock and settles what is still open
        h.updatePolicy(1, 0, false); // agent 1 (long window) proposes a one-hour window
        h.commitBatch(1, 0, 1); // a batch under the long window
        h.updatePolicy(1, 0, true); // activated once the long window has passed
        h.commitBatch(1, 0, 1); // a batch under the short window
        h.commitBatch(2, 1 << 254, 2); // a bundled batch, opened by a stranger

        string[20] memory paths = [
            "depositEth",
            "depositToken",
            "requestWithdraw",
            "cancelWithdraw",
            "commit",
            "commitBundle",
            "recommitRefused",
            "recommitRejected",
            "wrongRecordRefused",
            "breachProven",
            "breachRejected",
            "equivocationProven",
            "disputeOpened",
            "verifierJoined",
            "votesSubmitted",
            "expired",
            "claim",
            "policyProposed",
            "policyActivated",
            "withdraw"
        ];
        for (uint256 i; i < paths.length; ++i) assertGt(h.hits(bytes32(bytes(paths[i]))), 0, paths[i]);
        _checkAll();
        DisputeGame.Dispute memory jit = game.dispute(h.disputeRec(1).id);
        assertEq(uint8(jit.status), uint8(DisputeStatus.Rejected), "late verifier did not count, quorum reached");
        assertEq(h.recordOf(h.agentIds(1), 2).challengeWindow, 1 hours, "window shrank");
        // a shrink waits for the current window: the long-window batch committed after the
        // proposal closed no later than the first batch under the short window was committed
        Batch memory longB = h.recordOf(h.agentIds(1), 1);
        assertLe(longB.committedAt + longB.challengeWindow, h.recordOf(h.agentIds(1), 2).committedAt, "shrink waited");
    }
}
