// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {CovenantHandler} from "./CovenantHandler.sol";
import {AgentRegistry} from "../../src/AgentRegistry.sol";
import {TraceLog} from "../../src/TraceLog.sol";
import {BondVault} from "../../src/BondVault.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {TestToken} from "../../src/dev/TestToken.sol";
import {AgentAccount} from "../../src/AgentAccount.sol";
import {Batch, DisputeStatus} from "../../src/CovenantTypes.sol";

/// @notice The system's invariants, checked after every handler call. Each property has its
///         own assertion messages, so a failure names what broke.
/// @dev forge runs every invariant function of one contract on the same call sequences (same
///      seed), so each campaign checks every property in one function: several functions
///      would repeat the same sequences at several times the cost.
abstract contract CovenantChecks is TestBase {
    CovenantHandler internal h;
    AgentRegistry internal registry;
    TraceLog internal traceLog;
    BondVault internal vault;
    DisputeGame internal game;
    TestToken internal token;

    function _deploy(bytes4[] memory selectors) internal {
        h = new CovenantHandler();
        address r;
        address l;
        address v;
        address g;
        address t;
        (r, l, v, g,, t) = h.system();
        registry = AgentRegistry(r);
        traceLog = TraceLog(l);
        vault = BondVault(v);
        game = DisputeGame(g);
        token = TestToken(t);
        targetContract(address(h));
        targetSelector(FuzzSelector(address(h), selectors));
    }

    function _checkAll() internal view {
        _handlerChecksClean();
        _bondConservation();
        _withdrawalsWithinBond();
        _batchesImmutable();
        _disputes();
    }

    /// The handler's own checks, made as it acts (a withdrawal before its unlock, a wrong
    /// payout, a re-commit that changed a batch, a leaf slashed twice, a copied reveal that
    /// went through, a dispute settled against the books, a caller other than the game that
    /// moved a bond, an unlock time that stopped covering an open window).
    function _handlerChecksClean() internal view {
        assertEq(h.earlyWithdrawals(), 0, "withdrawal before unlock");
        assertEq(h.wrongPayouts(), 0, "withdrawal or claim paid the wrong amount");
        assertEq(h.windowMismatches(), 0, "batch window differs from the active policy");
        assertEq(h.unlockRegressions(), 0, "unlock time no longer covers an open window");
        assertEq(h.overwrites(), 0, "a re-commit changed or failed unexpectedly");
        assertEq(h.doubleProofs(), 0, "a leaf was slashed twice");
        assertEq(h.frontRunsSucceeded(), 0, "a copied reveal went through");
        assertEq(h.wrongRecordsAccepted(), 0, "a proof with an edited batch record went through");
        assertEq(h.statusMismatches(), 0, "dispute settled differently from the books");
        assertEq(h.unauthorizedSucceeded(), 0, "a non-game caller moved bonds or counters");
    }

    /// For ETH and the token alike: deposited == sum(bonds) + withdrawn + slashed, and the
    /// vault holds exactly the bonds, the unclaimed credits and the burn.
    function _bondConservation() internal view {
        uint256 bondEth;
        uint256 bondTok;
        for (uint256 i; i < 3; ++i) {
            BondVault.Bond memory b = vault.bondOf(h.agentIds(i));
            bondEth += b.eth;
            bondTok += b.token;
        }
        uint256 creditEth;
        uint256 creditTok;
        address[] memory holders = h.creditHolders();
        for (uint256 i; i < holders.length; ++i) {
            creditEth += vault.ethCredits(holders[i]);
            creditTok += vault.tokenCredits(holders[i]);
        }
        assertEq(vault.totalDepositedEth(), h.ghostDepositedEth(), "eth deposits recorded");
        assertEq(vault.totalWithdrawnEth(), h.ghostWithdrawnEth(), "eth withdrawals recorded");
        assertEq(
            vault.totalDepositedEth(),
            bondEth + vault.totalWithdrawnEth() + vault.totalSlashedEth(),
            "eth: deposited == bonds + withdrawn + slashed"
        );
        assertEq(address(vault).balance, bondEth + creditEth + vault.burnedEth(), "eth: balance == bonds + credits + burned");
        assertEq(vault.totalDepositedToken(), h.ghostDepositedToken(), "token deposits recorded");
        assertEq(vault.totalWithdrawnToken(), h.ghostWithdrawnToken(), "token withdrawals recorded");
        assertEq(
            vault.totalDepositedToken(),
            bondTok + vault.totalWithdrawnToken() + vault.totalSlashedToken(),
            "token: deposited == bonds + withdrawn + slashed"
        );
        assertEq(
            token.balanceOf(address(vault)),
            bondTok + creditTok + vault.burnedToken(),
            "token: balance == bonds + credits + burned"
        );
    }

    function _withdrawalsWithinBond() internal view {
        for (uint256 i; i < 3; ++i) {
            BondVault.Bond memory b = vault.bondOf(h.agentIds(i));
            assertLe(b.pendingEth, b.eth, "pending eth within bond");
            assertLe(b.pendingToken, b.token, "pending token within bond");
        }
    }

    /// Batches never change; sequences are gapless, one batch each; the unlock time covers
    /// every batch's window.
    function _batchesImmutable() internal view {
        uint256 n = h.batchCount();
        for (uint256 i; i < n; ++i) {
            CovenantHandler.BatchRec memory r = h.batchRec(i);
            uint256 id = h.agentIds(r.agentIdx);
            Batch memory b = h.recordOf(id, r.seq);
            // the chain keeps one hash per batch: it still is the hash of the record committed
            assertEq(traceLog.batchHash(id, r.seq), keccak256(abi.encode(b)), "batch record changed");
            assertEq(b.merkleRoot, r.root, "batch root changed");
            assertEq(b.daCommitmentHash, r.daHash, "batch DA commitment changed");
            assertEq(b.firstIndex, r.firstIndex, "batch first index changed");
            assertEq(b.stepCount, r.count, "batch step count changed");
            assertEq(b.committedAt, r.committedAt, "batch commit time changed");
            assertEq(b.challengeWindow, r.window, "batch window changed");
        }
        for (uint256 a; a < 3; ++a) {
            uint256 id = h.agentIds(a);
            uint64 next = traceLog.nextSequence(id);
            assertEq(next, h.ghostBatchCount(a), "one batch per sequence, gapless");
            assertFalse(traceLog.isCommitted(id, next), "nothing beyond the next sequence");
            assertGe(traceLog.lastFinalizesAt(id), h.ghostMaxFinalizesAt(a), "unlock covers every window");
            // the packed counters agree with the last record and the account
            uint32 covered = traceLog.coveredCalls(id);
            assertLe(covered, AgentAccount(payable(registry.accountOf(id))).callCount(), "coverage within calls made");
            if (next > 0) {
                Batch memory last = h.recordOf(id, next - 1);
                assertEq(traceLog.nextStepIndex(id), last.firstIndex + last.stepCount, "next step index");
                assertGe(covered, last.callsCovered, "coverage never goes back");
                assertGe(traceLog.lastFinalizesAt(id), last.committedAt + last.challengeWindow, "last window");
            } else {
                assertEq(traceLog.nextStepIndex(id), 0);
            }
        }
    }

    /// One pass over the game's disputes:
    ///  - only the dispute game slashes: every slashed wei belongs to a Slashed dispute;
    ///  - votes count once, only in their own dispute, only with stake registered before it
    ///    opened, and the quorum snapshot holds exactly that stake (matches the books);
    ///  - the registry's open-dispute counter equals the game's open disputes, and the game
    ///    holds exactly their bonds.
    function _disputes() internal view {
        uint256 slashedEth;
        uint256 slashedTok;
        uint256[3] memory open;
        uint256 escrow;
        uint256 n = game.disputeCount();
        for (uint256 id = 1; id <= n; ++id) {
            DisputeGame.Dispute memory d = game.dispute(id);
            if (d.slashedEth + d.slashedToken != 0) {
                assertEq(uint8(d.status), uint8(DisputeStatus.Slashed), "only slashed disputes take bonds");
            }
            slashedEth += d.slashedEth;
            slashedTok += d.slashedToken;
            if (d.status == DisputeStatus.Open) {
                escrow += d.bond;
                for (uint256 a; a < 3; ++a) if (h.agentIds(a) == d.agentId) open[a]++;
            }
            uint256 rec = h.recordOf(id);
            if (rec == 0) continue; // settled on chain (breach / equivocation)
            CovenantHandler.DisputeRec memory r = h.disputeRec(rec - 1);
            assertEq(d.forStake, r.forStake, "votes for counted once, with eligible stake");
            assertEq(d.againstStake, r.againstStake, "votes against counted once, with eligible stake");
            assertEq(d.stakeSnapshot, r.snapshot, "quorum snapshot is the stake that can vote");
            assertEq(uint8(d.status), uint8(r.status), "status");
            assertLe(d.forStake + d.againstStake, d.stakeSnapshot, "never more votes than stake");
        }
        assertEq(vault.totalSlashedEth(), slashedEth, "slashed eth == sum over disputes");
        assertEq(vault.totalSlashedToken(), slashedTok, "slashed token == sum over disputes");
        for (uint256 a; a < 3; ++a) {
            assertEq(registry.openDisputes(h.agentIds(a)), open[a], "registry counter == open disputes in the game");
            assertEq(open[a], h.ghostOpenDisputes(a), "open disputes match the books");
        }
        assertEq(address(game).balance, escrow, "game holds exactly the open bonds");
        assertEq(escrow, h.ghostGameEscrow(), "escrow matches the books");
    }
}
