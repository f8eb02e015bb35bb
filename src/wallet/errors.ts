import type { Address, Hex } from 'viem'
import { BaseError, RetryLaterCovenantError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of the wallet room. Every class has a literal `name`, so callers narrow with
 * `err.name === 'PolicyViolationError'`. None of them ever carries key material: keystore
 * errors never wrap the underlying library's error (its message or fields could echo the
 * input), and transaction errors hold only public data (addresses, values, hashes).
 */

/** The rules the wallet enforces: the on-chain `Breach` names plus the off-chain daily budget. */
export type PolicyRule = 'ValueCap' | 'TargetNotAllowed' | 'SelectorNotAllowed' | 'DailyBudget'

/** What a rule limits, and what the refused transaction attempted. */
export type RuleLimit = bigint | readonly Address[] | readonly Hex[]
export type RuleAttempt = bigint | Address | Hex

function jsonOf(value: RuleLimit | RuleAttempt): string | readonly string[] {
  return typeof value === 'bigint' ? value.toString() : value
}

function show(value: RuleLimit | RuleAttempt): string {
  if (typeof value === 'bigint') return `${value} wei`
  if (Array.isArray(value)) return value.length === 0 ? '[] (nothing allowed)' : `[${value.join(', ')}]`
  return String(value)
}

const RULE_TEXT: Record<PolicyRule, string> = {
  ValueCap: 'value is above maxValuePerTx',
  TargetNotAllowed: 'recipient is not in allowedTargets',
  SelectorNotAllowed: 'function selector is not in allowedSelectors',
  DailyBudget: "value would take today's (UTC) spending above dailyBudget",
}

/**
 * The agent's registered policy forbids the transaction. Nothing was signed and no trace
 * step was written. Unrecoverable: retrying the same transaction is refused again.
 */
export class PolicyViolationError extends UnrecoverableCovenantError {
  override name = 'PolicyViolationError' as const
  readonly rule: PolicyRule
  readonly limit: RuleLimit
  readonly attempted: RuleAttempt
  /** For `DailyBudget`: the value already spent today (UTC), in wei. */
  readonly spentToday: bigint | undefined
  constructor(p: { rule: PolicyRule; limit: RuleLimit; attempted: RuleAttempt; spentToday?: bigint | undefined }) {
    super(`Policy refused the transaction (${p.rule}): ${RULE_TEXT[p.rule]}.`, {
      metaMessages: [
        `Limit: ${show(p.limit)}`,
        `Attempted: ${show(p.attempted)}`,
        ...(p.spentToday !== undefined ? [`Spent today (UTC): ${p.spentToday} wei`] : []),
        'Nothing was signed and no trace step was written.',
        'To allow it, register a new policy version on chain (AgentRegistry.update) and restart the wallet with it.',
      ],
      docsPath: 'src/wallet/README.md#sending-one-transaction',
    })
    this.rule = p.rule
    this.limit = p.limit
    this.attempted = p.attempted
    this.spentToday = p.spentToday
  }

  /** JSON-safe (wei as decimal strings), for logs, queues and HTTP answers. */
  toJSON() {
    return {
      name: this.name,
      message: this.shortMessage,
      rule: this.rule,
      limit: jsonOf(this.limit),
      attempted: jsonOf(this.attempted),
      ...(this.spentToday !== undefined ? { spentToday: this.spentToday.toString() } : {}),
    }
  }
}

/** The rules a tool's least-privilege handle enforces on top of the policy. */
export type CapabilityRule = 'HandleValueCap' | 'RecipientNotAllowed' | 'TargetNotAllowed' | 'SelectorNotAllowed'

const CAPABILITY_TEXT: Record<CapabilityRule, string> = {
  HandleValueCap: "value is above the tool's declared maximum",
  RecipientNotAllowed: "recipient is not one of the tool's declared recipients",
  TargetNotAllowed: "contract is not one of the tool's declared targets",
  SelectorNotAllowed: "function selector is not one of the tool's declared selectors",
}

/**
 * A tool asked its wallet handle for more than its declared `effect` allows. Nothing was
 * signed and no trace step was written.
 */
export class CapabilityExceededError extends UnrecoverableCovenantError {
  override name = 'CapabilityExceededError' as const
  readonly rule: CapabilityRule
  readonly limit: RuleLimit
  readonly attempted: RuleAttempt
  constructor(p: { tool?: string | undefined; rule: CapabilityRule; limit: RuleLimit; attempted: RuleAttempt }) {
    super(`${p.tool ? `Tool "${p.tool}"` : 'A tool'} exceeded its declared capability (${p.rule}): ${CAPABILITY_TEXT[p.rule]}.`, {
      metaMessages: [
        `Limit: ${show(p.limit)}`,
        `Attempted: ${show(p.attempted)}`,
        'Nothing was signed and no trace step was written.',
        "Widen the tool's `effect` (it is part of the manifest) if the tool really needs this.",
      ],
      docsPath: 'src/agent/README.md',
    })
    this.rule = p.rule
    this.limit = p.limit
    this.attempted = p.attempted
  }

  /** JSON-safe (wei as decimal strings), for logs, queues and HTTP answers. */
  toJSON() {
    return { name: this.name, message: this.shortMessage, rule: this.rule, limit: jsonOf(this.limit), attempted: jsonOf(this.attempted) }
  }
}

/** A transaction request that is not well formed (bad address, negative value, odd calldata). */
export class InvalidTransactionError extends UnrecoverableCovenantError {
  override name = 'InvalidTransactionError' as const
  constructor(reason: string) {
    super(`Invalid transaction request: ${reason}.`, {
      metaMessages: ['`to` is a 20-byte address, `value` a non-negative bigint in wei, `data` 0x-prefixed hex of whole bytes.'],
      docsPath: 'src/wallet/README.md#sending-one-transaction',
    })
  }
}

/** The keystore JSON is not a Web3 Secret Storage v3 document this wallet accepts. */
export class KeystoreFormatError extends UnrecoverableCovenantError {
  override name = 'KeystoreFormatError' as const
  constructor(reason: string, where?: string) {
    super(`${where ? `Keystore ${where}` : 'The keystore'} is not a valid Web3 Secret Storage v3 file: ${reason}.`, {
      metaMessages: [
        'Expected JSON with version 3 and crypto.{cipher "aes-128-ctr", kdf "scrypt" or "pbkdf2", kdfparams, ciphertext, mac}.',
        'Create one with `createKeystore()` or `covenant keys new`.',
      ],
      docsPath: 'src/wallet/README.md#keys',
    })
  }
}

/** The password does not open the keystore (its MAC does not match). */
export class KeystorePasswordError extends UnrecoverableCovenantError {
  override name = 'KeystorePasswordError' as const
  constructor(where?: string) {
    super(`Wrong password for ${where ? `keystore ${where}` : 'the keystore'}.`, {
      metaMessages: ['The MAC did not match: either the password is wrong or the file was altered.'],
      docsPath: 'src/wallet/README.md#keys',
    })
  }
}

/** The keystore file cannot be read or written. */
export class KeystoreFileError extends BaseError {
  override name = 'KeystoreFileError' as const
  constructor(path: string, reason: string, code?: string) {
    super(`Keystore ${path}: ${reason}.`, {
      ...(code ? { details: code } : {}),
      docsPath: 'src/wallet/README.md#keys',
    })
  }
}

/** A private key that is not 32 bytes of hex, or not a valid secp256k1 scalar. */
export class InvalidPrivateKeyError extends UnrecoverableCovenantError {
  override name = 'InvalidPrivateKeyError' as const
  constructor() {
    // Deliberately says nothing about the value.
    super('Invalid private key: expected 0x followed by 64 hex digits, a valid secp256k1 key.', { docsPath: 'src/wallet/README.md#keys' })
  }
}

/** An outbox entry is unreadable, or disagrees with the wallet step it claims to send. */
export class OutboxCorruptedError extends UnrecoverableCovenantError {
  override name = 'OutboxCorruptedError' as const
  readonly path: string
  constructor(path: string, reason: string) {
    super(`Wallet outbox entry ${path} is corrupted: ${reason}.`, {
      metaMessages: [
        'The wallet will not broadcast it. Keep the file and compare it with the wallet step in the trace WAL.',
        'An outbox entry is only ever written by the wallet, after its wallet step is in the WAL.',
      ],
      docsPath: 'src/wallet/README.md#the-outbox',
    })
    this.path = path
  }
}

/**
 * The node did not accept a signed transaction. It stays in the outbox and is sent again
 * (same bytes) by the next `recover()` or send, so retrying is safe.
 */
export class WalletBroadcastError extends BaseError {
  override name = 'WalletBroadcastError' as const
  readonly hash: Hex
  readonly nonce: number
  constructor(p: { hash: Hex; nonce: number; cause: unknown }) {
    super(`Could not broadcast transaction ${p.hash} (nonce ${p.nonce}).`, {
      metaMessages: [
        'It is signed, and its WAL record fixes its bytes: it will be sent again with the same bytes and hash (after a restart, signed again from that record to the same bytes), never replaced by another transaction.',
        'Check the RPC node, then retry (or restart the agent: recovery re-broadcasts it).',
      ],
      cause: p.cause,
      docsPath: 'src/wallet/README.md#the-outbox',
    })
    this.hash = p.hash
    this.nonce = p.nonce
  }
}

/** A transaction was sent but no receipt arrived in time. It may still be mined. */
export class ReceiptTimeoutError extends BaseError {
  override name = 'ReceiptTimeoutError' as const
  readonly hash: Hex
  constructor(p: { hash: Hex; nonce: number; timeoutMs: number; cause?: unknown }) {
    super(`No receipt for transaction ${p.hash} (nonce ${p.nonce}) within ${p.timeoutMs} ms.`, {
      metaMessages: ['It stays in the outbox; recovery checks for its receipt and re-broadcasts it if the node dropped it.'],
      cause: p.cause,
      docsPath: 'src/wallet/README.md#the-outbox',
    })
    this.hash = p.hash
  }
}

/** The wallet's chain or account does not match what it was given. */
export class WalletConfigError extends UnrecoverableCovenantError {
  override name = 'WalletConfigError' as const
}

/**
 * A wallet step's nonce was consumed on chain by another transaction, so the authorised
 * transaction can never be sent. Recorded in the outbox as abandoned.
 */
export class NonceConflictError extends UnrecoverableCovenantError {
  override name = 'NonceConflictError' as const
  readonly nonce: number
  readonly walletStepIndex: number
  constructor(p: { nonce: number; walletStepIndex: number; chainNonce: number; signed: boolean }) {
    super(
      `Wallet step ${p.walletStepIndex} (nonce ${p.nonce}) can never be sent: the account's on-chain nonce is already ${p.chainNonce}.`,
      {
        metaMessages: [
          p.signed
            ? 'Its signed transaction was never mined; another transaction with the same nonce was.'
            : 'It was never signed; another transaction used its nonce (is the key used outside this wallet?).',
          'The step stays in the trace; the outbox marks it abandoned so it is not retried.',
        ],
        docsPath: 'src/wallet/README.md#the-outbox',
      },
    )
    this.nonce = p.nonce
    this.walletStepIndex = p.walletStepIndex
  }
}

/** An outbox entry has no wallet step in the WAL: broadcasting it would be an action without a trace. */
export class UntracedTransactionError extends UnrecoverableCovenantError {
  override name = 'UntracedTransactionError' as const
  constructor(p: { nonce: number; hash: Hex | null; path: string }) {
    super(`Outbox entry ${p.path} (nonce ${p.nonce}${p.hash ? `, ${p.hash}` : ''}) has no wallet step in the trace WAL.`, {
      metaMessages: [
        'No trace, no action: the wallet will not broadcast it.',
        'This means the WAL was replaced or truncated by hand; restore it from a backup or from DA.',
      ],
      docsPath: 'src/wallet/README.md#the-outbox',
    })
  }
}

/** The node could not be reached (or timed out). Nothing was written or signed; retrying is safe. */
export class WalletRpcError extends BaseError {
  override name = 'WalletRpcError' as const
  constructor(p: { url: string; action: string; cause: unknown }) {
    super(`Cannot reach the chain at ${p.url} (${p.action}).`, {
      metaMessages: ['Nothing was written to the trace and nothing was signed; retry when the node is back.'],
      cause: p.cause,
      docsPath: 'src/wallet/README.md#sending-one-transaction',
    })
  }
}

/**
 * The node answered, but with something that is not what the method returns (a balance of
 * null, a nonce that is not a number): nothing was written to the trace and nothing was
 * signed. Or, `afterBroadcast`, a receipt of another transaction than the one asked for: the
 * transaction stays in the outbox, and recovery reads its receipt again.
 */
export class WalletRpcAnswerError extends BaseError {
  override name = 'WalletRpcAnswerError' as const
  /** `afterBroadcast`: the answer was about a transaction already sent (its receipt), not one being prepared. */
  constructor(p: { url: string; action: string; cause: unknown; afterBroadcast?: boolean }) {
    super(`The chain at ${p.url} gave an answer that makes no sense (${p.action}).`, {
      metaMessages: [
        p.afterBroadcast
          ? 'The transaction stays in the outbox; recovery reads its receipt again.'
          : 'Nothing was written to the trace and nothing was signed.',
        'Check that --rpc points at an Ethereum JSON-RPC node.',
      ],
      cause: p.cause,
      docsPath: 'src/wallet/README.md#sending-one-transaction',
    })
  }
}

/**
 * The node refused to prepare the transaction (it would revert, the account lacks funds,
 * fees cannot be estimated). Nothing was written to the trace and nothing was signed.
 */
export class TransactionPreparationError extends BaseError {
  override name = 'TransactionPreparationError' as const
  constructor(p: { to: string; value: bigint; cause: unknown }) {
    super(`The node cannot prepare the transaction to ${p.to} (value ${p.value} wei).`, {
      metaMessages: ['Nothing was written to the trace and nothing was signed.', 'Check the balance, the target contract and the calldata.'],
      cause: p.cause,
      docsPath: 'src/wallet/README.md#sending-one-transaction',
    })
  }
}

/**
 * The agent account refused the call because the policy version it cites is no longer the
 * one in force (the owner activated an update) and the wallet has no `policySource` to
 * follow it. Nothing was written or signed.
 */
export class StalePolicyVersionError extends UnrecoverableCovenantError {
  override name = 'StalePolicyVersionError' as const
  readonly cited: number
  readonly inForce: number
  constructor(p: { cited: number; inForce: number }) {
    super(`The agent account enforces policy version ${p.inForce}; this wallet cites version ${p.cited}.`, {
      metaMessages: [
        'Nothing was signed and no trace step was written.',
        'Give the wallet a policySource (the service does) or restart it with the version in force.',
      ],
      docsPath: 'src/wallet/README.md#the-agent-account',
    })
    this.cited = p.cited
    this.inForce = p.inForce
  }
}

/**
 * The agent account refuses new calls: a call older than half the commit deadline is not
 * covered by a committed batch yet (the chain's own form of the service's CommitBacklogError).
 * Nothing was written or signed; the task can run once the trace catches up.
 */
export class AccountTraceBehindError extends RetryLaterCovenantError {
  override name = 'AccountTraceBehindError' as const
  readonly oldestUncovered: number
  readonly coverBy: number
  constructor(p: { oldestUncovered: number; coverBy: number }) {
    super(`The agent account refuses new calls until call ${p.oldestUncovered} is covered by a committed batch.`, {
      metaMessages: [
        `It must be covered by ${new Date(p.coverBy * 1000).toISOString()}; the committer is behind (is DA or the chain down?).`,
        'Nothing was signed and no trace step was written; the task is retried later.',
      ],
      docsPath: 'src/wallet/README.md#the-agent-account',
      retryAfterMs: 5_000,
    })
    this.oldestUncovered = p.oldestUncovered
    this.coverBy = p.coverBy
  }
}

/** The owner asked for the bond back: the agent account makes no call until that is cancelled. */
export class AgentUnbondingError extends UnrecoverableCovenantError {
  override name = 'AgentUnbondingError' as const
  constructor(p: { account: Address | undefined }) {
    super(`The agent${p.account ? ` (account ${p.account})` : ''} is unbonding: its account makes no call while a bond withdrawal is requested.`, {
      metaMessages: ['Nothing was signed and no trace step was written.', 'The owner can cancel the withdrawal (BondVault.cancelWithdraw) to let the agent act again.'],
      docsPath: 'src/wallet/README.md#the-agent-account',
    })
  }
}

/**
 * The agent's ETH bond is below what its policy lets it move within one commit deadline plus
 * challenge window (daily budget × the UTC days such a span touches): its account makes no
 * call until the owner tops the bond up (a slash can cause this). Nothing written or signed.
 */
export class BondTooLowError extends UnrecoverableCovenantError {
  override name = 'BondTooLowError' as const
  readonly bondEth: bigint
  readonly requiredBond: bigint
  constructor(p: { bondEth: bigint; requiredBond: bigint }) {
    const required = p.requiredBond === 2n ** 256n - 1n ? 'unbounded: the policy has no daily budget' : `${p.requiredBond} wei`
    super(`The agent's bond (${p.bondEth} wei) is below what its policy lets it move within a commit deadline plus challenge window (${required}).`, {
      metaMessages: [
        'Nothing was signed and no trace step was written.',
        'Top the bond up (BondVault.depositEth), or register a policy with a smaller daily budget.',
      ],
      docsPath: 'src/wallet/README.md#the-agent-account',
    })
    this.bondEth = p.bondEth
    this.requiredBond = p.requiredBond
  }
}

/**
 * The account did not approve a token authorization: its `authorizeTransfer` /
 * `authorizePermit` transaction reverted, or the digest the account approved is not the one
 * the token's DOMAIN_SEPARATOR gives. Its wallet step is in the trace and is covered like
 * any other call; there is nothing to hand a facilitator.
 */
export class AuthorizationFailedError extends UnrecoverableCovenantError {
  override name = 'AuthorizationFailedError' as const
  readonly hash: Hex
  constructor(p: { hash: Hex; token: Address; digest?: Hex | undefined }) {
    super(
      p.digest
        ? `The agent account did not approve digest ${p.digest} for token ${p.token} (transaction ${p.hash}).`
        : `The agent account's authorization for token ${p.token} reverted (transaction ${p.hash}).`,
      {
        metaMessages: [
          'The wallet step stays in the trace; no signature was produced.',
          "Check that the token implements EIP-3009 / EIP-2612 with ERC-1271 signers and reports its own DOMAIN_SEPARATOR.",
        ],
        docsPath: 'src/wallet/README.md#signatures-that-move-money',
      },
    )
    this.hash = p.hash
  }
}
