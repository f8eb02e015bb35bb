// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Vm.sol";
import {TraceLog} from "../src/TraceLog.sol";
import {AgentRegistry} from "../src/AgentRegistry.sol";
import {Batch, BatchHeader, Policy} from "../src/CovenantTypes.sol";

contract TraceLogTest is Fixture {
    bytes32 internal constant ROOT = keccak256("root-0");
    bytes internal constant DA = hex"010203";

    function _commit(uint64 seq, bytes32 root, bytes memory da, uint32 count) internal returns (Batch memory) {
        return _commitAs(operator, agentId, seq, root, da, count);
    }

    /// The `fields` word of BatchCommitted, written out here rather than through the contract's
    /// own packBatchFields.
    function _fields(uint64 firstIndex, uint32 stepCount, uint64 committedAt, uint64 window, uint32 covered)
        internal
        pure
        returns (uint256)
    {
        return uint256(firstIndex) * 2 ** 192 + uint256(stepCount) * 2 ** 160 + uint256(committedAt) * 2 ** 96
            + uint256(window) * 2 ** 32 + covered;
    }

    // ---------------------------------------------------------------- commit

    function test_commit_onlyOperator() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotOperator.selector, agentId, owner));
        traceLog.commit(agentId, 0, ROOT, DA, 1);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotOperator.selector, agentId, mallory));
        traceLog.commit(agentId, 0, ROOT, DA, 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.UnknownAgent.selector, 3));
        traceLog.commit(3, 0, ROOT, DA, 1);
        // an operator of one agent cannot commit for another
        uint256 other = _registerAgent(stranger, mallory, agentWallet);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotOperator.selector, other, operator));
        traceLog.commit(other, 0, ROOT, DA, 1);
    }

    function test_commit_rejectsMalformedBatches() public {
        vm.startPrank(operator);
        vm.expectRevert(TraceLog.EmptyBatch.selector);
        traceLog.commit(agentId, 0, ROOT, DA, 0);
        vm.expectRevert(TraceLog.EmptyRoot.selector);
        traceLog.commit(agentId, 0, bytes32(0), DA, 1);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadDaCommitment.selector, 0));
        traceLog.commit(agentId, 0, ROOT, "", 1);
        uint256 max = traceLog.MAX_DA_COMMITMENT_BYTES();
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadDaCommitment.selector, max + 1));
        traceLog.commit(agentId, 0, ROOT, new bytes(max + 1), 1);
        vm.stopPrank();
        _commitAs(operator, agentId, 0, ROOT, new bytes(max), 1);
    }

    /// Every field keeps its own bits at any value (the event's record rebuilds exactly).
    function testFuzz_packBatchFields(uint64 firstIndex, uint32 stepCount, uint64 committedAt, uint64 window, uint32 covered)
        public
        view
    {
        Batch memory b = Batch(ROOT, keccak256(DA), firstIndex, stepCount, committedAt, window, covered);
        uint256 f = traceLog.packBatchFields(b);
        assertEq(f, _fields(firstIndex, stepCount, committedAt, window, covered));
        assertEq(uint64(f >> 192), firstIndex);
        assertEq(uint32(f >> 160), stepCount);
        assertEq(uint64(f >> 96), committedAt);
        assertEq(uint64(f >> 32), window);
        assertEq(uint32(f), covered);
    }

    function test_commit_storesAndEmits() public {
        uint64 t = uint64(block.timestamp);
        vm.expectEmit(address(traceLog));
        emit TraceLog.BatchCommitted(agentId, 0, ROOT, _fields(0, 5, t, WINDOW, 0), DA);
        Batch memory b = _commit(0, ROOT, DA, 5);
        // the chain keeps the record's hash; the event gives the record
        assertEq(traceLog.batchHash(agentId, 0), keccak256(abi.encode(b)));
        assertEq(traceLog.recordHash(b), keccak256(abi.encode(b)));
        assertEq(b.merkleRoot, ROOT);
        assertEq(b.daCommitmentHash, keccak256(DA));
        assertEq(b.firstIndex, 0);
        assertEq(b.stepCount, 5);
        assertEq(b.committedAt, t);
        assertEq(b.challengeWindow, WINDOW);
        assertEq(traceLog.nextSequence(agentId), 1);
        assertEq(traceLog.nextStepIndex(agentId), 5);
        assertEq(traceLog.lastFinalizesAt(agentId), t + WINDOW);
        assertTrue(traceLog.isCommitted(agentId, 0));
        assertFalse(traceLog.isCommitted(agentId, 1));

        vm.warp(t + 10);
        vm.expectEmit(address(traceLog));
        emit TraceLog.BatchCommitted(agentId, 1, keccak256("r1"), _fields(5, 3, t + 10, WINDOW, 0), DA);
        assertEq(_commit(1, keccak256("r1"), DA, 3).firstIndex, 5, "indexes continue across batches");
        assertEq(traceLog.nextStepIndex(agentId), 8);
    }

    function test_commit_gapless() public {
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceGap.selector, agentId, 0, 1));
        traceLog.commit(agentId, 1, ROOT, DA, 1);
        _commit(0, ROOT, DA, 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceGap.selector, agentId, 1, 5));
        traceLog.commit(agentId, 5, ROOT, DA, 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceGap.selector, agentId, 1, type(uint64).max));
        traceLog.commit(agentId, type(uint64).max, ROOT, DA, 1);
    }

    function test_commit_sequenceWrittenOnce() public {
        _commit(0, ROOT, DA, 4);
        uint64 t = uint64(block.timestamp);
        vm.warp(t + 100);
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        traceLog.commit(agentId, 0, keccak256("other"), DA, 4);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        traceLog.commit(agentId, 0, ROOT, hex"0102", 4);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        traceLog.commit(agentId, 0, ROOT, DA, 5);
        // an identical re-send changes nothing either: the chain keeps only the record's hash
        // (a re-send cannot repeat its committedAt), so it is refused like any other; the
        // committer compares its batch with the BatchCommitted event (src/bonds/actions/commitBatch.ts)
        bytes32 stored = traceLog.batchHash(agentId, 0);
        vm.recordLogs();
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        traceLog.commit(agentId, 0, ROOT, DA, 4);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        traceLog.commitCovering(agentId, 0, ROOT, DA, 4, 0);
        assertEq(vm.getRecordedLogs().length, 0, "no event");
        vm.stopPrank();
        assertEq(traceLog.batchHash(agentId, 0), stored, "record unchanged");
        Batch memory b = _batch(agentId, 0);
        assertEq(b.committedAt, t, "commit time unchanged");
        assertEq(traceLog.nextSequence(agentId), 1);
        assertEq(traceLog.nextStepIndex(agentId), 4);
        assertEq(traceLog.lastFinalizesAt(agentId), t + WINDOW);
    }

    /// Whatever a second commit carries, a stored batch never changes.
    /// forge-config: default.fuzz.runs = 512
    function testFuzz_commit_batchesImmutable(uint64 seq, bytes32 root, bytes memory da, uint32 count, uint32 dt)
        public
    {
        Batch memory b0 = _commit(0, ROOT, DA, 4);
        Batch memory b1 = _commit(1, keccak256("r1"), DA, 2);
        if (seq % 3 == 0) seq = seq % 3; // often aim at a taken sequence
        if (uint256(root) % 4 == 0) root = ROOT; // and sometimes repeat content
        if (da.length % 2 == 0) da = DA;
        if (count % 2 == 0) count = seq == 0 ? 4 : 2;
        vm.warp(block.timestamp + dt);
        vm.prank(operator);
        try traceLog.commit(agentId, seq, root, da, count) {
            assertEq(seq, 2, "only the next sequence is written");
        } catch {}
        assertEq(traceLog.batchHash(agentId, 0), keccak256(abi.encode(b0)), "batch 0 changed");
        assertEq(traceLog.batchHash(agentId, 1), keccak256(abi.encode(b1)), "batch 1 changed");
    }

    // ---------------------------------------------------------------- finality

    function test_isFinal_afterWindow() public {
        Batch memory none;
        vm.expectRevert(abi.encodeWithSelector(TraceLog.UnknownBatch.selector, agentId, 0));
        traceLog.isFinal(agentId, 0, none);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.UnknownBatch.selector, agentId, 0));
        traceLog.checkBatch(agentId, 0, none);
        uint64 t = uint64(block.timestamp);
        Batch memory b = _commit(0, ROOT, DA, 1);
        assertFalse(traceLog.isFinal(agentId, 0, b));
        vm.warp(t + WINDOW);
        assertFalse(traceLog.isFinal(agentId, 0, b), "last second of the window");
        vm.warp(t + WINDOW + 1);
        assertTrue(traceLog.isFinal(agentId, 0, b));
    }

    /// A record edited to move the window (or anything else) is refused: nobody can make a
    /// batch look final, or still open, by editing committedAt or challengeWindow.
    function testFuzz_isFinal_wrongRecordRefused(uint8 field, bytes32 noise) public {
        vm.assume(noise != bytes32(0));
        Batch memory b = _commit(0, ROOT, DA, 1);
        Batch memory edited = _editRecord(_commit(1, keccak256("r1"), DA, 2), field, noise);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, 1));
        traceLog.isFinal(agentId, 1, edited);
        // a real record of another batch is wrong here too
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, 1));
        traceLog.isFinal(agentId, 1, b);
    }

    function testFuzz_isFinal(uint64 window, uint32 dt) public {
        window = uint64(bound(window, registry.MIN_CHALLENGE_WINDOW(), UNBONDING_DELAY - DISPUTE_PERIOD - 1));
        Policy memory p = _policy(MAX_VALUE, window, 0);
        bytes32[] memory d = _digests();
        vm.prank(stranger);
        uint256 id = registry.register(operator, agentWallet, 0, d, p, window > POLICY_DELAY ? window : POLICY_DELAY);
        uint64 t = uint64(block.timestamp);
        Batch memory b = _commitAs(operator, id, 0, ROOT, DA, 1);
        assertEq(b.challengeWindow, window);
        vm.warp(t + uint256(dt));
        assertEq(traceLog.isFinal(id, 0, b), uint256(dt) > window);
    }

    function test_commit_windowFixedAtCommitTime() public {
        _commit(0, ROOT, DA, 1);
        bytes32[] memory d = _digests();
        Policy memory p = _policy(MAX_VALUE, 2 hours, 0);
        vm.prank(owner);
        registry.proposeUpdate(agentId, 0, d, p);
        vm.warp(block.timestamp + POLICY_DELAY);
        vm.prank(owner);
        registry.activateUpdate(agentId);
        _commit(1, keccak256("r1"), DA, 1);
        assertEq(_batch(agentId, 0).challengeWindow, WINDOW);
        assertEq(_batch(agentId, 1).challengeWindow, 2 hours);
    }

    /// The last finalization time only moves forward: a batch under a shorter window does
    /// not bring it back.
    function testFuzz_lastFinalizesAt_isMax(uint64 w1, uint64 w2, uint32 gap) public {
        uint64 maxW = UNBONDING_DELAY - DISPUTE_PERIOD - 1;
        w1 = uint64(bound(w1, registry.MIN_CHALLENGE_WINDOW(), maxW));
        w2 = uint64(bound(w2, registry.MIN_CHALLENGE_WINDOW(), maxW));
        bytes32[] memory d = _digests();
        vm.prank(stranger);
        uint64 delay = w1 > MIN_POLICY_DELAY ? w1 : MIN_POLICY_DELAY;
        uint256 id = registry.register(operator, agentWallet, 0, d, _policy(MAX_VALUE, w1, 0), delay);
        vm.prank(stranger);
        registry.proposeUpdate(id, 0, d, _policy(MAX_VALUE, w2, 0));
        // the update waits for the longer of the delay and both windows
        vm.warp(registry.version(id, 2).readyAt);
        uint64 t1 = uint64(block.timestamp);
        vm.prank(operator);
        traceLog.commit(id, 0, ROOT, DA, 1);
        vm.prank(stranger);
        registry.activateUpdate(id);
        vm.warp(t1 + uint256(gap));
        vm.prank(operator);
        traceLog.commit(id, 1, ROOT, DA, 1);
        uint256 a = t1 + w1;
        uint256 b = block.timestamp + w2;
        assertEq(traceLog.lastFinalizesAt(id), a > b ? a : b);
    }

    // ---------------------------------------------------------------- commitMany

    function _entry(uint256 id, uint64 seq, bytes32 root, uint32 n) internal pure returns (TraceLog.Commit memory) {
        return TraceLog.Commit(id, seq, root, abi.encodePacked("da", id, seq), n, false, 0);
    }

    /// 1–4 new agents of `operator` and 1–3 batches each, interleaved (sequence k of every
    /// agent, then k + 1), the k-th of `n + k` steps.
    function _agentsAndBatches(uint8 agents, uint8 perAgent, uint32 n)
        internal
        returns (uint256[] memory ids, TraceLog.Commit[] memory list)
    {
        agents = uint8(bound(agents, 1, 4));
        perAgent = uint8(bound(perAgent, 1, 3));
        n = uint32(bound(n, 1, 5000));
        ids = new uint256[](agents);
        for (uint256 a; a < agents; ++a) ids[a] = _registerAgent(stranger, operator, agentWallet);
        list = new TraceLog.Commit[](uint256(agents) * perAgent);
        for (uint256 k; k < perAgent; ++k) {
            for (uint256 a; a < agents; ++a) {
                list[k * agents + a] = _entry(ids[a], uint64(k), keccak256(abi.encode(a, k)), n + uint32(k));
            }
        }
    }

    /// Several agents of one operator (and several sequences of one agent) in one transaction
    /// store exactly what the same commits one by one store; one refused entry reverts them all.
    /// forge-config: default.fuzz.runs = 128
    function testFuzz_commitMany_sameAsOneByOne(uint8 agents, uint8 perAgent, uint32 n) public {
        (uint256[] memory ids, TraceLog.Commit[] memory list) = _agentsAndBatches(agents, perAgent, n);
        perAgent = uint8(list.length / ids.length);
        uint256 snap = vm.snapshotState();
        vm.prank(operator);
        traceLog.commitMany(list);
        bytes32[] memory many = new bytes32[](list.length);
        for (uint256 i; i < list.length; ++i) many[i] = traceLog.batchHash(list[i].agentId, list[i].sequence);
        uint64 nextIdx0 = traceLog.nextStepIndex(ids[0]);
        vm.revertToState(snap);
        for (uint256 i; i < list.length; ++i) {
            TraceLog.Commit memory c = list[i];
            vm.prank(operator);
            traceLog.commit(c.agentId, c.sequence, c.merkleRoot, c.daCommitment, c.stepCount);
            assertEq(traceLog.batchHash(c.agentId, c.sequence), many[i], "same record");
        }
        assertEq(traceLog.nextStepIndex(ids[0]), nextIdx0, "same counters");
        assertEq(traceLog.nextSequence(ids[0]), perAgent);
    }

    /// `commitMany` (or `commitBundle`) from the operator, expecting `revertData` when it is not empty.
    function _sendList(TraceLog.Commit[] memory list, bool bundled, bytes memory revertData) internal {
        vm.prank(operator);
        if (revertData.length > 0) vm.expectRevert(revertData);
        if (bundled) traceLog.commitBundle(list);
        else traceLog.commitMany(list);
    }

    /// One refused batch refuses the whole list, and nothing is written: another operator's
    /// agent, a gap, a taken sequence (also one taken inside the same list: no two batches for
    /// one sequence), coverage beyond the calls made (as commitCovering). Returns the list made
    /// valid again (sequences 0 and 1 of the agent).
    function _refusedLists(bool bundled) internal returns (TraceLog.Commit[] memory list) {
        uint256 other = _registerAgent(stranger, mallory, agentWallet); // another operator's agent
        list = new TraceLog.Commit[](2);
        list[0] = _entry(agentId, 0, ROOT, 1);
        list[1] = _entry(other, 0, ROOT, 1);
        _sendList(list, bundled, abi.encodeWithSelector(TraceLog.NotOperator.selector, other, operator));
        list[1] = _entry(agentId, 2, ROOT, 1);
        _sendList(list, bundled, abi.encodeWithSelector(TraceLog.SequenceGap.selector, agentId, 1, 2));
        list[1] = _entry(agentId, 0, keccak256("equivocating"), 1);
        _sendList(list, bundled, abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        list[1] = _entry(agentId, 1, ROOT, 1);
        list[1].setCoverage = true;
        list[1].callsCovered = 1;
        _sendList(list, bundled, abi.encodeWithSelector(TraceLog.BadCoverage.selector, 1, 0, 0));
        assertFalse(traceLog.isCommitted(agentId, 0), "nothing written");
        assertEq(traceLog.nextSequence(agentId), 0, "nothing written");
        list[1].callsCovered = 0;
    }

    function test_commitMany_allOrNothing() public {
        TraceLog.Commit[] memory list = _refusedLists(false);
        _sendList(list, false, "");
        assertEq(traceLog.nextSequence(agentId), 2);
    }

    // ---------------------------------------------------------------- commitBundle

    /// `commitBundle` from the operator; returns the leaves (from its BundleCommitted event)
    /// and keeps each batch's record (from its BatchCommitted event) in `_records`.
    function _bundle(TraceLog.Commit[] memory list) internal returns (bytes32 bundle, bytes32[] memory leaves) {
        vm.recordLogs();
        vm.prank(operator);
        bundle = traceLog.commitBundle(list);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == TraceLog.BundleCommitted.selector) {
                assertEq(logs[i].topics[1], bundle, "event names the bundle");
                leaves = abi.decode(logs[i].data, (bytes32[]));
            }
        }
        assertEq(leaves.length, list.length, "one leaf a batch");
        assertEq(keccak256(abi.encodePacked(leaves)), bundle, "the bundle is the hash of its leaves");
        for (uint256 i; i < list.length; ++i) {
            _records[list[i].agentId][list[i].sequence] = recordFromLogs(logs, list[i].agentId, list[i].sequence);
        }
    }

    /// A bundle counts each batch as `commitMany` does (sequence, step index, window, coverage)
    /// and stores one slot for all of them; each batch opens, from the bundle's leaves, to the
    /// record `commitMany` would have stored.
    /// forge-config: default.fuzz.runs = 128
    function testFuzz_commitBundle_sameAsCommitMany(uint8 agents, uint8 perAgent, uint32 n) public {
        (uint256[] memory ids, TraceLog.Commit[] memory list) = _agentsAndBatches(agents, perAgent, n);
        perAgent = uint8(list.length / ids.length);
        uint256 snap = vm.snapshotState();
        vm.prank(operator);
        traceLog.commitMany(list);
        bytes32[] memory many = new bytes32[](list.length);
        for (uint256 i; i < list.length; ++i) many[i] = traceLog.batchHash(list[i].agentId, list[i].sequence);
        uint64 nextIdx = traceLog.nextStepIndex(ids[ids.length - 1]);
        uint64 finalizes = traceLog.lastFinalizesAt(ids[0]);
        vm.revertToState(snap);

        (bytes32 bundle, bytes32[] memory leaves) = _bundle(list);
        assertTrue(traceLog.bundleCommitted(bundle));
        assertEq(traceLog.nextStepIndex(ids[ids.length - 1]), nextIdx, "same counters");
        assertEq(traceLog.nextSequence(ids[0]), perAgent);
        assertEq(traceLog.lastFinalizesAt(ids[0]), finalizes, "same window");
        for (uint256 i; i < list.length; ++i) {
            TraceLog.Commit memory c = list[i];
            Batch memory b = _records[c.agentId][c.sequence];
            assertTrue(traceLog.isCommitted(c.agentId, c.sequence));
            assertEq(traceLog.batchHash(c.agentId, c.sequence), bytes32(0), "no slot until opened");
            vm.expectRevert(abi.encodeWithSelector(TraceLog.BatchNotOpened.selector, c.agentId, c.sequence));
            traceLog.checkBatch(c.agentId, c.sequence, b);
            vm.prank(stranger); // anyone opens it
            traceLog.openBatch(c.agentId, c.sequence, b, leaves, i);
            assertEq(traceLog.batchHash(c.agentId, c.sequence), many[i], "the record commitMany stores");
            traceLog.checkBatch(c.agentId, c.sequence, b);
            traceLog.openBatch(c.agentId, c.sequence, b, leaves, i); // idempotent
        }
        assertFalse(traceLog.isCommitted(ids[0], perAgent), "nothing beyond the next sequence");
    }

    /// Opening writes only what a committed bundle holds: another record, another place, other
    /// leaves, leaves of no bundle, or a batch of another agent are refused, and an opened or
    /// directly committed batch cannot be overwritten.
    /// forge-config: default.fuzz.runs = 128
    function testFuzz_openBatch_onlyWhatTheBundleHolds(uint8 field, bytes32 noise, uint8 at) public {
        vm.assume(noise != bytes32(0)); // zero noise leaves a hash field as it was: no edit
        uint256 other = _registerAgent(stranger, operator, agentWallet);
        TraceLog.Commit[] memory list = new TraceLog.Commit[](3);
        list[0] = _entry(agentId, 0, ROOT, 4);
        list[1] = _entry(other, 0, keccak256("other"), 7);
        list[2] = _entry(agentId, 1, keccak256("second"), 2);
        (, bytes32[] memory leaves) = _bundle(list);
        Batch memory b = _records[agentId][1];
        // another record for the same batch
        Batch memory edited = _editRecord(b, field, noise);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotInBundle.selector, agentId, 1));
        traceLog.openBatch(agentId, 1, edited, leaves, 2);
        // the right record at another place (or past the end)
        uint256 wrongAt = bound(at, 0, 4);
        if (wrongAt == 2) wrongAt = 3;
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotInBundle.selector, agentId, 1));
        traceLog.openBatch(agentId, 1, b, leaves, wrongAt);
        // the leaf put into a list that is not a committed bundle
        bytes32[] memory forged = new bytes32[](2);
        forged[0] = noise;
        forged[1] = leaves[2];
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotInBundle.selector, agentId, 1));
        traceLog.openBatch(agentId, 1, b, forged, 1);
        // the record claimed for another agent or sequence
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotInBundle.selector, other, 1));
        traceLog.openBatch(other, 1, b, leaves, 2);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotInBundle.selector, agentId, 0));
        traceLog.openBatch(agentId, 0, b, leaves, 2);
        // opened, it cannot be opened to anything else
        traceLog.openBatch(agentId, 1, b, leaves, 2);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, 1));
        traceLog.openBatch(agentId, 1, _records[agentId][0], leaves, 0);
        // a batch committed on its own is already open
        Batch memory direct = _commit(2, ROOT, DA, 1);
        traceLog.openBatch(agentId, 2, direct, leaves, 0);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.WrongBatchRecord.selector, agentId, 2));
        traceLog.openBatch(agentId, 2, b, leaves, 2);
    }

    function test_commitBundle_refusals() public {
        TraceLog.Commit[] memory none = new TraceLog.Commit[](0);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadBundleSize.selector, 0));
        traceLog.commitBundle(none);
        uint256 max = traceLog.MAX_BUNDLE_BATCHES();
        TraceLog.Commit[] memory tooMany = new TraceLog.Commit[](max + 1);
        for (uint64 i; i <= max; ++i) tooMany[i] = _entry(agentId, i, ROOT, 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadBundleSize.selector, max + 1));
        traceLog.commitBundle(tooMany);
        // every refusal of commitMany refuses the whole bundle
        TraceLog.Commit[] memory list = _refusedLists(true);
        // and a sequence taken by a bundle cannot be committed again, bundled or not
        _bundle(list);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 1));
        traceLog.commit(agentId, 1, keccak256("again"), DA, 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.SequenceTaken.selector, agentId, 0));
        traceLog.commitBundle(list);
    }

    // ---------------------------------------------------------------- EIP-712 header

    function testFuzz_hashBatchHeader_matchesIndependentDigest(
        uint256 id,
        uint64 seq,
        bytes32 root,
        bytes32 daHash,
        uint32 count,
        uint64 chain
    ) public {
        BatchHeader memory h = BatchHeader(id, seq, root, daHash, count);
        assertEq(traceLog.hashBatchHeader(h), _headerDigest(block.chainid, address(traceLog), h));
        chain = uint64(bound(chain, 1, type(uint64).max));
        vm.chainId(chain); // the domain follows the chain (a fork cannot replay receipts)
        assertEq(traceLog.hashBatchHeader(h), _headerDigest(chain, address(traceLog), h));
    }

    function test_hashBatchHeader_fixedValues() public view {
        BatchHeader memory h = BatchHeader(agentId, 0, ROOT, keccak256(DA), 1);
        bytes32 typehash = keccak256(
            "BatchHeader(uint256 agentId,uint64 sequence,bytes32 merkleRoot,bytes32 daCommitmentHash,uint32 stepCount)"
        );
        assertEq(traceLog.BATCH_HEADER_TYPEHASH(), typehash);
        // a different field gives a different digest
        BatchHeader memory h2 = BatchHeader(agentId, 0, ROOT, keccak256(DA), 2);
        assertTrue(traceLog.hashBatchHeader(h) != traceLog.hashBatchHeader(h2));
    }
}
