// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Policy, Breach} from "./CovenantTypes.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {AgentAccount, CallCheck, ICallCoverage, IUnbonding} from "./AgentAccount.sol";

/// @dev Where the registry finds TraceLog and BondVault for new accounts (DisputeGame).
interface IGameWiring {
    function traceLog() external view returns (ICallCoverage);
    function vault() external view returns (IUnbonding);
}

/// @title AgentRegistry
/// @notice Who an agent is (owner, operator, signer key, and the AgentAccount holding its
///         funds, created here at registration and bound to the agent for life), what it
///         runs (manifest hash, model digests) and the policy the chain holds it to. Every
///         change is a new *version* that its owner activates after the agent's policy
///         delay (at least the challenge window), never while a dispute against the agent
///         is open. Old versions stay readable so a wallet step is always judged against
///         the version it cites.
contract AgentRegistry {
    struct Agent {
        address owner;
        address operator;
        /// the active version's challenge window, kept beside the operator (one slot) so that
        /// `commitTerms` — read by every TraceLog commit — costs one storage read, not three;
        /// written wherever `activeVersion` is
        uint64 activeWindow;
        /// the account's first signer (the operator's session key; see AgentAccount.signer)
        address wallet;
        /// the AgentAccount holding the agent's funds
        address account;
        uint64 registeredAt;
        uint64 policyDelay;
        uint32 activeVersion;
        /// proposed version waiting for its delay (0 when none)
        uint32 pendingVersion;
        uint32 versionCount;
        uint32 openDisputes;
    }

    struct Version {
        bytes32 manifestHash;
        uint256 maxValuePerTx;
        uint256 dailyBudget;
        uint64 challengeWindow;
        uint64 commitDeadline;
        /// earliest time a proposed version may be activated
        uint64 readyAt;
        /// when it became active (0 while pending)
        uint64 activeFrom;
        /// when the next version replaced it (0 while current)
        uint64 activeUntil;
        bytes32[] modelDigests;
        address[] allowedTargets;
        bytes4[] allowedSelectors;
    }

    uint256 public constant MAX_LIST_LENGTH = 256;
    /// A challenge needs a commitment in one block and a reveal in a later one, and a
    /// challenger needs time to fetch and replay: a shorter window would make an agent
    /// undisputable.
    uint64 public constant MIN_CHALLENGE_WINDOW = 60;

    /// Voting time of a quorum dispute, seconds. Read by DisputeGame and BondVault.
    uint64 public immutable disputePeriod;
    /// Minimum time between a withdrawal request and the withdrawal, seconds.
    uint64 public immutable unbondingDelay;
    /// Shortest policy delay an agent may choose, seconds.
    uint64 public immutable minPolicyDelay;

    address public disputeGame;
    address private immutable _deployer;
    /// the implementation every AgentAccount clone delegates to
    address public immutable accountImplementation;

    uint256 public agentCount;
    mapping(uint256 => Agent) private _agents;
    mapping(uint256 => mapping(uint32 => Version)) private _versions;
    mapping(uint256 => mapping(uint32 => mapping(address => bool))) private _targetAllowed;
    mapping(uint256 => mapping(uint32 => mapping(bytes4 => bool))) private _selectorAllowed;

    event AgentRegistered(
        uint256 indexed agentId,
        address indexed owner,
        address operator,
        address wallet,
        bytes32 manifestHash,
        address account
    );
    event UpdateProposed(uint256 indexed agentId, uint32 version, bytes32 manifestHash, uint64 readyAt);
    event UpdateActivated(uint256 indexed agentId, uint32 version);
    event UpdateCancelled(uint256 indexed agentId, uint32 version);
    event OpenDisputesChanged(uint256 indexed agentId, uint32 openDisputes);

    error UnknownAgent(uint256 agentId);
    error NotAgentOwner(uint256 agentId, address caller);
    error ZeroAddress();
    error ListTooLong(uint256 length, uint256 max);
    error PolicyDelayTooShort(uint64 given, uint64 min);
    error WindowTooLong(uint64 windowPlusDisputePeriod, uint64 unbondingDelay);
    error WindowTooShort(uint64 challengeWindow, uint64 min);
    error UpdatePending(uint256 agentId, uint32 version);
    error NoUpdatePending(uint256 agentId);
    error UpdateNotReady(uint256 agentId, uint64 readyAt);
    error DisputeOpen(uint256 agentId);
    error OnlyDisputeGame();
    error OnlyDeployer();
    error AlreadyWired();
    error NoOpenDispute(uint256 agentId);
    error NotWired();

    constructor(uint64 disputePeriod_, uint64 unbondingDelay_, uint64 minPolicyDelay_) {
        if (unbondingDelay_ <= disputePeriod_) revert WindowTooLong(disputePeriod_, unbondingDelay_);
        disputePeriod = disputePeriod_;
        unbondingDelay = unbondingDelay_;
        minPolicyDelay = minPolicyDelay_;
        _deployer = msg.sender;
        accountImplementation = address(new AgentAccount());
    }

    /// @notice One-time wiring: only the dispute game may open and close disputes.
    function setDisputeGame(address game) external {
        if (msg.sender != _deployer) revert OnlyDeployer();
        if (disputeGame != address(0)) revert AlreadyWired();
        if (game == address(0)) revert ZeroAddress();
        disputeGame = game;
    }

    // ------------------------------------------------------------------ registration

    function register(
        address operator,
        address wallet,
        bytes32 manifestHash,
        bytes32[] calldata modelDigests,
        Policy calldata policy,
        uint64 policyDelay
    ) external returns (uint256 agentId) {
        if (operator == address(0) || wallet == address(0)) revert ZeroAddress();
        if (disputeGame == address(0)) revert NotWired();
        if (policyDelay < minPolicyDelay) revert PolicyDelayTooShort(policyDelay, minPolicyDelay);
        agentId = ++agentCount;
        Agent storage a = _agents[agentId];
        a.owner = msg.sender;
        a.operator = operator;
        a.wallet = wallet;
        a.registeredAt = uint64(block.timestamp);
        a.policyDelay = policyDelay;
        a.activeVersion = 1;
        a.activeWindow = policy.challengeWindow;
        a.versionCount = 1;
        Version storage v = _writeVersion(agentId, 1, manifestHash, modelDigests, policy);
        // An update must not take effect while a batch signed under the old version can
        // still be challenged: the delay is at least the challenge window.
        if (policyDelay < policy.challengeWindow) revert PolicyDelayTooShort(policyDelay, policy.challengeWindow);
        v.readyAt = uint64(block.timestamp);
        v.activeFrom = uint64(block.timestamp);
        IGameWiring game = IGameWiring(disputeGame);
        bytes memory args = abi.encodePacked(address(this), address(game.traceLog()), address(game.vault()), agentId);
        a.account = Clones.cloneDeterministicWithImmutableArgs(accountImplementation, args, bytes32(agentId));
        AgentAccount(payable(a.account)).initialize(wallet);
        emit AgentRegistered(agentId, msg.sender, operator, wallet, manifestHash, a.account);
        emit UpdateActivated(agentId, 1);
    }

    /// @notice Propose a new manifest and policy. It can be activated after the policy delay.
    function proposeUpdate(
        uint256 agentId,
        bytes32 manifestHash,
        bytes32[] calldata modelDigests,
        Policy calldata policy
    ) external returns (uint32 version) {
        Agent storage a = _ownedAgent(agentId);
        if (a.pendingVersion != 0) revert UpdatePending(agentId, a.pendingVersion);
        if (a.openDisputes != 0) revert DisputeOpen(agentId);
        version = ++a.versionCount;
        a.pendingVersion = version;
        Version storage v = _writeVersion(agentId, version, manifestHash, modelDigests, policy);
        // never before a batch committed under the current version stops being challengeable
        uint64 delay = a.policyDelay;
        uint64 currentWindow = _versions[agentId][a.activeVersion].challengeWindow;
        if (currentWindow > delay) delay = currentWindow;
        if (policy.challengeWindow > delay) delay = policy.challengeWindow;
        v.readyAt = uint64(block.timestamp) + delay;
        emit UpdateProposed(agentId, version, manifestHash, v.readyAt);
    }

    /// @notice The owner activates a proposed version once its delay has passed and no
    ///         dispute is open against the agent. Only the owner: a stranger activating it
    ///         would switch the version the account enforces under a running service.
    function activateUpdate(uint256 agentId) external {
        Agent storage a = _ownedAgent(agentId);
        uint32 next = a.pendingVersion;
        if (next == 0) revert NoUpdatePending(agentId);
        if (a.openDisputes != 0) revert DisputeOpen(agentId);
        Version storage v = _versions[agentId][next];
        if (block.timestamp < v.readyAt) revert UpdateNotReady(agentId, v.readyAt);
        _versions[agentId][a.activeVersion].activeUntil = uint64(block.timestamp);
        v.activeFrom = uint64(block.timestamp);
        a.activeVersion = next;
        a.activeWindow = v.challengeWindow;
        a.pendingVersion = 0;
        emit UpdateActivated(agentId, next);
    }

    /// @notice Withdraw a proposal. Its number stays taken and it never becomes active.
    function cancelUpdate(uint256 agentId) external {
        Agent storage a = _ownedAgent(agentId);
        uint32 next = a.pendingVersion;
        if (next == 0) revert NoUpdatePending(agentId);
        a.pendingVersion = 0;
        emit UpdateCancelled(agentId, next);
    }

    // ------------------------------------------------------------------ disputes

    function disputeOpened(uint256 agentId) external {
        if (msg.sender != disputeGame) revert OnlyDisputeGame();
        Agent storage a = _agent(agentId);
        a.openDisputes += 1;
        emit OpenDisputesChanged(agentId, a.openDisputes);
    }

    function disputeClosed(uint256 agentId) external {
        if (msg.sender != disputeGame) revert OnlyDisputeGame();
        Agent storage a = _agent(agentId);
        if (a.openDisputes == 0) revert NoOpenDispute(agentId);
        a.openDisputes -= 1;
        emit OpenDisputesChanged(agentId, a.openDisputes);
    }

    // ------------------------------------------------------------------ policy evaluation

    /// @notice Judge one wallet transaction against the version it cites, as of the time
    ///         its batch was committed.
    /// @dev A cited version is stale when it had been replaced for longer than its commit
    ///      deadline before the batch was committed: an honest agent signs under the
    ///      current version and commits within the deadline, so it can never cite one.
    function evaluate(
        uint256 agentId,
        uint32 version,
        address to,
        uint256 value,
        bytes calldata data,
        uint64 committedAt
    ) external view returns (Breach) {
        _agent(agentId);
        Version storage v = _versions[agentId][version];
        if (v.activeFrom == 0 || v.activeFrom > committedAt) return Breach.UnknownPolicy;
        if (v.activeUntil != 0 && uint256(v.activeUntil) + v.commitDeadline <= committedAt) {
            return Breach.StalePolicy;
        }
        if (value > v.maxValuePerTx) return Breach.ValueCap;
        if (!_targetAllowed[agentId][version][to]) return Breach.TargetNotAllowed;
        if (data.length > 0) {
            if (data.length < 4) return Breach.SelectorNotAllowed;
            if (!_selectorAllowed[agentId][version][bytes4(data[:4])]) return Breach.SelectorNotAllowed;
        }
        return Breach.None;
    }

    /// @notice The version in force now and what it says about one call (AgentAccount).
    ///         Returns the breach instead of reverting, so callers name their own error.
    function checkCall(uint256 agentId, address to, uint256 value, bytes calldata data)
        external
        view
        returns (CallCheck memory c)
    {
        c.version = _agent(agentId).activeVersion;
        Version storage v = _versions[agentId][c.version];
        c.dailyBudget = v.dailyBudget;
        c.commitDeadline = v.commitDeadline;
        c.requiredBond = requiredBondOf(v.dailyBudget, v.commitDeadline, v.challengeWindow);
        if (value > v.maxValuePerTx) c.breach = Breach.ValueCap;
        else if (!_targetAllowed[agentId][c.version][to]) c.breach = Breach.TargetNotAllowed;
        else if (data.length > 0 && (data.length < 4 || !_selectorAllowed[agentId][c.version][bytes4(data[:4])])) {
            c.breach = Breach.SelectorNotAllowed;
        }
    }

    /// @notice The ETH bond an agent must hold to act under a policy: the most its account can
    ///         move within one commit deadline plus challenge window — the daily budget times
    ///         the UTC days such a span can touch (floor(span / 1 day) + 2). No daily budget:
    ///         no bound, so such an agent's account makes no call.
    function requiredBondOf(uint256 dailyBudget, uint64 commitDeadline, uint64 challengeWindow)
        public
        pure
        returns (uint256)
    {
        if (dailyBudget == type(uint256).max) return type(uint256).max;
        uint256 daysTouched = (uint256(commitDeadline) + challengeWindow) / 1 days + 2;
        if (dailyBudget > type(uint256).max / daysTouched) return type(uint256).max;
        return dailyBudget * daysTouched;
    }

    // ------------------------------------------------------------------ views

    function ownerOf(uint256 agentId) external view returns (address) {
        return _agent(agentId).owner;
    }

    function accountOf(uint256 agentId) external view returns (address) {
        return _agent(agentId).account;
    }

    function agent(uint256 agentId) external view returns (Agent memory) {
        return _agent(agentId);
    }

    function version(uint256 agentId, uint32 versionNumber) external view returns (Version memory) {
        _agent(agentId);
        return _versions[agentId][versionNumber];
    }

    function activePolicy(uint256 agentId) external view returns (Policy memory p, uint32 versionNumber) {
        versionNumber = _agent(agentId).activeVersion;
        Version storage v = _versions[agentId][versionNumber];
        p = Policy(
            v.maxValuePerTx, v.challengeWindow, v.commitDeadline, v.allowedTargets, v.allowedSelectors, v.dailyBudget
        );
    }

    /// @notice What TraceLog needs to accept a batch, in one call that reads only those
    ///         slots: who may commit it, the active version's challenge window and, when
    ///         `withAccount` (the batch moves the coverage), the account whose calls it covers
    ///         (else zero).
    function commitTerms(uint256 agentId, bool withAccount)
        external
        view
        returns (address operator, uint64 challengeWindow, address account)
    {
        Agent storage a = _agents[agentId];
        operator = a.operator;
        // the operator is never zero for a registered agent
        if (operator == address(0)) revert UnknownAgent(agentId);
        challengeWindow = a.activeWindow;
        if (withAccount) account = a.account;
    }

    function challengeWindowOf(uint256 agentId) external view returns (uint64) {
        return _versions[agentId][_agent(agentId).activeVersion].challengeWindow;
    }

    function openDisputes(uint256 agentId) external view returns (uint32) {
        return _agent(agentId).openDisputes;
    }

    function exists(uint256 agentId) external view returns (bool) {
        return _agents[agentId].owner != address(0);
    }

    // ------------------------------------------------------------------ internal

    function _agent(uint256 agentId) internal view returns (Agent storage a) {
        a = _agents[agentId];
        if (a.owner == address(0)) revert UnknownAgent(agentId);
    }

    function _ownedAgent(uint256 agentId) internal view returns (Agent storage a) {
        a = _agent(agentId);
        if (a.owner != msg.sender) revert NotAgentOwner(agentId, msg.sender);
    }

    function _writeVersion(
        uint256 agentId,
        uint32 number,
        bytes32 manifestHash,
        bytes32[] calldata modelDigests,
        Policy calldata policy
    ) internal returns (Version storage v) {
        if (modelDigests.length > MAX_LIST_LENGTH) revert ListTooLong(modelDigests.length, MAX_LIST_LENGTH);
        if (policy.allowedTargets.length > MAX_LIST_LENGTH) {
            revert ListTooLong(policy.allowedTargets.length, MAX_LIST_LENGTH);
        }
        if (policy.allowedSelectors.length > MAX_LIST_LENGTH) {
            revert ListTooLong(policy.allowedSelectors.length, MAX_LIST_LENGTH);
        }
        if (policy.challengeWindow < MIN_CHALLENGE_WINDOW) {
            revert WindowTooShort(policy.challengeWindow, MIN_CHALLENGE_WINDOW);
        }
        uint64 longest = policy.challengeWindow > policy.commitDeadline ? policy.challengeWindow : policy.commitDeadline;
        // A bond must outlive every window in which the agent can still be disputed.
        uint256 needed = uint256(longest) + disputePeriod;
        if (needed >= unbondingDelay) {
            // saturate: a window near 2^64 must still revert with this error, not overflow
            revert WindowTooLong(needed > type(uint64).max ? type(uint64).max : uint64(needed), unbondingDelay);
        }
        v = _versions[agentId][number];
        v.manifestHash = manifestHash;
        v.maxValuePerTx = policy.maxValuePerTx;
        v.dailyBudget = policy.dailyBudget;
        v.challengeWindow = policy.challengeWindow;
        v.commitDeadline = policy.commitDeadline;
        for (uint256 i; i < modelDigests.length; ++i) v.modelDigests.push(modelDigests[i]);
        for (uint256 i; i < policy.allowedTargets.length; ++i) {
            v.allowedTargets.push(policy.allowedTargets[i]);
            _targetAllowed[agentId][number][policy.allowedTargets[i]] = true;
        }
        for (uint256 i; i < policy.allowedSelectors.length; ++i) {
            v.allowedSelectors.push(policy.allowedSelectors[i]);
            _selectorAllowed[agentId][number][policy.allowedSelectors[i]] = true;
        }
    }
}
