// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {AgentAccount} from "../src/AgentAccount.sol";
import {AgentRegistry} from "../src/AgentRegistry.sol";
import {BondVault} from "../src/BondVault.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {TraceLog} from "../src/TraceLog.sol";
import {Batch, Breach, DisputeKind, DisputeStatus, Policy, WalletStep} from "../src/CovenantTypes.sol";

/// @notice Stands in for code an EIP-7702 authorization (signed by the signer key) puts at
///         the signer's address: it tries to drain the agent's account.
contract Drainer {
    function drain(AgentAccount account, address to, uint256 value) external {
        account.execute(to, value, "", 0, bytes32(0), 1, 0);
    }
}

/// @notice The agent account (issue 10): policy, daily budget and "no trace, no action"
///         enforced by the chain at execution time. Each attack of the issue is a test in
///         which the attacker tries and loses; the honest agent is never slashed.
contract AgentAccountTest is Fixture {
    AgentAccount internal account;
    uint256 internal constant SIGNER_PK = 0x51617E;
    address internal signer;

    function setUp() public override {
        super.setUp();
        // the fixture's agent: re-register with a real signer key so 7702-style tests can sign
        signer = vm.addr(SIGNER_PK);
        agentId = _registerAgent(owner, operator, signer);
        _bond(agentId, owner, BOND_ETH, 0);
        account = AgentAccount(payable(registry.accountOf(agentId)));
        vm.deal(address(account), 20 ether);
        vm.deal(signer, 1 ether); // gas money only
    }

    // ---------------------------------------------------------------- helpers

    /// @dev The wallet step the runtime writes before calling: from = the account, nonce = sequence.
    function _step(address to, uint256 value, bytes memory data, uint64 index) internal view returns (WalletStep memory s) {
        s.agentId = agentId;
        s.index = index;
        s.prevHash = keccak256(abi.encode("prev", index));
        s.chainId = block.chainid;
        s.from = address(account);
        s.to = to;
        s.value = value;
        s.data = data;
        s.nonce = uint64(account.callCount()) + 100; // any nonce: it only makes the leaf unique
        s.policyVersion = registry.agent(agentId).activeVersion;
    }

    /// the arguments of every call made through `_exec`, by sequence (what a prover reads
    /// from the `Executed` event)
    mapping(uint32 => DisputeGame.AccountCall) internal calls;

    function _exec(WalletStep memory s) internal returns (bytes32 leaf) {
        uint32 seq = account.callCount();
        vm.prank(signer);
        (leaf,) = account.execute(s.to, s.value, s.data, s.index, s.prevHash, s.policyVersion, s.nonce);
        calls[seq] = DisputeGame.AccountCall(s.to, s.value, keccak256(s.data), s.index, s.prevHash, s.policyVersion, s.nonce);
    }

    function _pay(address to, uint256 value) internal returns (bytes32) {
        return _exec(_step(to, value, "", traceLog.nextStepIndex(agentId) + account.callCount()));
    }

    function _cover(uint32 calls) internal {
        uint64 seq = traceLog.nextSequence(agentId);
        vm.prank(operator);
        traceLog.commitCovering(agentId, seq, keccak256(abi.encode("root", seq)), _da(agentId, seq), 3, calls);
    }

    function _proveUntraced(address who, uint32 callSeq) internal returns (uint256 disputeId) {
        bytes32 salt = keccak256(abi.encode("untraced", who, callSeq));
        _commitEvidence(who, game.untracedCallEvidence(agentId, callSeq), salt);
        vm.roll(block.number + 1);
        vm.prank(who);
        disputeId = game.proveUntracedCall(agentId, callSeq, calls[callSeq], salt);
    }

    // ---------------------------------------------------------------- packed counters

    /// TraceLog's per-agent counters as a model expects them.
    struct Counters {
        uint64 nextSeq;
        uint64 nextIdx;
        uint64 lastFin;
        uint32 covered;
    }

    /// The four per-agent counters share one slot in TraceLog: after any mix of commits,
    /// covering commits, covers (valid or not) and account calls they match a model kept
    /// here, and each batch's stored hash is the hash of the record the model expects.
    /// forge-config: default.fuzz.runs = 256
    function testFuzz_packedCounters_matchModel(uint256 seed) public {
        Counters memory m;
        for (uint256 i; i < 12; ++i) {
            _counterStep(m, uint256(keccak256(abi.encode(seed, i))));
            assertEq(traceLog.nextSequence(agentId), m.nextSeq, "nextSequence");
            assertEq(traceLog.nextStepIndex(agentId), m.nextIdx, "nextStepIndex");
            assertEq(traceLog.lastFinalizesAt(agentId), m.lastFin, "lastFinalizesAt");
            assertEq(traceLog.coveredCalls(agentId), m.covered, "coveredCalls");
            assertLe(m.covered, account.callCount(), "coverage within calls made");
        }
    }

    function _counterStep(Counters memory m, uint256 r) internal {
        vm.warp(block.timestamp + (r % 2000));
        uint8 op = uint8((r >> 48) % 4);
        if (op == 3) {
            // a call made by the account (refused once an old call is overdue)
            vm.prank(signer);
            try account.execute(shop, 0.001 ether, "", 0, bytes32(0), 1, uint64(r)) {} catch {}
            return;
        }
        uint32 made = account.callCount();
        uint32 want = uint32((r >> 16) % (uint256(made) + 3)); // sometimes too many, or fewer
        bool ok = want >= m.covered && want <= made;
        if (op == 2) {
            if (m.nextSeq == 0) return;
            if (!ok) vm.expectRevert(abi.encodeWithSelector(TraceLog.BadCoverage.selector, want, m.covered, made));
            vm.prank(operator);
            traceLog.cover(agentId, want);
            if (ok) m.covered = want;
            return;
        }
        uint32 n = uint32(1 + (r >> 32) % 300);
        bytes32 root = keccak256(abi.encode(r));
        bytes memory da = _da(agentId, m.nextSeq);
        if (op == 1) {
            if (!ok) vm.expectRevert(abi.encodeWithSelector(TraceLog.BadCoverage.selector, want, m.covered, made));
            vm.prank(operator);
            traceLog.commitCovering(agentId, m.nextSeq, root, da, n, want);
            if (!ok) return;
            m.covered = want;
        } else {
            vm.prank(operator);
            traceLog.commit(agentId, m.nextSeq, root, da, n);
        }
        Batch memory b = Batch(root, keccak256(da), m.nextIdx, n, uint64(block.timestamp), WINDOW, m.covered);
        assertEq(traceLog.batchHash(agentId, m.nextSeq), keccak256(abi.encode(b)), "stored record");
        m.nextSeq++;
        m.nextIdx += n;
        if (block.timestamp + WINDOW > m.lastFin) m.lastFin = uint64(block.timestamp + WINDOW);
    }

    // ---------------------------------------------------------------- binding

    function test_registration_createsOneAccountBoundForLife() public view {
        assertEq(account.agentId(), agentId);
        assertEq(address(account.registry()), address(registry));
        assertEq(address(account.traceLog()), address(traceLog));
        assertEq(address(account.vault()), address(vault));
        assertEq(account.signer(), signer);
        assertTrue(registry.accountOf(agentId) != registry.accountOf(1), "every agent has its own account");
    }

    function test_clone_isInitializedOnce_byTheRegistry_andTheImplementationDoesNothing() public {
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotRegistry.selector, mallory));
        account.initialize(mallory);
        vm.prank(address(registry));
        vm.expectRevert(AgentAccount.AlreadyInitialized.selector);
        account.initialize(mallory);
        assertEq(account.signer(), signer);
        // the implementation behind every clone: no signer, no arguments, refuses everything
        AgentAccount impl = AgentAccount(payable(registry.accountImplementation()));
        assertEq(impl.signer(), address(0));
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotSigner.selector, address(this)));
        impl.execute(shop, 0, "", 0, bytes32(0), 1, 0);
        vm.expectRevert();
        impl.initialize(mallory);
    }

    function test_execute_computesTheWalletStepLeafItself() public {
        WalletStep memory s = _step(shop, 0.5 ether, "", 7);
        bytes32 expected = _walletLeaf(s);
        vm.expectEmit(address(account));
        emit AgentAccount.Executed(0, expected, shop, 0.5 ether, 7, 1, keccak256(""), s.prevHash, s.nonce);
        bytes32 leaf = _exec(s);
        assertEq(leaf, expected, "the account's leaf is LeafEncoding's wallet-step leaf");
        assertEq(shop.balance, 0.5 ether);
        assertEq(account.callCount(), 1);
        (uint192 low, uint64 coverBy) = account.callAt(0);
        assertEq(uint256(low), uint256(uint192(uint256(expected))));
        assertEq(coverBy, block.timestamp + COMMIT_DEADLINE);
        assertTrue(account.isCallLeaf(0, expected));
        // the step a dishonest runtime would write instead (another recipient) is not this call
        assertFalse(account.isCallLeaf(0, _walletLeaf(_step(dex, 0.5 ether, "", 7))));
    }

    function test_execute_onlyTheSigner() public {
        for (uint256 i; i < 3; ++i) {
            address who = [owner, operator, stranger][i];
            vm.prank(who);
            vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotSigner.selector, who));
            account.execute(shop, 0.1 ether, "", 0, bytes32(0), 1, 0);
        }
    }

    // ---------------------------------------------------------------- the policy, on chain

    function test_policyBreaches_areImpossible_notPunishable() public {
        uint64 i = 0;
        WalletStep memory overCap = _step(shop, MAX_VALUE + 1, "", i);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.ValueCap));
        account.execute(overCap.to, overCap.value, overCap.data, i, overCap.prevHash, 1, 0);

        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.TargetNotAllowed));
        account.execute(mallory, 0.1 ether, "", i, bytes32(0), 1, 0);

        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.SelectorNotAllowed));
        account.execute(dex, 0, abi.encodeWithSelector(APPROVE, mallory, type(uint256).max), i, bytes32(0), 1, 0);

        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.SelectorNotAllowed));
        account.execute(dex, 0, hex"aabb", i, bytes32(0), 1, 0);
        assertEq(account.callCount(), 0, "no sequence number is used by a refused call");
        assertEq(mallory.balance, 0);
    }

    /// Issue 10: "3.96 of 3 ETH spent, 0 disputes" — the budget is now the chain's.
    function test_dailyBudget_enforcedOnChain() public {
        _pay(shop, 1 ether);
        _pay(dex, 1 ether);
        _pay(shop, 0.96 ether);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.DailyBudgetExceeded.selector, 2.96 ether, 0.05 ether, DAILY_BUDGET));
        account.execute(shop, 0.05 ether, "", 99, bytes32(0), 1, 0);
        assertEq(account.budgetLeft(), 0.04 ether);
        _cover(3);
        // a new UTC day starts a new budget
        vm.warp((block.timestamp / 1 days + 1) * 1 days);
        assertEq(account.budgetLeft(), DAILY_BUDGET);
        _pay(shop, 1 ether);
    }

    /// Issue 10: a stranger activating the owner's proposal switched the version under the
    /// running service, and every later payment was slashed as StalePolicy.
    function test_policyUpdates_onlyTheOwnerActivates_andCallsCiteTheVersionInForce() public {
        Policy memory looser = _policy(2 ether, WINDOW, COMMIT_DEADLINE);
        vm.prank(owner);
        uint32 v2 = registry.proposeUpdate(agentId, keccak256("v2"), _digests(), looser);
        vm.warp(registry.version(agentId, v2).readyAt);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentRegistry.NotAgentOwner.selector, agentId, stranger));
        registry.activateUpdate(agentId);
        _pay(shop, 0.5 ether); // still version 1: the honest service is not disturbed

        vm.prank(owner);
        registry.activateUpdate(agentId);
        // a call citing the old version is refused (not executed, so nothing to slash)
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.StalePolicyVersion.selector, 1, v2));
        account.execute(shop, 0.5 ether, "", 50, bytes32(0), 1, 0);
        vm.prank(signer);
        account.execute(shop, 1.5 ether, "", 50, bytes32(0), v2, 0);
        assertEq(shop.balance, 2 ether);
    }

    /// Issue 10: the off-allowlist payment is made first, the looser policy proposed later.
    function test_pastPaymentsCannotBeLaunderedByALaterLooserPolicy() public {
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.TargetNotAllowed));
        account.execute(mallory, 0.5 ether, "", 0, bytes32(0), 1, 0);
        // and a looser policy cannot take effect before the challenge window has passed
        vm.prank(owner);
        uint32 v2 = registry.proposeUpdate(agentId, keccak256("v2"), _digests(), _policy(5 ether, WINDOW, COMMIT_DEADLINE));
        assertGe(registry.version(agentId, v2).readyAt, block.timestamp + WINDOW, "not before the window");
    }

    // ---------------------------------------------------------------- the bond covers the risk

    /// Issue 11: the bond must cover what the policy lets the agent move within one commit
    /// deadline plus challenge window; a slashed agent stops until its owner tops it up.
    function test_bondMustCoverWhatThePolicyCanMove() public {
        // 3 ETH/day over a 1 h deadline + 1 day window: the span touches at most 3 UTC days
        assertEq(registry.requiredBondOf(DAILY_BUDGET, COMMIT_DEADLINE, WINDOW), 3 * DAILY_BUDGET);
        assertEq(registry.requiredBondOf(1 ether, 600, 3_600), 2 ether);
        assertEq(registry.requiredBondOf(type(uint256).max, 600, 3_600), type(uint256).max);
        assertEq(registry.requiredBondOf(type(uint256).max / 2 + 1, 600, 3_600), type(uint256).max, "saturates");

        _pay(shop, 0.1 ether); // 10 ETH bond >= 9 ETH required
        vm.warp(block.timestamp + COMMIT_DEADLINE + 1);
        _proveUntraced(challenger, 0); // slashed to 5 ETH
        _cover(1);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.BondTooLow.selector, 5 ether, 9 ether));
        account.execute(shop, 0.1 ether, "", 9, bytes32(0), 1, 0);
        _bond(agentId, owner, 4 ether, 0);
        _pay(shop, 0.1 ether);
        assertEq(account.callCount(), 2);
    }

    function test_anAgentWithoutADailyBudgetCannotAct() public {
        Policy memory p = _defaultPolicy();
        p.dailyBudget = type(uint256).max;
        vm.prank(owner);
        uint256 id = registry.register(operator, signer, keccak256("no budget"), _digests(), p, POLICY_DELAY);
        _bond(id, owner, 1_000 ether, 0);
        AgentAccount a = AgentAccount(payable(registry.accountOf(id)));
        vm.deal(address(a), 1 ether);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.BondTooLow.selector, 1_000 ether, type(uint256).max));
        a.execute(shop, 0.1 ether, "", 0, bytes32(0), 1, 0);
    }

    // ---------------------------------------------------------------- no trace, no action

    function test_untracedCall_isProvenOnChain_withoutAVote() public {
        uint64 t0 = uint64(block.timestamp);
        _pay(shop, 0.5 ether);
        assertEq(registry.openDisputes(agentId), 0);
        // not yet: the operator has until the commit deadline
        bytes32 salt = keccak256("s");
        _commitEvidence(challenger, game.untracedCallEvidence(agentId, 0), salt);
        vm.roll(block.number + 1);
        vm.warp(t0 + COMMIT_DEADLINE);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.CoverDeadlineNotPassed.selector, 0, t0 + COMMIT_DEADLINE));
        game.proveUntracedCall(agentId, 0, calls[0], salt);

        vm.warp(t0 + COMMIT_DEADLINE + 1);
        uint256 d = _proveUntraced(challenger, 0);
        DisputeGame.Dispute memory dispute = game.dispute(d);
        assertEq(uint8(dispute.kind), uint8(DisputeKind.UntracedAction));
        assertEq(uint8(dispute.status), uint8(DisputeStatus.Slashed));
        assertEq(dispute.stepIndex, 0, "the call's sequence number");
        assertEq(dispute.bond, 0, "proven, not voted: no challenger bond");
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
        // the value the call moved goes to the owner first; the challenger shares the rest
        assertEq(vault.ethCredits(owner), 0.5 ether, "the harmed owner is paid what the call moved");
        assertEq(vault.ethCredits(challenger), (BOND_ETH / 2 - 0.5 ether) * CHALLENGER_BPS / 10_000);
        // once only
        bytes32 salt2 = keccak256("s2");
        _commitEvidence(stranger, game.untracedCallEvidence(agentId, 0), salt2);
        vm.roll(block.number + 1);
        vm.prank(stranger);
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        game.proveUntracedCall(agentId, 0, calls[0], salt2);
    }

    function test_untracedProof_mustNameTheCallAsItWas() public {
        _pay(shop, 0.5 ether);
        vm.warp(block.timestamp + COMMIT_DEADLINE + 1);
        DisputeGame.AccountCall memory lie = calls[0];
        lie.value = 0.01 ether; // understating what moved, to pay the owner less
        bytes32 salt = keccak256("lie");
        _commitEvidence(challenger, game.untracedCallEvidence(agentId, 0), salt);
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotTheCall.selector, 0));
        game.proveUntracedCall(agentId, 0, lie, salt);
    }

    function test_honestAgent_coveredInTime_cannotBeProvenUntraced() public {
        uint64 t0 = uint64(block.timestamp);
        _pay(shop, 0.5 ether);
        _pay(dex, 0.5 ether);
        vm.warp(t0 + COMMIT_DEADLINE / 4);
        _cover(2);
        vm.warp(t0 + COMMIT_DEADLINE * 10);
        for (uint32 k; k < 2; ++k) {
            bytes32 salt = keccak256(abi.encode(k));
            _commitEvidence(mallory, game.untracedCallEvidence(agentId, k), salt);
            vm.roll(block.number + 1);
            vm.prank(mallory);
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.CallCovered.selector, k, 2));
            game.proveUntracedCall(agentId, k, calls[k], salt);
        }
        // a call that was never made cannot be "proven" either
        bytes32 salt3 = keccak256("none");
        _commitEvidence(mallory, game.untracedCallEvidence(agentId, 2), salt3);
        vm.roll(block.number + 1);
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.UnknownCall.selector, 2, 2));
        game.proveUntracedCall(agentId, 2, calls[2], salt3);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH, "never slashed");
    }

    function test_coverage_cannotRunAheadOrBack() public {
        _pay(shop, 0.1 ether);
        uint64 seq = traceLog.nextSequence(agentId);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadCoverage.selector, 2, 0, 1));
        traceLog.commitCovering(agentId, seq, keccak256("r"), _da(agentId, seq), 1, 2);
        _cover(1);
        seq = traceLog.nextSequence(agentId);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadCoverage.selector, 0, 1, 1));
        traceLog.commitCovering(agentId, seq, keccak256("r"), _da(agentId, seq), 1, 0);
        // the plain commit keeps the coverage where it is
        Batch memory b = _commitAs(operator, agentId, seq, keccak256("r"), _da(agentId, seq), 1);
        assertEq(traceLog.coveredCalls(agentId), 1);
        assertEq(b.callsCovered, 1);
    }

    function test_cover_movesCoverageWithoutABatch_onlyForCallsMade_onlyByTheOperator() public {
        _cover(0); // a batch first (its steps include the next call's wallet step)
        _pay(shop, 0.1 ether); // executed after that batch was committed
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.NotOperator.selector, agentId, stranger));
        traceLog.cover(agentId, 1);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(TraceLog.BadCoverage.selector, 2, 0, 1));
        traceLog.cover(agentId, 2);
        vm.prank(operator);
        traceLog.cover(agentId, 1);
        assertEq(traceLog.coveredCalls(agentId), 1);
    }

    /// The on-chain form of CommitBacklogError: the account stops itself.
    function test_accountStopsWhileAnOldCallIsUncovered() public {
        uint64 t0 = uint64(block.timestamp);
        _pay(shop, 0.1 ether);
        vm.warp(t0 + COMMIT_DEADLINE / 2);
        _pay(shop, 0.1 ether); // exactly half the deadline: still allowed
        vm.warp(t0 + COMMIT_DEADLINE / 2 + 1);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.TraceBehind.selector, 0, t0 + COMMIT_DEADLINE));
        account.execute(shop, 0.1 ether, "", 9, bytes32(0), 1, 0);
        _cover(1);
        _pay(shop, 0.1 ether); // call 1 is younger than half the deadline
        assertEq(account.callCount(), 3);
    }

    // ---------------------------------------------------------------- a bond cannot run

    /// Issue 10: at unlock time the operator pays untraced and withdraws in the next block.
    function test_bondCannotRun_noCallWhileUnbonding_noWithdrawWithAnUncoveredCall() public {
        _pay(shop, 0.5 ether); // made before the request, never covered
        vm.prank(owner);
        vault.requestWithdraw(agentId, BOND_ETH, 0);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.Unbonding.selector, agentId));
        account.execute(shop, 0.5 ether, "", 5, bytes32(0), 1, 0);

        vm.warp(block.timestamp + UNBONDING_DELAY + 1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(BondVault.UncoveredCalls.selector, agentId, 0, 1));
        vault.withdraw(agentId);
        // meanwhile anyone proves the untraced call: the bond is still there to slash
        _proveUntraced(challenger, 0);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2);
    }

    function test_honestOwner_withdrawsOnceEveryCallIsCoveredAndFinal() public {
        _pay(shop, 0.5 ether);
        _cover(1);
        vm.prank(owner);
        vault.requestWithdraw(agentId, BOND_ETH, 0);
        vm.warp(vault.withdrawableAt(agentId));
        vm.prank(owner);
        vault.withdraw(agentId);
        assertEq(owner.balance, BOND_ETH);
        assertFalse(vault.isUnbonding(agentId), "the request is gone with the withdrawal");
    }

    // ---------------------------------------------------------------- keys and strangers

    /// Issue 10: the wallet key signs an EIP-7702 authorization and a relayer drains the
    /// wallet. The key now holds only gas money; code at its address can reach the
    /// account's funds only through `execute`, under the policy and with a recorded leaf.
    function test_eip7702_delegatedSignerCannotDrainTheAccount() public {
        Drainer d = new Drainer();
        vm.etch(signer, address(d).code); // what a 7702 delegation does to the signer's address
        vm.prank(stranger); // the relayer
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotSigner.selector, address(d)));
        d.drain(account, mallory, 5 ether);
        // called as the signer itself: the policy still stands between it and the funds
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.ValueCap));
        Drainer(signer).drain(account, mallory, 5 ether);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.TargetNotAllowed));
        Drainer(signer).drain(account, mallory, 0.5 ether);
        assertEq(address(account).balance, 20 ether);
        assertEq(mallory.balance, 0);
    }

    /// Issue 10: a decoy agent registered first with the same key took the blame for
    /// untraced transfers. Every agent now acts only through its own account.
    function test_decoyAgentWithTheSameKey_getsItsOwnAccountOnly() public {
        uint256 decoy = _registerAgent(mallory, vm.addr(MALLORY_PK), signer);
        AgentAccount decoyAccount = AgentAccount(payable(registry.accountOf(decoy)));
        assertTrue(address(decoyAccount) != address(account));
        _pay(shop, 0.5 ether);
        assertEq(account.callCount(), 1);
        assertEq(decoyAccount.callCount(), 0, "the bonded agent's call is its own account's");
        vm.warp(block.timestamp + COMMIT_DEADLINE + 1);
        _proveUntraced(challenger, 0);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH / 2, "the bonded agent answers for it");
    }

    function test_owner_rotatesAndRevokesTheSigner_andWithdrawsFunds() public {
        address next = address(0x5E55);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotOwner.selector, signer));
        account.setSigner(next);
        vm.prank(owner);
        account.setSigner(next);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotSigner.selector, signer));
        account.execute(shop, 0.1 ether, "", 0, bytes32(0), 1, 0);
        vm.prank(owner);
        account.setSigner(address(0));
        assertEq(account.signer(), address(0));

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotOwner.selector, stranger));
        account.ownerWithdraw(address(0), stranger, 1 ether);
        vm.prank(owner);
        account.ownerWithdraw(address(0), owner, 20 ether);
        assertEq(owner.balance, 20 ether);
        token.mint(address(account), 5e18);
        vm.prank(owner);
        account.ownerWithdraw(address(token), owner, 5e18);
        assertEq(token.balanceOf(owner), 5e18);
    }

    function test_failedCall_revertsWhole_andUsesNoSequence() public {
        vm.etch(dex, hex"60006000fd"); // an allowlisted contract that always reverts
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.CallFailed.selector, ""));
        account.execute(dex, 0, abi.encodeWithSelector(TRANSFER, mallory, 1), 0, bytes32(0), 1, 0);
        assertEq(account.callCount(), 0);
        assertEq(account.budgetLeft(), DAILY_BUDGET);
    }

    // ---------------------------------------------------------------- fuzz

    /// Whatever the signer tries, the account never sends more than the daily budget in a
    /// UTC day, nor more than the cap in one call, nor to a target off the allowlist; and
    /// every executed call has its sequence and the leaf of its own arguments.
    function testFuzz_neverMoreThanThePolicyAllows(uint256 seed) public {
        uint256 sentToday;
        uint256 day = block.timestamp / 1 days;
        address[3] memory targets = [shop, dex, mallory];
        for (uint256 i; i < 24; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (r % 5 == 0) vm.warp(block.timestamp + (r >> 8) % 10 hours);
            if (block.timestamp / 1 days != day) {
                day = block.timestamp / 1 days;
                sentToday = 0;
            }
            if (account.callCount() > traceLog.coveredCalls(agentId)) _cover(account.callCount());
            address to = targets[(r >> 16) % 3];
            uint256 value = (r >> 32) % (1.5 ether);
            WalletStep memory s = _step(to, value, "", uint64(i));
            uint256 before = to.balance;
            vm.prank(signer);
            try account.execute(to, value, "", uint64(i), s.prevHash, 1, s.nonce) returns (bytes32 leaf, bytes memory) {
                sentToday += value;
                assertTrue(to != mallory, "off the allowlist");
                assertLe(value, MAX_VALUE, "over the cap");
                assertLe(sentToday, DAILY_BUDGET, "over the daily budget");
                assertEq(to.balance, before + value, "paid");
                assertEq(leaf, _walletLeaf(s));
                assertTrue(account.isCallLeaf(uint32(account.callCount() - 1), leaf));
            } catch {
                assertEq(to.balance, before);
            }
        }
    }
}
