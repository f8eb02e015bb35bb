// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Breach} from "./CovenantTypes.sol";
import {LeafEncoding} from "./LeafEncoding.sol";

/// @dev The policy in force, as the registry states it for one call.
struct CallCheck {
    uint32 version;
    uint256 dailyBudget;
    uint64 commitDeadline;
    /// the ETH bond the agent must hold to act: what the policy lets it move within one
    /// commit deadline plus challenge window (max uint256 without a daily budget)
    uint256 requiredBond;
    Breach breach;
}

/// @dev An EIP-3009 `transferWithAuthorization` the agent authorizes (`from` is the account).
struct TransferAuthorization {
    address token;
    address to;
    uint256 value;
    uint256 validAfter;
    uint256 validBefore;
    bytes32 nonce;
}

/// @dev An EIP-2612 `permit` the agent authorizes (`owner` is the account); `nonce` is the
///      token's permit nonce for the account (`nonces(account)`).
struct PermitAuthorization {
    address token;
    address spender;
    uint256 value;
    uint256 nonce;
    uint256 deadline;
}

/// @dev Where a call's wallet step sits in the agent's hash chain and what it cites:
///      `execute`'s last four arguments.
struct StepPlace {
    uint64 stepIndex;
    bytes32 prevHash;
    uint32 policyVersion;
    uint64 nonce;
}

/// @dev What the account reads from a token to build an EIP-712 digest in its domain.
interface IEIP712Domain {
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}

/// @dev What the account reads from the registry (AgentRegistry implements it).
interface IAgentPolicySource {
    function checkCall(uint256 agentId, address to, uint256 value, bytes calldata data)
        external
        view
        returns (CallCheck memory);
    function ownerOf(uint256 agentId) external view returns (address);
}

/// @dev How many of an agent's account calls its committed batches cover (TraceLog).
interface ICallCoverage {
    function coveredCalls(uint256 agentId) external view returns (uint32);
}

/// @dev The agent's bond as the account needs it (BondVault).
interface IUnbonding {
    /// whether the owner asked for (part of) the bond back, and the ETH bond
    function bondGate(uint256 agentId) external view returns (bool unbonding, uint256 bondEth);
}

/// @title AgentAccount
/// @notice Where an agent's funds live: one account per agent, created by the registry at
///         registration and bound to that agent id for life. The operator's key is only
///         its *signer* (a session key the owner can rotate or revoke); it holds gas money,
///         not the agent's funds.
///
///         The account moves money only through `execute`, and `execute` enforces, in the
///         block it runs in:
///           - the policy version in force (allowlisted target, allowed selector, value cap),
///             and that the caller cites exactly that version;
///           - the daily budget (native value per UTC day);
///           - "no trace, no action": each call gets the next gapless sequence number and
///             the account computes the wallet step's leaf itself from the call's own
///             arguments (`LeafEncoding`, from = this account; `nonce` is the signer's
///             transaction nonce the step records), so a call and its trace step cannot
///             differ. The leaf and the time by which a committed
///             batch must cover the call are stored; anyone can prove an uncovered call
///             past that time on chain (DisputeGame.proveUntracedCall);
///           - it stops itself: no new call while an uncovered call is older than half the
///             commit deadline, none while the owner is withdrawing the bond, and none
///             while the ETH bond is below what the policy lets the agent move within one
///             commit deadline plus challenge window (daily budget × the UTC days such a
///             span can touch): what a faulty call can move is always at stake.
/// @dev Each account is an EIP-1167 clone of one implementation the registry deploys, with
///      its registry, TraceLog, BondVault and agent id appended to the clone's code as
///      immutable arguments (`Clones.cloneDeterministicWithImmutableArgs`): creating an
///      account costs a clone, not a contract. Storage per call is one slot:
///      coverBy (uint64) << 192 | the leaf's low 192 bits.
contract AgentAccount is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// The byte length of the immutable arguments: registry, traceLog, vault (20 each), agentId (32).
    uint256 internal constant ARGS_LENGTH = 92;

    address public signer;
    /// set once by the registry when the clone is created
    bool public initialized;
    /// calls executed so far (the next call's sequence number)
    uint32 public callCount;
    /// UTC day (block.timestamp / 1 days) that `spentToday` counts
    uint64 public budgetDay;
    uint128 public spentToday;

    mapping(uint256 => uint256) private _calls;

    /// EIP-712 digests of token authorizations the signer made through `authorizeTransfer` /
    /// `authorizePermit`, and the last second each is accepted (its validBefore / deadline).
    mapping(bytes32 => uint256) public authorizedUntil;

    /// The longest an authorization may stay valid: the account keeps accepting its digest
    /// until then, even after the owner rotates or revokes the signer.
    uint256 public constant MAX_AUTHORIZATION_LIFETIME = 1 days;
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 public constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    /// The selectors an authorization's call data carries (EIP-3009's and EIP-2612's own),
    /// so the policy's selector allowlist governs signed and called transfers alike.
    bytes4 internal constant TRANSFER_WITH_AUTHORIZATION_SELECTOR = bytes4(
        keccak256("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)")
    );
    bytes4 internal constant PERMIT_SELECTOR =
        bytes4(keccak256("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"));

    /// Everything the call's leaf is made of, so anyone can prove an untraced call (and
    /// the value it moved) from the event alone.
    event Executed(
        uint32 indexed sequence,
        bytes32 indexed leaf,
        address indexed to,
        uint256 value,
        uint64 stepIndex,
        uint32 policyVersion,
        bytes32 dataHash,
        bytes32 prevHash,
        uint64 nonce
    );
    /// A token authorization made as call `sequence` (its `Executed` event has the leaf).
    event Authorized(uint32 indexed sequence, bytes32 indexed digest, address indexed token, uint256 validUntil);
    event SignerChanged(address indexed previous, address indexed next);
    event OwnerWithdrawal(address indexed token, address indexed to, uint256 amount);
    event Received(address indexed from, uint256 value);

    error NotSigner(address caller);
    error NotOwner(address caller);
    error PolicyViolation(Breach breach);
    error StalePolicyVersion(uint32 cited, uint32 inForce);
    error DailyBudgetExceeded(uint256 spent, uint256 value, uint256 budget);
    error TraceBehind(uint32 oldestUncovered, uint64 coverBy);
    error Unbonding(uint256 agentId);
    error BondTooLow(uint256 bondEth, uint256 requiredBond);
    error UnknownCall(uint32 sequence, uint32 callCount);
    error CallFailed(bytes returnData);
    error ZeroAddress();
    error TransferFailed();
    error NotRegistry(address caller);
    error AlreadyInitialized();
    error AuthorizationWindow(uint256 validUntil, uint256 latest);

    /// @notice The registry sets the first signer once, in the transaction that creates the clone.
    function initialize(address signer_) external {
        if (msg.sender != address(registry())) revert NotRegistry(msg.sender);
        if (initialized) revert AlreadyInitialized();
        initialized = true;
        signer = signer_;
        emit SignerChanged(address(0), signer_);
    }

    // ------------------------------------------------------------------ immutable arguments

    /// @dev The clone's appended arguments. On the implementation itself (no arguments) this
    ///      reverts, and the implementation is never initialized: it can do nothing.
    function _args() internal view returns (IAgentPolicySource r, ICallCoverage t, IUnbonding v, uint256 id) {
        bytes memory a = Clones.fetchCloneArgs(address(this));
        if (a.length != ARGS_LENGTH) revert NotRegistry(address(0));
        assembly ("memory-safe") {
            r := shr(96, mload(add(a, 0x20)))
            t := shr(96, mload(add(a, 0x34)))
            v := shr(96, mload(add(a, 0x48)))
            id := mload(add(a, 0x5c))
        }
    }

    function registry() public view returns (IAgentPolicySource r) {
        (r,,,) = _args();
    }

    function traceLog() public view returns (ICallCoverage t) {
        (, t,,) = _args();
    }

    function vault() public view returns (IUnbonding v) {
        (,, v,) = _args();
    }

    function agentId() public view returns (uint256 id) {
        (,,, id) = _args();
    }

    receive() external payable {
        emit Received(msg.sender, msg.value);
    }

    // ------------------------------------------------------------------ the agent acts

    /// @notice Make one call for the agent. `stepIndex` and `prevHash` place the wallet step
    ///         in the agent's hash chain (the runtime wrote that step to its WAL before
    ///         calling); `policyVersion` is the version the step cites; `nonce` the nonce the
    ///         step records (the signer's transaction nonce; it only makes the leaf unique
    ///         and decides nothing here).
    /// @return leaf the wallet step's leaf as the account computed it
    function execute(
        address to,
        uint256 value,
        bytes calldata data,
        uint64 stepIndex,
        bytes32 prevHash,
        uint32 policyVersion,
        uint64 nonce
    ) external nonReentrant returns (bytes32 leaf, bytes memory result) {
        leaf = _record(to, value, data, StepPlace(stepIndex, prevHash, policyVersion, nonce));
        bool ok;
        (ok, result) = to.call{value: value}(data);
        if (!ok) revert CallFailed(result);
    }

    /// @notice Authorize an EIP-3009 `transferWithAuthorization` from this account, the way
    ///         `execute` makes a call: under the policy (the token an allowed target, the
    ///         `transferWithAuthorization` selector allowed, the recipient an allowed target),
    ///         as the next numbered call, with the wallet step's leaf stored and a cover-by
    ///         time. The step is a call to the token with value 0 and data = the selector
    ///         followed by the EIP-712 fields in type order (from = this account, to, value,
    ///         validAfter, validBefore, nonce). The account computes the digest itself from
    ///         the token's DOMAIN_SEPARATOR, so the signer gets only this authorization
    ///         accepted (`isValidSignature`), until `validBefore`.
    function authorizeTransfer(TransferAuthorization calldata a, StepPlace calldata place)
        external
        nonReentrant
        returns (bytes32 leaf, bytes32 digest)
    {
        bytes memory fields = abi.encode(address(this), a.to, a.value, a.validAfter, a.validBefore, a.nonce);
        return _authorize(a.token, a.to, TRANSFER_WITH_AUTHORIZATION_SELECTOR, TRANSFER_WITH_AUTHORIZATION_TYPEHASH, fields, a.validBefore, place);
    }

    /// @notice Authorize an EIP-2612 `permit` from this account: as `authorizeTransfer`,
    ///         with the `permit` selector and the spender an allowed target; the step's data
    ///         is the selector followed by (owner = this account, spender, value, nonce,
    ///         deadline). Accepted until `deadline`.
    function authorizePermit(PermitAuthorization calldata p, StepPlace calldata place)
        external
        nonReentrant
        returns (bytes32 leaf, bytes32 digest)
    {
        bytes memory fields = abi.encode(address(this), p.spender, p.value, p.nonce, p.deadline);
        return _authorize(p.token, p.spender, PERMIT_SELECTOR, PERMIT_TYPEHASH, fields, p.deadline, place);
    }

    function _authorize(
        address token,
        address payee,
        bytes4 selector,
        bytes32 typehash,
        bytes memory fields,
        uint256 validUntil,
        StepPlace calldata place
    ) internal returns (bytes32 leaf, bytes32 digest) {
        if (msg.sender != signer) revert NotSigner(msg.sender);
        // the payee is held to the allowlist like a recipient of `execute`
        (IAgentPolicySource registry_,,, uint256 agentId_) = _args();
        Breach b = registry_.checkCall(agentId_, payee, 0, "").breach;
        if (b != Breach.None) revert PolicyViolation(b);
        if (validUntil <= block.timestamp || validUntil > block.timestamp + MAX_AUTHORIZATION_LIFETIME) {
            revert AuthorizationWindow(validUntil, block.timestamp + MAX_AUTHORIZATION_LIFETIME);
        }
        uint32 seq = callCount;
        leaf = _record(token, 0, abi.encodePacked(selector, fields), place);
        bytes32 structHash = keccak256(abi.encodePacked(typehash, fields));
        digest = keccak256(abi.encodePacked(hex"1901", IEIP712Domain(token).DOMAIN_SEPARATOR(), structHash));
        authorizedUntil[digest] = validUntil;
        emit Authorized(seq, digest, token, validUntil);
    }

    /// @dev A numbered call: every check, then its leaf and cover-by time stored.
    function _record(address to, uint256 value, bytes memory data, StepPlace memory place)
        internal
        returns (bytes32 leaf)
    {
        if (msg.sender != signer) revert NotSigner(msg.sender);
        uint64 commitDeadline = _admit(to, value, data, place.policyVersion);
        uint32 seq = callCount;
        bytes32 dataHash = keccak256(data);
        leaf = callLeaf(to, value, dataHash, place.stepIndex, place.prevHash, place.nonce, place.policyVersion);
        _calls[seq] = (uint256(uint64(block.timestamp) + commitDeadline) << 192) | uint256(uint192(uint256(leaf)));
        callCount = seq + 1;
        emit Executed(
            seq, leaf, to, value, place.stepIndex, place.policyVersion, dataHash, place.prevHash, place.nonce
        );
    }

    /// @dev Every check a call must pass, and the day's spending updated; returns the
    ///      commit deadline of the version in force.
    function _admit(address to, uint256 value, bytes memory data, uint32 policyVersion)
        internal
        returns (uint64 commitDeadline)
    {
        (IAgentPolicySource registry_, ICallCoverage traceLog_, IUnbonding vault_, uint256 agentId_) = _args();
        CallCheck memory c = _checkPolicy(registry_, agentId_, to, value, data, policyVersion);
        commitDeadline = c.commitDeadline;
        uint256 dailyBudget = c.dailyBudget;
        (bool unbonding, uint256 bondEth) = vault_.bondGate(agentId_);
        if (unbonding) revert Unbonding(agentId_);
        if (bondEth < c.requiredBond) revert BondTooLow(bondEth, c.requiredBond);
        _checkTrace(traceLog_, agentId_, commitDeadline);
        _spend(value, dailyBudget);
    }

    function _checkPolicy(
        IAgentPolicySource registry_,
        uint256 agentId_,
        address to,
        uint256 value,
        bytes memory data,
        uint32 policyVersion
    ) internal view returns (CallCheck memory c) {
        c = registry_.checkCall(agentId_, to, value, data);
        if (c.breach != Breach.None) revert PolicyViolation(c.breach);
        if (policyVersion != c.version) revert StalePolicyVersion(policyVersion, c.version);
    }

    /// @dev The account stops itself while an uncovered call is older than half the deadline.
    function _checkTrace(ICallCoverage traceLog_, uint256 agentId_, uint64 commitDeadline) internal view {
        uint32 covered = traceLog_.coveredCalls(agentId_);
        if (covered < callCount) {
            uint64 oldestCoverBy = uint64(_calls[covered] >> 192);
            // the oldest uncovered call was made at oldestCoverBy - commitDeadline
            if (block.timestamp + commitDeadline / 2 > oldestCoverBy) revert TraceBehind(covered, oldestCoverBy);
        }
    }

    function _spend(uint256 value, uint256 dailyBudget) internal {
        uint64 day = uint64(block.timestamp / 1 days);
        uint256 spent = day == budgetDay ? spentToday : 0;
        if (spent + value > dailyBudget) revert DailyBudgetExceeded(spent, value, dailyBudget);
        budgetDay = day;
        spentToday = uint128(spent + value);
    }

    /// @notice The wallet-step leaf of a call with these arguments (what `execute` stores):
    ///         LeafEncoding's wallet step with from = this account.
    function callLeaf(
        address to,
        uint256 value,
        bytes32 dataHash,
        uint64 stepIndex,
        bytes32 prevHash,
        uint64 nonce,
        uint32 policyVersion
    ) public view returns (bytes32) {
        bytes32 payload = keccak256(
            abi.encode(LeafEncoding.WALLET_TX_TYPEHASH, block.chainid, address(this), to, value, dataHash, nonce, policyVersion)
        );
        return LeafEncoding.stepLeaf(agentId(), stepIndex, LeafEncoding.KIND_WALLET, prevHash, payload);
    }

    // ------------------------------------------------------------------ the owner

    /// @notice Rotate the signer (a fresh session key), or revoke it with address(0).
    function setSigner(address next) external {
        if (msg.sender != registry().ownerOf(agentId())) revert NotOwner(msg.sender);
        emit SignerChanged(signer, next);
        signer = next;
    }

    /// @notice The owner takes funds out (not an agent action: no policy, no trace).
    ///         `token` zero means ETH.
    function ownerWithdraw(address token, address to, uint256 amount) external nonReentrant {
        if (msg.sender != registry().ownerOf(agentId())) revert NotOwner(msg.sender);
        if (to == address(0)) revert ZeroAddress();
        emit OwnerWithdrawal(token, to, amount);
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    // ------------------------------------------------------------------ ERC-1271

    /// @notice ERC-1271: the account accepts
    ///           - a digest its signer authorized through `authorizeTransfer` /
    ///             `authorizePermit` (under the policy, as a numbered, traced call), until
    ///             that authorization's validBefore / deadline, whatever the signature bytes
    ///             (the approval on chain is the signature, as with a Safe's approved hashes);
    ///           - what the agent's *owner* signs (an EOA's signature, or the owner
    ///             contract's own ERC-1271 answer). This is how the owner proves control of
    ///             the account to other contracts, e.g. ERC-8004's `setAgentWallet`; the
    ///             owner can move the account's funds anyway (`ownerWithdraw`).
    ///         Never the signer key's own signature: a permit it signed off chain would be a
    ///         payment no policy checked and no trace covers.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (block.timestamp <= authorizedUntil[hash]) return bytes4(0x1626ba7e);
        address owner = registry().ownerOf(agentId());
        return SignatureChecker.isValidSignatureNowCalldata(owner, hash, signature) ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    // ------------------------------------------------------------------ views

    /// @notice Call `sequence`: the low 192 bits of its wallet-step leaf and the time by
    ///         which a committed batch must cover it.
    function callAt(uint32 sequence) external view returns (uint192 leafLow, uint64 coverBy) {
        if (sequence >= callCount) revert UnknownCall(sequence, callCount);
        uint256 packed = _calls[sequence];
        return (uint192(packed), uint64(packed >> 192));
    }

    /// @notice Whether `leaf` is the wallet step of call `sequence`.
    function isCallLeaf(uint32 sequence, bytes32 leaf) external view returns (bool) {
        if (sequence >= callCount) return false;
        return uint192(_calls[sequence]) == uint192(uint256(leaf));
    }

    /// @notice Native value the policy still lets the agent spend today.
    function budgetLeft() external view returns (uint256) {
        uint256 dailyBudget = registry().checkCall(agentId(), address(this), 0, "").dailyBudget;
        uint256 spent = uint64(block.timestamp / 1 days) == budgetDay ? spentToday : 0;
        return spent >= dailyBudget ? 0 : dailyBudget - spent;
    }
}
