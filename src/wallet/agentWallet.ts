import { join } from 'node:path'
import { inspect } from 'node:util'
import pino, { type Logger } from 'pino'
import {
  BaseError as ViemBaseError,
  HttpRequestError,
  TimeoutError,
  WebSocketRequestError,
  createPublicClient,
  keccak256,
  parseTransaction,
  recoverTransactionAddress,
  type Address,
  type Chain,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
} from 'viem'
import { BaseError as CovenantBaseError } from '../errors/base.js'
import { rpcTransport } from '../http/rpcTransport.js'
import { WalCorruptedError } from '../trace/errors.js'
import { keccak256Hex } from '../trace/keccak.js'
import type { TraceWal } from '../trace/wal.js'
import type { WalletStep } from '../trace/schemas.js'
import {
  AccountTraceBehindError,
  AgentUnbondingError,
  AuthorizationFailedError,
  BondTooLowError,
  StalePolicyVersionError,
  InvalidTransactionError,
  NonceConflictError,
  OutboxCorruptedError,
  PolicyViolationError,
  ReceiptTimeoutError,
  TransactionPreparationError,
  UntracedTransactionError,
  WalletBroadcastError,
  WalletConfigError,
  WalletRpcAnswerError,
  WalletRpcError,
} from './errors.js'
import { Outbox } from './outbox.js'
import { accountRevert, agentAccountCallAbi, encodeAccountCall } from './accountCall.js'
import {
  MAX_AUTHORIZATION_LIFETIME,
  authorizationDigest,
  authorizationPayee,
  authorizationValidUntil,
  decodeAuthorizationData,
  encodeAuthorizationData,
  permitAuthorizationSchema,
  transferAuthorizationSchema,
  type AuthorizationCall,
  type PermitAuthorizationInput,
  type TransferAuthorizationInput,
} from './authorization.js'
import { BREACHES, evaluatePolicy, policySchema, type Policy, type PolicyInput } from './policy.js'
import { type OutboxEntry, type OutboxReceipt, transactionRequestSchema, type TransactionRequest } from './schemas.js'
import { decodeTxParams, encodeTxParams, type TxParams } from './txParams.js'
import { waitForReceipt } from './internal/waitForReceipt.js'

const DAY_MS = 86_400_000

/**
 * Lifecycle events of one transaction, in order. Listeners are awaited (keep them fast);
 * an error a listener throws is logged and ignored. Each is also the place where a crash
 * test kills the process.
 */
export type AgentWalletListener = {
  /** The wallet step is durably in the WAL (fdatasync returned). Nothing is signed yet. */
  stepWritten(e: WalletEventBase): void | Promise<void>
  /**
   * Signed, not broadcast yet. Held in the outbox in memory: the bytes need no durable record
   * of their own, because the step and its gas and fees (the step's WAL sidecar) are on disk
   * and signing is deterministic, so recovery rebuilds these very bytes (see txParams.ts).
   */
  signed(e: WalletEventBase & { hash: Hex }): void | Promise<void>
  /** The node accepted the raw transaction (or already had it). */
  broadcast(e: WalletEventBase & { hash: Hex; recovered: boolean }): void | Promise<void>
  /** A receipt was seen and recorded in the outbox (in memory at once; the file is written in the background, see outbox.ts). */
  mined(e: WalletEventBase & { hash: Hex; receipt: TransactionOutcome }): void | Promise<void>
}
export type WalletEventBase = { actionId: string; walletStepIndex: number; nonce: number }

/** Test and demo hooks that make the wallet misbehave. Never enable them in production. */
export type AgentWalletUnsafeOptions = {
  /**
   * UNSAFE — simulates a dishonest operator. The wallet signs transactions its policy
   * forbids. It still writes the wallet step to the WAL first (no trace, no action holds),
   * which is exactly what lets a challenger prove the breach and slash the bond. A loud
   * warning is logged when the wallet is created and for every forbidden transaction.
   */
  skipPolicyCheck?: boolean | undefined
}

export type CreateAgentWalletParameters = {
  /** The agent's account, e.g. from `loadKeystore()`. Held privately; never exposed again. */
  account: LocalAccount
  /** The chain the agent acts on; must match the node's chain id. */
  chain: Chain
  /** @defaultValue rpcTransport(chain.rpcUrls.default.http[0]): viem's `http` transport over node:http (src/http/rpcTransport.ts) */
  transport?: Transport | undefined
  /** The agent's trace WAL: every transaction's wallet step is appended here before signing. */
  wal: TraceWal
  /** The policy registered on chain for `policyVersion`. */
  policy: PolicyInput
  /** The policy version registered on chain (AgentRegistry); written into every wallet step. */
  policyVersion: number
  /** @defaultValue `<wal dir>/agent-<id>.outbox` */
  outboxDir?: string | undefined
  /** Confirmations to wait for. @defaultValue 1 */
  confirmations?: number | undefined
  /** How long to wait for a receipt, ms. @defaultValue 120_000 */
  receiptTimeoutMs?: number | undefined
  /**
   * Account mode: how long the fees of the node's last fill serve a call of a known shape, ms,
   * instead of a fill beside its simulation (see #prepareAtKnownGas). 0: a fill every time.
   * @defaultValue 500
   */
  feeReuseMs?: number | undefined
  /**
   * Receipt polling interval, ms. Within the first interval after a broadcast the asks come
   * sooner (after 1, 2, 4, … ms), so that a node that mines at once is seen at once; then at
   * whole intervals from the first ask.
   * @defaultValue 250
   */
  pollingIntervalMs?: number | undefined
  /** Clock for step timestamps and the UTC day of the daily budget. @defaultValue Date.now */
  now?: (() => number) | undefined
  /** @defaultValue a pino logger on stderr */
  logger?: Logger | undefined
  on?: Partial<AgentWalletListener> | undefined
  /** Dishonest-operator simulation for tests and demos. See {@link AgentWalletUnsafeOptions}. */
  unsafe?: AgentWalletUnsafeOptions | undefined
  /**
   * The agent's on-chain account (`AgentAccount`, created at registration). When set — as for
   * every agent `deploy` registers — the funds live there and every transaction is an
   * `execute` call on it: the chain enforces the policy version in force, the daily budget
   * and the trace binding at execution time. `account` is then only the signer, a session
   * key that holds gas money. Without it the wallet is a bare EOA: the weaker mode, where
   * the policy is checked off chain only and breaches are merely punishable.
   */
  agentAccount?: Address | undefined
  /**
   * Reads the policy version in force and its rules (from the registry). Called when the
   * chain refuses a call because the version the wallet cites is no longer in force (the
   * owner activated an update): the wallet then follows the new version.
   */
  policySource?: (() => Promise<{ version: number; policy: PolicyInput }>) | undefined
}

/** What became of a mined transaction. */
export type TransactionOutcome = { blockNumber: bigint; blockHash: Hex; status: 'success' | 'reverted'; gasUsed: bigint }

export type SentTransaction = {
  hash: Hex
  nonce: number
  /** Index of the transaction's wallet step in the trace WAL. */
  walletStepIndex: number
  actionId: string
  chainId: number
  from: Address
  to: Address
  value: bigint
  data: Hex
  receipt: TransactionOutcome
}

/**
 * A token authorization the agent's account approved (see {@link AgentWallet.authorizeTransfer}):
 * the transaction that made it, the EIP-712 digest the account now accepts, and the
 * signature bytes to hand a token or an x402 facilitator with the account as `from` /
 * `owner`. The account ignores the bytes for an approved digest (ERC-1271: the approval on
 * chain is the signature), so they are empty.
 */
export type SignedAuthorization = SentTransaction & {
  authorization: AuthorizationCall
  digest: Hex
  signature: Hex
  /** Unix second after which the account no longer accepts the digest. */
  validUntil: bigint
}

export type SendTransactionOptions = {
  /** The action (task) this transaction belongs to; written into the wallet step. */
  actionId: string
}

/** How recovery settled one wallet step that was not known to be mined. */
export type RecoveryEntry = {
  walletStepIndex: number
  nonce: number
  actionId: string
  /**
   * - `already-mined`: it had been sent; its receipt is now recorded.
   * - `rebroadcast`: the outbox entry (on disk, or held by this process) was sent again,
   *   same bytes, and mined.
   * - `signed-and-sent`: the step had no outbox entry (a crash before signing, or before a
   *   broadcast whose bytes were held in memory only): it was signed — from its WAL record
   *   (the same bytes as any signed before the crash), or for a step written without its gas
   *   and fees with the same nonce and fields — sent (a node that already has it is fine),
   *   and mined.
   * - `abandoned`: its nonce was used by another transaction; it can never be sent.
   * - `pending`: sent, but no receipt yet (see `error`).
   * - `untraced`: an outbox entry without a wallet step; it is never broadcast.
   */
  outcome: 'already-mined' | 'rebroadcast' | 'signed-and-sent' | 'abandoned' | 'pending' | 'untraced'
  hash: Hex | null
  receipt: TransactionOutcome | null
  error: Error | null
}

/** A transaction the wallet knows about, by wallet step. */
export type TrackedTransaction = {
  walletStepIndex: number
  nonce: number
  actionId: string
  state: 'unsigned' | OutboxEntry['state']
  hash: Hex | null
  receipt: TransactionOutcome | null
  error: string | null
}

/** Where the wallet step being prepared sits in the hash chain (what `execute` takes). */
type StepPlace = { index: number; prevHash: Hex }

type Prepared = {
  chainId: number
  type: 'eip1559'
  to: Address
  value: bigint
  data: Hex
  nonce: number
  gas: bigint
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
}

/** A wallet step of the WAL, its leaf, and the gas and fees kept with it (its sidecar; absent in steps an older Covenant wrote). */
type Known = { step: WalletStep; leaf: Hex; params?: TxParams | undefined }

let defaultLogger: Logger | undefined
function walletLogger(): Logger {
  defaultLogger ??= pino({ name: 'covenant.wallet' }, pino.destination(2))
  return defaultLogger
}

/**
 * Opens the agent's wallet: checks the chain, reads the WAL's wallet steps and the outbox,
 * and runs {@link AgentWallet.recover} before it returns, so nothing authorised before a
 * crash is lost and nothing is sent twice. The recovery report is `wallet.recovered`.
 */
export async function createAgentWallet(p: CreateAgentWalletParameters): Promise<AgentWallet> {
  const wallet = await AgentWallet[OPEN](p)
  return wallet
}

const OPEN = Symbol('open')

/**
 * The agent's wallet. Every transaction goes: policy check → nonce → gas and fees → wallet
 * step appended to the WAL with them (durable) → sign → outbox (in memory) → broadcast →
 * receipt. A refusal happens before anything is written. What is signed is a function of
 * the WAL record alone (the step, its gas and fees, RFC 6979 signatures), so a crash after
 * the append can only ever lead to those very bytes being sent (see txParams.ts). The
 * account is held in a private field: it is not reachable from this object, and neither
 * `JSON.stringify`, `util.inspect` nor `toString` show more than the address and chain.
 */
export class AgentWallet {
  /** Where the agent's funds are: the AgentAccount, or (EOA mode) the signer itself. */
  readonly address: Address
  /** The key that signs transactions (in account mode a session key holding gas money). */
  readonly signer: Address
  readonly mode: 'account' | 'eoa'
  readonly chainId: number

  #policyVersion: number
  #policy: Readonly<Policy>
  readonly #policySource: CreateAgentWalletParameters['policySource']
  readonly #account: LocalAccount
  readonly #url: string
  readonly #client: PublicClient
  readonly #wal: TraceWal
  readonly #outbox: Outbox
  readonly #now: () => number
  readonly #log: Logger
  readonly #on: Partial<AgentWalletListener>
  readonly #skipPolicy: boolean
  readonly #confirmations: number
  readonly #receiptTimeoutMs: number
  readonly #pollingIntervalMs: number
  /** Every wallet step in the WAL, in index order (the budget counts them all). */
  readonly #steps: Known[] = []
  readonly #byIndex = new Map<number, Known>()
  readonly #byAction = new Map<string, number[]>()
  /** Native value of the wallet steps per UTC day (start of day in ms → wei). */
  readonly #spentByDay = new Map<number, bigint>()
  /** The highest nonce of this account's wallet steps, or -1. */
  #lastNonce = -1
  #recovered: readonly RecoveryEntry[] = []
  #lock: Promise<unknown> = Promise.resolve()
  /** Set when a transaction was authorised in the WAL but not (known to be) broadcast. */
  #needsRecovery = false
  /** The chain's pending nonce as last read; undefined: read it before the next step (see #nextNonce). */
  #chainNonce: number | undefined
  /**
   * A lower bound of the signer's balance: the last balance read, less the most each
   * transaction prepared since may cost (value + gas × maxFeePerGas). Only this wallet spends
   * from its key, so the balance can only be higher; a transaction the floor does not cover
   * reads the balance again (see #prepare).
   */
  #balanceFloor: bigint | undefined
  /**
   * Account mode: a lower bound of the agent account's native balance, the same way: the last
   * balance read less the value of each call prepared since. Only this wallet's calls spend it
   * but for the owner's `ownerWithdraw`; a withdrawal already mined makes the simulated
   * `execute` fail, which reads the balance to name the cause (see #prepare).
   */
  #accountFloor: bigint | undefined
  /**
   * Account mode: the gas the last call of each shape (see {@link callShape}) was estimated
   * at. A later call of that shape is simulated once at that gas instead of estimated (see
   * #prepareAtKnownGas); it is signed with the same margin over it.
   */
  readonly #gasByShape = new Map<string, bigint>()
  /** The fees of the node's last fill and when it was asked for them (performance.now()); see #prepareAtKnownGas. */
  #fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; at: number } | undefined
  readonly #feeReuseMs: number

  private constructor(
    p: CreateAgentWalletParameters,
    policy: Policy,
    client: PublicClient,
    outbox: Outbox,
    steps: Known[],
    log: Logger,
  ) {
    this.#account = p.account
    this.signer = p.account.address
    this.address = p.agentAccount ?? p.account.address
    this.mode = p.agentAccount ? 'account' : 'eoa'
    this.chainId = p.chain.id
    this.#policyVersion = p.policyVersion
    this.#policy = freezePolicy(policy)
    this.#policySource = p.policySource
    this.#client = client
    this.#url = p.chain.rpcUrls.default.http[0] ?? 'the configured transport'
    this.#wal = p.wal
    this.#outbox = outbox
    this.#now = p.now ?? Date.now
    this.#log = log
    this.#on = { ...p.on }
    this.#skipPolicy = p.unsafe?.skipPolicyCheck === true
    this.#confirmations = p.confirmations ?? 1
    this.#receiptTimeoutMs = p.receiptTimeoutMs ?? 120_000
    this.#pollingIntervalMs = p.pollingIntervalMs ?? 250
    this.#feeReuseMs = p.feeReuseMs ?? DEFAULT_FEE_REUSE_MS
    for (const k of steps) this.#remember(k)
  }

  static async [OPEN](p: CreateAgentWalletParameters): Promise<AgentWallet> {
    const parsed = policySchema.safeParse(p.policy)
    if (!parsed.success) {
      throw new WalletConfigError('Invalid policy.', { metaMessages: parsed.error.issues.map((i) => `- ${i.path.join('.')}: ${i.message}`) })
    }
    if (!Number.isInteger(p.policyVersion) || p.policyVersion < 0 || p.policyVersion > 2 ** 32 - 1) {
      throw new WalletConfigError(`policyVersion must be a uint32, got ${String(p.policyVersion)}.`)
    }
    if (p.account?.type !== 'local' || typeof p.account.signTransaction !== 'function') {
      throw new WalletConfigError('The wallet needs a local account (e.g. from loadKeystore()).')
    }
    if (p.agentAccount !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(p.agentAccount)) {
      throw new WalletConfigError(`agentAccount must be an address, got ${JSON.stringify(p.agentAccount)?.slice(0, 60)}.`)
    }
    const confirmations = p.confirmations ?? 1
    if (!Number.isInteger(confirmations) || confirmations < 1) throw new WalletConfigError('confirmations must be an integer ≥ 1.')
    if (p.pollingIntervalMs !== undefined && (!Number.isInteger(p.pollingIntervalMs) || p.pollingIntervalMs < 1 || p.pollingIntervalMs > 60_000)) {
      throw new WalletConfigError(`pollingIntervalMs must be an integer from 1 to 60000 (ms), got ${String(p.pollingIntervalMs)}.`)
    }
    if (p.receiptTimeoutMs !== undefined && (!Number.isInteger(p.receiptTimeoutMs) || p.receiptTimeoutMs < 1)) {
      throw new WalletConfigError(`receiptTimeoutMs must be a positive integer (ms), got ${String(p.receiptTimeoutMs)}.`)
    }
    if (p.feeReuseMs !== undefined && (!Number.isInteger(p.feeReuseMs) || p.feeReuseMs < 0 || p.feeReuseMs > MAX_FEE_REUSE_MS)) {
      throw new WalletConfigError(`feeReuseMs must be an integer from 0 to ${MAX_FEE_REUSE_MS} (ms), got ${String(p.feeReuseMs)}.`)
    }
    const url = p.chain.rpcUrls.default.http[0]
    if (!p.transport && !url) throw new WalletConfigError(`Chain ${p.chain.id} has no RPC URL; pass a transport.`)
    const log = (p.logger ?? walletLogger()).child({ wallet: p.account.address, chainId: p.chain.id })
    const client = createPublicClient({
      chain: p.chain,
      transport: p.transport ?? rpcTransport(url, { retryCount: 2 }),
      pollingInterval: p.pollingIntervalMs ?? 250,
      cacheTime: 0,
    }) as PublicClient
    const nodeChainId = await rpc(url ?? 'the configured transport', 'eth_chainId', () => client.getChainId())
    if (nodeChainId !== p.chain.id) {
      throw new WalletConfigError(`The node's chain id is ${nodeChainId}, the wallet was configured for ${p.chain.id}.`)
    }
    await checkDeterministic(p.account, p.chain.id)
    const { steps, leaves, sidecars, offsets } = await p.wal.readAll()
    const known: Known[] = []
    steps.forEach((step, i) => {
      if (step.kind !== 'wallet') return
      const sidecar = sidecars.get(i)
      let params: TxParams | undefined
      try {
        params = sidecar ? decodeTxParams(sidecar) : undefined
      } catch (cause) {
        const reason = `the transaction parameters kept with wallet step ${i} are invalid (${(cause as Error).message.split('\n')[0]})`
        throw new WalCorruptedError({ path: p.wal.paths.log, offset: offsets[i] ?? 0, reason })
      }
      known.push({ step, leaf: leaves[i]!, params })
    })
    const outbox = await Outbox.open({
      dir: p.outboxDir ?? join(p.wal.paths.log.replace(/\.wal$/, '.outbox')),
      chainId: p.chain.id,
      from: p.account.address,
    })
    outbox.onWriteError((nonce, err) => log.warn({ nonce, err: err.message }, 'could not write the mined record of an outbox entry; recovery will read its receipt from the chain'))
    const wallet = new AgentWallet(p, parsed.data, client, outbox, known, log)
    await wallet.#adoptMinedHints()
    if (wallet.#skipPolicy) {
      log.warn(
        'UNSAFE WALLET: unsafe.skipPolicyCheck is enabled. This wallet signs transactions its registered policy forbids ' +
          '(dishonest-operator simulation for tests and demos). Its bond can be slashed. Never use this in production.',
      )
    }
    wallet.#recovered = await wallet.recover()
    return wallet
  }

  /** The policy version every new wallet step cites (the version in force, as last seen). */
  get policyVersion(): number {
    return this.#policyVersion
  }

  /** The rules of that version. */
  get policy(): Readonly<Policy> {
    return this.#policy
  }

  /** What recovery did when the wallet was opened (empty when nothing was in flight). */
  get recovered(): readonly RecoveryEntry[] {
    return this.#recovered
  }

  /**
   * Checks a transaction against the policy (and today's budget) without writing or
   * signing anything. Throws {@link PolicyViolationError} or {@link InvalidTransactionError}.
   */
  check(request: TransactionRequest): void {
    this.#checkPolicy(parseRequest(request), this.#now())
  }

  /** Native value of this WAL's wallet steps on the UTC day of `at` (default now), in wei. */
  spentToday(at: number = this.#now()): bigint {
    return this.#spentByDay.get(Math.floor(at / DAY_MS) * DAY_MS) ?? 0n
  }

  /**
   * Sends one transaction: policy check, then the wallet step is appended to the WAL (its
   * gas and fees beside it), then it is signed, held in the outbox, broadcast, and its
   * receipt awaited. Resolves with the hash and receipt (a reverted transaction resolves
   * too; see `receipt.status`).
   */
  async sendTransaction(request: TransactionRequest, options: SendTransactionOptions): Promise<SentTransaction> {
    const tx = parseRequest(request)
    const actionId = options?.actionId
    if (typeof actionId !== 'string' || actionId.length === 0 || actionId.length > 256) {
      throw new InvalidTransactionError('actionId must be a non-empty string of at most 256 characters')
    }
    const entry = await this.#serial(async () => {
      try {
        return await this.#authoriseAndSend(tx, actionId)
      } catch (err) {
        this.#forgetChainState()
        throw err
      }
    })
    const receipt = await this.#waitMined(entry)
    return {
      hash: entry.hash as Hex,
      nonce: entry.nonce,
      walletStepIndex: entry.walletStepIndex,
      actionId,
      chainId: this.chainId,
      from: this.address,
      to: tx.to,
      value: tx.value,
      data: tx.data,
      receipt,
    }
  }

  /** sendTransaction's part under the wallet's lock: policy, nonce, prepare, step, sign, store, broadcast. */
  async #authoriseAndSend(tx: ParsedRequest, actionId: string): Promise<OutboxEntry> {
    if (this.#needsRecovery) await this.#recover()
    const now = this.#now()
    this.#checkPolicy(tx, now)
    const nonce = await this.#nextNonce()
    // Everything that can fail for a reason other than a crash happens before the step is
    // written: after it, the transaction is authorised and will be sent, now or on recovery.
    // In account mode that includes the chain's own checks (a simulated `execute`).
    const head = this.#wal.head
    const prepared = await this.#prepareFollowingPolicy(tx, nonce, { index: head.nextIndex, prevHash: head.prevHash })
    const params: TxParams = { signer: this.signer.toLowerCase() as Address, gas: prepared.gas, maxFeePerGas: prepared.maxFeePerGas, maxPriorityFeePerGas: prepared.maxPriorityFeePerGas }
    const { step, leaf } = await this.#wal.appendNext({
      kind: 'wallet',
      actionId,
      timestamp: now,
      chainId: String(this.chainId),
      from: this.address.toLowerCase() as Hex,
      to: tx.to.toLowerCase() as Hex,
      value: tx.value.toString(),
      data: tx.data,
      nonce,
      policyVersion: this.#policyVersion,
    }, { sidecar: encodeTxParams(params) })
    if (step.kind !== 'wallet') throw new Error('unreachable: appended a non-wallet step')
    const known: Known = { step, leaf, params }
    this.#remember(known)
    this.#needsRecovery = true
    await this.#emit('stepWritten', { actionId, walletStepIndex: step.index, nonce })
    // Signed from the WAL record alone, exactly as recovery would rebuild it. In account mode
    // the call carries the step's real place: another action's step may have landed between
    // the estimate and the append (same size, so the estimate still holds).
    const signed = await this.#signAndStore(known, this.#preparedFromWal(step, params), 'held')
    await this.#broadcast(signed, false)
    this.#needsRecovery = false
    return signed
  }

  /**
   * Authorizes an EIP-3009 `transferWithAuthorization` from the agent's account, the way
   * {@link sendTransaction} sends a payment: the policy is checked off chain (the token an
   * allowed target with the `transferWithAuthorization` selector allowed, the recipient an
   * allowed target, valid for at most a day) — a refusal writes and signs nothing — then the
   * wallet step (to = token, value 0, data = selector ‖ the EIP-712 fields) is appended to
   * the WAL, and the signer calls `AgentAccount.authorizeTransfer`, which checks the same
   * rules, records the call like `execute` and approves the digest it computes from the
   * token's DOMAIN_SEPARATOR. Recovery after a crash resends it like any transaction.
   * Account mode only.
   */
  async authorizeTransfer(request: TransferAuthorizationInput, options: SendTransactionOptions): Promise<SignedAuthorization> {
    const parsed = transferAuthorizationSchema.safeParse(request)
    if (!parsed.success) throw new InvalidTransactionError(issueText(parsed.error))
    return this.#authorize({ kind: 'transfer', from: this.address, authorization: parsed.data }, options)
  }

  /** Like {@link authorizeTransfer}, for an EIP-2612 `permit` (`AgentAccount.authorizePermit`); the spender must be an allowed target. */
  async authorizePermit(request: PermitAuthorizationInput, options: SendTransactionOptions): Promise<SignedAuthorization> {
    const parsed = permitAuthorizationSchema.safeParse(request)
    if (!parsed.success) throw new InvalidTransactionError(issueText(parsed.error))
    return this.#authorize({ kind: 'permit', from: this.address, authorization: parsed.data }, options)
  }

  async #authorize(a: AuthorizationCall, options: SendTransactionOptions): Promise<SignedAuthorization> {
    if (this.mode !== 'account') {
      throw new WalletConfigError('Token authorizations need the agent account (createAgentWallet({ agentAccount })): a bare key would sign a payment no policy checks.')
    }
    const token = a.authorization.token
    const sent = await this.sendTransaction({ to: token, value: 0n, data: encodeAuthorizationData(this.address, a) }, options)
    if (sent.receipt.status !== 'success') throw new AuthorizationFailedError({ hash: sent.hash, token })
    const domainSeparator = (await rpc(this.#url, "reading the token's DOMAIN_SEPARATOR", () =>
      this.#client.readContract({ address: token, abi: DOMAIN_SEPARATOR_ABI, functionName: 'DOMAIN_SEPARATOR' }),
    )) as Hex
    const digest = authorizationDigest(domainSeparator, a)
    // the account computed its own digest: it must be this one
    const until = await rpc(this.#url, 'reading the approval', () =>
      this.#client.readContract({ address: this.address, abi: agentAccountCallAbi, functionName: 'authorizedUntil', args: [digest] }),
    )
    if (until !== authorizationValidUntil(a)) throw new AuthorizationFailedError({ hash: sent.hash, token, digest })
    return { ...sent, authorization: a, digest, signature: '0x', validUntil: until }
  }

  /**
   * Settles every wallet step that is not known to be mined, in nonce order. A step whose
   * WAL record holds its gas and fees and that has no outbox entry gets one first, signed
   * from that record (the very bytes signed before a crash, if any were); then:
   * - outbox entry, receipt on chain → recorded as mined;
   * - outbox entry, not mined, nonce still free → re-broadcast (same bytes, same hash);
   * - outbox entry, nonce used by another transaction → abandoned ({@link NonceConflictError});
   * - no outbox entry (crash before signing), nonce still free → signed with the same nonce
   *   and fields, stored, sent;
   * - no outbox entry, nonce used → abandoned; it was never signed.
   * An outbox entry without a wallet step is never broadcast (`untraced`). Then waits for the
   * receipts of what it sent. Runs under the wallet's lock; safe to call at any time.
   */
  recover(): Promise<RecoveryEntry[]> {
    return this.#serial(() => this.#recover())
  }

  /**
   * Waits until the outbox's `mined` records, written off the payment's path, are on disk.
   * Call it before a planned shutdown; a crash without it loses nothing (recovery reads those
   * receipts from the chain, see outbox.ts), it only spares the next start those reads.
   */
  flush(): Promise<void> {
    return this.#outbox.flush()
  }

  /** WAL indices of the wallet steps written for an action, in order. */
  walletStepIndices(actionId: string): number[] {
    return [...(this.#byAction.get(actionId) ?? [])]
  }

  /** The transaction of a wallet step, as the outbox knows it. */
  getTransaction(p: { walletStepIndex: number }): TrackedTransaction | undefined {
    const known = this.#byIndex.get(p.walletStepIndex)
    if (!known || !this.#mine(known.step)) return undefined
    const entry = this.#outbox.get(known.step.nonce)
    const base = { walletStepIndex: known.step.index, nonce: known.step.nonce, actionId: known.step.actionId }
    if (!entry || entry.walletStepIndex !== known.step.index) {
      return { ...base, state: 'unsigned', hash: null, receipt: null, error: null }
    }
    return { ...base, state: entry.state, hash: entry.hash, receipt: fromStored(entry.receipt), error: entry.error }
  }

  toJSON(): { kind: 'AgentWallet'; address: Address; chainId: number; policyVersion: number } {
    return { kind: 'AgentWallet', address: this.address, chainId: this.chainId, policyVersion: this.policyVersion }
  }

  toString(): string {
    return `AgentWallet(${this.address} on chain ${this.chainId})`
  }

  [inspect.custom](): string {
    return this.toString()
  }

  // -------------------------------------------------------------------------------------

  #checkPolicy(tx: ParsedRequest, now: number): void {
    const breach = evaluatePolicy(this.policy, tx)
    let error: PolicyViolationError | undefined
    let auth: AuthorizationCall | undefined
    if (breach === 'ValueCap') error = new PolicyViolationError({ rule: 'ValueCap', limit: this.policy.maxValuePerTx, attempted: tx.value })
    else if (breach === 'TargetNotAllowed') {
      error = new PolicyViolationError({ rule: 'TargetNotAllowed', limit: this.policy.allowedTargets, attempted: tx.to })
    } else if (breach === 'SelectorNotAllowed') {
      error = new PolicyViolationError({
        rule: 'SelectorNotAllowed',
        limit: this.policy.allowedSelectors,
        attempted: tx.data.length >= 10 ? (tx.data.slice(0, 10) as Hex) : tx.data,
      })
    } else if (breach !== 'None') {
      throw new WalletConfigError(`Unexpected policy result ${breach}.`)
    } else if ((auth = tx.value === 0n ? decodeAuthorizationData(tx.to, tx.data) : undefined)) {
      // a token authorization: its payee is held to the allowlist, as the account holds it
      this.#checkAuthorization(auth, now)
      const payee = authorizationPayee(auth)
      if (evaluatePolicy(this.policy, { to: payee, value: 0n, data: '0x' }) === 'TargetNotAllowed') {
        error = new PolicyViolationError({ rule: 'TargetNotAllowed', limit: this.policy.allowedTargets, attempted: payee })
      }
    } else if (this.policy.dailyBudget !== undefined) {
      const spent = this.spentToday(now)
      if (spent + tx.value > this.policy.dailyBudget) {
        error = new PolicyViolationError({ rule: 'DailyBudget', limit: this.policy.dailyBudget, attempted: tx.value, spentToday: spent })
      }
    }
    if (!error) return
    if (!this.#skipPolicy) throw error
    this.#log.warn(
      { rule: error.rule, to: tx.to, value: tx.value.toString() },
      `UNSAFE WALLET: signing a transaction the policy forbids (${error.rule}); the wallet step is in the trace and the breach is provable`,
    )
  }

  /** What the account refuses about an authorization whatever the policy: another `from`, a window it does not accept, a bare key. */
  #checkAuthorization(a: AuthorizationCall, now: number): void {
    if (this.mode !== 'account') {
      throw new WalletConfigError('Token authorizations need the agent account (createAgentWallet({ agentAccount })): a bare key would sign a payment no policy checks.')
    }
    if (a.from.toLowerCase() !== this.address.toLowerCase()) {
      throw new InvalidTransactionError(`the authorization's ${a.kind === 'transfer' ? 'from' : 'owner'} must be the agent account ${this.address}, got ${a.from}`)
    }
    const until = authorizationValidUntil(a)
    const nowS = BigInt(Math.floor(now / 1000))
    if (until <= nowS || until > nowS + BigInt(MAX_AUTHORIZATION_LIFETIME)) {
      throw new InvalidTransactionError(
        `the authorization must expire within ${MAX_AUTHORIZATION_LIFETIME} s from now (validBefore/deadline ${until}, now ${nowS}); ask for a shorter-lived one`,
      )
    }
  }

  /**
   * The nonce of the next wallet step: max(the chain's pending nonce, the last wallet step's
   * nonce + 1). The pending nonce is read once and then known: only this wallet signs with
   * its key, so each step it writes advances it by one (`#lastNonce`). It is read again after
   * anything went wrong (a failed preparation or broadcast, a recovery) and on a restart,
   * when the node may know better.
   */
  async #nextNonce(): Promise<number> {
    this.#chainNonce ??= await this.#nonceAt('pending')
    return Math.max(this.#chainNonce, this.#lastNonce + 1)
  }

  /** Forgets what the wallet tracks of the chain (pending nonce, balance floor): read again next time. */
  #forgetChainState(): void {
    this.#chainNonce = undefined
    this.#balanceFloor = undefined
    this.#accountFloor = undefined
    this.#fees = undefined
  }

  /**
   * The account's nonce as the node states it. Read raw, as the balance is: viem would turn
   * garbage such as `[]`, `true` or a JSON number into a value, and a nonce goes into the
   * wallet step.
   */
  async #nonceAt(blockTag: 'pending' | 'latest'): Promise<number> {
    return Number(await this.#quantity('eth_getTransactionCount', `${blockTag} nonce`, 13, blockTag))
  }

  /** An account quantity (`eth_getTransactionCount`, `eth_getBalance`): a 0x-hex string of at most `maxDigits` digits, else {@link WalletRpcAnswerError}. */
  async #quantity(
    method: 'eth_getTransactionCount' | 'eth_getBalance',
    action: string,
    maxDigits: number,
    blockTag: 'pending' | 'latest' = 'pending',
    who?: Address,
  ): Promise<bigint> {
    const raw: unknown = await rpc(this.#url, action, () => this.#client.request({ method, params: [who ?? this.signer, blockTag] }))
    if (typeof raw !== 'string' || !new RegExp(`^0x[0-9a-fA-F]{1,${maxDigits}}$`).test(raw)) {
      throw new WalletRpcAnswerError({ url: this.#url, action, cause: new Error(`${method} returned ${JSON.stringify(raw)?.slice(0, 80)}`) })
    }
    return BigInt(raw)
  }

  /** The `execute` calldata for one account call (account mode). */
  #envelope(tx: ParsedRequest, nonce: number, place: StepPlace, policyVersion = this.#policyVersion): Hex {
    return encodeAccountCall({ ...tx, stepIndex: place.index, prevHash: place.prevHash, policyVersion, nonce })
  }

  /**
   * What the signer's transaction carries for a call: in account mode `execute` on the account
   * (value 0), its envelope naming the step's place and policy version; in EOA mode the call itself.
   */
  #sent(tx: ParsedRequest, nonce: number, place: StepPlace, policyVersion = this.#policyVersion): ParsedRequest {
    return this.mode === 'account' ? { to: this.address, value: 0n, data: this.#envelope(tx, nonce, place, policyVersion) } : tx
  }

  /** {@link #sent} for a wallet step of the WAL: the call it authorised, at its place. */
  #sentForStep(step: WalletStep): ParsedRequest {
    const tx: ParsedRequest = { to: step.to as Address, value: BigInt(step.value), data: step.data }
    return this.#sent(tx, step.nonce, { index: step.index, prevHash: step.prevHash as Hex }, step.policyVersion)
  }

  /**
   * {@link #prepare}; when the chain says the cited version is no longer in force (the owner
   * activated an update), the wallet reads the version in force, checks the request
   * against it, and prepares once more.
   */
  async #prepareFollowingPolicy(tx: ParsedRequest, nonce: number, place: StepPlace): Promise<Prepared> {
    try {
      return await this.#prepare(tx, nonce, place)
    } catch (err) {
      if (!(err instanceof StalePolicyVersionError) || !this.#policySource) throw err
      const next = await this.#policySource()
      const parsed = policySchema.safeParse(next.policy)
      if (!parsed.success) throw new WalletConfigError(`The policy of version ${next.version} read from the chain is invalid.`)
      this.#log.info({ from: this.#policyVersion, to: next.version }, 'following the policy version in force')
      this.#policyVersion = next.version
      this.#policy = freezePolicy(parsed.data)
      this.#checkPolicy(tx, this.#now())
      return this.#prepare(tx, nonce, place)
    }
  }

  async #prepare(tx: ParsedRequest, nonce: number, place: StepPlace, policyVersion = this.#policyVersion): Promise<Prepared> {
    const sent = this.#sent(tx, nonce, place, policyVersion)
    // account mode: the account must hold the call's value. The floor (see #accountFloor)
    // answers when it covers it; else the balance is read beside the estimate, not after it
    // (one round trip fewer on the payment's path). A simulated `execute` that the account's
    // funds cannot pay fails the estimate, and then the balance names the cause.
    const floorCovers = this.#accountFloor !== undefined && this.#accountFloor >= tx.value
    const readFunds = () => this.#quantity('eth_getBalance', 'account balance', 64, 'pending', this.address)
    const accountFunds = this.mode === 'account' && tx.value > 0n && !floorCovers ? readFunds() : undefined
    accountFunds?.catch(() => {}) // awaited below; an estimate that fails first must not leave it unhandled
    const fundsShort = (funds: bigint | undefined): TransactionPreparationError | undefined => {
      if (funds === undefined || funds >= tx.value) return undefined
      return new TransactionPreparationError({
        to: tx.to,
        value: tx.value,
        cause: new Error(`insufficient funds: the agent account ${this.address} holds ${funds} wei, the call sends ${tx.value} wei`),
      })
    }
    const shape = this.mode === 'account' ? callShape(tx) : undefined
    const knownGas = shape === undefined ? undefined : this.#gasByShape.get(shape)
    let request: unknown = knownGas === undefined ? undefined : await this.#prepareAtKnownGas(sent, nonce, knownGas)
    const atKnownGas = request !== undefined
    if (!atKnownGas) {
      try {
        request = await this.#fill(sent, nonce)
      } catch (cause) {
        if (isTransportError(cause)) throw new WalletRpcError({ url: this.#url, action: 'preparing a transaction', cause })
        if (this.mode === 'account') {
          const refused = accountRefusal(cause, tx, this.#policyVersion, this.policy)
          if (refused) throw refused
          const funds = tx.value > 0n ? await (accountFunds ?? readFunds()).catch(() => undefined) : undefined
          const short = fundsShort(funds)
          if (short) throw short
        }
        throw new TransactionPreparationError({ to: tx.to, value: tx.value, cause })
      }
    }
    const { gas: estimated, maxFeePerGas, maxPriorityFeePerGas } = request as { gas?: bigint; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint }
    if (estimated === undefined || maxFeePerGas === undefined || maxPriorityFeePerGas === undefined) {
      throw new WalletConfigError('The node did not provide EIP-1559 fees and a gas estimate.')
    }
    // the step's place may change between estimate and signing (zero vs non-zero calldata
    // bytes). A known estimate passed the simulation as it stands: the margin goes on it too.
    const gas = this.mode === 'account' ? estimated + ACCOUNT_GAS_MARGIN : estimated
    if (shape !== undefined) this.#rememberGas(shape, estimated)
    // A transaction the node would refuse for lack of funds must be caught here: once its
    // step is written it is authorised, and an unsendable one would hold up every later nonce.
    // The floor (see #balanceFloor) answers when it covers the transaction; else the node.
    const needed = sent.value + gas * maxFeePerGas
    const floor = this.#balanceFloor
    const balance = floor !== undefined && floor >= needed ? floor : await this.#quantity('eth_getBalance', 'balance', 64)
    this.#balanceFloor = balance >= needed ? balance - needed : undefined
    if (balance < needed) {
      throw new TransactionPreparationError({
        to: tx.to,
        value: tx.value,
        cause: new Error(`insufficient funds: the signer's balance is ${balance} wei, the transaction needs up to ${needed} wei (value + gas × maxFeePerGas)`),
      })
    }
    if (this.mode === 'account' && tx.value > 0n) {
      const funds = accountFunds ? await accountFunds : this.#accountFloor!
      const short = fundsShort(funds)
      if (short) throw short
      this.#accountFloor = funds - tx.value
    }
    return { chainId: this.chainId, type: 'eip1559', to: sent.to, value: sent.value, data: sent.data, nonce, gas, maxFeePerGas, maxPriorityFeePerGas }
  }

  /**
   * Fees for an account call, and its simulation at `gas` (the estimate of the last call of
   * its shape), side by side: two node calls that each run the call once at most, where an
   * estimate runs it many times over (a search for the least gas that passes: 1.8–1.9 ms on
   * anvil against about 0.5 for each of these). A simulation that passes at `gas` means the
   * call passes at `gas` on the same state — what an estimate of at most `gas` would say —
   * so it answers as that estimate. Answers undefined when either call fails for any reason
   * (more gas needed now, as by a first write of the day; a refusal; the node), and the
   * caller estimates as before: the authoritative answer, with the same errors as ever.
   *
   * The fees come from the node's last fill while it is younger than `feeReuseMs` (what the
   * last block already answered: no request for them), else from a fill beside the
   * simulation. A fill's maxFeePerGas leaves room above the base fee it saw (on anvil 2.4
   * gwei at a base fee of 1), which the base fee cannot pass in the block or two of a few
   * hundred milliseconds (12.5 % a block at most); and any error forgets the fees with the
   * rest of the chain state.
   */
  async #prepareAtKnownGas(sent: ParsedRequest, nonce: number, gas: bigint): Promise<unknown> {
    const fees = this.#fees
    const reuse = fees !== undefined && performance.now() - fees.at < this.#feeReuseMs
    try {
      const [request] = await Promise.all([
        reuse ? { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas } : this.#fill(sent, nonce, gas),
        this.#client.call({ account: this.signer, to: sent.to, value: sent.value, data: sent.data, gas, blockTag: 'pending' }),
      ])
      // the gas simulated, whatever a node's fill says of gas given to it
      return { ...(request as object), gas }
    } catch {
      return undefined
    }
  }

  /** The node's fees and (unless `gas` is given) gas estimate for a transaction of the signer; the fees are kept (see #prepareAtKnownGas). */
  async #fill(sent: ParsedRequest, nonce: number, gas?: bigint): Promise<unknown> {
    const at = performance.now()
    const request: unknown = await this.#client.prepareTransactionRequest({
      account: this.#account,
      chain: this.#client.chain,
      to: sent.to,
      value: sent.value,
      data: sent.data,
      nonce,
      ...(gas === undefined ? {} : { gas }),
      type: 'eip1559',
      parameters: ['fees', 'gas'],
    })
    const { maxFeePerGas, maxPriorityFeePerGas } = request as { maxFeePerGas?: unknown; maxPriorityFeePerGas?: unknown }
    // dated from the ask, not the answer; checked with the rest by #prepare (a refusal forgets them)
    if (typeof maxFeePerGas === 'bigint' && typeof maxPriorityFeePerGas === 'bigint') this.#fees = { maxFeePerGas, maxPriorityFeePerGas, at }
    return request
  }

  #rememberGas(shape: string, gas: bigint): void {
    this.#gasByShape.delete(shape)
    this.#gasByShape.set(shape, gas)
    if (this.#gasByShape.size > KNOWN_GAS_SHAPES) this.#gasByShape.delete(this.#gasByShape.keys().next().value as string)
  }

  /**
   * The transaction a wallet step authorised, as its WAL record fixes it: the step's call (in
   * account mode its `execute` envelope, built from the step's place and policy version) with
   * the gas and fees kept beside it.
   */
  #preparedFromWal(step: WalletStep, params: TxParams): Prepared {
    const { gas, maxFeePerGas, maxPriorityFeePerGas } = params
    return { chainId: this.chainId, type: 'eip1559', ...this.#sentForStep(step), nonce: step.nonce, gas, maxFeePerGas, maxPriorityFeePerGas }
  }

  /**
   * Signs and records a wallet step's transaction in the outbox: `held` (in memory) when the
   * WAL record fixes every byte of it (recovery rebuilds the same bytes), `durable` when it
   * was prepared afresh (recovery of a step written without its gas and fees).
   */
  async #signAndStore(known: Known, prepared: Prepared, record: 'held' | 'durable'): Promise<OutboxEntry> {
    const raw = await this.#account.signTransaction(prepared)
    const hash = keccak256Hex(raw)
    const entry: OutboxEntry = {
      version: 1,
      chainId: String(this.chainId),
      from: this.signer.toLowerCase() as Hex,
      nonce: known.step.nonce,
      walletStepIndex: known.step.index,
      walletStepLeaf: known.leaf,
      actionId: known.step.actionId,
      state: 'signed',
      raw,
      hash,
      receipt: null,
      error: null,
      updatedAt: this.#now(),
    }
    if (record === 'held') this.#outbox.hold(entry)
    else await this.#outbox.create(entry)
    const stored = this.#outbox.get(entry.nonce) as OutboxEntry
    await this.#emit('signed', { actionId: stored.actionId, walletStepIndex: stored.walletStepIndex, nonce: stored.nonce, hash: stored.hash as Hex })
    return stored
  }

  /** Sends the stored bytes. A node that already has the same hash is success. */
  async #broadcast(entry: OutboxEntry, recovered: boolean): Promise<void> {
    const hash = entry.hash as Hex
    try {
      const got = await this.#client.sendRawTransaction({ serializedTransaction: entry.raw as Hex })
      if (got.toLowerCase() !== hash) throw new Error(`the node returned hash ${got}, expected ${hash}`)
    } catch (err) {
      if (!(await this.#nodeHas(hash))) {
        throw new WalletBroadcastError({ hash, nonce: entry.nonce, cause: err })
      }
    }
    this.#log.info({ nonce: entry.nonce, hash, walletStepIndex: entry.walletStepIndex, recovered }, 'transaction broadcast')
    await this.#emit('broadcast', { actionId: entry.actionId, walletStepIndex: entry.walletStepIndex, nonce: entry.nonce, hash, recovered })
  }

  async #nodeHas(hash: Hex): Promise<boolean> {
    try {
      await this.#client.getTransaction({ hash })
      return true
    } catch {
      return false
    }
  }

  async #receipt(hash: Hex): Promise<TransactionReceipt | null> {
    try {
      const receipt = await this.#client.getTransactionReceipt({ hash })
      if (receipt.transactionHash?.toLowerCase() !== hash.toLowerCase()) {
        throw new WalletRpcAnswerError({
          url: this.#url,
          action: 'reading a receipt',
          cause: new Error(`asked for the receipt of ${hash}, the node answered with one for ${String(receipt.transactionHash)}`),
          afterBroadcast: true,
        })
      }
      return receipt
    } catch (err) {
      if (err instanceof ViemBaseError && err.name === 'TransactionReceiptNotFoundError') return null
      throw err
    }
  }

  async #waitMined(entry: OutboxEntry): Promise<TransactionOutcome> {
    const hash = entry.hash as Hex
    let receipt: TransactionReceipt
    try {
      // one confirmation (the default): the receipt itself, asked for directly (see
      // waitForReceipt.ts); more: viem's wait, which follows the block number
      receipt =
        this.#confirmations === 1
          ? await waitForReceipt({ get: () => this.#receipt(hash), pollingIntervalMs: this.#pollingIntervalMs, timeoutMs: this.#receiptTimeoutMs })
          : await this.#client.waitForTransactionReceipt({
              hash,
              confirmations: this.#confirmations,
              timeout: this.#receiptTimeoutMs,
              pollingInterval: this.#pollingIntervalMs,
            })
    } catch (cause) {
      throw new ReceiptTimeoutError({ hash, nonce: entry.nonce, timeoutMs: this.#receiptTimeoutMs, cause })
    }
    return this.#recordMined(entry, receipt)
  }

  async #recordMined(entry: OutboxEntry, receipt: TransactionReceipt): Promise<TransactionOutcome> {
    const outcome: TransactionOutcome = {
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      status: receipt.status,
      gasUsed: receipt.gasUsed,
    }
    // In memory now, on disk in the background: the `signed` record is the durable one, and a
    // crash before this lands leaves an entry recovery settles from the chain (outbox.ts).
    const current = this.#outbox.get(entry.nonce) ?? entry
    if (current.state === 'signed') this.#outbox.markMined(entry.nonce, toStored(outcome), this.#now())
    await this.#emit('mined', {
      actionId: entry.actionId,
      walletStepIndex: entry.walletStepIndex,
      nonce: entry.nonce,
      hash: entry.hash as Hex,
      receipt: outcome,
    })
    return outcome
  }

  #remember(k: Known): void {
    const { step } = k
    this.#steps.push(k)
    this.#byIndex.set(step.index, k)
    const ofAction = this.#byAction.get(step.actionId)
    if (ofAction) ofAction.push(step.index)
    else this.#byAction.set(step.actionId, [step.index])
    const day = Math.floor(step.timestamp / DAY_MS) * DAY_MS
    this.#spentByDay.set(day, (this.#spentByDay.get(day) ?? 0n) + BigInt(step.value))
    if (this.#mine(step) && step.nonce > this.#lastNonce) this.#lastNonce = step.nonce
  }

  #mine(step: WalletStep): boolean {
    return step.from === this.address.toLowerCase() && step.chainId === String(this.chainId)
  }

  /**
   * The `mined` hints of transactions that have no outbox file (those signed from their WAL
   * record, see outbox.ts): each becomes its entry when it names exactly its wallet step
   * (index, leaf and action) of this account and its hash is its bytes' hash; the rest are
   * deleted (the outbox directory is this key's). A step left without one is settled by recovery from the chain.
   */
  async #adoptMinedHints(): Promise<void> {
    const byNonce = new Map<number, Known>()
    for (const k of this.#steps) if (this.#mine(k.step) && k.params) byNonce.set(k.step.nonce, k)
    await this.#outbox.adoptOrphanHints((hint) => {
      const k = byNonce.get(hint.nonce)
      return (
        k !== undefined &&
        hint.walletStepIndex === k.step.index &&
        hint.walletStepLeaf === k.leaf &&
        hint.actionId === k.step.actionId &&
        hint.raw !== null &&
        keccak256(hint.raw as Hex) === hint.hash
      )
    })
  }

  async #recover(): Promise<RecoveryEntry[]> {
    this.#forgetChainState() // recovery may send and abandon: read the chain again after it
    const report: RecoveryEntry[] = []
    const mine = this.#steps.filter((k) => this.#mine(k.step))
    const byNonce = new Map<number, Known>()
    for (const k of mine) {
      if (byNonce.has(k.step.nonce)) {
        throw new OutboxCorruptedError(this.#outbox.dir, `two wallet steps in the WAL share nonce ${k.step.nonce}`)
      }
      byNonce.set(k.step.nonce, k)
    }
    for (const entry of this.#outbox.entries()) {
      const k = byNonce.get(entry.nonce)
      if (!k || k.step.index !== entry.walletStepIndex || k.leaf !== entry.walletStepLeaf) {
        const error = new UntracedTransactionError({ nonce: entry.nonce, hash: entry.hash, path: this.#outbox.pathOf(entry.nonce) })
        this.#log.error({ nonce: entry.nonce, hash: entry.hash }, error.shortMessage)
        report.push({
          walletStepIndex: entry.walletStepIndex,
          nonce: entry.nonce,
          actionId: entry.actionId,
          outcome: 'untraced',
          hash: entry.hash,
          receipt: null,
          error,
        })
      }
    }
    const open = mine.filter((k) => {
      const e = this.#outbox.get(k.step.nonce)
      return !e || e.state === 'signed'
    })
    if (open.length === 0) {
      this.#needsRecovery = false
      return report
    }
    const chainNonce = await this.#nonceAt('latest')
    const sent: { entry: OutboxEntry; item: RecoveryEntry }[] = []
    for (const k of open.sort((a, b) => a.step.nonce - b.step.nonce)) {
      const { step } = k
      const base = { walletStepIndex: step.index, nonce: step.nonce, actionId: step.actionId }
      let entry = this.#outbox.get(step.nonce)
      // Signed by this key from the WAL record (the hot path's way), the entry may have been
      // lost with the process: sign it again — the very bytes that may have reached the node.
      const params = !entry && k.params?.signer.toLowerCase() === this.signer.toLowerCase() ? k.params : undefined
      const rebuilt = params !== undefined
      if (params) entry = await this.#signAndStore(k, this.#preparedFromWal(step, params), 'held')
      if (entry) {
        if (!rebuilt) await this.#verifyEntry(entry, step)
        const receipt = await this.#receipt(entry.hash as Hex)
        if (receipt) {
          const outcome = await this.#recordMined(entry, receipt)
          report.push({ ...base, outcome: 'already-mined', hash: entry.hash, receipt: outcome, error: null })
          continue
        }
        if (step.nonce < chainNonce) {
          report.push(await this.#abandon(k, entry, chainNonce))
          continue
        }
        const item: RecoveryEntry = { ...base, outcome: rebuilt ? 'signed-and-sent' : 'rebroadcast', hash: entry.hash, receipt: null, error: null }
        report.push(item)
        await this.#tryBroadcast(entry, item, sent)
        continue
      }
      if (step.nonce < chainNonce) {
        report.push(await this.#abandon(k, undefined, chainNonce))
        continue
      }
      let prepared: Prepared
      try {
        prepared = await this.#prepare(
          { to: step.to as Address, value: BigInt(step.value), data: step.data },
          step.nonce,
          { index: step.index, prevHash: step.prevHash as Hex },
          step.policyVersion,
        )
      } catch (error) {
        // The account will never execute it (the version it cites is no longer in force, or
        // the policy in force forbids it): nothing moved; its signer nonce is filled with a
        // no-op so the transactions after it are not held up.
        if (this.mode === 'account' && (error instanceof StalePolicyVersionError || error instanceof PolicyViolationError)) {
          report.push(await this.#fillAbandoned(k, error))
          continue
        }
        // Authorised but unsignable for now (e.g. the node cannot estimate gas): try again later.
        report.push({ ...base, outcome: 'pending', hash: null, receipt: null, error: error as Error })
        continue
      }
      entry = await this.#signAndStore(k, prepared, 'durable')
      const item: RecoveryEntry = { ...base, outcome: 'signed-and-sent', hash: entry.hash, receipt: null, error: null }
      report.push(item)
      await this.#tryBroadcast(entry, item, sent)
    }
    for (const { entry, item } of sent) {
      try {
        item.receipt = await this.#waitMined(entry)
      } catch (error) {
        item.outcome = 'pending'
        item.error = error as Error
      }
    }
    const pending = report.some((r) => r.outcome === 'pending')
    this.#needsRecovery = pending
    for (const r of report) {
      this.#log.info({ walletStepIndex: r.walletStepIndex, nonce: r.nonce, outcome: r.outcome, hash: r.hash }, 'wallet recovery')
    }
    return report
  }

  async #tryBroadcast(entry: OutboxEntry, item: RecoveryEntry, sent: { entry: OutboxEntry; item: RecoveryEntry }[]): Promise<void> {
    try {
      await this.#broadcast(entry, true)
      sent.push({ entry, item })
    } catch (error) {
      item.outcome = 'pending'
      item.error = error as Error
    }
  }

  async #abandon(k: Known, entry: OutboxEntry | undefined, chainNonce: number): Promise<RecoveryEntry> {
    const error = new NonceConflictError({ nonce: k.step.nonce, walletStepIndex: k.step.index, chainNonce, signed: entry !== undefined })
    const record = this.#abandonedEntry(k, (entry?.raw ?? null) as Hex | null, (entry?.hash ?? null) as Hex | null, error.shortMessage)
    if (entry) await this.#outbox.update(record)
    else await this.#outbox.create(record)
    this.#log.error({ walletStepIndex: k.step.index, nonce: k.step.nonce }, error.shortMessage)
    return {
      walletStepIndex: k.step.index,
      nonce: k.step.nonce,
      actionId: k.step.actionId,
      outcome: 'abandoned',
      hash: record.hash,
      receipt: null,
      error,
    }
  }

  /**
   * Account mode: a wallet step whose call the account will never execute. Its signer nonce
   * gets a 0-value transaction from the signer to itself (moves nothing of the agent's; no
   * account call, so nothing for the trace to cover), kept in the outbox as `abandoned`.
   */
  async #fillAbandoned(k: Known, cause: Error): Promise<RecoveryEntry> {
    const base = { walletStepIndex: k.step.index, nonce: k.step.nonce, actionId: k.step.actionId }
    let raw: Hex
    try {
      const fees = await this.#client.estimateFeesPerGas()
      raw = await this.#account.signTransaction({
        chainId: this.chainId,
        type: 'eip1559',
        to: this.signer,
        value: 0n,
        data: '0x',
        nonce: k.step.nonce,
        gas: 21_000n,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      })
    } catch (error) {
      return { ...base, outcome: 'pending', hash: null, receipt: null, error: error as Error }
    }
    const hash = keccak256(raw)
    const reason = `the account will never execute it: ${(cause as { shortMessage?: string }).shortMessage ?? cause.message.split('\n')[0]}`
    await this.#outbox.create(this.#abandonedEntry(k, raw, hash, reason))
    try {
      await this.#client.sendRawTransaction({ serializedTransaction: raw })
    } catch (err) {
      if (!(await this.#nodeHas(hash))) return { ...base, outcome: 'pending', hash, receipt: null, error: err as Error }
    }
    this.#log.warn({ walletStepIndex: k.step.index, nonce: k.step.nonce, hash }, 'wallet step abandoned: the account will never execute it; its nonce was filled')
    return { ...base, outcome: 'abandoned', hash, receipt: null, error: cause }
  }

  /** The outbox record of a wallet step that will never be sent as authorised. */
  #abandonedEntry(k: Known, raw: Hex | null, hash: Hex | null, reason: string): OutboxEntry {
    return {
      version: 1,
      chainId: String(this.chainId),
      from: this.signer.toLowerCase() as Hex,
      nonce: k.step.nonce,
      walletStepIndex: k.step.index,
      walletStepLeaf: k.leaf,
      actionId: k.step.actionId,
      state: 'abandoned',
      raw,
      hash,
      receipt: null,
      error: reason,
      updatedAt: this.#now(),
    }
  }

  /** An outbox entry must be exactly the transaction its wallet step authorised, signed by this account. */
  async #verifyEntry(entry: OutboxEntry, step: WalletStep): Promise<void> {
    const path = this.#outbox.pathOf(entry.nonce)
    const raw = entry.raw as Hex
    if (keccak256(raw) !== entry.hash) throw new OutboxCorruptedError(path, 'its hash is not the hash of its raw transaction')
    let tx: ReturnType<typeof parseTransaction>
    let signer: Address
    try {
      tx = parseTransaction(raw)
      signer = await recoverTransactionAddress({ serializedTransaction: raw as never })
    } catch {
      throw new OutboxCorruptedError(path, 'its raw transaction cannot be decoded')
    }
    // account mode: the signer's execute call on the account, carrying exactly the step
    const sent = this.#sentForStep(step)
    const expected = { to: sent.to.toLowerCase(), value: sent.value, data: sent.data.toLowerCase() }
    const mismatch =
      signer.toLowerCase() !== this.signer.toLowerCase() || step.from !== this.address.toLowerCase()
        ? 'signer'
        : tx.chainId !== this.chainId
          ? 'chainId'
          : (tx.to ?? '').toLowerCase() !== expected.to
            ? 'to'
            : (tx.value ?? 0n) !== expected.value
              ? 'value'
              : (tx.data ?? '0x').toLowerCase() !== expected.data
                ? 'data'
                : tx.nonce !== step.nonce
                  ? 'nonce'
                  : null
    if (mismatch) throw new OutboxCorruptedError(path, `its ${mismatch} differs from wallet step ${step.index}`)
  }

  async #emit<K extends keyof AgentWalletListener>(event: K, payload: Parameters<AgentWalletListener[K]>[0]): Promise<void> {
    const listener = this.#on[event] as ((e: typeof payload) => void | Promise<void>) | undefined
    if (!listener) return
    try {
      await listener(payload)
    } catch (err) {
      this.#log.error({ event, err: err instanceof Error ? err.message : String(err) }, 'wallet listener failed')
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => {})
    return run
  }
}

type ParsedRequest = { to: Address; value: bigint; data: Hex }

const DOMAIN_SEPARATOR_ABI = [
  { type: 'function', name: 'DOMAIN_SEPARATOR', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'bytes32' }] },
] as const

function issueText(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0]
  return `${issue?.path.map(String).join('.') || 'request'}: ${issue?.message ?? 'invalid'}`
}

/** Gas added to an account call's estimate (see #prepare). */
const ACCOUNT_GAS_MARGIN = 5_000n
/**
 * How long a fill's fees serve later account calls by default, ms: at most a block or two on
 * the chains agents use, while a fill's maxFeePerGas holds several blocks of the largest base
 * fee rise (12.5 % a block) above the base fee it saw.
 */
const DEFAULT_FEE_REUSE_MS = 500
/** The longest fee reuse the wallet accepts, ms. */
const MAX_FEE_REUSE_MS = 12_000
/** Call shapes whose last gas limit the wallet keeps (the oldest drop off first). */
const KNOWN_GAS_SHAPES = 64

/**
 * What an account call's gas depends on besides the chain's state: its target, whether it
 * moves value, its selector and its calldata's length. Two calls of one shape differ only in
 * argument values (a payment's amount, a step's place), which the simulation at the known
 * limit checks in any case.
 */
function callShape(tx: ParsedRequest): string {
  return `${tx.to.toLowerCase()}:${tx.value > 0n ? 'value' : 'novalue'}:${tx.data.slice(0, 10)}:${tx.data.length}`
}

function freezePolicy(policy: Policy): Readonly<Policy> {
  return Object.freeze({ ...policy, allowedTargets: [...policy.allowedTargets], allowedSelectors: [...policy.allowedSelectors] })
}

/** The typed refusal for an `execute` the chain would revert (simulated while estimating gas). */
function accountRefusal(cause: unknown, tx: ParsedRequest, version: number, policy: Readonly<Policy>): Error | undefined {
  const r = accountRevert(cause)
  if (!r) return undefined
  switch (r.errorName) {
    case 'PolicyViolation': {
      const rule = BREACHES[Number(r.args[0])]
      if (rule === 'ValueCap') return new PolicyViolationError({ rule, limit: policy.maxValuePerTx, attempted: tx.value })
      if (rule === 'TargetNotAllowed') return new PolicyViolationError({ rule, limit: policy.allowedTargets, attempted: tx.to })
      if (rule === 'SelectorNotAllowed') {
        return new PolicyViolationError({ rule, limit: policy.allowedSelectors, attempted: tx.data.length >= 10 ? (tx.data.slice(0, 10) as Hex) : tx.data })
      }
      return undefined
    }
    case 'DailyBudgetExceeded':
      return new PolicyViolationError({ rule: 'DailyBudget', limit: r.args[2] as bigint, attempted: tx.value, spentToday: r.args[0] as bigint })
    case 'StalePolicyVersion':
      return new StalePolicyVersionError({ cited: version, inForce: Number(r.args[1]) })
    case 'TraceBehind':
      return new AccountTraceBehindError({ oldestUncovered: Number(r.args[0]), coverBy: Number(r.args[1]) })
    case 'Unbonding':
      return new AgentUnbondingError({ account: undefined })
    case 'BondTooLow':
      return new BondTooLowError({ bondEth: r.args[0] as bigint, requiredBond: r.args[1] as bigint })
    case 'NotSigner':
      return new WalletConfigError(`This key (${String(r.args[0])}) is not the agent account's signer: the owner rotated or revoked it.`)
    default:
      return undefined
  }
}

function isTransportError(err: unknown): boolean {
  return (
    err instanceof ViemBaseError &&
    err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError || e instanceof WebSocketRequestError) !== null
  )
}

/**
 * A read the wallet needs before anything is written: transport failures become
 * WalletRpcError; an answer viem cannot even turn into a value (a bare TypeError, e.g. a
 * balance of null) becomes WalletRpcAnswerError.
 */
async function rpc<T>(url: string, action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (cause) {
    if (isTransportError(cause)) throw new WalletRpcError({ url, action, cause })
    if (!(cause instanceof ViemBaseError) && !(cause instanceof CovenantBaseError)) throw new WalletRpcAnswerError({ url, action, cause })
    throw cause
  }
}

function parseRequest(request: TransactionRequest): ParsedRequest {
  const parsed = transactionRequestSchema.safeParse(request)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidTransactionError(`${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}

function toStored(o: TransactionOutcome): OutboxReceipt {
  return { blockNumber: o.blockNumber.toString(), blockHash: o.blockHash.toLowerCase() as Hex, status: o.status, gasUsed: o.gasUsed.toString() }
}

function fromStored(r: OutboxReceipt | null): TransactionOutcome | null {
  return r === null ? null : { blockNumber: BigInt(r.blockNumber), blockHash: r.blockHash, status: r.status, gasUsed: BigInt(r.gasUsed) }
}

/**
 * Refuses an account whose signatures are not deterministic (RFC 6979): the wallet keeps no
 * durable copy of what it signs, it rebuilds it from the WAL record after a crash, and a
 * rebuilt transaction must be the very one that may have reached the node. viem's local
 * accounts sign deterministically unless `setSignEntropy` was called.
 */
async function checkDeterministic(account: LocalAccount, chainId: number): Promise<void> {
  const probe = {
    chainId,
    type: 'eip1559',
    to: account.address,
    value: 0n,
    nonce: 0,
    gas: 21_000n,
    maxFeePerGas: 1n,
    maxPriorityFeePerGas: 1n,
  } as const
  const [a, b] = [await account.signTransaction(probe), await account.signTransaction(probe)]
  if (a !== b) {
    throw new WalletConfigError(
      'The account signs the same transaction differently each time (extra entropy). The wallet needs deterministic (RFC 6979) signatures to rebuild a signed transaction after a crash: do not call viem\'s setSignEntropy, or pass an account that signs deterministically.',
    )
  }
}
