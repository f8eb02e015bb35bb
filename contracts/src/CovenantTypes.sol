// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Types shared by the Covenant contracts and mirrored in `src/bonds/` and `src/trace/`.

/// @dev The spending policy an agent registers. The agent's account (AgentAccount) enforces
///      it on every call in the block the call runs in; the chain also evaluates it when
///      someone proves a committed wallet step; the off-chain wallet checks the same rules
///      before it signs.
struct Policy {
    /// Largest native value one transaction may carry, in wei.
    uint256 maxValuePerTx;
    /// Seconds after a batch is committed during which it can be challenged.
    uint64 challengeWindow;
    /// Seconds within which a wallet transaction must be covered by a committed batch.
    uint64 commitDeadline;
    /// Recipients / contracts the wallet may send to.
    address[] allowedTargets;
    /// Function selectors the wallet may call; empty calldata (a plain transfer) needs none.
    bytes4[] allowedSelectors;
    /// Native value the agent account may send per UTC day, in wei (enforced by AgentAccount).
    uint256 dailyBudget;
}

/// @dev A wallet step as it appears in a trace, decoded. Its leaf hash is defined by
///      `LeafEncoding.walletStepLeaf`.
struct WalletStep {
    uint256 agentId;
    uint64 index;
    bytes32 prevHash;
    uint256 chainId;
    address from;
    address to;
    uint256 value;
    bytes data;
    uint64 nonce;
    uint32 policyVersion;
}

/// @dev A batch header as the operator signs it (EIP-712, domain of TraceLog).
struct BatchHeader {
    uint256 agentId;
    uint64 sequence;
    bytes32 merkleRoot;
    bytes32 daCommitmentHash;
    uint32 stepCount;
}

/// @dev A committed batch's record. TraceLog keeps only `keccak256(abi.encode(record))`; the
///      record is in the batch's `BatchCommitted` event, and whoever needs it sends it.
struct Batch {
    bytes32 merkleRoot;
    bytes32 daCommitmentHash;
    uint64 firstIndex;
    uint32 stepCount;
    uint64 committedAt;
    uint64 challengeWindow;
    /// the agent's account calls [0, callsCovered) are covered by this batch and the ones before
    uint32 callsCovered;
}

enum DisputeKind {
    PolicyBreach, // proven on chain
    Equivocation, // proven on chain
    InferenceFraud, // verifier quorum
    DataWithheld, // verifier quorum
    UntracedAction, // verifier quorum
    SubjectiveClaim, // verifier quorum, larger challenger bond
    InvalidBatch, // verifier quorum: the blob is available but can never be a valid batch
    TraceMismatch // verifier quorum: the agent's registered code, replayed on the action's recorded I/O, does not give the step
}

enum DisputeStatus {
    None,
    Open,
    Slashed, // the agent was at fault
    Rejected, // the quorum found no fault: challenger bond forfeited
    Expired, // no quorum by the deadline: nobody slashed, challenger bond refunded
    Decided, // a quorum verdict inside its escalation window: contestable, pays nobody yet
    Contested // a verdict escalated to a fork: pays nobody until the fork resolves
}

enum Breach {
    None,
    ValueCap,
    TargetNotAllowed,
    SelectorNotAllowed,
    StalePolicy,
    UnknownPolicy
}
