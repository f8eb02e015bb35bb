// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {Batch, DisputeKind, DisputeStatus} from "../src/CovenantTypes.sol";
import {TraceLog} from "../src/TraceLog.sol";

/// @notice DataWithheld settled by evidence: on a local (`0xc0 ‖ sha256(blob)`) commitment,
///         anyone answers by publishing the blob before the deadline; unanswered, the agent
///         is slashed without a vote. On other commitments the quorum still decides.
contract DataWithheldTest is Fixture {
    bytes internal blob = bytes("the batch blob: steps 0..2 of agent 1, canonical JSON");
    bytes internal commitment;
    uint64 internal seq;

    function setUp() public override {
        super.setUp();
        commitment = abi.encodePacked(bytes1(0xc0), sha256(blob));
        seq = _commitWith(commitment);
    }

    function _commitWith(bytes memory da) internal returns (uint64 s) {
        bytes32[] memory leaves = _buildBatch(agentId, _one(_ws(shop, 0.5 ether, "")));
        s = traceLog.nextSequence(agentId);
        _commitAs(registry.agent(agentId).operator, agentId, s, Merkle.root(leaves), da, uint32(leaves.length));
    }

    function _challenge(address who, uint64 s, bytes memory da) internal returns (uint256 id) {
        bytes32 key = game.targetKey(DisputeKind.DataWithheld, agentId, s, 0, game.dataSubject(da));
        bytes32 salt = keccak256(abi.encode("dw", who, s));
        _commitEvidence(who, key, salt);
        vm.roll(block.number + 1);
        vm.deal(who, who.balance + CHALLENGER_BOND);
        vm.prank(who);
        id = game.challengeData{value: CHALLENGER_BOND}(agentId, s, _batch(agentId, s), da, salt);
    }

    // ---------------------------------------------------------------- opening

    function test_challenge_localCommitmentIsDecidedByEvidence() public {
        uint256 id = _challenge(challenger, seq, commitment);
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.kind), uint8(DisputeKind.DataWithheld));
        assertEq(d.subject, sha256(blob), "the subject is the blob's sha256");
        assertEq(d.stepIndex, 0);
        assertEq(registry.openDisputes(agentId), 1);
        // no verifier vote counts on it
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DecidedByEvidence.selector, id));
        game.submitVerdicts(id, _votes(id, true, 4));
    }

    function test_challenge_wrongCommitmentRefused() public {
        bytes memory other = abi.encodePacked(bytes1(0xc0), sha256("another blob"));
        bytes32 salt = "x";
        _commitEvidence(challenger, game.targetKey(DisputeKind.DataWithheld, agentId, seq, 0, sha256("another blob")), salt);
        vm.roll(block.number + 1);
        vm.deal(challenger, CHALLENGER_BOND);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.WrongCommitment.selector);
        game.challengeData{value: CHALLENGER_BOND}(agentId, seq, _batch(agentId, seq), other, salt);
    }

    /// a challenger cannot dodge the commitment check with a record of its own making: the
    /// record must be the committed one, whatever field is edited
    function testFuzz_challenge_wrongRecordRefused(uint8 field, bytes32 noise) public {
        vm.assume(noise != bytes32(0));
        Batch memory b = _editRecord(_batch(agentId, seq), field, noise);
        bytes32 salt = "x";
        _commitEvidence(challenger, game.targetKey(DisputeKind.DataWithheld, agentId, seq, 0, sha256(blob)), salt);
        vm.roll(block.number + 1);
        vm.deal(challenger, CHALLENGER_BOND);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.challengeData{value: CHALLENGER_BOND}(agentId, seq, b, commitment, salt);
    }

    function test_openDispute_refusesDataWithheld() public {
        bytes32 subject = sha256(blob);
        vm.deal(challenger, CHALLENGER_BOND);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.UseChallengeData.selector);
        game.openDispute{value: CHALLENGER_BOND}(DisputeKind.DataWithheld, agentId, seq, _batch(agentId, seq), 0, subject, 0, 0);
    }

    function test_challenge_outsideWindowRefused() public {
        vm.warp(block.timestamp + WINDOW + 1);
        bytes32 key = game.targetKey(DisputeKind.DataWithheld, agentId, seq, 0, sha256(blob));
        _commitEvidence(challenger, key, "late");
        vm.roll(block.number + 1);
        vm.deal(challenger, CHALLENGER_BOND);
        vm.prank(challenger);
        uint64 closesAt = _batch(agentId, seq).committedAt + WINDOW;
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.OutsideChallengeWindow.selector, agentId, seq, closesAt));
        game.challengeData{value: CHALLENGER_BOND}(agentId, seq, _batch(agentId, seq), commitment, "late");
    }

    // ---------------------------------------------------------------- answered: the honest agent

    function test_answer_publishesBlobAndPaysResponder() public {
        uint256 id = _challenge(challenger, seq, commitment);
        uint256 bondBefore = vault.bondOf(agentId).eth;
        vm.expectEmit(address(game));
        emit DisputeGame.DataPublished(id, agentId, sha256(blob), seq, blob);
        vm.expectEmit(address(game));
        emit DisputeGame.DisputeResolved(id, agentId, DisputeStatus.Rejected, 0, 0);
        vm.prank(stranger); // anyone holding the blob may answer
        game.answerDataWithheld(id, blob);

        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Rejected));
        assertEq(vault.bondOf(agentId).eth, bondBefore, "the honest agent keeps its bond");
        assertEq(vault.ethCredits(stranger), CHALLENGER_BOND, "the challenger's bond pays whoever answered");
        assertEq(vault.ethCredits(challenger), 0);
        assertEq(address(game).balance, 0);
        assertEq(registry.openDisputes(agentId), 0);
        // settled: neither a late slash nor a second answer
        vm.warp(game.dispute(id).deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeNotOpen.selector, id, DisputeStatus.Rejected));
        game.resolveExpired(id);
    }

    function test_answer_atTheDeadlineStillCounts() public {
        uint256 id = _challenge(challenger, seq, commitment);
        vm.warp(game.dispute(id).deadline);
        vm.prank(owner);
        game.answerDataWithheld(id, blob);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Rejected));
    }

    function test_answer_wrongBlobRefused() public {
        uint256 id = _challenge(challenger, seq, commitment);
        bytes memory wrong = bytes.concat(blob, "!");
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BlobMismatch.selector, sha256(blob), sha256(wrong)));
        game.answerDataWithheld(id, wrong);
    }

    function test_answer_afterDeadlineRefused() public {
        uint256 id = _challenge(challenger, seq, commitment);
        uint64 deadline = game.dispute(id).deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DeadlinePassed.selector, id, deadline));
        game.answerDataWithheld(id, blob);
    }

    function test_answer_onlyDataWithheldOnCheckableCommitments() public {
        uint256 fraud = _openDispute(challenger, DisputeKind.InferenceFraud, agentId, seq, 1, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotAnswerable.selector, fraud));
        game.answerDataWithheld(fraud, blob);
        uint64 s2 = _commitWith(_da(agentId, 1)); // an EigenDA-like certificate: not checkable here
        uint256 q = _challenge(challenger, s2, _da(agentId, 1));
        assertEq(game.dispute(q).subject, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotAnswerable.selector, q));
        game.answerDataWithheld(q, blob);
    }

    // ---------------------------------------------------------------- unanswered: the cheater

    function test_unanswered_slashesAtTheDeadline() public {
        uint256 id = _challenge(challenger, seq, commitment);
        vm.warp(game.dispute(id).deadline);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DeadlineNotReached.selector, id, game.dispute(id).deadline));
        game.resolveExpired(id);
        vm.warp(game.dispute(id).deadline + 1);
        uint256 sEth = BOND_ETH * SLASH_BPS / 10_000;
        vm.prank(stranger);
        game.resolveExpired(id);
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.status), uint8(DisputeStatus.Slashed));
        assertEq(d.slashedEth, sEth);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH - sEth);
        assertEq(vault.ethCredits(challenger), sEth * CHALLENGER_BPS / 10_000 + CHALLENGER_BOND, "reward + bond back");
        assertTrue(game.faultProven(game.targetKey(DisputeKind.DataWithheld, agentId, seq, 0, sha256(blob))));
        assertEq(registry.openDisputes(agentId), 0);
    }

    function test_quorumMode_stillVotedOnUncheckableCommitments() public {
        uint64 s2 = _commitWith(_da(agentId, 1));
        uint256 id = _challenge(challenger, s2, _da(agentId, 1));
        assertEq(uint8(game.submitVerdicts(id, _votes(id, false, 3))), uint8(DisputeStatus.Rejected));
        assertEq(vault.ethCredits(owner), CHALLENGER_BOND, "rejected by the quorum: the bond goes to the owner");
    }

    // ---------------------------------------------------------------- fuzz

    /// Only the exact blob answers; any other bytes are refused and change nothing.
    function testFuzz_answer_onlyTheCommittedBlob(bytes calldata other) public {
        vm.assume(keccak256(other) != keccak256(blob));
        uint256 id = _challenge(challenger, seq, commitment);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BlobMismatch.selector, sha256(blob), sha256(other)));
        game.answerDataWithheld(id, other);
        assertEq(uint8(game.dispute(id).status), uint8(DisputeStatus.Open));
        assertEq(address(game).balance, CHALLENGER_BOND);
    }

    /// Answered or not, the challenger bond and the agent's bond are conserved: the bond goes
    /// to exactly one party and the slash happens only when nobody answered.
    function testFuzz_settlement_conservesValue(bool answer, uint32 delay, address responder) public {
        vm.assume(responder != address(0) && responder != challenger && responder != owner);
        uint256 id = _challenge(challenger, seq, commitment);
        uint64 deadline = game.dispute(id).deadline;
        vm.warp(block.timestamp + bound(delay, 0, DISPUTE_PERIOD - 1));
        if (answer) {
            vm.prank(responder);
            game.answerDataWithheld(id, blob);
            assertEq(vault.ethCredits(responder), CHALLENGER_BOND);
            assertEq(vault.bondOf(agentId).eth, BOND_ETH);
        } else {
            vm.warp(deadline + 1);
            game.resolveExpired(id);
            assertEq(vault.bondOf(agentId).eth, BOND_ETH - BOND_ETH * SLASH_BPS / 10_000);
        }
        assertEq(address(game).balance, 0);
    }
}
