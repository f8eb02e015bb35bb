// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "../utils/Fixture.sol";
import {Vm} from "../utils/Vm.sol";
import {AgentAccount, PermitAuthorization, StepPlace, TransferAuthorization} from "../../src/AgentAccount.sol";
import {AgentRegistry} from "../../src/AgentRegistry.sol";
import {BondVault} from "../../src/BondVault.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {TraceLog} from "../../src/TraceLog.sol";
import {Policy} from "../../src/CovenantTypes.sol";

/// @notice Drives one agent's account with everything its signer, operator, owner and
///         strangers can do — calls to any target, coverage (honest or not), policy
///         updates, unbonding, withdrawals, untraced-call proofs and time — and keeps the
///         ghost figures the invariants compare with the chain.
contract AccountHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    AgentAccount public immutable account;
    AgentRegistry public immutable registry;
    TraceLog public immutable traceLog;
    BondVault public immutable vault;
    DisputeGame public immutable game;
    uint256 public immutable agentId;
    address public immutable signer;
    address public immutable operator;
    address public immutable owner;
    address[3] internal targets;

    /// native value the account sent, per UTC day
    mapping(uint256 => uint256) public sentOnDay;
    uint256[] public days_;
    /// the largest daily budget any version in force ever had
    uint256 public maxBudgetEver;
    uint256 public maxCapEver;
    uint256 public largestCall;
    uint256 public executed;
    uint256 public withdrawals;
    /// set if a withdrawal succeeded while a call was uncovered
    bool public withdrewUncovered;
    /// set if a call succeeded while the owner was unbonding
    bool public calledWhileUnbonding;
    uint256 public proofs;
    DisputeGame.AccountCall[] internal callArgs;
    /// the token authorizations may name (set once by the test)
    address public token;
    uint256 public authorizations;
    /// set if an authorization succeeded for a payee off every allowlist, or for longer than a day
    bool public authorizedOffAllowlist;
    bool public authorizedTooLong;
    bytes32[] public digests;
    uint256[] public approvedAt;
    /// each authorization's call data and amount, by call sequence (what a prover reads back)
    mapping(uint32 => bytes) internal authData;
    mapping(uint32 => uint256) internal authAmount;
    /// bond tokens repaid to the owner by proofs of untraced authorizations
    uint256 public tokenRepaid;
    /// set if a proof repaid more than the authorization's amount, or more than the token bond held
    bool public repaidTooMuch;

    constructor(
        AgentAccount account_,
        AgentRegistry registry_,
        TraceLog traceLog_,
        BondVault vault_,
        DisputeGame game_,
        address signer_,
        address operator_,
        address owner_,
        address[3] memory targets_,
        uint256 budget,
        uint256 cap
    ) {
        account = account_;
        registry = registry_;
        traceLog = traceLog_;
        vault = vault_;
        game = game_;
        agentId = account_.agentId();
        signer = signer_;
        operator = operator_;
        owner = owner_;
        targets = targets_;
        maxBudgetEver = budget;
        maxCapEver = cap;
    }

    function setToken(address token_) external {
        if (token == address(0)) token = token_;
    }

    function digestCount() external view returns (uint256) {
        return digests.length;
    }

    /// The signer authorizes an EIP-3009 transfer or EIP-2612 permit to any payee, any amount,
    /// for any lifetime up to two days.
    function authorize(uint256 payeeSeed, uint256 value, uint64 stepIndex, bool permit, uint32 life) external {
        address payee = targets[payeeSeed % 3];
        uint256 until = block.timestamp + 1 + (uint256(life) % 2 days);
        (,,,,,, uint32 active,,,) = _agent();
        bool unbonding = vault.isUnbonding(agentId);
        StepPlace memory place = StepPlace(stepIndex, keccak256(abi.encode(stepIndex)), active, stepIndex);
        bytes memory data = permit
            ? abi.encodePacked(
                bytes4(keccak256("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)")),
                abi.encode(address(account), payee, value, uint256(0), until)
            )
            : abi.encodePacked(
                bytes4(keccak256("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)")),
                abi.encode(address(account), payee, value, uint256(0), until, bytes32(uint256(stepIndex)))
            );
        bytes32 digest;
        vm.prank(signer);
        if (permit) {
            try account.authorizePermit(PermitAuthorization(token, payee, value, 0, until), place) returns (bytes32, bytes32 d) {
                digest = d;
            } catch {
                return;
            }
        } else {
            try account.authorizeTransfer(
                TransferAuthorization(token, payee, value, 0, until, bytes32(uint256(stepIndex))), place
            ) returns (bytes32, bytes32 d) {
                digest = d;
            } catch {
                return;
            }
        }
        authData[uint32(callArgs.length)] = data;
        authAmount[uint32(callArgs.length)] = value;
        callArgs.push(DisputeGame.AccountCall(token, 0, keccak256(data), stepIndex, place.prevHash, active, stepIndex));
        executed++;
        authorizations++;
        digests.push(digest);
        approvedAt.push(block.timestamp);
        if (unbonding) calledWhileUnbonding = true;
        if (payee != targets[0] && payee != targets[1]) authorizedOffAllowlist = true;
        if (until > block.timestamp + 1 days) authorizedTooLong = true;
    }

    function dayCount() external view returns (uint256) {
        return days_.length;
    }

    function execute(uint256 targetSeed, uint256 value, uint64 stepIndex, bool citeWrongVersion) external {
        address to = targets[targetSeed % 3];
        value = value % 2 ether;
        (,,,,,, uint32 active,,,) = _agent();
        uint32 cited = citeWrongVersion ? active + 1 : active;
        bool unbonding = vault.isUnbonding(agentId);
        vm.prank(signer);
        try account.execute(to, value, "", stepIndex, keccak256(abi.encode(stepIndex)), cited, stepIndex) {
            callArgs.push(
                DisputeGame.AccountCall(to, value, keccak256(""), stepIndex, keccak256(abi.encode(stepIndex)), cited, stepIndex)
            );
            uint256 day = block.timestamp / 1 days;
            if (sentOnDay[day] == 0) days_.push(day);
            sentOnDay[day] += value;
            if (value > largestCall) largestCall = value;
            executed++;
            if (unbonding) calledWhileUnbonding = true;
        } catch {}
    }

    /// The operator declares coverage: honestly (what exists) or not (anything).
    function cover(uint32 n, bool commitBatch) external {
        uint32 made = account.callCount();
        n = made == 0 ? 0 : uint32(uint256(n) % (uint256(made) + 2));
        uint64 seq = traceLog.nextSequence(agentId); // (read before the prank: a view call would use it up)
        vm.prank(operator);
        if (commitBatch) {
            try traceLog.commitCovering(agentId, seq, keccak256(abi.encode(seq)), abi.encode(seq), 1, n) {} catch {}
        } else {
            try traceLog.cover(agentId, n) {} catch {}
        }
    }

    function updatePolicy(uint256 budget, uint256 cap, bool activate) external {
        if (activate) {
            vm.prank(owner);
            try registry.activateUpdate(agentId) {} catch {}
            return;
        }
        budget = budget % 10 ether;
        cap = cap % 3 ether;
        address[] memory t = new address[](2);
        t[0] = targets[0];
        t[1] = targets[1];
        Policy memory p = Policy(cap, 1 days, 1 hours, t, new bytes4[](0), budget);
        vm.prank(owner);
        try registry.proposeUpdate(agentId, keccak256(abi.encode(budget, cap)), new bytes32[](0), p) {
            if (budget > maxBudgetEver) maxBudgetEver = budget;
            if (cap > maxCapEver) maxCapEver = cap;
        } catch {}
    }

    function unbond(uint256 amount, uint8 what) external {
        // read before the prank: a view call would use it up
        bool uncovered = traceLog.coveredCalls(agentId) < account.callCount();
        vm.prank(owner);
        if (what % 3 == 0) {
            try vault.requestWithdraw(agentId, 1 + amount % 5 ether, 0) {} catch {}
        } else if (what % 3 == 1) {
            try vault.cancelWithdraw(agentId) {} catch {}
        } else {
            try vault.withdraw(agentId) {
                withdrawals++;
                if (uncovered) withdrewUncovered = true;
            } catch {}
        }
    }

    function proveUntraced(uint32 seq, address challenger) external {
        uint32 made = account.callCount();
        if (made == 0) return;
        seq = uint32(uint256(seq) % made);
        if (challenger == address(0)) challenger = address(0xC4A11);
        bytes32 salt = keccak256(abi.encode(seq, challenger, block.number));
        bytes32 commitment = game.evidenceCommitment(challenger, game.untracedCallEvidence(agentId, seq), salt);
        vm.prank(challenger);
        game.commitEvidence(commitment);
        vm.roll(block.number + 1);
        if (authData[seq].length == 0) {
            vm.prank(challenger);
            try game.proveUntracedCall(agentId, seq, callArgs[seq], salt) {
                proofs++;
            } catch {}
            return;
        }
        // an authorization: proven with its data, the owner repaid from the token bond
        uint256 creditBefore = vault.tokenCredits(owner);
        uint256 bondBefore = vault.bondOf(agentId).token;
        vm.prank(challenger);
        try game.proveUntracedAuthorization(agentId, seq, callArgs[seq], authData[seq], salt) {
            proofs++;
            uint256 repaid = vault.tokenCredits(owner) - creditBefore;
            tokenRepaid += repaid;
            if (repaid > authAmount[seq] || repaid > bondBefore) repaidTooMuch = true;
        } catch {}
    }

    function warp(uint32 dt) external {
        vm.warp(block.timestamp + (dt % 2 days));
        vm.roll(block.number + 1);
    }

    function _agent()
        internal
        view
        returns (address, address, address, address, uint64, uint64, uint32, uint32, uint32, uint32)
    {
        AgentRegistry.Agent memory a = registry.agent(agentId);
        return (
            a.owner,
            a.operator,
            a.wallet,
            a.account,
            a.registeredAt,
            a.policyDelay,
            a.activeVersion,
            a.pendingVersion,
            a.versionCount,
            a.openDisputes
        );
    }
}

/// @notice The account's promises under any sequence of actions: it never sends more than
///         the largest daily budget any version had in one UTC day, nor more than the
///         largest cap in one call, nor to a target off every allowlist; every executed call
///         has a sequence number and a recorded leaf; no call runs while the owner is
///         unbonding; no withdrawal succeeds with an uncovered call.
contract AccountInvariants is Fixture {
    AccountHandler internal h;
    AgentAccount internal account;
    address internal signer = address(0x5161E2);

    function setUp() public override {
        super.setUp();
        // the default policy, plus the token and the EIP-3009 / EIP-2612 selectors: the signer
        // may authorize token transfers to shop and dex, never to mallory
        Policy memory p = _defaultPolicy();
        address[] memory t = new address[](3);
        (t[0], t[1], t[2]) = (shop, dex, address(token));
        bytes4[] memory sel = new bytes4[](4);
        (sel[0], sel[1]) = (TRANSFER, SWAP);
        sel[2] = bytes4(
            keccak256("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)")
        );
        sel[3] = bytes4(keccak256("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"));
        (p.allowedTargets, p.allowedSelectors) = (t, sel);
        bytes32[] memory d = _digests();
        vm.prank(owner);
        agentId = registry.register(operator, signer, keccak256("manifest-v1"), d, p, POLICY_DELAY);
        _bond(agentId, owner, BOND_ETH, 8e18);
        account = AgentAccount(payable(registry.accountOf(agentId)));
        vm.deal(address(account), 1_000 ether);
        h = new AccountHandler(
            account, registry, traceLog, vault, game, signer, operator, owner, [shop, dex, mallory], DAILY_BUDGET, MAX_VALUE
        );
        h.setToken(address(token));
        targetContract(address(h));
    }

    /// The handler's paths are reachable (so the campaign is not vacuous): calls run, an
    /// uncovered one is proven, coverage moves, an honest withdrawal succeeds.
    function test_handlerReachesEveryPath() public {
        h.authorize(0, 5e18, 7, false, 300);
        h.authorize(1, 5e18, 8, true, 300);
        h.authorize(2, 5e18, 9, false, 300); // mallory: refused
        assertEq(h.authorizations(), 2);
        h.execute(0, 0.5 ether, 1, false);
        h.execute(1, 0.5 ether, 2, false);
        assertEq(h.executed(), 4);
        h.cover(3, true);
        assertEq(traceLog.coveredCalls(agentId), 3);
        h.warp(uint32(COMMIT_DEADLINE + 1));
        h.proveUntraced(3, address(0));
        assertEq(h.proofs(), 1);
        h.cover(4, false);
        h.unbond(1 ether, 0);
        h.execute(0, 0.1 ether, 3, false);
        assertEq(h.executed(), 4, "no call while unbonding");
        h.warp(uint32(1 days));
        for (uint256 i; i < 20 && h.withdrawals() == 0; ++i) {
            h.warp(uint32(1 days));
            h.unbond(0, 2);
        }
        assertEq(h.withdrawals(), 1, "an honest withdrawal once every call is covered and final");
        invariant_accountKeepsThePolicy();
    }

    /// An untraced authorization of the bond token is proven with its data and the owner is
    /// repaid from the token bond — at most what the bond holds.
    function test_handlerRepaysAnUntracedAuthorization() public {
        h.authorize(0, 5e18, 7, false, 300);
        h.authorize(1, 6e18, 8, true, 300);
        h.warp(uint32(COMMIT_DEADLINE + 1));
        h.proveUntraced(0, address(0));
        assertEq(h.tokenRepaid(), 5e18);
        h.proveUntraced(1, address(0xBEEF));
        // the token bond held 8, half went with the first proof: the permit's 6 are repaid from the 3 left
        assertEq(h.proofs(), 2);
        assertEq(h.tokenRepaid(), 5e18 + 3e18);
        assertEq(vault.bondOf(agentId).token, 0);
        invariant_accountKeepsThePolicy();
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    function invariant_accountKeepsThePolicy() public view {
        for (uint256 i; i < h.dayCount(); ++i) {
            assertLe(h.sentOnDay(h.days_(i)), h.maxBudgetEver(), "more than any daily budget in one day");
        }
        assertLe(h.largestCall(), h.maxCapEver(), "a call above every cap");
        assertEq(mallory.balance, 0, "a target off every allowlist was paid");
        assertEq(account.callCount(), h.executed(), "every executed call has its own sequence number");
        for (uint32 k; k < account.callCount(); ++k) {
            (uint192 leafLow, uint64 coverBy) = account.callAt(k);
            assertTrue(leafLow != 0 && coverBy != 0, "every executed call records its leaf and cover-by time");
        }
        assertFalse(h.calledWhileUnbonding(), "a call ran while the owner was unbonding");
        assertFalse(h.withdrewUncovered(), "a withdrawal with an uncovered call");
        assertLe(traceLog.coveredCalls(agentId), account.callCount(), "coverage past the calls made");
        assertFalse(h.authorizedOffAllowlist(), "an authorization for a payee off every allowlist");
        assertFalse(h.authorizedTooLong(), "an authorization valid for more than a day");
        assertFalse(h.repaidTooMuch(), "a proof repaid more than the authorization or the token bond");
        for (uint256 i; i < h.digestCount(); ++i) {
            assertLe(account.authorizedUntil(h.digests(i)), h.approvedAt(i) + 1 days, "a digest accepted past its day");
        }
    }
}
