// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {Merkle} from "../utils/Merkle.sol";
import {BondVault} from "../../src/BondVault.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {Policy, WalletStep, BatchHeader, Batch, Breach, DisputeKind, DisputeStatus} from "../../src/CovenantTypes.sol";

/// @notice Drives the whole system with random but mostly valid actions: bonds in ETH and
///         token, withdrawal requests, batches (honest and breaching), policy-breach proofs,
///         equivocation proofs, quorum disputes, votes with replays mixed in, expiry,
///         claims, policy updates, late verifiers, unauthorized slashing and time warps.
///         It keeps its own books (ghost variables) of what the contracts should hold, so
///         the invariant suite can compare the two.
contract CovenantHandler is Fixture {
    uint256 internal constant N_AGENTS = 3;
    uint256 internal constant MAX_EXTRA_VERIFIERS = 4;
    uint64 internal constant LONG_WINDOW = UNBONDING_DELAY - DISPUTE_PERIOD - 1;

    // ---------------------------------------------------------------- actors
    uint256[] public agentIds;
    address[] public owners;
    uint256[] internal operatorPks;
    address[] public challengers;

    // ---------------------------------------------------------------- time (pinned per call)
    uint256 public currentTime;
    uint256 public currentBlock;

    // ---------------------------------------------------------------- ghost books
    uint256 public ghostDepositedEth;
    uint256 public ghostDepositedToken;
    uint256 public ghostWithdrawnEth;
    uint256 public ghostWithdrawnToken;
    uint256 public ghostClaimedEth;
    uint256 public ghostClaimedToken;
    uint256 public ghostGameEscrow;

    mapping(uint256 => uint256) public ghostRequestedAt; // by agent index
    mapping(uint256 => uint256) public ghostMaxFinalizesAt;
    mapping(uint256 => uint64) public ghostWindow;
    mapping(uint256 => uint64) public ghostPendingWindow;
    mapping(uint256 => uint256) public ghostOpenDisputes;
    mapping(uint256 => uint64) public ghostBatchCount;

    // violations: each must stay zero
    uint256 public earlyWithdrawals;
    uint256 public wrongPayouts;
    uint256 public unauthorizedSucceeded;
    uint256 public overwrites;
    uint256 public doubleProofs;
    uint256 public frontRunsSucceeded;
    uint256 public wrongRecordsAccepted;
    uint256 public statusMismatches;
    uint256 public windowMismatches;
    uint256 public unlockRegressions;

    // coverage: how often each path really happened
    mapping(bytes32 => uint256) public hits;

    struct BatchRec {
        uint256 agentIdx;
        uint64 seq;
        bytes32 root;
        bytes32 daHash;
        uint64 firstIndex;
        uint32 count;
        uint64 committedAt;
        uint64 window;
    }

    BatchRec[] internal _batches;
    mapping(uint256 => bytes32[]) internal _batchLeaves;
    WalletStep[] internal _steps;
    uint256[] internal _stepBatch;
    uint256[] internal _stepLeafPos;
    mapping(bytes32 => uint256) public ghostLeafSlashes;

    struct DisputeRec {
        uint256 id;
        uint256 agentIdx;
        uint256 bond;
        uint64 openedBlock;
        uint256 snapshot;
        uint256 forStake;
        uint256 againstStake;
        DisputeStatus status;
    }

    DisputeRec[] internal _disputes;
    mapping(uint256 => uint256) internal _disputeRec; // id => index + 1
    mapping(uint256 => mapping(address => bool)) internal _ghostVoted;
    mapping(address => uint256) public ghostVerifierStake;
    mapping(address => uint64) public ghostVerifierBlock;
    uint256 public extraVerifiers;

    constructor() {
        setUp(); // the Fixture: system, agent 1 bonded, four verifiers
        agentIds.push(agentId);
        owners.push(owner);
        operatorPks.push(OPERATOR_PK);
        ghostWindow[0] = WINDOW;
        // agent 1 starts with the longest window allowed, agent 2 with a short one, so that
        // shrinking a window while an older batch is still open happens often
        uint64[3] memory windows = [WINDOW, LONG_WINDOW, 1 hours];
        for (uint256 i = 1; i < N_AGENTS; ++i) {
            address o = address(uint160(0x0A000 + i));
            uint256 pk = 0x0F0000 + i;
            Policy memory p = _policy(MAX_VALUE, windows[i], COMMIT_DEADLINE);
            bytes32[] memory d = _digests();
            vm.prank(o);
            uint64 delay = windows[i] > POLICY_DELAY ? windows[i] : POLICY_DELAY;
            uint256 id = registry.register(vm.addr(pk), agentWallet, keccak256("manifest"), d, p, delay);
            _bond(id, o, BOND_ETH, BOND_TOKEN);
            agentIds.push(id);
            owners.push(o);
            operatorPks.push(pk);
            ghostWindow[i] = windows[i];
        }
        ghostDepositedEth = N_AGENTS * BOND_ETH;
        ghostDepositedToken = N_AGENTS * BOND_TOKEN;
        challengers.push(challenger);
        challengers.push(mallory);
        challengers.push(stranger);
        for (uint256 i; i < verifierAddrs.length; ++i) {
            ghostVerifierStake[verifierAddrs[i]] = MIN_STAKE;
            ghostVerifierBlock[verifierAddrs[i]] = uint64(START_BLOCK);
        }
        currentTime = block.timestamp;
        currentBlock = block.number;
    }

    modifier pinned() {
        vm.warp(currentTime);
        vm.roll(currentBlock);
        _;
        currentTime = block.timestamp;
        currentBlock = block.number;
    }

    /// Half the time one of the four newest items (still in its window / still open),
    /// otherwise any.
    function _pick(uint256 seed, uint256 len) internal pure returns (uint256) {
        if (seed & 1 == 0) return (seed >> 1) % len;
        uint256 recent = len < 4 ? len : 4;
        return len - 1 - (seed >> 1) % recent;
    }

    // ---------------------------------------------------------------- views for the invariants

    function system()
        external
        view
        returns (address, address, address, address, address, address)
    {
        return (address(registry), address(traceLog), address(vault), address(game), address(verifiers), address(token));
    }

    function creditHolders() external view returns (address[] memory h) {
        h = new address[](owners.length + challengers.length + 1);
        uint256 n;
        for (uint256 i; i < owners.length; ++i) h[n++] = owners[i];
        for (uint256 i; i < challengers.length; ++i) h[n++] = challengers[i];
        h[n] = redistribution;
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function batchRec(uint256 i) external view returns (BatchRec memory) {
        return _batches[i];
    }

    function disputeRecCount() external view returns (uint256) {
        return _disputes.length;
    }

    /// index + 1 of a quorum dispute's record, 0 for disputes settled on chain
    function recordOf(uint256 id) external view returns (uint256) {
        return _disputeRec[id];
    }

    function disputeRec(uint256 i) external view returns (DisputeRec memory) {
        return _disputes[i];
    }

    // ---------------------------------------------------------------- bonds

    function depositEth(uint256 agentSeed, uint256 amount, bool byStranger) external pinned {
        uint256 a = agentSeed % N_AGENTS;
        amount = bound(amount, 1, 50 ether);
        _bond(agentIds[a], byStranger ? stranger : owners[a], amount, 0);
        ghostDepositedEth += amount;
        hits["depositEth"]++;
    }

    function depositToken(uint256 agentSeed, uint256 amount) external pinned {
        uint256 a = agentSeed % N_AGENTS;
        amount = bound(amount, 1, 5000e18);
        _bond(agentIds[a], owners[a], 0, amount);
        ghostDepositedToken += amount;
        hits["depositToken"]++;
    }

    function requestWithdraw(uint256 agentSeed, uint256 ethPart, uint256 tokenPart) external pinned {
        _request(agentSeed % N_AGENTS, ethPart, tokenPart);
    }

    function _request(uint256 a, uint256 ethPart, uint256 tokenPart) internal {
        BondVault.Bond memory b = vault.bondOf(agentIds[a]);
        uint256 e = bound(ethPart, 0, b.eth);
        uint256 t = bound(tokenPart, 0, b.token);
        if (e == 0 && t == 0) return;
        vm.prank(owners[a]);
        vault.requestWithdraw(agentIds[a], e, t);
        ghostRequestedAt[a] = block.timestamp;
        hits["requestWithdraw"]++;
    }

    function cancelWithdraw(uint256 agentSeed) external pinned {
        uint256 a = agentSeed % N_AGENTS;
        if (ghostRequestedAt[a] == 0) return;
        vm.prank(owners[a]);
        vault.cancelWithdraw(agentIds[a]);
        ghostRequestedAt[a] = 0;
        hits["cancelWithdraw"]++;
    }

    /// A `patient` owner asks first if it has not, then waits until the time the vault itself
    /// names as the unlock (and for its open disputes to expire): the boundary where a wrong
    /// unlock time would let a bond run. The books check the time independently.
    function withdraw(uint256 agentSeed, bool patient, uint256 ethPart, uint256 tokenPart) external pinned {
        uint256 a = agentSeed % N_AGENTS;
        address o = owners[a];
        if (patient) {
            if (ghostRequestedAt[a] == 0) _request(a, ethPart, tokenPart);
            _settleDisputes(a, vault.withdrawableAt(agentIds[a]));
        }
        BondVault.Bond memory b = vault.bondOf(agentIds[a]);
        uint256 ethBefore = o.balance;
        uint256 tokBefore = token.balanceOf(o);
        vm.prank(o);
        try vault.withdraw(agentIds[a]) {
            uint256 t = block.timestamp;
            bool early = ghostRequestedAt[a] == 0 || t < ghostRequestedAt[a] + UNBONDING_DELAY
                || t <= ghostMaxFinalizesAt[a] + DISPUTE_PERIOD || ghostOpenDisputes[a] != 0;
            if (early) earlyWithdrawals++;
            if (o.balance - ethBefore != b.pendingEth || token.balanceOf(o) - tokBefore != b.pendingToken) {
                wrongPayouts++;
            }
            ghostWithdrawnEth += b.pendingEth;
            ghostWithdrawnToken += b.pendingToken;
            ghostRequestedAt[a] = 0;
            hits["withdraw"]++;
        } catch {
            hits["withdrawLocked"]++;
        }
    }

    /// Waits until `target` and until the agent's open disputes have expired, and settles them.
    function _settleDisputes(uint256 a, uint256 target) internal {
        for (uint256 i; i < _disputes.length; ++i) {
            if (_disputes[i].agentIdx != a || _disputes[i].status != DisputeStatus.Open) continue;
            uint256 d = game.dispute(_disputes[i].id).deadline + 1;
            if (d > target) target = d;
        }
        if (target > block.timestamp) {
            vm.warp(target);
            vm.roll(block.number + 1);
        }
        for (uint256 i; i < _disputes.length; ++i) {
            if (_disputes[i].agentIdx != a || _disputes[i].status != DisputeStatus.Open) continue;
            game.resolveExpired(_disputes[i].id);
            // decided by the stake that voted when the turnout was reached, else expired
            DisputeStatus st = game.dispute(_disputes[i].id).status;
            _closed(_disputes[i], st);
            hits[st == DisputeStatus.Expired ? bytes32("expired") : bytes32("decidedAtDeadline")]++;
        }
    }

    function claim(uint256 actorSeed) external pinned {
        address[] memory h = this.creditHolders();
        address who = h[actorSeed % h.length];
        uint256 e = vault.ethCredits(who);
        uint256 t = vault.tokenCredits(who);
        uint256 ethBefore = who.balance;
        uint256 tokBefore = token.balanceOf(who);
        vm.prank(who);
        try vault.claim() {
            if (who.balance - ethBefore != e || token.balanceOf(who) - tokBefore != t) wrongPayouts++;
            if (vault.ethCredits(who) != 0 || vault.tokenCredits(who) != 0) wrongPayouts++;
            ghostClaimedEth += e;
            ghostClaimedToken += t;
            hits["claim"]++;
        } catch {
            if (e != 0 || t != 0) wrongPayouts++; // a holder with credits must be able to claim
        }
    }

    // ---------------------------------------------------------------- traces

    function _stepFor(uint256 a, uint256 kind) internal view returns (WalletStep memory s) {
        uint256 id = agentIds[a];
        s.agentId = id;
        s.chainId = block.chainid;
        s.from = agentWallet;
        s.policyVersion = registry.agent(id).activeVersion;
        if (kind == 0) {
            s.to = shop;
            s.value = MAX_VALUE / 2;
        } else if (kind == 1) {
            s.to = dex;
            s.value = MAX_VALUE + 1; // over the cap
        } else if (kind == 2) {
            s.to = mallory; // off the allowlist
        } else if (kind == 3) {
            s.to = dex;
            s.data = abi.encodeWithSelector(APPROVE, mallory, 1); // disallowed selector
        } else if (kind == 4) {
            s.to = dex;
            s.data = hex"a905"; // short calldata
        } else {
            s.to = shop;
            s.policyVersion = 77; // a version that never existed
        }
    }

    function commitBatch(uint256 agentSeed, uint256 kinds, uint8 n) external pinned {
        uint256 a = agentSeed % N_AGENTS;
        uint256 id = agentIds[a];
        WalletStep[] memory ws = new WalletStep[](bound(n, 1, 3));
        for (uint256 i; i < ws.length; ++i) ws[i] = _stepFor(a, uint256(uint8(kinds >> (8 * i))) % 7 % 6);
        bytes32[] memory leaves = _buildBatch(id, ws);
        // one batch in four goes through a bundle, opened at once by a stranger
        bool bundled = kinds >> 254 == 1;
        uint64 seq = bundled ? _bundleLeaves(id, leaves, stranger) : _commitLeaves(id, leaves);
        if (bundled) hits["commitBundle"]++;

        Batch memory b = _batch(id, seq); // rebuilt from its BatchCommitted event
        if (b.challengeWindow != ghostWindow[a]) windowMismatches++;
        uint256 bi = _batches.length;
        _batches.push(
            BatchRec(a, seq, b.merkleRoot, b.daCommitmentHash, b.firstIndex, b.stepCount, b.committedAt, b.challengeWindow)
        );
        for (uint256 i; i < leaves.length; ++i) _batchLeaves[bi].push(leaves[i]);
        for (uint256 i; i < ws.length; ++i) {
            _steps.push(ws[i]);
            _stepBatch.push(bi);
            _stepLeafPos.push(i + 1);
        }
        ghostBatchCount[a] = seq + 1;
        uint256 fin = block.timestamp + ghostWindow[a];
        if (fin > ghostMaxFinalizesAt[a]) ghostMaxFinalizesAt[a] = fin;
        // the vault's unlock must still cover every batch's window, not just this one's
        if (traceLog.lastFinalizesAt(id) < ghostMaxFinalizesAt[a]) unlockRegressions++;
        hits["commit"]++;
    }

    /// The operator re-sends an old batch, unchanged or changed: the sequence is taken, so it
    /// reverts and the stored record stays (the checks compare every record's hash).
    function recommit(uint256 batchSeed, bool tamper) external pinned {
        if (_batches.length == 0) return;
        BatchRec memory r = _batches[batchSeed % _batches.length];
        uint256 id = agentIds[r.agentIdx];
        bytes32 root = tamper ? keccak256(abi.encode(r.root)) : r.root;
        bytes memory da = _da(id, r.seq);
        vm.prank(vm.addr(operatorPks[r.agentIdx]));
        try traceLog.commit(id, r.seq, root, da, r.count) {
            overwrites++;
        } catch {
            hits[tamper ? bytes32("recommitRejected") : bytes32("recommitRefused")]++;
        }
    }

    /// The record the handler kept for a batch (rebuilt from its event at commit time).
    function recordOf(uint256 id, uint64 seq) external view returns (Batch memory) {
        return _batch(id, seq);
    }

    // ---------------------------------------------------------------- on-chain proofs

    function proveBreach(uint256 stepSeed, uint256 challengerSeed, bool frontRun, uint8 editField) external pinned {
        if (_steps.length == 0) return;
        uint256 k = _pick(stepSeed, _steps.length);
        WalletStep memory s = _steps[k];
        BatchRec memory r = _batches[_stepBatch[k]];
        bytes32[] memory proof = Merkle.proof(_batchLeaves[_stepBatch[k]], _stepLeafPos[k]);
        address c = challengers[challengerSeed % challengers.length];
        bytes32 salt = keccak256(abi.encode(stepSeed, challengerSeed));
        _commitEvidence(c, game.policyBreachEvidence(s, r.seq), salt);
        vm.roll(block.number + 1);
        if (frontRun) {
            // another challenger copies the reveal without a commitment of its own
            address f = challengers[(challengerSeed % challengers.length + 1) % challengers.length];
            vm.prank(f);
            try game.provePolicyBreach(s, r.seq, _batch(agentIds[r.agentIdx], r.seq), proof, salt) {
                frontRunsSucceeded++;
            } catch {}
        }
        bytes32 leaf = _walletLeaf(s);
        if (editField != 0) _breachWithEditedRecord(c, s, r.seq, proof, salt, editField);
        vm.prank(c);
        try game.provePolicyBreach(s, r.seq, _batch(agentIds[r.agentIdx], r.seq), proof, salt) returns (uint256, Breach) {
            if (++ghostLeafSlashes[leaf] > 1) doubleProofs++;
            hits["breachProven"]++;
        } catch {
            hits["breachRejected"]++;
        }
    }

    /// The challenger sends an edited record (a moved window, another root or range, more
    /// coverage): it must never go through.
    function _breachWithEditedRecord(
        address c,
        WalletStep memory s,
        uint64 seq,
        bytes32[] memory proof,
        bytes32 salt,
        uint8 editField
    ) internal {
        Batch memory edited = _editRecord(_batch(s.agentId, seq), editField, keccak256(abi.encode(salt)));
        vm.prank(c);
        try game.provePolicyBreach(s, seq, edited, proof, salt) {
            wrongRecordsAccepted++;
        } catch {
            hits["wrongRecordRefused"]++;
        }
    }

    function proveEquivocation(uint256 agentSeed, uint256 seqSeed, uint256 challengerSeed, bool againstCommitted)
        external
        pinned
    {
        uint256 a = agentSeed % N_AGENTS;
        uint256 id = agentIds[a];
        uint64 seq = uint64(bound(seqSeed, 0, ghostBatchCount[a] + 1));
        BatchHeader memory h1 = BatchHeader(id, seq, keccak256(abi.encode("fork", seqSeed)), bytes32(0), 3);
        BatchHeader memory h2;
        bytes memory s2;
        Batch memory committed;
        if (againstCommitted && seq < ghostBatchCount[a]) {
            committed = _batch(id, seq);
            h2 = BatchHeader(id, seq, committed.merkleRoot, committed.daCommitmentHash, committed.stepCount);
        } else {
            h2 = BatchHeader(id, seq, keccak256(abi.encode("other", seqSeed)), bytes32(0), 3);
            s2 = _signHeader(operatorPks[a], h2);
        }
        bytes memory s1 = _signHeader(operatorPks[a], h1);
        address c = challengers[challengerSeed % challengers.length];
        _commitEvidence(c, game.equivocationEvidence(h1, h2), "eq");
        vm.roll(block.number + 1);
        vm.prank(c);
        try game.proveEquivocation(h1, s1, h2, s2, committed, "eq") {
            hits["equivocationProven"]++;
        } catch {
            hits["equivocationRejected"]++;
        }
    }

    // ---------------------------------------------------------------- quorum disputes

    /// Stake that could vote on a challenge committed in `commitBlock` (registered before it).
    function _eligibleStake(uint256 commitBlock) internal view returns (uint256 total) {
        for (uint256 i; i < verifierAddrs.length; ++i) {
            address v = verifierAddrs[i];
            if (ghostVerifierBlock[v] < commitBlock) total += ghostVerifierStake[v];
        }
    }

    function _record(uint256 id, uint256 a, uint256 bond) internal {
        // the quorum base and the voters are fixed when the challenge was committed
        uint64 committedBlock = game.dispute(id).openedBlock;
        _disputes.push(DisputeRec(id, a, bond, committedBlock, _eligibleStake(committedBlock), 0, 0, DisputeStatus.Open));
        _disputeRec[id] = _disputes.length;
        ghostOpenDisputes[a]++;
        ghostGameEscrow += bond;
    }

    function _target(uint256 a, uint256 kindSeed, uint256 targetSeed)
        internal
        view
        returns (DisputeKind kind, uint64 seq, uint32 stepIndex, bytes32 subject)
    {
        // every quorum kind: InferenceFraud, UntracedAction, SubjectiveClaim, InvalidBatch, TraceMismatch
        kind = DisputeKind(2 + kindSeed % 6);
        // DataWithheld opens through challengeData (its settlement: DataWithheld.t.sol)
        if (kind == DisputeKind.DataWithheld) kind = DisputeKind.InvalidBatch;
        if (kind == DisputeKind.UntracedAction || ghostBatchCount[a] == 0) {
            return (DisputeKind.UntracedAction, 0, 0, keccak256(abi.encode("tx", targetSeed % 4)));
        }
        seq = uint64(targetSeed % ghostBatchCount[a]);
        if (kind != DisputeKind.InvalidBatch) stepIndex = uint32((targetSeed >> 8) % 3);
        if (kind == DisputeKind.SubjectiveClaim) subject = keccak256(abi.encode("claim", targetSeed % 2));
    }

    function openDispute(uint256 agentSeed, uint256 kindSeed, uint256 targetSeed, uint256 challengerSeed)
        external
        pinned
    {
        uint256 a = agentSeed % N_AGENTS;
        (DisputeKind kind, uint64 seq, uint32 stepIndex, bytes32 subject) = _target(a, kindSeed, targetSeed);
        address c = challengers[challengerSeed % challengers.length];
        bytes32 key = game.targetKey(kind, agentIds[a], seq, stepIndex, subject);
        bytes32 salt = keccak256(abi.encode(targetSeed, challengerSeed, block.number));
        _commitEvidence(c, key, salt);
        vm.roll(block.number + 1);
        _open(a, c, kind, seq, stepIndex, subject, salt);
    }

    function _open(uint256 a, address c, DisputeKind kind, uint64 seq, uint32 stepIndex, bytes32 subject, bytes32 salt)
        internal
    {
        uint256 bond = game.bondFor(kind);
        vm.deal(c, c.balance + bond);
        vm.prank(c);
        try game.openDispute{value: bond}(kind, agentIds[a], seq, _recordOf(agentIds[a], seq), stepIndex, subject, 0, salt) returns (uint256 id) {
            _record(id, a, bond);
            hits["disputeOpened"]++;
        } catch {
            vm.deal(c, c.balance - bond);
            hits["disputeRejected"]++;
        }
    }

    /// A new verifier joins; with `jit` it joins in the very block a dispute opens (its stake
    /// must neither vote there nor count towards that dispute's quorum).
    function registerVerifier(uint256 stakeSeed, bool jit, uint256 agentSeed) external pinned {
        if (extraVerifiers >= MAX_EXTRA_VERIFIERS) return;
        uint256 pk = 0xBEEF00 + extraVerifiers++;
        address v = vm.addr(pk);
        uint256 stake = bound(stakeSeed, MIN_STAKE, 5 ether);
        uint256 a = agentSeed % N_AGENTS;
        bytes32 subject = keccak256(abi.encode("jit", pk));
        bytes32 key = game.targetKey(DisputeKind.UntracedAction, agentIds[a], 0, 0, subject);
        if (jit) {
            _commitEvidence(challenger, key, "jit");
            vm.roll(block.number + 1);
        }
        _stake(v, stake);
        verifierPks.push(pk);
        verifierAddrs.push(v);
        ghostVerifierStake[v] = stake;
        ghostVerifierBlock[v] = uint64(block.number);
        hits["verifierJoined"]++;
        if (jit) _open(a, challenger, DisputeKind.UntracedAction, 0, 0, subject, "jit");
    }

    /// Verifiers sign and someone relays; `replays` mixes in a duplicate of the first vote,
    /// a signature made for another dispute, one for another chain and a flipped outcome.
    function vote(uint256 disputeSeed, uint256 mask, uint256 faultMask, uint8 replays) external pinned {
        if (_disputes.length == 0) return;
        DisputeRec storage r = _disputes[_pick(disputeSeed, _disputes.length)];
        uint256 n = verifierPks.length;
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](n + 4);
        bool[] memory genuine = new bool[](n + 4);
        address[] memory signer = new address[](n + 4);
        uint256 k;
        for (uint256 i; i < n; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            bool fault = (faultMask >> i) & 1 == 1;
            vs[k] = _vote(verifierPks[i], r.id, fault);
            genuine[k] = true;
            signer[k++] = verifierAddrs[i];
        }
        if (replays & 1 == 1 && k > 0) {
            vs[k] = vs[0];
            genuine[k] = true;
            signer[k++] = signer[0];
        }
        uint256 pk = verifierPks[disputeSeed % n];
        if (replays & 2 == 2) vs[k++] = _vote(pk, r.id + 1, true); // another dispute's verdict
        if (replays & 4 == 4) {
            vs[k++] = DisputeGame.Vote(true, _sig(pk, _verdictDigest(block.chainid + 1, address(game), r.id, true)));
        }
        if (replays & 8 == 8) {
            vs[k++] = DisputeGame.Vote(false, _sig(pk, game.verdictDigest(r.id, true))); // flipped outcome
        }
        assembly {
            mstore(vs, k)
        }
        try game.submitVerdicts(r.id, vs) returns (DisputeStatus st) {
            for (uint256 i; i < k; ++i) {
                if (!genuine[i] || _ghostVoted[r.id][signer[i]]) continue;
                if (ghostVerifierBlock[signer[i]] >= r.openedBlock) continue;
                _ghostVoted[r.id][signer[i]] = true;
                if (vs[i].agentAtFault) r.forStake += ghostVerifierStake[signer[i]];
                else r.againstStake += ghostVerifierStake[signer[i]];
            }
            DisputeStatus expected = DisputeStatus.Open;
            if (r.forStake * 10_000 >= r.snapshot * QUORUM_BPS) expected = DisputeStatus.Slashed;
            else if (r.againstStake * 10_000 >= r.snapshot * QUORUM_BPS) expected = DisputeStatus.Rejected;
            if (st != expected) statusMismatches++;
            if (st != DisputeStatus.Open) _closed(r, st);
            hits["votesSubmitted"]++;
        } catch {
            hits["votesRejected"]++;
        }
    }

    function resolveExpired(uint256 disputeSeed) external pinned {
        if (_disputes.length == 0) return;
        DisputeRec storage r = _disputes[disputeSeed % _disputes.length];
        try game.resolveExpired(r.id) {
            DisputeGame.Dispute memory d = game.dispute(r.id);
            if (block.timestamp <= d.deadline) statusMismatches++;
            // a decision at the deadline needs the turnout and a majority of the stake that voted
            bool turnout = (d.forStake + d.againstStake) * 10_000 >= d.stakeSnapshot * game.TURNOUT_BPS();
            if (d.status == DisputeStatus.Slashed && !(turnout && d.forStake > d.againstStake)) statusMismatches++;
            if (d.status == DisputeStatus.Rejected && !(turnout && d.againstStake > d.forStake)) statusMismatches++;
            if (d.status == DisputeStatus.Expired && turnout && d.forStake != d.againstStake) statusMismatches++;
            _closed(r, d.status);
            hits[d.status == DisputeStatus.Expired ? bytes32("expired") : bytes32("decidedAtDeadline")]++;
        } catch {}
    }

    function _closed(DisputeRec storage r, DisputeStatus st) internal {
        if (r.status != DisputeStatus.Open) statusMismatches++;
        r.status = st;
        ghostOpenDisputes[r.agentIdx]--;
        ghostGameEscrow -= r.bond;
    }

    // ---------------------------------------------------------------- policy updates

    function updatePolicy(uint256 agentSeed, uint256 windowSeed, bool patient) external pinned {
        uint256 a = agentSeed % N_AGENTS;
        uint256 id = agentIds[a];
        uint32 pending = registry.agent(id).pendingVersion;
        if (pending != 0) {
            if (patient) _settleDisputes(a, registry.version(id, pending).readyAt);
            vm.prank(owners[a]);
            try registry.activateUpdate(id) {
                ghostWindow[a] = ghostPendingWindow[a];
                hits["policyActivated"]++;
            } catch {}
            return;
        }
        uint64[3] memory windows = [uint64(1 hours), WINDOW, LONG_WINDOW];
        uint64 w = windows[windowSeed % 3];
        if (patient) _settleDisputes(a, block.timestamp);
        Policy memory p = _policy(MAX_VALUE, w, COMMIT_DEADLINE);
        bytes32[] memory d = _digests();
        vm.prank(owners[a]);
        try registry.proposeUpdate(id, keccak256(abi.encode(w)), d, p) {
            ghostPendingWindow[a] = w;
            hits["policyProposed"]++;
        } catch {}
    }

    // ---------------------------------------------------------------- attacks and time

    /// Anyone but the dispute game tries to move bonds or dispute counters.
    function attack(uint256 seed, uint256 agentSeed) external pinned {
        address[] memory h = this.creditHolders();
        address who = seed % 2 == 0 ? h[seed % h.length] : address(uint160(seed));
        if (who == address(game)) return;
        uint256 id = agentIds[agentSeed % N_AGENTS];
        vm.prank(who);
        try vault.slash(id, 10_000, who) {
            unauthorizedSucceeded++;
        } catch {}
        vm.prank(who);
        try registry.disputeClosed(id) {
            unauthorizedSucceeded++;
        } catch {}
        vm.prank(who);
        try registry.disputeOpened(id) {
            unauthorizedSucceeded++;
        } catch {}
        vm.prank(who);
        try vault.creditEth(who) {
            unauthorizedSucceeded++;
        } catch {}
        hits["attack"]++;
    }

    /// Mostly minutes to hours (batch windows are a day), one in three up to eight days.
    function warp(uint256 secs, uint8 blocks) external pinned {
        uint256 longest = secs % 3 == 0 ? 8 days : 12 hours;
        vm.warp(block.timestamp + bound(secs / 3, 1 minutes, longest));
        vm.roll(block.number + 1 + blocks % 32);
        hits["warp"]++;
    }
}
