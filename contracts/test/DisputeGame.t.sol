// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {TraceLog} from "../src/TraceLog.sol";
import {BondVault} from "../src/BondVault.sol";
import {AgentRegistry} from "../src/AgentRegistry.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {
    Policy, WalletStep, BatchHeader, Batch, Breach, DisputeKind, DisputeStatus
} from "../src/CovenantTypes.sol";

/// @notice Disputes settled on chain: policy-breach proofs and equivocation, plus the
///         commit-reveal that guards every challenge.
contract DisputeGameTest is Fixture {
    WalletStep[] internal steps;
    bytes32[] internal batchLeaves;
    uint64 internal seq;

    /// A batch with an honest payment and one step per kind of breach.
    function _standardBatch() internal {
        WalletStep[] memory ws = new WalletStep[](5);
        ws[0] = _ws(shop, 0.5 ether, ""); // honest
        ws[1] = _ws(shop, 2 ether, ""); // over the cap
        ws[2] = _ws(mallory, 0.1 ether, ""); // off the allowlist
        ws[3] = _ws(dex, 0, abi.encodeWithSelector(APPROVE, mallory, type(uint256).max)); // disallowed selector
        ws[4] = _ws(dex, 0, hex"a9059c"); // calldata shorter than a selector
        bytes32[] memory leaves;
        (seq, leaves) = _commitSteps(ws);
        delete steps;
        for (uint256 i; i < ws.length; ++i) steps.push(ws[i]);
        batchLeaves = leaves;
    }

    function _proof(uint256 walletIdx) internal view returns (bytes32[] memory) {
        return Merkle.proof(batchLeaves, walletIdx + 1);
    }

    // ---------------------------------------------------------------- construction

    function test_constructor_rejectsBadParameters() public {
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 1, 1, 5000, 5000, forks); // quorum not above half
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 1, 1, 5000, 10_001, forks);
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 1, 1, 0, 6000, forks);
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 1, 1, 10_001, 6000, forks);
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 0, 1, 5000, 6000, forks);
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, verifiers, 2, 1, 5000, 6000, forks); // subjective below regular
        VerifierRegistry quick = new VerifierRegistry(work, 1, DISPUTE_PERIOD); // stake could leave mid-dispute
        vm.expectRevert(DisputeGame.BadParameters.selector);
        new DisputeGame(registry, traceLog, vault, quick, 1, 1, 5000, 6000, forks);
        new DisputeGame(registry, traceLog, vault, verifiers, 1, 1, 10_000, 5001, forks);
    }

    function testFuzz_constructor_parameters(
        uint256 bond,
        uint256 subjective,
        uint16 slashBps,
        uint16 quorumBps,
        uint64 exitDelay
    ) public {
        bond = bound(bond, 0, 100 ether);
        subjective = bound(subjective, 0, 100 ether);
        exitDelay = uint64(bound(exitDelay, 0, 2 * DISPUTE_PERIOD));
        VerifierRegistry vr = new VerifierRegistry(work, MIN_STAKE, exitDelay);
        bool ok = quorumBps > 5000 && quorumBps <= 10_000 && slashBps != 0 && slashBps <= 10_000 && bond != 0
            && subjective >= bond && exitDelay > DISPUTE_PERIOD;
        if (!ok) vm.expectRevert(DisputeGame.BadParameters.selector);
        DisputeGame g = new DisputeGame(registry, traceLog, vault, vr, bond, subjective, slashBps, quorumBps, forks);
        if (ok) {
            assertEq(g.challengerBond(), bond);
            assertEq(g.subjectiveBond(), subjective);
            assertEq(g.slashBps(), slashBps);
            assertEq(g.quorumBps(), quorumBps);
        }
    }

    // ---------------------------------------------------------------- commit-reveal

    function test_commitEvidence_firstBlockSticks() public {
        bytes32 c = keccak256("c");
        vm.expectEmit(address(game));
        emit DisputeGame.EvidenceCommitted(c, challenger);
        vm.prank(challenger);
        game.commitEvidence(c);
        uint256 first = block.number;
        vm.roll(block.number + 5);
        vm.recordLogs();
        vm.prank(mallory); // re-committing cannot make someone's commitment "fresh" again
        game.commitEvidence(c);
        assertEq(vm.getRecordedLogs().length, 0);
        assertEq(game.evidenceBlock(c), first);
    }

    function test_evidenceCommitment_bindsChallenger() public view {
        bytes32 e = keccak256("evidence");
        assertEq(game.evidenceCommitment(challenger, e, "s"), keccak256(abi.encode(challenger, e, bytes32("s"))));
        assertTrue(game.evidenceCommitment(challenger, e, "s") != game.evidenceCommitment(mallory, e, "s"));
    }

    // ---------------------------------------------------------------- policy breach

    function _expectBreachSlashes(uint256 walletIdx, Breach expected) internal {
        WalletStep memory s = steps[walletIdx];
        uint256 bondEth = vault.bondOf(agentId).eth;
        uint256 bondTok = vault.bondOf(agentId).token;
        uint256 creditBefore = vault.ethCredits(challenger);
        bytes32 leaf = _walletLeaf(s);
        uint256 expectedId = game.disputeCount() + 1;

        bytes32[] memory proof = _proof(walletIdx);
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "salt");
        vm.roll(block.number + 1);
        vm.expectEmit(address(game));
        emit DisputeGame.PolicyBreachProven(expectedId, agentId, seq, s.index, expected);
        vm.prank(challenger);
        (uint256 id, Breach breach) = game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "salt");
        assertEq(id, expectedId);
        assertEq(uint8(breach), uint8(expected), "breach kind");

        uint256 sEth = bondEth * SLASH_BPS / 10_000;
        uint256 sTok = bondTok * SLASH_BPS / 10_000;
        assertEq(vault.bondOf(agentId).eth, bondEth - sEth, "bond slashed");
        assertEq(vault.bondOf(agentId).token, bondTok - sTok, "token bond slashed");
        assertEq(vault.ethCredits(challenger) - creditBefore, sEth * CHALLENGER_BPS / 10_000, "challenger credited");
        assertTrue(game.faultProven(leaf), "leaf marked");

        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.kind), uint8(DisputeKind.PolicyBreach));
        assertEq(uint8(d.status), uint8(DisputeStatus.Slashed));
        assertEq(d.agentId, agentId);
        assertEq(d.sequence, seq);
        assertEq(d.stepIndex, s.index - _batch(agentId, seq).firstIndex);
        assertEq(d.subject, leaf);
        assertEq(d.challenger, challenger);
        assertEq(d.slashedEth, sEth);
        assertEq(d.slashedToken, sTok);
        assertEq(registry.openDisputes(agentId), 0, "settled at once");
    }

    function test_policyBreach_valueCap() public {
        _standardBatch();
        _expectBreachSlashes(1, Breach.ValueCap);
    }

    function test_policyBreach_targetNotAllowed() public {
        _standardBatch();
        _expectBreachSlashes(2, Breach.TargetNotAllowed);
    }

    function test_policyBreach_selectorNotAllowed() public {
        _standardBatch();
        _expectBreachSlashes(3, Breach.SelectorNotAllowed);
    }

    function test_policyBreach_shortCalldata() public {
        _standardBatch();
        _expectBreachSlashes(4, Breach.SelectorNotAllowed);
    }

    function test_policyBreach_everyBreachInABatch() public {
        _standardBatch();
        _expectBreachSlashes(1, Breach.ValueCap);
        _expectBreachSlashes(2, Breach.TargetNotAllowed);
        _expectBreachSlashes(3, Breach.SelectorNotAllowed);
        _expectBreachSlashes(4, Breach.SelectorNotAllowed);
        assertEq(game.disputeCount(), 4);
        // four halvings
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 16);
    }

    function test_policyBreach_unknownAndStaleVersions() public {
        WalletStep[] memory ws = new WalletStep[](2);
        ws[0] = _ws(shop, 0.5 ether, "");
        ws[0].policyVersion = 9; // never registered: an agent cannot invent a lax policy
        ws[1] = _ws(shop, 0.5 ether, "");
        ws[1].policyVersion = 2; // proposed but not active yet
        Policy memory p = _policy(100 ether, WINDOW, COMMIT_DEADLINE);
        bytes32[] memory d = _digests();
        vm.prank(owner);
        registry.proposeUpdate(agentId, 0, d, p);
        bytes32[] memory leaves;
        (seq, leaves) = _commitSteps(ws);
        (, Breach b) = _proveBreach(challenger, ws[0], seq, Merkle.proof(leaves, 1), "a");
        assertEq(uint8(b), uint8(Breach.UnknownPolicy));
        (, b) = _proveBreach(challenger, ws[1], seq, Merkle.proof(leaves, 2), "b");
        assertEq(uint8(b), uint8(Breach.UnknownPolicy));

        // activate v2, then cite v1 long after it was replaced
        vm.warp(block.timestamp + POLICY_DELAY);
        vm.prank(owner);
        registry.activateUpdate(agentId);
        vm.warp(block.timestamp + COMMIT_DEADLINE);
        ws = new WalletStep[](1);
        ws[0] = _ws(shop, 0.5 ether, "");
        ws[0].policyVersion = 1;
        (seq, leaves) = _commitSteps(ws);
        (, b) = _proveBreach(challenger, ws[0], seq, Merkle.proof(leaves, 1), "c");
        assertEq(uint8(b), uint8(Breach.StalePolicy));
    }

    /// A batch committed in a bundle is proven against like any other once it is opened, and
    /// until then the game says so (BatchNotOpened) instead of calling it unknown.
    function test_policyBreach_bundledBatch() public {
        WalletStep[] memory ws = _one(_ws(shop, 100 ether, "")); // over the value cap
        bytes32[] memory leaves = _buildBatch(agentId, ws);
        TraceLog.Commit[] memory list = new TraceLog.Commit[](1);
        list[0] = TraceLog.Commit(agentId, 0, Merkle.root(leaves), _da(agentId, 0), uint32(leaves.length), false, 0);
        vm.recordLogs();
        vm.prank(operator);
        traceLog.commitBundle(list);
        Batch memory b = recordFromLogs(vm.getRecordedLogs(), agentId, 0);
        _records[agentId][0] = b;
        bytes32[] memory bundleLeaves = new bytes32[](1);
        bundleLeaves[0] = traceLog.bundleLeaf(agentId, 0, keccak256(abi.encode(b)));
        _commitEvidence(challenger, game.policyBreachEvidence(ws[0], 0), "s");
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BatchNotOpened.selector, agentId, 0));
        game.provePolicyBreach(ws[0], 0, b, Merkle.proof(leaves, 1), "s");
        vm.prank(challenger);
        traceLog.openBatch(agentId, 0, b, bundleLeaves, 0);
        vm.prank(challenger);
        (, Breach breach) = game.provePolicyBreach(ws[0], 0, b, Merkle.proof(leaves, 1), "s");
        assertEq(uint8(breach), uint8(Breach.ValueCap));
    }

    function test_policyBreach_honestStepCannotBeSlashed() public {
        _standardBatch();
        bytes32[] memory proof = _proof(0);
        WalletStep memory s = steps[0];
        _commitEvidence(mallory, game.policyBreachEvidence(s, seq), "x");
        vm.roll(block.number + 1);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.NoBreach.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "x");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
    }

    function test_policyBreach_honestStepsWithAllowedCalls() public {
        WalletStep[] memory ws = new WalletStep[](3);
        ws[0] = _ws(dex, MAX_VALUE, abi.encodeWithSelector(SWAP, shop, 1, 2));
        ws[1] = _ws(shop, 0, abi.encodePacked(TRANSFER));
        ws[2] = _ws(dex, 0, "");
        bytes32[] memory leaves;
        (seq, leaves) = _commitSteps(ws);
        for (uint256 i; i < ws.length; ++i) {
            bytes32 salt = bytes32(i);
            _commitEvidence(mallory, game.policyBreachEvidence(ws[i], seq), salt);
            vm.roll(block.number + 1);
            bytes32[] memory proof = Merkle.proof(leaves, i + 1);
            vm.prank(mallory);
            vm.expectRevert(DisputeGame.NoBreach.selector);
            game.provePolicyBreach(ws[i], seq, _recordOf(agentId, seq), proof, salt);
        }
    }

    function test_policyBreach_leafNotInRoot() public {
        _standardBatch();
        // the challenger tampers with an honest step to make it look like a breach
        WalletStep memory forged = steps[0];
        forged.value = 50 ether;
        bytes32[] memory proof = _proof(0);
        _commitEvidence(mallory, game.policyBreachEvidence(forged, seq), "x");
        vm.roll(block.number + 1);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.InvalidMerkleProof.selector);
        game.provePolicyBreach(forged, seq, _recordOf(agentId, seq), proof, "x");

        // a real breaching step with a proof for another leaf
        WalletStep memory s = steps[1];
        bytes32[] memory wrong = _proof(2);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.InvalidMerkleProof.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), wrong, "x");

        // a breaching step not in the tree at all
        WalletStep memory outsider = _ws(mallory, 9 ether, "");
        outsider.index = s.index;
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.InvalidMerkleProof.selector);
        game.provePolicyBreach(outsider, seq, _recordOf(agentId, seq), wrong, "x");
    }

    function test_policyBreach_stepIndexOutsideBatch() public {
        _standardBatch();
        Batch memory b = _batch(agentId, seq);
        WalletStep memory s = steps[1];
        s.index = b.firstIndex + b.stepCount;
        bytes32[] memory proof = _proof(1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.StepNotInBatch.selector, s.index, b.firstIndex, b.stepCount));
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "x");
        // and a step of this batch cited against the next batch
        uint64 next = _honestBatch();
        Batch memory nb = _batch(agentId, next);
        s = steps[1];
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.StepNotInBatch.selector, s.index, nb.firstIndex, nb.stepCount)
        );
        game.provePolicyBreach(s, next, _recordOf(agentId, next), proof, "x");
    }

    function test_policyBreach_unknownBatch() public {
        WalletStep memory s = _ws(mallory, 9 ether, "");
        bytes32[] memory proof = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.UnknownBatch.selector, agentId, 3));
        game.provePolicyBreach(s, 3, _recordOf(agentId, 3), proof, "x");
    }

    function test_policyBreach_sameLeafOnlyOnce() public {
        _standardBatch();
        _expectBreachSlashes(1, Breach.ValueCap);
        WalletStep memory s = steps[1];
        bytes32[] memory proof = _proof(1);
        _commitEvidence(mallory, game.policyBreachEvidence(s, seq), "m");
        vm.roll(block.number + 1);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "m");
        // nor by the first challenger again
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "again");
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "again");
    }

    function test_policyBreach_onlyInsideWindow() public {
        _standardBatch();
        Batch memory b = _batch(agentId, seq);
        uint64 closesAt = b.committedAt + b.challengeWindow;
        WalletStep memory s = steps[1];
        bytes32[] memory proof = _proof(1);
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "late");
        vm.roll(block.number + 1);
        vm.warp(closesAt + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.OutsideChallengeWindow.selector, agentId, seq, closesAt));
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "late");
        vm.warp(closesAt); // the last second of the window still counts
        vm.prank(challenger);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "late");
    }

    function testFuzz_policyBreach_windowBoundary(uint32 dt) public {
        _standardBatch();
        uint64 closesAt = _batch(agentId, seq).committedAt + WINDOW;
        WalletStep memory s = steps[2];
        bytes32[] memory proof = _proof(2);
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "w");
        vm.roll(block.number + 1);
        uint256 t = block.timestamp + bound(dt, 0, 3 * WINDOW);
        vm.warp(t);
        if (t > closesAt) {
            vm.expectRevert(
                abi.encodeWithSelector(DisputeGame.OutsideChallengeWindow.selector, agentId, seq, closesAt)
            );
        }
        vm.prank(challenger);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "w");
        assertEq(vault.bondOf(agentId).eth, t > closesAt ? BOND_ETH : BOND_ETH / 2);
    }

    function testFuzz_policyBreach_valueCap(uint256 value) public {
        WalletStep memory s = _ws(shop, value, "");
        bytes32[] memory leaves;
        (seq, leaves) = _commitSteps(_one(s));
        bytes32[] memory proof = Merkle.proof(leaves, 1);
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "v");
        vm.roll(block.number + 1);
        if (value <= MAX_VALUE) vm.expectRevert(DisputeGame.NoBreach.selector);
        vm.prank(challenger);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "v");
        assertEq(vault.bondOf(agentId).eth, value > MAX_VALUE ? BOND_ETH / 2 : BOND_ETH);
    }

    // ---------------------------------------------------------------- front-running

    function test_frontRun_replayWithoutCommitmentFails() public {
        _standardBatch();
        WalletStep memory s = steps[1];
        bytes32[] memory proof = _proof(1);
        bytes32 evidence = game.policyBreachEvidence(s, seq);
        _commitEvidence(challenger, evidence, "secret");
        vm.roll(block.number + 1);

        // mallory sees the reveal in the mempool and sends it first, from her own account
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "secret");

        // copying the challenger's commitment does not help: it names the challenger
        bytes32 c = game.evidenceCommitment(challenger, evidence, "secret");
        vm.prank(mallory);
        game.commitEvidence(c);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "secret");

        // committing her own in the reveal's block is too fresh
        _commitEvidence(mallory, evidence, "mine");
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceTooFresh.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "mine");

        // the honest challenger's reveal goes through and is paid
        vm.prank(challenger);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "secret");
        assertEq(vault.ethCredits(challenger), BOND_ETH / 2 * CHALLENGER_BPS / 10_000);
        assertEq(vault.ethCredits(mallory), 0);
        assertEq(game.evidenceBlock(game.evidenceCommitment(challenger, evidence, "secret")), 0, "consumed");
    }

    function test_commitReveal_sameBlockFails() public {
        _standardBatch();
        WalletStep memory s = steps[1];
        bytes32[] memory proof = _proof(1);
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "s");
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.EvidenceTooFresh.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "s");
    }

    function test_commitReveal_commitmentBoundToEvidence() public {
        _standardBatch();
        // commit to one step, reveal another
        _commitEvidence(challenger, game.policyBreachEvidence(steps[1], seq), "s");
        vm.roll(block.number + 1);
        WalletStep memory other = steps[2];
        bytes32[] memory proof = _proof(2);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.provePolicyBreach(other, seq, _recordOf(agentId, seq), proof, "s");
        // or the right step with another salt
        WalletStep memory s = steps[1];
        proof = _proof(1);
        vm.prank(challenger);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.provePolicyBreach(s, seq, _recordOf(agentId, seq), proof, "t");
    }

    // ---------------------------------------------------------------- equivocation

    function _header(uint64 sequence, bytes32 root) internal view returns (BatchHeader memory) {
        return BatchHeader(agentId, sequence, root, keccak256(_da(agentId, sequence)), 3);
    }

    function _proveEq(address who, BatchHeader memory a, bytes memory sa, BatchHeader memory b, bytes memory sb)
        internal
        returns (uint256)
    {
        _commitEvidence(who, game.equivocationEvidence(a, b), "eq");
        vm.roll(block.number + 1);
        vm.prank(who);
        return game.proveEquivocation(a, sa, b, sb, _recordOf(b.agentId, b.sequence), "eq");
    }

    function test_equivocation_twoSignedHeaders() public {
        BatchHeader memory a = _header(0, keccak256("fork-a"));
        BatchHeader memory b = _header(0, keccak256("fork-b"));
        bytes memory sa = _signHeader(OPERATOR_PK, a);
        bytes memory sb = _signHeader(OPERATOR_PK, b);
        _commitEvidence(challenger, game.equivocationEvidence(a, b), "eq");
        vm.roll(block.number + 1);
        vm.expectEmit(address(game));
        emit DisputeGame.EquivocationProven(1, agentId, 0);
        vm.prank(challenger);
        uint256 id = game.proveEquivocation(a, sa, b, sb, _recordOf(b.agentId, b.sequence), "eq");
        DisputeGame.Dispute memory d = game.dispute(id);
        assertEq(uint8(d.kind), uint8(DisputeKind.Equivocation));
        assertEq(uint8(d.status), uint8(DisputeStatus.Slashed));
        assertEq(d.subject, traceLog.hashBatchHeader(a));
        assertEq(d.slashedEth, BOND_ETH / 2);
        assertEq(vault.ethCredits(challenger), BOND_ETH / 2 * CHALLENGER_BPS / 10_000);
        assertTrue(game.faultProven(keccak256(abi.encode(DisputeKind.Equivocation, agentId, uint64(0)))));

        // the same sequence cannot be punished twice, even with a third header
        BatchHeader memory c = _header(0, keccak256("fork-c"));
        bytes memory sc = _signHeader(OPERATOR_PK, c);
        _commitEvidence(mallory, game.equivocationEvidence(a, c), "eq");
        vm.roll(block.number + 1);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        game.proveEquivocation(a, sa, c, sc, _recordOf(c.agentId, c.sequence), "eq");
    }

    function test_equivocation_signedHeaderVersusCommittedBatch() public {
        _standardBatch();
        Batch memory committed = _batch(agentId, seq);
        BatchHeader memory onChain =
            BatchHeader(agentId, seq, committed.merkleRoot, committed.daCommitmentHash, committed.stepCount);
        BatchHeader memory receipt = BatchHeader(agentId, seq, keccak256("what I told the user"), onChain.daCommitmentHash, onChain.stepCount);
        bytes memory sr = _signHeader(OPERATOR_PK, receipt);
        _proveEq(challenger, receipt, sr, onChain, "");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
    }

    function test_equivocation_receiptMatchingCommittedBatchIsNotEquivocation() public {
        _standardBatch();
        Batch memory committed = _batch(agentId, seq);
        BatchHeader memory onChain =
            BatchHeader(agentId, seq, committed.merkleRoot, committed.daCommitmentHash, committed.stepCount);
        bytes memory s = _signHeader(OPERATOR_PK, onChain);
        vm.expectRevert(DisputeGame.NotEquivocation.selector);
        game.proveEquivocation(onChain, s, onChain, "", _recordOf(onChain.agentId, onChain.sequence), "x");
        // a header differing from the committed batch, but passed as the "committed" side
        BatchHeader memory other = _header(seq, keccak256("other"));
        bytes memory so = _signHeader(OPERATOR_PK, other);
        BatchHeader memory notCommitted = _header(seq, keccak256("neither"));
        vm.expectRevert(DisputeGame.NotEquivocation.selector);
        game.proveEquivocation(other, so, notCommitted, "", _recordOf(notCommitted.agentId, notCommitted.sequence), "x");
        // an empty second signature for a sequence that was never committed
        BatchHeader memory future = _header(seq + 1, keccak256("f"));
        bytes memory sf = _signHeader(OPERATOR_PK, future);
        BatchHeader memory future2 = _header(seq + 1, keccak256("g"));
        vm.expectRevert(abi.encodeWithSelector(TraceLog.UnknownBatch.selector, agentId, seq + 1));
        game.proveEquivocation(future, sf, future2, "", _recordOf(future2.agentId, future2.sequence), "x");
    }

    function test_equivocation_identicalOrUnrelatedHeadersFail() public {
        BatchHeader memory a = _header(0, keccak256("a"));
        bytes memory sa = _signHeader(OPERATOR_PK, a);
        vm.expectRevert(DisputeGame.NotEquivocation.selector);
        game.proveEquivocation(a, sa, a, sa, _recordOf(a.agentId, a.sequence), "x");
        BatchHeader memory otherSeq = _header(1, keccak256("b"));
        bytes memory so = _signHeader(OPERATOR_PK, otherSeq);
        vm.expectRevert(DisputeGame.NotEquivocation.selector);
        game.proveEquivocation(a, sa, otherSeq, so, _recordOf(otherSeq.agentId, otherSeq.sequence), "x");
        BatchHeader memory otherAgent = _header(0, keccak256("b"));
        otherAgent.agentId = agentId + 1;
        bytes memory sg = _signHeader(OPERATOR_PK, otherAgent);
        vm.expectRevert(DisputeGame.NotEquivocation.selector);
        game.proveEquivocation(a, sa, otherAgent, sg, _recordOf(otherAgent.agentId, otherAgent.sequence), "x");
    }

    function test_equivocation_nonOperatorSignaturesFail() public {
        BatchHeader memory a = _header(0, keccak256("a"));
        BatchHeader memory b = _header(0, keccak256("b"));
        bytes memory good = _signHeader(OPERATOR_PK, a);
        bytes memory forged = _signHeader(MALLORY_PK, b);
        vm.expectRevert(DisputeGame.BadOperatorSignature.selector);
        game.proveEquivocation(a, _signHeader(MALLORY_PK, a), b, _signHeader(OPERATOR_PK, b), _recordOf(b.agentId, b.sequence), "x");
        vm.expectRevert(DisputeGame.BadOperatorSignature.selector);
        game.proveEquivocation(a, good, b, forged, _recordOf(b.agentId, b.sequence), "x");
        // the operator's signature over another chain's or another log's domain is no receipt here
        bytes memory otherChain = _sig(OPERATOR_PK, _headerDigest(999, address(traceLog), b));
        vm.expectRevert(DisputeGame.BadOperatorSignature.selector);
        game.proveEquivocation(a, good, b, otherChain, _recordOf(b.agentId, b.sequence), "x");
        bytes memory otherLog = _sig(OPERATOR_PK, _headerDigest(block.chainid, address(0x1234), b));
        vm.expectRevert(DisputeGame.BadOperatorSignature.selector);
        game.proveEquivocation(a, good, b, otherLog, _recordOf(b.agentId, b.sequence), "x");
        // the owner is not the operator either
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
    }

    function test_equivocation_needsCommitReveal() public {
        BatchHeader memory a = _header(0, keccak256("a"));
        BatchHeader memory b = _header(0, keccak256("b"));
        bytes memory sa = _signHeader(OPERATOR_PK, a);
        bytes memory sb = _signHeader(OPERATOR_PK, b);
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceNotCommitted.selector);
        game.proveEquivocation(a, sa, b, sb, _recordOf(b.agentId, b.sequence), "eq");
        _commitEvidence(mallory, game.equivocationEvidence(a, b), "eq");
        vm.prank(mallory);
        vm.expectRevert(DisputeGame.EvidenceTooFresh.selector);
        game.proveEquivocation(a, sa, b, sb, _recordOf(b.agentId, b.sequence), "eq");
    }

    // ---------------------------------------------------------------- batch records
    // TraceLog keeps one hash per batch; a proof carries the record. An edited record (a
    // window moved so the batch looks closed or still open, more coverage, another root or
    // range) is refused, whoever sends it.

    /// A challenger cannot widen a closed window (or point at another root) to slash.
    function testFuzz_policyBreach_wrongRecordRefused(uint8 field, bytes32 noise) public {
        vm.assume(noise != bytes32(0));
        _standardBatch();
        Batch memory edited = _editRecord(_batch(agentId, seq), field, noise);
        WalletStep memory s = steps[1];
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "r");
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.provePolicyBreach(s, seq, edited, _proof(1), "r");
        // the committed record goes through
        vm.prank(challenger);
        game.provePolicyBreach(s, seq, _batch(agentId, seq), _proof(1), "r");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
    }

    /// The window check reads the record: a record whose window was stretched to reach a
    /// closed batch is refused, so the closed batch stays safe.
    function test_policyBreach_stretchedWindowRefusedAfterClose() public {
        _standardBatch();
        Batch memory b = _batch(agentId, seq);
        uint64 closesAt = b.committedAt + b.challengeWindow;
        WalletStep memory s = steps[1];
        _commitEvidence(challenger, game.policyBreachEvidence(s, seq), "late");
        vm.roll(block.number + 1);
        vm.warp(closesAt + 1);
        b.challengeWindow += 1 days;
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.provePolicyBreach(s, seq, b, _proof(1), "late");
        b.challengeWindow -= 1 days;
        b.committedAt += 1 days;
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.provePolicyBreach(s, seq, b, _proof(1), "late");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH, "the closed batch is safe");
    }

    /// Against the committed batch, the record must be the committed one: a record edited
    /// to look like the receipt (or anything else) proves nothing.
    function testFuzz_equivocation_wrongCommittedRecordRefused(uint8 field, bytes32 noise) public {
        vm.assume(noise != bytes32(0));
        _standardBatch();
        Batch memory committed = _batch(agentId, seq);
        BatchHeader memory onChain =
            BatchHeader(agentId, seq, committed.merkleRoot, committed.daCommitmentHash, committed.stepCount);
        BatchHeader memory receipt =
            BatchHeader(agentId, seq, keccak256("what I told the user"), onChain.daCommitmentHash, onChain.stepCount);
        bytes memory sr = _signHeader(OPERATOR_PK, receipt);
        _commitEvidence(challenger, game.equivocationEvidence(receipt, onChain), "eq");
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.proveEquivocation(receipt, sr, onChain, "", _editRecord(committed, field, noise), "eq");
        // the honest agent's receipt matching the batch is safe even with an edited record
        // that makes the receipt look different: the record is checked first
        bytes memory so = _signHeader(OPERATOR_PK, onChain);
        Batch memory fake = _batch(agentId, seq); // a copy
        fake.merkleRoot = keccak256("not the committed root");
        BatchHeader memory fakeHeader = BatchHeader(agentId, seq, fake.merkleRoot, fake.daCommitmentHash, fake.stepCount);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, seq));
        game.proveEquivocation(onChain, so, fakeHeader, "", fake, "x");
        // the committed record proves the equivocation
        vm.prank(challenger);
        game.proveEquivocation(receipt, sr, onChain, "", committed, "eq");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
    }

    function test_views_unknownDispute() public {
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.UnknownDispute.selector, 1));
        game.dispute(1);
    }
}
