// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./TestBase.sol";
import {Merkle} from "./Merkle.sol";
import {AgentRegistry} from "../../src/AgentRegistry.sol";
import {BondVault} from "../../src/BondVault.sol";
import {TraceLog} from "../../src/TraceLog.sol";
import {VerifierRegistry} from "../../src/VerifierRegistry.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ForkManager} from "../../src/ForkManager.sol";
import {WorkToken} from "../../src/WorkToken.sol";
import {LeafEncoding} from "../../src/LeafEncoding.sol";
import {TestToken} from "../../src/dev/TestToken.sol";
import {Policy, WalletStep, BatchHeader, Batch, DisputeKind, Breach} from "../../src/CovenantTypes.sol";
import {Vm} from "./Vm.sol";

/// @notice Exposes the `LeafEncoding` library (its wallet functions take calldata).
contract LeafHarness {
    function walletStepLeaf(WalletStep calldata s) external pure returns (bytes32) {
        return LeafEncoding.walletStepLeaf(s);
    }

    function walletPayloadHash(WalletStep calldata s) external pure returns (bytes32) {
        return LeafEncoding.walletPayloadHash(s);
    }

    function stepLeaf(uint256 agentId, uint64 index, uint8 kind, bytes32 prevHash, bytes32 payloadHash)
        external
        pure
        returns (bytes32)
    {
        return LeafEncoding.stepLeaf(agentId, index, kind, prevHash, payloadHash);
    }
}

/// @notice The deployed system, wired in the documented order, with one registered and
///         bonded agent, four staked verifiers and helpers for batches, proofs,
///         commit-reveal challenges and EIP-712 signatures.
abstract contract Fixture is TestBase {
    // ---------------------------------------------------------------- parameters
    uint256 internal constant MIN_STAKE = 1 ether;
    uint64 internal constant EXIT_DELAY = 10 days;
    uint64 internal constant DISPUTE_PERIOD = 3 days;
    uint64 internal constant UNBONDING_DELAY = 14 days;
    uint64 internal constant MIN_POLICY_DELAY = 1 days;
    uint16 internal constant CHALLENGER_BPS = 5000;
    uint16 internal constant REDISTRIBUTION_BPS = 3000;
    uint256 internal constant CHALLENGER_BOND = 0.1 ether;
    uint256 internal constant SUBJECTIVE_BOND = 1 ether;
    uint16 internal constant SLASH_BPS = 5000;
    uint16 internal constant QUORUM_BPS = 6667;
    uint64 internal constant FORK_PERIOD = 7 days;
    uint256 internal constant FORK_BOND = 10 ether;
    uint16 internal constant FORK_CHOICE_BPS = 5000;
    uint16 internal constant REWARD_BPS = 2000;
    uint256 internal constant WORK_SUPPLY = 1_000_000_000 ether;

    uint256 internal constant MAX_VALUE = 1 ether;
    uint64 internal constant WINDOW = 1 days;
    uint64 internal constant COMMIT_DEADLINE = 1 hours;
    uint64 internal constant POLICY_DELAY = 2 days;
    uint256 internal constant DAILY_BUDGET = 3 ether;

    uint256 internal constant BOND_ETH = 10 ether;
    uint256 internal constant BOND_TOKEN = 1000e18;

    uint256 internal constant START_TIME = 1_700_000_000;
    uint256 internal constant START_BLOCK = 1000;

    bytes4 internal constant TRANSFER = bytes4(keccak256("transfer(address,uint256)"));
    bytes4 internal constant SWAP = bytes4(keccak256("swap(address,uint256,uint256)"));
    bytes4 internal constant APPROVE = bytes4(keccak256("approve(address,uint256)"));

    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    // ---------------------------------------------------------------- actors
    uint256 internal constant OPERATOR_PK = 0x0123456789abcdef;
    uint256 internal constant MALLORY_PK = 0xbad;
    address internal operator;
    address internal malloryKeyed;
    address internal owner = address(0xA11CE);
    address internal agentWallet = address(0x3A11E7);
    address internal shop = address(0x5409);
    address internal dex = address(0xDE1);
    address internal stranger = address(0x57A9);
    address internal challenger = address(0xC4A1);
    address internal mallory = address(0xBAD0);
    address internal redistribution = address(0x4ED1);
    uint256[] internal verifierPks;
    address[] internal verifierAddrs;

    // ---------------------------------------------------------------- system
    WorkToken internal work;
    VerifierRegistry internal verifiers;
    ForkManager internal forks;
    AgentRegistry internal registry;
    TraceLog internal traceLog;
    TestToken internal token;
    BondVault internal vault;
    DisputeGame internal game;
    LeafHarness internal leafHarness;
    uint256 internal agentId;

    function setUp() public virtual {
        vm.warp(START_TIME);
        vm.roll(START_BLOCK);
        operator = vm.addr(OPERATOR_PK);
        malloryKeyed = vm.addr(MALLORY_PK);
        vm.label(operator, "operator");
        vm.label(owner, "owner");
        vm.label(challenger, "challenger");
        vm.label(mallory, "mallory");
        _deploy();
        agentId = _registerAgent(owner, operator, agentWallet);
        _bond(agentId, owner, BOND_ETH, BOND_TOKEN);
        _registerVerifiers(4, MIN_STAKE);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 1);
    }

    function _deploy() internal {
        address[] memory holders = new address[](1);
        holders[0] = address(this);
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = WORK_SUPPLY;
        work = new WorkToken(holders, amounts);
        verifiers = new VerifierRegistry(work, MIN_STAKE, EXIT_DELAY);
        forks = new ForkManager(
            work, verifiers, _escalationWindow(), FORK_PERIOD, FORK_BOND, _forkChoiceBps(), REWARD_BPS
        );
        verifiers.setForks(forks);
        registry = new AgentRegistry(DISPUTE_PERIOD, UNBONDING_DELAY, MIN_POLICY_DELAY);
        traceLog = new TraceLog(registry);
        token = new TestToken();
        vault = new BondVault(registry, traceLog, token, redistribution, CHALLENGER_BPS, REDISTRIBUTION_BPS);
        game = new DisputeGame(
            registry, traceLog, vault, verifiers, CHALLENGER_BOND, SUBJECTIVE_BOND, SLASH_BPS, QUORUM_BPS, forks
        );
        registry.setDisputeGame(address(game));
        vault.setDisputeGame(address(game));
        forks.setDisputeGame(game);
        leafHarness = new LeafHarness();
        vm.label(address(registry), "AgentRegistry");
        vm.label(address(traceLog), "TraceLog");
        vm.label(address(vault), "BondVault");
        vm.label(address(game), "DisputeGame");
        vm.label(address(verifiers), "VerifierRegistry");
        vm.label(address(forks), "ForkManager");
        vm.label(address(work), "WorkToken");
    }

    /// @dev The escalation window of quorum verdicts. The suites written before the fork
    ///      backstop test the vote paths with verdicts final at quorum; the fork suites override it.
    function _escalationWindow() internal pure virtual returns (uint64) {
        return 0;
    }

    function _forkChoiceBps() internal pure virtual returns (uint16) {
        return FORK_CHOICE_BPS;
    }

    /// @dev Gives `who` WorkToken from the fixture's allocation.
    function _giveWork(address who, uint256 amount) internal {
        work.transfer(who, amount);
    }

    /// @dev `who` stakes `stake` WorkToken as a verifier.
    function _stake(address who, uint256 stake) internal {
        _giveWork(who, stake);
        vm.prank(who);
        work.approve(address(verifiers), stake);
        vm.prank(who);
        verifiers.register(stake);
    }

    // ---------------------------------------------------------------- agents and bonds

    function _policy(uint256 maxValue, uint64 window, uint64 deadline) internal view returns (Policy memory p) {
        address[] memory targets = new address[](2);
        targets[0] = shop;
        targets[1] = dex;
        bytes4[] memory selectors = new bytes4[](2);
        selectors[0] = TRANSFER;
        selectors[1] = SWAP;
        p = Policy(maxValue, window, deadline, targets, selectors, DAILY_BUDGET);
    }

    function _defaultPolicy() internal view returns (Policy memory) {
        return _policy(MAX_VALUE, WINDOW, COMMIT_DEADLINE);
    }

    function _digests() internal pure returns (bytes32[] memory d) {
        d = new bytes32[](1);
        d[0] = keccak256("model:tiny-classifier.onnx");
    }

    function _registerAgent(address by, address op, address w) internal returns (uint256 id) {
        Policy memory p = _defaultPolicy();
        bytes32[] memory d = _digests();
        vm.prank(by);
        id = registry.register(op, w, keccak256("manifest-v1"), d, p, POLICY_DELAY);
    }

    function _bond(uint256 id, address from, uint256 eth, uint256 tokens) internal {
        if (eth != 0) {
            vm.deal(from, from.balance + eth);
            vm.prank(from);
            vault.depositEth{value: eth}(id);
        }
        if (tokens != 0) {
            token.mint(from, tokens);
            vm.prank(from);
            token.approve(address(vault), tokens);
            vm.prank(from);
            vault.depositToken(id, tokens);
        }
    }

    function _registerVerifiers(uint256 n, uint256 stake) internal {
        for (uint256 i; i < n; ++i) {
            uint256 pk = 0xF00D0000 + verifierPks.length + 1;
            address v = vm.addr(pk);
            verifierPks.push(pk);
            verifierAddrs.push(v);
            _stake(v, stake);
        }
    }

    // ---------------------------------------------------------------- trace batches

    function _ws(address to, uint256 value, bytes memory data) internal view returns (WalletStep memory s) {
        s.agentId = agentId;
        s.chainId = block.chainid;
        s.from = agentWallet;
        s.to = to;
        s.value = value;
        s.data = data;
        s.policyVersion = registry.agent(agentId).activeVersion;
    }

    function _walletLeaf(WalletStep memory s) internal view returns (bytes32) {
        return leafHarness.walletStepLeaf(s);
    }

    /// @dev A batch: one inference step, then the wallet steps, then an output step. Wallet
    ///      steps get their index and prevHash here; wallet step i is leaf i + 1.
    function _buildBatch(uint256 id, WalletStep[] memory ws) internal view returns (bytes32[] memory leaves) {
        uint64 index = traceLog.nextStepIndex(id);
        leaves = new bytes32[](ws.length + 2);
        bytes32 prev = keccak256(abi.encode("prev", id, index));
        leaves[0] = leafHarness.stepLeaf(id, index, LeafEncoding.KIND_INFERENCE, prev, keccak256(abi.encode("inference", index)));
        prev = leaves[0];
        for (uint256 i; i < ws.length; ++i) {
            ws[i].agentId = id;
            ws[i].index = index + uint64(i) + 1;
            ws[i].prevHash = prev;
            ws[i].nonce = uint64(i);
            leaves[i + 1] = leafHarness.walletStepLeaf(ws[i]);
            prev = leaves[i + 1];
        }
        uint64 last = index + uint64(ws.length) + 1;
        leaves[ws.length + 1] = leafHarness.stepLeaf(id, last, LeafEncoding.KIND_OUTPUT, prev, keccak256(abi.encode("output", last)));
    }

    function _da(uint256 id, uint64 seq) internal pure returns (bytes memory) {
        return abi.encodePacked("eigenda:", id, seq);
    }

    function _commitLeaves(uint256 id, bytes32[] memory leaves) internal returns (uint64 seq) {
        seq = traceLog.nextSequence(id);
        address op = registry.agent(id).operator;
        bytes32 root = Merkle.root(leaves);
        bytes memory da = _da(id, seq);
        _commitAs(op, id, seq, root, da, uint32(leaves.length));
    }

    /// @dev As `_commitLeaves`, through `commitBundle` (a bundle of this one batch), then opened
    ///      by `opener` from the bundle's leaves: the record is kept and checked the same way.
    function _bundleLeaves(uint256 id, bytes32[] memory leaves, address opener) internal returns (uint64 seq) {
        seq = traceLog.nextSequence(id);
        TraceLog.Commit[] memory list = new TraceLog.Commit[](1);
        list[0] = TraceLog.Commit(id, seq, Merkle.root(leaves), _da(id, seq), uint32(leaves.length), false, 0);
        vm.recordLogs();
        vm.prank(registry.agent(id).operator);
        traceLog.commitBundle(list);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Batch memory b = recordFromLogs(logs, id, seq);
        bytes32[] memory bundle = new bytes32[](1);
        bundle[0] = traceLog.bundleLeaf(id, seq, keccak256(abi.encode(b)));
        vm.prank(opener);
        traceLog.openBatch(id, seq, b, bundle, 0);
        assertEq(traceLog.recordHash(b), traceLog.batchHash(id, seq), "the event rebuilds the opened record");
        _records[id][seq] = b;
    }

    // ---------------------------------------------------------------- batch records
    // TraceLog keeps only the hash of a batch's record; the record is in its BatchCommitted
    // event. The commit helpers below rebuild it from that event, as a client does, and keep it.

    mapping(uint256 => mapping(uint64 => Batch)) internal _records;

    /// @dev `traceLog.commit` from `op`; the record rebuilt from its event, checked and kept.
    function _commitAs(address op, uint256 id, uint64 seq, bytes32 root, bytes memory da, uint32 n)
        internal
        returns (Batch memory)
    {
        vm.recordLogs();
        vm.prank(op);
        traceLog.commit(id, seq, root, da, n);
        return _keepRecord(id, seq);
    }

    /// @dev `traceLog.commitCovering` from `op`, the record kept as by `_commitAs`.
    function _commitCoveringAs(address op, uint256 id, uint64 seq, bytes32 root, bytes memory da, uint32 n, uint32 covered)
        internal
        returns (Batch memory)
    {
        vm.recordLogs();
        vm.prank(op);
        traceLog.commitCovering(id, seq, root, da, n, covered);
        return _keepRecord(id, seq);
    }

    function _keepRecord(uint256 id, uint64 seq) internal returns (Batch memory b) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        b = recordFromLogs(logs, id, seq);
        assertEq(traceLog.recordHash(b), traceLog.batchHash(id, seq), "the event rebuilds the stored record");
        _records[id][seq] = b;
    }

    /// @dev The record of batch (id, seq) from its BatchCommitted event among `logs`.
    function recordFromLogs(Vm.Log[] memory logs, uint256 id, uint64 seq) internal view returns (Batch memory b) {
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            if (
                l.emitter != address(traceLog) || l.topics.length != 3 || l.topics[0] != TraceLog.BatchCommitted.selector
                    || uint256(l.topics[1]) != id || uint64(uint256(l.topics[2])) != seq
            ) continue;
            (bytes32 root, uint256 fields, bytes memory da) = abi.decode(l.data, (bytes32, uint256, bytes));
            b.merkleRoot = root;
            b.daCommitmentHash = keccak256(da);
            // fields: firstIndex | stepCount | committedAt | challengeWindow | callsCovered, high to low
            b.firstIndex = uint64(fields >> 192);
            b.stepCount = uint32(fields >> 160);
            b.committedAt = uint64(fields >> 96);
            b.challengeWindow = uint64(fields >> 32);
            b.callsCovered = uint32(fields);
            return b;
        }
        revert("no BatchCommitted event");
    }

    /// @dev `b` with one field (field % 7) changed by `noise` (non-zero): what a cheater sends
    ///      to move a batch's window, its coverage, its range or its root.
    function _editRecord(Batch memory original, uint8 field, bytes32 noise) internal pure returns (Batch memory b) {
        b = Batch(
            original.merkleRoot,
            original.daCommitmentHash,
            original.firstIndex,
            original.stepCount,
            original.committedAt,
            original.challengeWindow,
            original.callsCovered
        ); // a copy: the original stays as committed
        uint256 n = uint256(noise);
        uint8 f = field % 7;
        if (f == 0) b.merkleRoot ^= noise;
        else if (f == 1) b.daCommitmentHash ^= noise;
        else if (f == 2) b.firstIndex ^= uint64(n | 1);
        else if (f == 3) b.stepCount ^= uint32(n | 1);
        else if (f == 4) b.committedAt ^= uint64(n | 1);
        else if (f == 5) b.challengeWindow ^= uint64(n | 1);
        else b.callsCovered ^= uint32(n | 1);
    }

    /// @dev The record kept for batch (id, seq); empty when none was (what a caller holding no
    ///      record sends).
    function _recordOf(uint256 id, uint64 seq) internal view returns (Batch memory) {
        return _records[id][seq];
    }

    /// @dev The record of a batch committed through the helpers above.
    function _batch(uint256 id, uint64 seq) internal view returns (Batch memory b) {
        b = _records[id][seq];
        require(b.stepCount != 0, "no record kept for this batch: commit it with _commitAs");
    }

    /// @dev Commits a batch holding the given wallet steps (their index fields are filled in).
    function _commitSteps(WalletStep[] memory ws) internal returns (uint64 seq, bytes32[] memory leaves) {
        leaves = _buildBatch(agentId, ws);
        seq = _commitLeaves(agentId, leaves);
    }

    function _one(WalletStep memory s) internal pure returns (WalletStep[] memory ws) {
        ws = new WalletStep[](1);
        ws[0] = s;
    }

    function _honestBatch() internal returns (uint64 seq) {
        (seq,) = _commitSteps(_one(_ws(shop, 0.5 ether, "")));
    }

    // ---------------------------------------------------------------- challenges

    function _commitEvidence(address who, bytes32 evidence, bytes32 salt) internal {
        bytes32 c = game.evidenceCommitment(who, evidence, salt);
        vm.prank(who);
        game.commitEvidence(c);
    }

    function _proveBreach(address who, WalletStep memory s, uint64 seq, bytes32[] memory proof, bytes32 salt)
        internal
        returns (uint256 disputeId, Breach breach)
    {
        _commitEvidence(who, game.policyBreachEvidence(s, seq), salt);
        vm.roll(block.number + 1);
        vm.prank(who);
        (disputeId, breach) = game.provePolicyBreach(s, seq, _batch(s.agentId, seq), proof, salt);
    }

    function _openDispute(address who, DisputeKind kind, uint256 id, uint64 seq, uint32 stepIndex, bytes32 subject)
        internal
        returns (uint256 disputeId)
    {
        bytes32 key = game.targetKey(kind, id, seq, stepIndex, subject);
        bytes32 salt = keccak256(abi.encode("salt", who, key));
        _commitEvidence(who, key, salt);
        vm.roll(block.number + 1);
        uint256 bond = game.bondFor(kind);
        vm.deal(who, who.balance + bond);
        vm.prank(who);
        Batch memory b;
        if (kind != DisputeKind.UntracedAction) b = _batch(id, seq);
        disputeId = game.openDispute{value: bond}(kind, id, seq, b, stepIndex, subject, 0, salt);
    }

    // ---------------------------------------------------------------- signatures

    function _sig(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function _domainSeparator(string memory name, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(EIP712_DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), chainId, verifyingContract)
        );
    }

    /// @dev The verdict digest computed here, independently of the contract.
    function _verdictDigest(uint256 chainId, address gameAddr, uint256 disputeId, bool fault)
        internal
        pure
        returns (bytes32)
    {
        bytes32 structHash =
            keccak256(abi.encode(keccak256("Verdict(uint256 disputeId,bool agentAtFault)"), disputeId, fault));
        return keccak256(
            abi.encodePacked("\x19\x01", _domainSeparator("Covenant DisputeGame", chainId, gameAddr), structHash)
        );
    }

    function _headerDigest(uint256 chainId, address logAddr, BatchHeader memory h) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "BatchHeader(uint256 agentId,uint64 sequence,bytes32 merkleRoot,bytes32 daCommitmentHash,uint32 stepCount)"
                ),
                h.agentId,
                h.sequence,
                h.merkleRoot,
                h.daCommitmentHash,
                h.stepCount
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator("Covenant TraceLog", chainId, logAddr), structHash));
    }

    function _vote(uint256 pk, uint256 disputeId, bool fault) internal view returns (DisputeGame.Vote memory) {
        return DisputeGame.Vote(fault, _sig(pk, _verdictDigest(block.chainid, address(game), disputeId, fault)));
    }

    function _votes(uint256 disputeId, bool fault, uint256 n) internal view returns (DisputeGame.Vote[] memory v) {
        v = new DisputeGame.Vote[](n);
        for (uint256 i; i < n; ++i) v[i] = _vote(verifierPks[i], disputeId, fault);
    }

    function _signHeader(uint256 pk, BatchHeader memory h) internal view returns (bytes memory) {
        return _sig(pk, _headerDigest(block.chainid, address(traceLog), h));
    }
}
