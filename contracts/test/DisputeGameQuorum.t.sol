// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Fixture} from "./utils/Fixture.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {TraceLog} from "../src/TraceLog.sol";
import {BondVault} from "../src/BondVault.sol";
import {AgentRegistry} from "../src/AgentRegistry.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {Batch, DisputeKind, DisputeStatus} from "../src/CovenantTypes.sol";

/// @notice Disputes the verifier quorum settles: opening, EIP-712 verdicts, quorum for and
///         against, expiry, and every way a vote could be counted twice or out of place.
contract DisputeGameQuorumTest is Fixture {
    uint64 internal seq;

    function setUp() public override {
        super.setUp();
        seq = _honestBatch(); // 3 steps
    }

    function _key(DisputeKind kind, uint64 s, uint32 step, bytes32 subject) internal view returns (bytes32) {
        return game.targetKey(kind, agentId, s, step, subject);
    }

    function _fraud() internal returns (uint256) {
        return _openDispute(challenger, DisputeKind.InferenceFraud, agentId, seq, 1, bytes32(0));
    }

    /// Every quorum kind on a batch takes its record: an edited one (a window stretched past
    /// its close, a step range widened to reach a step that is not there) is refused.
    function testFuzz_openDispute_wrongRecordRefused(uint8 kindSeed, uint8 field, bytes32 noise) public {
        vm.assume(noise != bytes32(0));
        DisputeKind[4] memory kinds =
            [DisputeKind.InferenceFraud, DisputeKind.SubjectiveClaim, DisputeKind.InvalidBatch, DisputeKind.TraceMismatch];
        DisputeKind kind = kinds[kindSeed % 4];
        uint32 step = kind == DisputeKind.InvalidBatch ? 0 : 1;
        Batch memory edited = _editRecord(_batch(agentId, seq), field, noise);
        _commitEvidence(challenger, _key(kind, seq, step, 0), "w");
        vm.roll(block.number + 1);
        uint256 bond = game.bondFor(kind);
        vm.deal(challenger, bond);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.openDispute{value: bond}(kind, agentId, seq, edited, step, 0, 0, "w");
        // the committed record opens it
        vm.prank(challenger);
        game.openDispute{value: bond}(kind, agentId, seq, _batch(agentId, seq), step, 0, 0, "w");
    }

    /// After the window, a record stretched to reopen it is refused: the batch stays closed.
    function test_openDispute_stretchedWindowRefusedAfterClose() public {
        Batch memory b = _batch(agentId, seq);
        vm.warp(uint256(b.committedAt) + b.challengeWindow + 1);
        _commitEvidence(challenger, _key(DisputeKind.InferenceFraud, seq, 1, 0), "late");
        vm.roll(block.number + 1);
        vm.deal(challenger, CHALLENGER_BOND);
        b.committedAt = uint64(block.timestamp);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, b, 1, 0, 0, "late");
    }

    function _submit(uint256 id, DisputeGame.Vote[] memory v) internal returns (DisputeStatus) {
        return game.submitVerdicts(id, v);
    }

    function _single(DisputeGame.Vote memory v) internal pure returns (DisputeGame.Vote[] memory a) {
        a = new DisputeGame.Vote[](1);
        a[0] = v;
    }

    // ---------------------------------------------------------------- opening

    function test_open_recordsDispute() public {
        bytes32 key = _key(DisputeKind.InferenceFraud, seq, 1, bytes32(0));
        _commitEvidence(challenger, key, "s");
        vm.roll(block.number + 1);
        vm.deal(challenger, CHALLENGER_BOND);
        uint64 deadline = uint64(block.timestamp) + DISPUTE_PERIOD;
        vm.expectEmit(address(game));
        emit DisputeGame.DisputeOpened(
            1, agentId, DisputeKind.InferenceFraud, seq, 1, bytes32(0), challenger, CHALLENGER_BOND, deadline
        );
        vm.expectEmit(address(registry));
        emit AgentRegistry.OpenDisputesChanged(agentId, 1);
        vm.prank(challenger);
        uint256 id = game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, "s");
        assertEq(id, 1);

        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.kind), uint8(DisputeKind.InferenceFraud));
        assertEq(uint8(d.status), uint8(DisputeStatus.Open));
        assertEq(d.agentId, agentId);
        assertEq(d.sequence, seq);
        assertEq(d.stepIndex, 1);
        assertEq(d.challenger, challenger);
        assertEq(d.bond, CHALLENGER_BOND);
        assertEq(d.openedAt, block.timestamp);
        assertEq(d.openedBlock, block.number - 1, "the block the challenge was committed in");
        assertEq(d.deadline, deadline);
        assertEq(d.stakeSnapshot, 4 * MIN_STAKE);
        assertEq(d.forStake + d.againstStake, 0);
        assertEq(address(game).balance, CHALLENGER_BOND);
        assertEq(challenger.balance, 0);
        assertEq(game.openDisputeOn(key), id);
        assertEq(registry.openDisputes(agentId), 1);
    }

    function test_open_rejectsProvableKinds() public {
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotQuorumKind.selector, DisputeKind.PolicyBreach));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.PolicyBreach, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotQuorumKind.selector, DisputeKind.Equivocation));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.Equivocation, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
    }

    function test_open_requiresExactBond() public {
        vm.deal(address(this), 10 ether);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongBond.selector, 0, CHALLENGER_BOND));
        game.openDispute(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongBond.selector, CHALLENGER_BOND - 1, CHALLENGER_BOND));
        game.openDispute{value: CHALLENGER_BOND - 1}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongBond.selector, CHALLENGER_BOND + 1, CHALLENGER_BOND));
        game.openDispute{value: CHALLENGER_BOND + 1}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongBond.selector, CHALLENGER_BOND, SUBJECTIVE_BOND));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.SubjectiveClaim, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
        assertEq(game.bondFor(DisputeKind.SubjectiveClaim), SUBJECTIVE_BOND);
        assertEq(game.bondFor(DisputeKind.UntracedAction), CHALLENGER_BOND);
    }

    function test_open_rejectsBadTargets() public {
        vm.deal(address(this), 10 ether);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 42));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, 42, 0, _recordOf(42, 0), 0, keccak256("tx"), 0, 0);
        vm.expectRevert(DisputeGame.BadTarget.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, agentId, 0, _recordOf(agentId, 0), 0, bytes32(0), 0, 0);
        vm.expectRevert(DisputeGame.BadTarget.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, agentId, 1, _recordOf(agentId, 1), 0, keccak256("tx"), 0, 0);
        vm.expectRevert(DisputeGame.BadTarget.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, agentId, 0, _recordOf(agentId, 0), 1, keccak256("tx"), 0, 0);
        vm.expectRevert(DisputeGame.BadTarget.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, 0);
        Batch memory b = _batch(agentId, seq);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.StepNotInBatch.selector, uint64(b.stepCount) + b.firstIndex, b.firstIndex, b.stepCount
            )
        );
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), b.stepCount, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.UnknownBatch.selector, agentId, seq + 1));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq + 1, _recordOf(agentId, seq + 1), 0, 0, 0, 0);
        uint64 closesAt = b.committedAt + b.challengeWindow;
        vm.warp(closesAt + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.OutsideChallengeWindow.selector, agentId, seq, closesAt));
        game.openDispute{value: SUBJECTIVE_BOND}(DisputeKind.SubjectiveClaim, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, 0);
    }

    function test_open_needsCommitReveal() public {
        bytes32 key = _key(DisputeKind.InvalidBatch, seq, 0, bytes32(0));
        vm.deal(mallory, 1 ether);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, "s");
        _commitEvidence(mallory, key, "s");
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceTooFresh.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, "s");
        // another account replaying the reveal without its own commitment
        vm.roll(block.number + 1);
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, "s");
        vm.prank(mallory);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 0, 0, 0, "s");
    }

    function test_open_noVerifiers() public {
        VerifierRegistry empty = new VerifierRegistry(work, MIN_STAKE, EXIT_DELAY);
        AgentRegistry r = new AgentRegistry(DISPUTE_PERIOD, UNBONDING_DELAY, MIN_POLICY_DELAY);
        TraceLog l = new TraceLog(r);
        BondVault v = new BondVault(r, l, token, redistribution, CHALLENGER_BPS, REDISTRIBUTION_BPS);
        DisputeGame g = new DisputeGame(r, l, v, empty, CHALLENGER_BOND, SUBJECTIVE_BOND, SLASH_BPS, QUORUM_BPS, forks);
        r.setDisputeGame(address(g));
        v.setDisputeGame(address(g));
        bytes32[] memory d = _digests();
        uint256 id = r.register(operator, agentWallet, 0, d, _defaultPolicy(), POLICY_DELAY);
        vm.deal(address(this), 1 ether);
        bytes32 key = g.targetKey(DisputeKind.UntracedAction, id, 0, 0, keccak256("tx"));
        g.commitEvidence(g.evidenceCommitment(address(this), key, 0));
        vm.roll(block.number + 1);
        vm.expectRevert(DisputeGame.NoVerifiers.selector);
        g.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, id, 0, _recordOf(id, 0), 0, keccak256("tx"), 0, 0);
    }

    function test_open_duplicateWhileOpen() public {
        uint256 id = _fraud();
        bytes32 key = _key(DisputeKind.InferenceFraud, seq, 1, bytes32(0));
        _commitEvidence(mallory, key, "dup");
        vm.roll(block.number + 1);
        vm.deal(mallory, CHALLENGER_BOND);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.AlreadyDisputed.selector, id));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, "dup");
        // other targets on the same batch are independent
        uint256 id2 = _openDispute(mallory, DisputeKind.InferenceFraud, agentId, seq, 2, bytes32(0));
        uint256 id3 = _openDispute(mallory, DisputeKind.InvalidBatch, agentId, seq, 0, bytes32(0));
        assertEq(id2, id + 1);
        assertEq(id3, id + 2);
        assertEq(registry.openDisputes(agentId), 3);
        vm.warp(game.dispute(id).deadline + 1);
        game.resolveExpired(id);
        assertEq(game.openDisputeOn(key), 0);
    }

    function test_open_againAfterExpiry() public {
        bytes32 subject = keccak256("0xuntraced");
        uint256 id = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, subject);
        bytes32 key = _key(DisputeKind.UntracedAction, 0, 0, subject);
        _commitEvidence(mallory, key, "dup");
        vm.roll(block.number + 1);
        vm.deal(mallory, CHALLENGER_BOND);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.AlreadyDisputed.selector, id));
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, agentId, 0, _recordOf(agentId, 0), 0, subject, 0, "dup");
        vm.warp(game.dispute(id).deadline + 1);
        game.resolveExpired(id);
        // expired is not rejected: the target can be disputed again
        vm.prank(mallory);
        uint256 again = game.openDispute{value: CHALLENGER_BOND}(DisputeKind.UntracedAction, agentId, 0, _recordOf(agentId, 0), 0, subject, 0, "dup");
        assertEq(game.openDisputeOn(key), again);
        assertEq(registry.openDisputes(agentId), 1);
    }

    // ---------------------------------------------------------------- harm repaid first

    function _openWithHarm(DisputeKind kind, uint32 step, bytes32 subject, uint256 harm) internal returns (uint256 id) {
        uint64 s = kind == DisputeKind.UntracedAction ? 0 : seq;
        bytes32 salt = keccak256(abi.encode("harm", harm, kind));
        _commitEvidence(challenger, _key(kind, s, step, subject), salt);
        vm.roll(block.number + 1);
        uint256 bond = game.bondFor(kind);
        vm.deal(challenger, challenger.balance + bond);
        Batch memory b = _recordOf(agentId, s);
        vm.prank(challenger);
        id = game.openDispute{value: bond}(kind, agentId, s, b, step, subject, harm, salt);
    }

    function test_harm_repaidToTheOwnerBeforeAnyReward() public {
        // the slash share (50 % of 10 ETH) exceeds the harm: the owner gets the harm, the rest is split
        uint256 id = _openWithHarm(DisputeKind.InferenceFraud, 1, bytes32(0), 2 ether);
        assertEq(game.dispute(id).harm, 2 ether);
        _submit(id, _votes(id, true, 3));
        uint256 sEth = BOND_ETH * SLASH_BPS / 10_000;
        assertEq(game.dispute(id).slashedEth, sEth);
        assertEq(vault.ethCredits(owner), 2 ether, "the harmed owner is repaid first");
        assertEq(vault.ethCredits(challenger), (sEth - 2 ether) * CHALLENGER_BPS / 10_000 + CHALLENGER_BOND);
    }

    function test_harm_aboveTheSlashShareTakesMore() public {
        // 8 ETH moved: more than the 5 ETH slash share, so 8 ETH is taken, all to the owner
        uint256 id = _openWithHarm(DisputeKind.UntracedAction, 0, keccak256("0xtx"), 8 ether);
        _submit(id, _votes(id, true, 3));
        assertEq(game.dispute(id).slashedEth, 8 ether);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - 8 ether);
        assertEq(vault.ethCredits(owner), 8 ether);
        assertEq(vault.ethCredits(challenger), CHALLENGER_BOND, "no reward left: the bond back only");
    }

    function test_harm_rejectedDisputePaysNobodyButTheOwnerTheBond() public {
        uint256 id = _openWithHarm(DisputeKind.InferenceFraud, 1, bytes32(0), 3 ether);
        _submit(id, _votes(id, false, 3));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND, "only the forfeited challenger bond");
    }

    function test_harm_refusedOnBatchLevelKinds() public {
        bytes32 key = _key(DisputeKind.InvalidBatch, seq, 0, bytes32(0));
        _commitEvidence(challenger, key, "h");
        vm.roll(block.number + 1);
        vm.deal(challenger, CHALLENGER_BOND);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.BadTarget.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InvalidBatch, agentId, seq, _recordOf(agentId, seq), 0, 0, 1 ether, "h");
    }

    /// Whatever the harm, value is conserved: the bond loses exactly what was slashed, the owner
    /// gets min(harm, bond), and the owner's part is never split.
    function testFuzz_harm_conservesValue(uint256 harm) public {
        harm = bound(harm, 1, 100 ether);
        uint256 id = _openWithHarm(DisputeKind.InferenceFraud, 1, bytes32(0), harm);
        _submit(id, _votes(id, true, 3));
        uint256 slashed = game.dispute(id).slashedEth;
        uint256 owed = harm < BOND_ETH ? harm : BOND_ETH;
        uint256 share = BOND_ETH * SLASH_BPS / 10_000;
        assertEq(slashed, owed > share ? owed : share);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - slashed);
        assertEq(vault.ethCredits(owner), owed);
        assertEq(vault.ethCredits(challenger), (slashed - owed) * CHALLENGER_BPS / 10_000 + CHALLENGER_BOND);
    }

    // ---------------------------------------------------------------- verdicts

    function test_verdictDigest_matchesIndependentEip712() public {
        assertEq(game.verdictDigest(7, true), _verdictDigest(block.chainid, address(game), 7, true));
        assertEq(game.verdictDigest(7, false), _verdictDigest(block.chainid, address(game), 7, false));
        vm.chainId(31337_2);
        assertEq(game.verdictDigest(7, true), _verdictDigest(31337_2, address(game), 7, true));
    }

    function test_quorumFor_slashesAndRefundsBond() public {
        uint256 id = _fraud();
        assertEq(uint8(_submit(id, _votes(id, true, 2))), uint8(DisputeStatus.Open), "2 of 4 is below quorum");
        assertEq(game.dispute(id).forStake, 2 * MIN_STAKE);

        uint256 sEth = BOND_ETH * SLASH_BPS / 10_000;
        vm.expectEmit(address(game));
        emit DisputeGame.VerdictCounted(id, verifierAddrs[2], true, MIN_STAKE);
        vm.expectEmit(address(game));
        emit DisputeGame.DisputeResolved(id, agentId, DisputeStatus.Slashed, sEth, BOND_TOKEN * SLASH_BPS / 10_000);
        DisputeStatus st = _submit(id, _single(_vote(verifierPks[2], id, true)));
        assertEq(uint8(st), uint8(DisputeStatus.Slashed));

        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(d.slashedEth, sEth);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - sEth);
        assertEq(vault.ethCredits(challenger), sEth * CHALLENGER_BPS / 10_000 + CHALLENGER_BOND, "reward + bond back");
        assertEq(address(game).balance, 0);
        assertEq(registry.openDisputes(agentId), 0);
        bytes32 key = _key(DisputeKind.InferenceFraud, seq, 1, bytes32(0));
        assertEq(game.openDisputeOn(key), 0);
        assertTrue(game.faultProven(key));

        // the fourth verifier is too late
        DisputeGame.Vote[] memory late = _single(_vote(verifierPks[3], id, true));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeNotOpen.selector, id, DisputeStatus.Slashed));
        game.submitVerdicts(id, late);
        // and the fault cannot be punished again
        _commitEvidence(mallory, key, "again");
        vm.roll(block.number + 1);
        vm.deal(mallory, CHALLENGER_BOND);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, "again");

        vm.prank(challenger);
        vault.claim();
        assertEq(challenger.balance, sEth * CHALLENGER_BPS / 10_000 + CHALLENGER_BOND);
    }

    function test_quorumFor_everyKind() public {
        uint256[4] memory ids;
        ids[0] = _openDispute(challenger, DisputeKind.InferenceFraud, agentId, seq, 0, bytes32(0));
        ids[1] = _openDispute(challenger, DisputeKind.InvalidBatch, agentId, seq, 0, bytes32(0));
        ids[2] = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, keccak256("0xtxhash"));
        ids[3] = _openDispute(challenger, DisputeKind.SubjectiveClaim, agentId, seq, 2, keccak256("claim"));
        assertEq(game.dispute(ids[3]).bond, SUBJECTIVE_BOND);
        assertEq(address(game).balance, 3 * CHALLENGER_BOND + SUBJECTIVE_BOND);
        assertEq(registry.openDisputes(agentId), 4);
        uint256 bond = BOND_ETH;
        uint256 reward;
        for (uint256 i; i < 4; ++i) {
            assertEq(uint8(_submit(ids[i], _votes(ids[i], true, 3))), uint8(DisputeStatus.Slashed));
            uint256 s = bond * SLASH_BPS / 10_000;
            reward += s * CHALLENGER_BPS / 10_000;
            bond -= s;
            assertEq(registry.openDisputes(agentId), 3 - i);
        }
        assertEq(vault.bondOf(agentId).eth, bond);
        assertEq(vault.ethCredits(challenger), reward + 3 * CHALLENGER_BOND + SUBJECTIVE_BOND);
        assertEq(address(game).balance, 0);
    }

    /// Whole-action replay: a TraceMismatch is opened on the first step the agent's registered
    /// code does not produce, with the ordinary challenger bond, in the batch's window, and
    /// settled by the quorum exactly like InferenceFraud.
    function test_traceMismatch_openedOnAStepAndSlashedByTheQuorum() public {
        assertEq(game.bondFor(DisputeKind.TraceMismatch), CHALLENGER_BOND);
        Batch memory b = _batch(agentId, seq);
        vm.deal(address(this), 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.StepNotInBatch.selector, uint64(b.stepCount) + b.firstIndex, b.firstIndex, b.stepCount
            )
        );
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.TraceMismatch, agentId, seq, _recordOf(agentId, seq), b.stepCount, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongBond.selector, SUBJECTIVE_BOND, CHALLENGER_BOND));
        game.openDispute{value: SUBJECTIVE_BOND}(DisputeKind.TraceMismatch, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, 0);

        // the same step may be disputed as an inference lie and as a logic mismatch: two faults
        uint256 fraud = _fraud();
        uint256 id = _openDispute(challenger, DisputeKind.TraceMismatch, agentId, seq, 1, bytes32(0));
        assertTrue(id != fraud);
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.kind), uint8(DisputeKind.TraceMismatch));
        assertEq(d.sequence, seq);
        assertEq(d.stepIndex, 1);
        assertEq(registry.openDisputes(agentId), 2);

        uint256 sEth = BOND_ETH * SLASH_BPS / 10_000;
        assertEq(uint8(_submit(id, _votes(id, true, 3))), uint8(DisputeStatus.Slashed));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - sEth);
        assertEq(vault.ethCredits(challenger), sEth * CHALLENGER_BPS / 10_000 + CHALLENGER_BOND, "reward + bond back");
        bytes32 key = _key(DisputeKind.TraceMismatch, seq, 1, bytes32(0));
        assertTrue(game.faultProven(key));
        assertEq(game.openDisputeOn(key), 0);

        // punished once: the same mismatch cannot be disputed again
        _commitEvidence(mallory, key, "again");
        vm.roll(block.number + 1);
        vm.deal(mallory, CHALLENGER_BOND);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.TraceMismatch, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, "again");
    }

    /// An honest agent is never slashed for a TraceMismatch the quorum rejects: the challenger's
    /// bond goes to the owner and the agent's bond is untouched.
    function test_traceMismatch_rejectedLeavesTheBond() public {
        uint256 id = _openDispute(challenger, DisputeKind.TraceMismatch, agentId, seq, 0, bytes32(0));
        assertEq(uint8(_submit(id, _votes(id, false, 3))), uint8(DisputeStatus.Rejected));
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND);
        assertEq(registry.openDisputes(agentId), 0);
        assertFalse(game.faultProven(_key(DisputeKind.TraceMismatch, seq, 0, bytes32(0))));
    }

    function test_quorumAgainst_bondForfeitedToOwner() public {
        uint256 id = _openDispute(challenger, DisputeKind.SubjectiveClaim, agentId, seq, 0, keccak256("meh"));
        vm.expectEmit(address(game));
        emit DisputeGame.DisputeResolved(id, agentId, DisputeStatus.Rejected, 0, 0);
        DisputeStatus st = _submit(id, _votes(id, false, 3));
        assertEq(uint8(st), uint8(DisputeStatus.Rejected));
        assertEq(vault.ethCredits(owner), SUBJECTIVE_BOND, "griefing costs the challenger its bond");
        assertEq(vault.ethCredits(challenger), 0);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        assertEq(registry.openDisputes(agentId), 0);
        assertEq(game.dispute(id).againstStake, 3 * MIN_STAKE);
        assertFalse(game.faultProven(_key(DisputeKind.SubjectiveClaim, seq, 0, keccak256("meh"))));
    }

    /// Issue 11: with the default three verifiers, one silent verifier vetoed every quorum
    /// dispute. At the deadline the stake that voted decides once half the snapshot voted.
    function test_deadline_aSilentMinorityCannotVeto() public {
        uint256 id = _fraud();
        DisputeGame.Vote[] memory v = new DisputeGame.Vote[](2);
        v[0] = _vote(verifierPks[0], id, true);
        v[1] = _vote(verifierPks[1], id, true);
        assertEq(uint8(_submit(id, v)), uint8(DisputeStatus.Open), "2 of 4: no quorum");
        vm.warp(game.dispute(id).deadline + 1);
        game.resolveExpired(id);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Slashed), "half voted, all at fault");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
        assertEq(vault.ethCredits(challenger), CHALLENGER_BOND + (BOND_ETH / 2) * CHALLENGER_BPS / 10_000, "bond back + reward");
    }

    function test_deadline_aLoneVoterCanNeitherSlashNorVeto() public {
        uint256 id = _fraud();
        uint256 id2 = _openDispute(challenger, DisputeKind.InferenceFraud, agentId, seq, 2, bytes32(0));
        assertEq(uint8(_submit(id, _single(_vote(verifierPks[0], id, true)))), uint8(DisputeStatus.Open));
        DisputeGame.Vote[] memory v = new DisputeGame.Vote[](2);
        v[0] = _vote(verifierPks[0], id2, false);
        v[1] = _vote(verifierPks[1], id2, false);
        _submit(id2, v);
        vm.warp(game.dispute(id2).deadline + 1);
        game.resolveExpired(id);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Expired), "a quarter of the stake is below the turnout");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        game.resolveExpired(id2);
        assertEq(uint8(game.dispute(id2).status), uint8(DisputeStatus.Rejected), "half voted, none at fault");
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND, "the challenger bond of the rejected one goes to the owner");
    }

    /// Issue 11: stake that joined between a challenge's commit and its reveal counted in the
    /// quorum base. The base and the voters are now fixed at the commit.
    function test_stakeJoiningBetweenCommitAndReveal_neitherCountsNorVotes() public {
        bytes32 key = _key(DisputeKind.InferenceFraud, seq, 1, bytes32(0));
        _commitEvidence(challenger, key, "late");
        vm.roll(block.number + 1);
        _registerVerifiers(4, 5 ether); // a latecomer with more stake than everyone else
        vm.roll(block.number + 1);
        vm.deal(challenger, challenger.balance + CHALLENGER_BOND);
        vm.prank(challenger);
        uint256 id = game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 1, bytes32(0), 0, "late");
        assertEq(game.dispute(id).stakeSnapshot, 4 * MIN_STAKE, "the base is the stake at the commit");
        DisputeGame.Vote[] memory late = new DisputeGame.Vote[](4);
        for (uint256 i; i < 4; ++i) late[i] = _vote(verifierPks[4 + i], id, false);
        _submit(id, late);
        assertEq(game.dispute(id).againstStake, 0, "latecomers do not vote");
        DisputeGame.Vote[] memory v = new DisputeGame.Vote[](3);
        for (uint256 i; i < 3; ++i) v[i] = _vote(verifierPks[i], id, true);
        assertEq(uint8(_submit(id, v)), uint8(DisputeStatus.Slashed));
    }

    function test_mixedVotes_noQuorumThenExpiry() public {
        uint256 id = _fraud();
        DisputeGame.Vote[] memory v = new DisputeGame.Vote[](4);
        v[0] = _vote(verifierPks[0], id, true);
        v[1] = _vote(verifierPks[1], id, true);
        v[2] = _vote(verifierPks[2], id, false);
        v[3] = _vote(verifierPks[3], id, false);
        assertEq(uint8(_submit(id, v)), uint8(DisputeStatus.Open));

        uint64 deadline = game.dispute(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DeadlineNotReached.selector, id, deadline));
        game.resolveExpired(id);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DeadlineNotReached.selector, id, deadline));
        game.resolveExpired(id);
        _submit(id, v); // still accepted at the deadline (and ignored: all voted)

        vm.warp(deadline + 1);
        DisputeGame.Vote[] memory none = new DisputeGame.Vote[](0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DeadlinePassed.selector, id, deadline));
        game.submitVerdicts(id, none);

        vm.expectEmit(address(game));
        emit DisputeGame.DisputeResolved(id, agentId, DisputeStatus.Expired, 0, 0);
        vm.prank(stranger); // anyone may settle it
        game.resolveExpired(id);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Expired));
        assertEq(vault.ethCredits(challenger), CHALLENGER_BOND, "refunded");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        assertEq(registry.openDisputes(agentId), 0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeNotOpen.selector, id, DisputeStatus.Expired));
        game.resolveExpired(id);
    }

    function test_unknownDispute() public {
        DisputeGame.Vote[] memory none = new DisputeGame.Vote[](0);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.UnknownDispute.selector, 9));
        game.submitVerdicts(9, none);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.UnknownDispute.selector, 9));
        game.resolveExpired(9);
    }

    // ---------------------------------------------------------------- vote replay

    function test_replay_sameSignatureTwiceInOneCallCountsOnce() public {
        uint256 id = _fraud();
        DisputeGame.Vote memory v = _vote(verifierPks[0], id, true);
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](3);
        vs[0] = v;
        vs[1] = v;
        vs[2] = v;
        vm.recordLogs();
        _submit(id, vs);
        assertEq(vm.getRecordedLogs().length, 1, "one VerdictCounted");
        assertEq(game.dispute(id).forStake, MIN_STAKE);
        assertTrue(game.voteOf(id, verifierAddrs[0]) != 0);
    }

    function test_replay_sameSignatureLaterCountsOnce() public {
        uint256 id = _fraud();
        DisputeGame.Vote[] memory vs = _single(_vote(verifierPks[0], id, true));
        _submit(id, vs);
        vm.roll(block.number + 10);
        vm.recordLogs();
        _submit(id, vs);
        _submit(id, vs);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(game.dispute(id).forStake, MIN_STAKE);
    }

    function test_replay_malleatedSignatureRejected() public {
        uint256 id = _fraud();
        bytes32 digest = game.verdictDigest(id, true);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(verifierPks[0], digest);
        _submit(id, _single(DisputeGame.Vote(true, abi.encodePacked(r, s, v))));
        // the other valid-looking (high-s) form of the same signature
        bytes32 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes32 highS = bytes32(uint256(n) - uint256(s));
        uint8 flipped = v == 27 ? 28 : 27;
        DisputeGame.Vote[] memory vs = _single(DisputeGame.Vote(true, abi.encodePacked(r, highS, flipped)));
        vm.recordLogs();
        game.submitVerdicts(id, vs);
        assertEq(vm.getRecordedLogs().length, 0); // skipped, not counted
        assertEq(game.dispute(id).forStake, MIN_STAKE);
    }

    function test_malformedSignatureDoesNotSinkTheBatch() public {
        uint256 id = _fraud();
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](3);
        vs[0] = DisputeGame.Vote(true, hex"deadbeef"); // wrong length
        vs[1] = _vote(verifierPks[0], id, true);
        vs[2] = DisputeGame.Vote(true, new bytes(65)); // v = 0: invalid
        game.submitVerdicts(id, vs);
        assertEq(game.dispute(id).forStake, MIN_STAKE);
        assertTrue(game.voteOf(id, verifierAddrs[0]) != 0);
    }

    function test_replay_verifierCannotChangeItsVote() public {
        uint256 id = _fraud();
        _submit(id, _single(_vote(verifierPks[0], id, true)));
        _submit(id, _single(_vote(verifierPks[0], id, false)));
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(d.forStake, MIN_STAKE);
        assertEq(d.againstStake, 0);
    }

    function test_replay_signatureForAnotherDisputeDoesNotCount() public {
        uint256 id1 = _fraud();
        uint256 id2 = _openDispute(challenger, DisputeKind.InvalidBatch, agentId, seq, 0, bytes32(0));
        DisputeGame.Vote[] memory forOne = _votes(id1, true, 4);
        vm.recordLogs();
        DisputeStatus st = _submit(id2, forOne);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(uint8(st), uint8(DisputeStatus.Open));
        assertEq(game.dispute(id2).forStake, 0);
        for (uint256 i; i < 4; ++i) assertFalse(game.voteOf(id2, verifierAddrs[i]) != 0);
        // and they still count where they belong
        assertEq(uint8(_submit(id1, forOne)), uint8(DisputeStatus.Slashed));
        assertEq(uint8(game.dispute(id2).status), uint8(DisputeStatus.Open));
    }

    function test_replay_signatureForAnotherChainDoesNotCount() public {
        uint256 id = _fraud();
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](4);
        for (uint256 i; i < 4; ++i) {
            vs[i] = DisputeGame.Vote(true, _sig(verifierPks[i], _verdictDigest(999, address(game), id, true)));
        }
        assertEq(uint8(_submit(id, vs)), uint8(DisputeStatus.Open));
        assertEq(game.dispute(id).forStake, 0);

        // signed by the contract itself while the chain id was different (a fork)
        vm.chainId(999);
        bytes memory forked = _sig(verifierPks[0], game.verdictDigest(id, true));
        vm.chainId(31337);
        _submit(id, _single(DisputeGame.Vote(true, forked)));
        assertEq(game.dispute(id).forStake, 0);
    }

    function test_replay_signatureForAnotherContractDoesNotCount() public {
        DisputeGame other = new DisputeGame(
            registry, traceLog, vault, verifiers, CHALLENGER_BOND, SUBJECTIVE_BOND, SLASH_BPS, QUORUM_BPS, forks
        );
        uint256 id = _fraud();
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](4);
        for (uint256 i; i < 4; ++i) vs[i] = DisputeGame.Vote(true, _sig(verifierPks[i], other.verdictDigest(id, true)));
        assertEq(uint8(_submit(id, vs)), uint8(DisputeStatus.Open));
        assertEq(game.dispute(id).forStake, 0);
    }

    function test_replay_verdictForOtherOutcomeDoesNotFlip() public {
        uint256 id = _fraud();
        // a relayer cannot present a "for" signature as an "against" vote
        bytes memory sigFor = _sig(verifierPks[0], game.verdictDigest(id, true));
        _submit(id, _single(DisputeGame.Vote(false, sigFor)));
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(d.againstStake, 0);
        assertEq(d.forStake, 0);
        assertFalse(game.voteOf(id, verifierAddrs[0]) != 0);
    }

    function test_nonVerifierSignaturesCarryNoWeight() public {
        uint256 id = _fraud();
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](3);
        vs[0] = _vote(MALLORY_PK, id, true);
        vs[1] = _vote(OPERATOR_PK, id, false);
        vs[2] = _vote(0xABCDEF, id, true);
        _submit(id, vs);
        assertEq(game.dispute(id).forStake + game.dispute(id).againstStake, 0);
    }

    // ---------------------------------------------------------------- late verifiers

    function _newVerifier(uint256 pk, uint256 stake) internal returns (address v) {
        v = vm.addr(pk);
        _stake(v, stake);
    }

    function test_lateVerifiers_carryNoWeight() public {
        bytes32 key = _key(DisputeKind.InferenceFraud, seq, 1, bytes32(0));
        _commitEvidence(challenger, key, "s");
        vm.roll(block.number + 1);
        address inBlockAfter;
        uint256 id;
        {
            vm.deal(challenger, CHALLENGER_BOND);
            vm.prank(challenger);
            id = game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, "s");
            inBlockAfter = _newVerifier(0xE2, 5 ether); // same block, after the open
        }
        vm.roll(block.number + 1);
        _newVerifier(0xE3, 5 ether); // a later block

        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](2);
        vs[0] = _vote(0xE2, id, true);
        vs[1] = _vote(0xE3, id, true);
        vm.recordLogs();
        _submit(id, vs);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(game.dispute(id).forStake, 0);
        assertFalse(game.voteOf(id, inBlockAfter) != 0);
        assertEq(game.dispute(id).stakeSnapshot, 4 * MIN_STAKE, "late stake not in the snapshot either");
    }

    /// A cheating operator front-runs the challenger's reveal with a large verifier stake in
    /// the same block. That stake can never vote on the dispute, so it must not count
    /// towards the quorum either, or it makes the quorum unreachable.
    function test_lateVerifiers_sameBlockStakeCannotDiluteQuorum() public {
        bytes32 key = _key(DisputeKind.InferenceFraud, seq, 1, bytes32(0));
        _commitEvidence(challenger, key, "s");
        vm.roll(block.number + 1);
        _newVerifier(0xE1, 100 ether); // same block, just before the open
        vm.deal(challenger, CHALLENGER_BOND);
        vm.prank(challenger);
        uint256 id = game.openDispute{value: CHALLENGER_BOND}(DisputeKind.InferenceFraud, agentId, seq, _recordOf(agentId, seq), 1, 0, 0, "s");
        assertEq(verifiers.votingWeight(vm.addr(0xE1), uint64(block.number)), 0, "no weight in its own block");
        assertEq(game.dispute(id).stakeSnapshot, 4 * MIN_STAKE, "only stake that can vote is counted");

        vm.roll(block.number + 1);
        DisputeGame.Vote[] memory vs = _votes(id, true, 3);
        assertEq(uint8(_submit(id, vs)), uint8(DisputeStatus.Slashed));
    }

    function test_exitedVerifierVoteDoesNotCount() public {
        // a verifier that asked to leave before the dispute and leaves during it
        vm.prank(verifierAddrs[3]);
        verifiers.requestExit();
        vm.warp(block.timestamp + EXIT_DELAY - 1);
        uint256 id = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, keccak256("tx"));
        vm.warp(block.timestamp + 1);
        vm.prank(verifierAddrs[3]);
        verifiers.exit();
        _submit(id, _single(_vote(verifierPks[3], id, true)));
        assertEq(game.dispute(id).forStake, 0);
    }

    // ---------------------------------------------------------------- fuzz

    /// forge-config: default.fuzz.runs = 256
    function testFuzz_quorumThreshold(uint96[3] memory extra, uint8 forMask, uint8 againstMask) public {
        for (uint256 i; i < 3; ++i) {
            _newVerifier(0xEE00 + i, bound(extra[i], MIN_STAKE, 1000 ether));
            verifierPks.push(0xEE00 + i);
            verifierAddrs.push(vm.addr(0xEE00 + i));
        }
        vm.roll(block.number + 1);
        uint256 id = _fraud();
        uint256 snapshot = game.dispute(id).stakeSnapshot;
        assertEq(snapshot, verifiers.totalStake());

        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](7);
        uint256 n;
        uint256 forStake;
        uint256 againstStake;
        for (uint256 i; i < 7; ++i) {
            bool f = (forMask >> i) & 1 == 1;
            bool a = !f && (againstMask >> i) & 1 == 1;
            if (!f && !a) continue;
            vs[n++] = _vote(verifierPks[i], id, f);
            uint256 w = verifiers.verifier(verifierAddrs[i]).stake;
            if (f) forStake += w;
            else againstStake += w;
        }
        assembly {
            mstore(vs, n)
        }
        DisputeStatus st = _submit(id, vs);
        if (forStake * 10_000 >= snapshot * QUORUM_BPS) {
            assertEq(uint8(st), uint8(DisputeStatus.Slashed));
        } else if (againstStake * 10_000 >= snapshot * QUORUM_BPS) {
            assertEq(uint8(st), uint8(DisputeStatus.Rejected));
        } else {
            assertEq(uint8(st), uint8(DisputeStatus.Open));
            assertEq(game.dispute(id).forStake, forStake);
            assertEq(game.dispute(id).againstStake, againstStake);
        }
    }

    function testFuzz_deadline(uint32 dt) public {
        uint256 id = _fraud();
        uint64 deadline = game.dispute(id).deadline;
        uint256 t = block.timestamp + bound(dt, 0, 2 * DISPUTE_PERIOD);
        vm.warp(t);
        DisputeGame.Vote[] memory vs = _votes(id, true, 3);
        if (t > deadline) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.DeadlinePassed.selector, id, deadline));
            game.submitVerdicts(id, vs);
            game.resolveExpired(id);
            assertEq(vault.ethCredits(challenger), CHALLENGER_BOND);
        } else {
            assertEq(uint8(_submit(id, vs)), uint8(DisputeStatus.Slashed));
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeNotOpen.selector, id, DisputeStatus.Slashed));
            game.resolveExpired(id);
        }
    }
}
