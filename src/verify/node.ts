import { getAddress, isAddressEqual, zeroHash, type Address, type Hex, type Log } from 'viem'
import {
  agentRegistryAbi,
  answerDataWithheld,
  commitmentOfSubject,
  ContractRevertError,
  decidedByEvidence,
  disputeGameAbi,
  DISPUTE_KINDS,
  DISPUTE_STATUSES,
  getAccountCall,
  getAccountCalls,
  getBatch,
  getDispute,
  resolveExpired,
  traceLogAbi,
  signVerdict,
  submitVerdicts,
  verifierRegistryAbi,
  type CovenantClient,
  type CovenantWriteClient,
  type DisputeStatus,
} from '../bonds/index.js'
import type { DAClient } from '../da/index.js'
import { AgentBook } from './agents.js'
import { batchCommittedEvent, fetchAndCheckBatch, toBatchEvent, type BatchCheck, type BatchEvent } from './batches.js'
import { chainNow, challenge, type ChallengeResult } from './challenge.js'
import { followEscalation, type EscalationEvent } from './escalation.js'
import { checkBatchSteps, checkDispute, untracedCoverage, type CheckContext, type DisputeView } from './check.js'
import { ReplaySandbox, type ReplaySandboxOptions } from './actionReplay/sandbox.js'
import { checkActionLogic, sandboxLogicReplayer, type LogicReplayer } from './logicCheck.js'
import { VerifierConfigError } from './errors.js'
import { describeFault, untracedCallFault, type Fault } from './faults.js'
import { LogFollower } from './follower.js'
import { isOperatorSigned, sameHeader, toBatchHeader, type HeaderSource } from './headers.js'
import { replayJobHandler, replayJobId, type AttestationCheck, type Replayer, type ReplayJobData, type ReplayJobResult } from './inference.js'
import type { Judge } from './judge.js'
import type { ManifestSource } from './manifest.js'
import { createJobQueue, type JobQueue, type JobWorker } from './queue.js'
import type { Checkpoint, PendingBlob, PendingTx, SignedHeader, TrackedDispute, VerifierState } from './schemas.js'
import { VerifierStateStore } from './state.js'
import { TraceIndex } from './traceIndex.js'
import { redisVerdictPool, type VerdictPool } from './verdictPool.js'
import { withPublishedBlobs } from './publishedBlobs.js'
import { ValidationResponder, type ValidationEvent } from './validationResponder.js'

export type VerifierNodeOptions = {
  /** The chain and deployment; with an account the node challenges and votes, without one it only reports. */
  client: CovenantClient
  da: Pick<DAClient, 'get' | 'health'>
  /** Where the cursor and the node's state live (one node per dir). */
  dataDir: string
  /** Re-executes inference records; without one, inference steps are reported unverifiable. */
  replayer?: Replayer | undefined
  /**
   * Whole-action replay: re-runs each committed action through its agent's registered code
   * bundle and disputes the first step that code does not produce (TraceMismatch). `false`
   * turns it off. @defaultValue a replay sandbox (child processes under Node's permission model)
   */
  logic?: LogicReplayer | false | undefined
  /** Limits of the default replay sandbox. */
  sandbox?: ReplaySandboxOptions | undefined
  /** The replay queue; default: BullMQ when `redisUrl` is set, else in-process. */
  queue?: JobQueue<ReplayJobData, ReplayJobResult> | undefined
  redisUrl?: string | undefined
  /** @defaultValue `covenant-verify-<chainId>-<TraceLog address prefix>` */
  queueName?: string | undefined
  /** Replay jobs this process runs at once; 0 leaves them to other worker processes. @defaultValue 1 */
  localWorkers?: number | undefined
  manifests?: readonly ManifestSource[] | undefined
  headers?: readonly HeaderSource[] | undefined
  judge?: Judge | undefined
  claims?: ((subject: Hex) => Promise<string | undefined>) | undefined
  attestation?: AttestationCheck | undefined
  /** Blocks below the head to stay (reorg safety on real chains). @defaultValue 0 */
  confirmations?: number | undefined
  /** Pause between passes when caught up, ms. @defaultValue 1000 */
  pollIntervalMs?: number | undefined
  /** Most blocks per getLogs call. @defaultValue 2000 */
  maxBlockRange?: number | undefined
  /** Seconds a blob may be missing before it is disputed as withheld; never more than half the batch's challenge window. @defaultValue 60 */
  withheldGraceSeconds?: number | undefined
  /** A replay that takes longer counts as unverifiable, ms. @defaultValue 600000 */
  replayTimeoutMs?: number | undefined
  /** Send challenges (proofs, disputes). @defaultValue true when the client has an account */
  act?: boolean | undefined
  /** Vote on disputes. @defaultValue true when the client has an account */
  vote?: boolean | undefined
  /**
   * Where signed verdicts are gathered: each node publishes its own, and any node submits
   * every gathered verdict not yet counted (one transaction can reach the quorum).
   * @defaultValue a Redis pool when `redisUrl` is set, else only this node's own verdicts
   */
  verdictPool?: VerdictPool | undefined
  /** Send verdicts (own and gathered) on chain; false only signs and publishes them to the pool. @defaultValue true */
  submitVerdicts?: boolean | undefined
  /**
   * When a verdict this node voted on is contested, redeem its stake into the fork child its
   * own verdict supports (the honest stake is what makes the honest child win).
   * @defaultValue true
   */
  redeemInForks?: boolean | undefined
  /** Follow only these agents. @defaultValue all */
  agents?: readonly bigint[] | undefined
  /** First block when there is no saved cursor. @defaultValue the deployment block */
  startBlock?: bigint | undefined
  onEvent?: ((event: VerifierEvent) => void) | undefined
  /**
   * Answer ERC-8004 validation requests addressed to this verifier (ValidationResponder).
   * @defaultValue `act`: true when the client has an account and the deployment has the ERC-8004 registries
   */
  validations?: boolean | undefined
}

/** What a node reports, in order; `--json` prints one per line. */
export type VerifierEvent =
  | { type: 'started'; verifier: Address | null; fromBlock: bigint; queue: 'bullmq' | 'in-process' }
  | { type: 'range'; from: bigint; to: bigint; head: bigint; batches: number }
  | { type: 'batch'; agentId: bigint; sequence: bigint; steps: number; status: BatchCheck['status']; faults: number; reason?: string | undefined }
  | { type: 'fault'; fault: Fault; description: string }
  | { type: 'challenge'; fault: Fault; description: string; result: ChallengeResult }
  | { type: 'dispute'; disputeId: bigint; kind: string; agentId: bigint; challenger: Address }
  | { type: 'vote'; disputeId: bigint; agentAtFault: boolean; reason: string; status: DisputeStatus; counted: number; gasUsed: bigint }
  /** Verdicts of other verifiers from the pool, submitted by this node. */
  | { type: 'relay'; disputeId: bigint; verifiers: Address[]; status: DisputeStatus; counted: number; gasUsed: bigint }
  | { type: 'abstain'; disputeId: bigint; reason: string }
  /** This node answered a DataWithheld challenge by publishing the blob on chain. */
  | { type: 'answered'; disputeId: bigint; bytes: number; gasUsed: bigint }
  | { type: 'resolved'; disputeId: bigint; status: DisputeStatus; slashedEth: bigint; slashedToken: bigint }
  /** A verdict in its escalation window, finalized, contested, this node's fork redemption, a resolved fork. */
  | EscalationEvent
  | { type: 'reorg'; from: Checkpoint; to: Checkpoint | null }
  | { type: 'warning'; message: string }
  | { type: 'error'; where: string; error: unknown }
  /** ERC-8004 validation requests, refusals and responses (ValidationResponder). */
  | ValidationEvent

/**
 * How long a missing blob is given before it is disputed as withheld: the configured grace,
 * but never more than half the batch's challenge window, so the challenge (commit, then
 * reveal a block later) still fits in the window — at MIN_CHALLENGE_WINDOW (60 s) too.
 */
export function withheldGrace(configuredSeconds: number, challengeWindowSeconds: number | undefined): number {
  if (challengeWindowSeconds === undefined) return configuredSeconds
  return Math.min(configuredSeconds, Math.floor(challengeWindowSeconds / 2))
}

const QUORUM_KINDS = new Set(['InferenceFraud', 'DataWithheld', 'UntracedAction', 'SubjectiveClaim', 'InvalidBatch', 'TraceMismatch'])

const agentRegisteredEvent = agentRegistryAbi.find((e) => e.type === 'event' && e.name === 'AgentRegistered')!
const disputeOpenedEvent = disputeGameAbi.find((e) => e.type === 'event' && e.name === 'DisputeOpened')!

/**
 * The verifier node (the EigenVerify role): follows TraceLog commitments with a
 * reorg-safe cursor, fetches every batch from DA and checks it (commitment, schema, hash
 * chain and continuity, Merkle root), evaluates every wallet step against the policy it
 * cites, replays every inference step (fanned out over the job queue), watches agent
 * wallets for transactions no committed step covers, compares operator-signed headers
 * with what was committed, and acts on each fault by the cheapest path that suffices
 * (see {@link Fault}). As a registered verifier it judges every quorum dispute itself,
 * signs an EIP-712 verdict once (kept in its data dir, so a restart never signs the other
 * way), submits it, and settles disputes that passed their deadline.
 */
export class VerifierNode {
  readonly client: CovenantClient
  readonly store: VerifierStateStore
  readonly #o: VerifierNodeOptions
  readonly #da: Pick<DAClient, 'get' | 'health'>
  readonly #agents: AgentBook
  readonly #index: TraceIndex
  readonly #ctx: CheckContext
  readonly #follower: LogFollower
  readonly #listeners = new Set<(e: VerifierEvent) => void>()
  readonly #headers = new Map<string, SignedHeader[]>()
  readonly #acted = new Set<string>()
  readonly #abstained = new Set<string>()
  readonly #answered = new Set<string>()
  readonly #announced = new Set<string>()
  /** "agent: reason" warnings about logic that cannot be replayed, already reported */
  readonly #logicWarned = new Set<string>()
  readonly #sandbox: ReplaySandbox | undefined
  #retry: Fault[] = []
  #queue: JobQueue<ReplayJobData, ReplayJobResult>
  #ownQueue: boolean
  #pool: VerdictPool | undefined
  #ownPool: boolean
  #worker: JobWorker | undefined
  readonly #validations: ValidationResponder | undefined
  #state: VerifierState | undefined
  #running: Promise<void> | undefined
  #passes = 0
  #stopping = false
  #wake: (() => void) | undefined

  constructor(options: VerifierNodeOptions) {
    const check = (v: number | undefined, what: string, min: number) => {
      if (v !== undefined && (!Number.isInteger(v) || v < min)) {
        throw new VerifierConfigError(`${what} must be an integer of at least ${min} (got ${String(v)}).`)
      }
    }
    check(options.confirmations, 'confirmations', 0)
    check(options.pollIntervalMs, 'pollIntervalMs', 1)
    check(options.maxBlockRange, 'maxBlockRange', 1)
    check(options.withheldGraceSeconds, 'withheldGraceSeconds', 0)
    check(options.localWorkers, 'localWorkers', 0)
    this.#o = options
    this.client = options.client
    this.store = new VerifierStateStore(options.dataDir)
    this.#agents = new AgentBook(options.client)
    // a blob withheld from DA but answered on chain (DataPublished) is read from the chain
    this.#da = withPublishedBlobs(options.client, options.da)
    this.#index = new TraceIndex({ client: options.client, da: this.#da })
    const d = options.client.deployment
    this.#ownQueue = !options.queue
    this.#queue =
      options.queue ??
      createJobQueue<ReplayJobData, ReplayJobResult>({
        name: options.queueName ?? `covenant-verify-${d.chainId}-${d.contracts.traceLog.slice(2, 10).toLowerCase()}`,
        redisUrl: options.redisUrl,
      })
    this.#ownPool = !options.verdictPool && !!options.redisUrl
    this.#pool = options.verdictPool
    this.#sandbox = options.logic === undefined ? new ReplaySandbox(options.sandbox) : undefined
    const logic = options.logic === false ? undefined : (options.logic ?? sandboxLogicReplayer(this.#sandbox as ReplaySandbox))
    this.#ctx = {
      client: options.client,
      da: this.#da,
      agents: this.#agents,
      index: this.#index,
      manifests: options.manifests ?? [],
      replay: (job) => this.#replay(job),
      attestation: options.attestation,
      judge: options.judge,
      claims: options.claims,
      withheldGraceSeconds: options.withheldGraceSeconds ?? 60,
      onWarning: (message) => this.#emit({ type: 'warning', message }),
      logic,
    }
    this.#follower = new LogFollower({
      publicClient: options.client.publicClient,
      address: [d.contracts.traceLog, d.contracts.disputeGame, d.contracts.agentRegistry],
      events: [batchCommittedEvent, disputeOpenedEvent, agentRegisteredEvent] as never,
      startBlock: options.startBlock ?? d.deployedAtBlock,
      confirmations: options.confirmations,
      maxRange: options.maxBlockRange,
    })
    if (options.onEvent) this.#listeners.add(options.onEvent)
    const c = options.client
    this.#validations =
      (options.validations ?? options.act ?? true) && c.walletClient && c.deployment.erc8004
        ? new ValidationResponder({
            ...{ da: options.da, dataDir: options.dataDir, replayer: options.replayer, manifests: options.manifests, attestation: options.attestation },
            ...{ confirmations: options.confirmations, maxBlockRange: options.maxBlockRange },
            client: c as CovenantWriteClient,
            onEvent: (e) => this.#emit(e),
          })
        : undefined
  }

  /** The verifier account, when the node has one. */
  get address(): Address | null {
    return this.client.walletClient?.account.address ?? null
  }

  /** Completed passes (each: a block range or none, then the periodic checks). */
  get passes(): number {
    return this.#passes
  }

  /** Resolves once `n` more passes have completed (each starts after this call). */
  async nextPasses(n = 1, timeoutMs = 60_000): Promise<void> {
    const target = this.#passes + n + 1
    const started = Date.now()
    while (this.#passes < target) {
      if (Date.now() - started > timeoutMs) throw new Error(`the verifier did not complete ${n} passes in ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  get queue(): JobQueue<ReplayJobData, ReplayJobResult> {
    return this.#queue
  }

  /** A copy of the persisted state (cursor, pending checks, followed disputes). */
  get state(): VerifierState | undefined {
    return this.#state ? structuredClone(this.#state) : undefined
  }

  on(listener: (e: VerifierEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves with the first event `match` accepts (from now on). */
  waitFor<E extends VerifierEvent>(match: (e: VerifierEvent) => e is E, timeoutMs?: number): Promise<E>
  waitFor(match: (e: VerifierEvent) => boolean, timeoutMs?: number): Promise<VerifierEvent>
  waitFor(match: (e: VerifierEvent) => boolean, timeoutMs = 60_000): Promise<VerifierEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new Error(`no matching verifier event within ${timeoutMs} ms`))
      }, timeoutMs)
      const off = this.on((e) => {
        if (!match(e)) return
        clearTimeout(timer)
        off()
        resolve(e)
      })
    })
  }

  /** Locks the data dir, loads the saved state and starts following. */
  async start(): Promise<void> {
    if (this.#running) return
    await this.#open()
    this.#stopping = false
    this.#running = this.#loop()
  }

  /** Stops after the current pass; the state on disk is that of the last completed pass. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    await this.#running
    this.#running = undefined
    await this.#worker?.close()
    this.#worker = undefined
    if (this.#ownQueue) await this.#queue.close()
    if (this.#ownPool) await this.#pool?.close()
    await this.#sandbox?.close()
    await this.store.unlock()
  }

  /** Runs passes until caught up with the chain (for scripts, tests and `covenant verify`-style one-shots). */
  async runOnce(): Promise<void> {
    await this.#open()
    while (await this.tick()) {
      /* next range */
    }
  }

  async #open(): Promise<void> {
    if (this.#state) return
    await this.store.lock()
    const d = this.client.deployment
    this.#state = await this.store.load({ chainId: d.chainId, traceLog: d.contracts.traceLog, disputeGame: d.contracts.disputeGame })
    if (this.#ownPool && this.#o.redisUrl) {
      // dev chains restarted from one mnemonic share chain id and addresses: key the pool by the deployment block's hash too
      const block = await this.client.publicClient.getBlock({ blockNumber: d.deployedAtBlock })
      this.#pool = redisVerdictPool(d, this.#o.redisUrl, { namespace: block.hash ?? undefined })
    }
    const localWorkers = this.#o.localWorkers ?? 1
    if (this.#o.replayer && localWorkers > 0) {
      this.#worker = await this.#queue.process(replayJobHandler(this.#o.replayer), { concurrency: localWorkers })
    }
    this.#emit({
      type: 'started',
      verifier: this.address,
      fromBlock: this.#state.cursor ? BigInt(this.#state.cursor.block) + 1n : (this.#o.startBlock ?? d.deployedAtBlock),
      queue: this.#queue.kind,
    })
  }

  async #loop(): Promise<void> {
    let failures = 0
    while (!this.#stopping) {
      let more = false
      try {
        more = await this.tick()
        failures = 0
      } catch (error) {
        failures++
        this.#emit({ type: 'error', where: 'pass', error })
      }
      if (this.#stopping) break
      if (!more) {
        const ms = Math.min((this.#o.pollIntervalMs ?? 1_000) * 2 ** Math.min(failures, 5), 30_000)
        await new Promise<void>((r) => {
          const t = setTimeout(r, ms)
          this.#wake = () => {
            clearTimeout(t)
            r()
          }
        })
      }
    }
  }

  /** One pass: the next block range (or a rewind), then the periodic checks. True if more blocks wait. */
  async tick(): Promise<boolean> {
    const state = this.#state
    if (!state) throw new VerifierConfigError('Call start() or runOnce() first.')
    this.#agents.clear()
    const step = await this.#follower.next(state.cursor, state.checkpoints)
    let more = false
    if (step.type === 'reorg') {
      this.#rewind(step.to)
      await this.store.save(state)
      this.#emit({ type: 'reorg', from: step.from, to: step.to })
      return true
    }
    if (step.type === 'range') {
      await this.#processRange(step.from, step.to, step.logs)
      const next = this.#follower.advance(state.checkpoints, step.to, step.toHash)
      state.cursor = next.cursor
      state.checkpoints = next.checkpoints
      await this.store.save(state)
      this.#emit({
        type: 'range',
        from: step.from,
        to: step.to,
        head: step.head,
        batches: step.logs.filter((l) => (l as { eventName?: string }).eventName === 'BatchCommitted').length,
      })
      more = step.to < step.head - BigInt(this.#o.confirmations ?? 0)
    }
    await this.#periodic()
    await this.#validations?.tick().catch((error: unknown) => this.#emit({ type: 'error', where: 'validations', error }))
    this.#passes++
    return more
  }

  #rewind(to: Checkpoint | null): void {
    const state = this.#state as VerifierState
    const limit = to ? BigInt(to.block) : -1n
    state.cursor = to
    state.checkpoints = state.checkpoints.filter((c) => BigInt(c.block) <= limit)
    state.pendingBlobs = state.pendingBlobs.filter((p) => BigInt(p.blockNumber) <= limit)
    state.pendingTxs = state.pendingTxs.filter((p) => BigInt(p.blockNumber) <= limit)
    state.disputes = state.disputes.filter((d) => BigInt(d.blockNumber) <= limit)
    for (const [id, a] of Object.entries(state.agents)) if (BigInt(a.registeredBlock) > limit) delete state.agents[id]
    this.#index.clear()
    this.#acted.clear()
  }

  #follows(agentId: bigint): boolean {
    return !this.#o.agents || this.#o.agents.includes(agentId)
  }

  get #canAct(): boolean {
    return (this.#o.act ?? true) && !!this.client.walletClient
  }

  get #canVote(): boolean {
    return (this.#o.vote ?? true) && !!this.client.walletClient
  }

  // ------------------------------------------------------------------------ a block range

  async #processRange(from: bigint, to: bigint, logs: Log[]): Promise<void> {
    const state = this.#state as VerifierState
    for (const log of logs) {
      const l = log as Log & { eventName?: string; args: Record<string, unknown> }
      if (l.eventName !== 'AgentRegistered') continue
      const agentId = l.args.agentId as bigint
      if (!this.#follows(agentId)) continue
      state.agents[agentId.toString()] = {
        wallet: getAddress(l.args.wallet as Address),
        registeredBlock: (l.blockNumber ?? 0n).toString(),
        ...(l.args.account ? { account: getAddress(l.args.account as Address) } : {}),
      }
    }
    await this.#scanWallets(from, to)

    const faults: Fault[] = []
    const checks: Promise<void>[] = []
    const fetched: { ev: BatchEvent; steps: readonly { actionId: string }[] }[] = []
    for (const log of logs) {
      const l = log as Log & { eventName?: string; args: Record<string, unknown> }
      if (l.eventName === 'BatchCommitted') {
        const ev = toBatchEvent(log)
        if (!this.#follows(ev.agentId)) continue
        const check = await fetchAndCheckBatch(this.#da, ev, await this.#index.previousHead(ev))
        this.#index.record(ev, check)
        checks.push(this.#afterFetch(ev, check, faults))
        if (check.status === 'ok') fetched.push({ ev, steps: check.batch.steps })
      } else if (l.eventName === 'DisputeOpened') {
        const kind = DISPUTE_KINDS[Number(l.args.kind)] ?? 'PolicyBreach'
        const agentId = l.args.agentId as bigint
        this.#emit({ type: 'dispute', disputeId: l.args.disputeId as bigint, kind, agentId, challenger: l.args.challenger as Address })
        if (!QUORUM_KINDS.has(kind) || !this.#follows(agentId)) continue
        const id = (l.args.disputeId as bigint).toString()
        if (state.disputes.some((d) => d.disputeId === id)) continue
        state.disputes.push({
          disputeId: id,
          kind: kind as TrackedDispute['kind'],
          agentId: agentId.toString(),
          sequence: (l.args.sequence as bigint).toString(),
          stepIndex: Number(l.args.stepIndex),
          subject: l.args.subject as Hex,
          challenger: getAddress(l.args.challenger as Address),
          deadline: Number(l.args.deadline),
          blockNumber: (l.blockNumber ?? 0n).toString(),
        })
      }
    }
    await Promise.all(checks)
    // whole-action replay once every batch of the range is indexed (an action may span them)
    for (const b of fetched) faults.push(...(await this.#checkLogic(b.ev, b.steps)))
    for (const f of faults) await this.#act(f)
  }

  /** Reports a fetched batch and queues its step checks; unavailable blobs wait for the grace period. */
  async #afterFetch(ev: BatchEvent, check: BatchCheck, faults: Fault[]): Promise<void> {
    const state = this.#state as VerifierState
    if (check.status === 'unavailable') {
      const key = `${ev.agentId}/${ev.sequence}`
      if (!state.pendingBlobs.some((p) => `${p.agentId}/${p.sequence}` === key)) state.pendingBlobs.push(pendingBlob(ev, check.reason))
      this.#emit({ type: 'batch', agentId: ev.agentId, sequence: ev.sequence, steps: ev.stepCount, status: check.status, faults: 0, reason: check.reason })
      return
    }
    if (check.status === 'invalid') {
      faults.push({ type: 'InvalidBatch', agentId: ev.agentId, sequence: ev.sequence, reason: check.reason })
      this.#emit({ type: 'batch', agentId: ev.agentId, sequence: ev.sequence, steps: ev.stepCount, status: check.status, faults: 1, reason: check.reason })
      return
    }
    const r = await checkBatchSteps(this.#ctx, ev, check.batch.steps, check.leaves)
    faults.push(...r.faults)
    faults.push(...(await this.#headerFaults(ev.agentId, ev.sequence)))
    this.#emit({ type: 'batch', agentId: ev.agentId, sequence: ev.sequence, steps: ev.stepCount, status: 'ok', faults: r.faults.length })
  }

  /**
   * Whole-action replay of every action with steps in this batch: all its committed steps
   * (this batch's and earlier ones'), through the agent's registered code. An action not
   * committed to its end is checked as far as it goes, and again when more of it arrives.
   */
  async #checkLogic(ev: BatchEvent, steps: readonly { actionId: string }[]): Promise<Fault[]> {
    if (!this.#ctx.logic) return []
    const faults: Fault[] = []
    for (const actionId of new Set(steps.map((s) => s.actionId))) {
      const agent = ev.agentId.toString()
      try {
        const found = await this.#index.actionSteps(ev.agentId, actionId)
        // a batch that cannot be read may hold steps of this action: wait for it (or its DataWithheld dispute)
        if (found.unreadable.length > 0) continue
        const c = await checkActionLogic(this.#ctx, { agentId: ev.agentId, actionId, steps: found.steps })
        if (c.status === 'fault') faults.push(c.fault)
        else if (c.status === 'unchecked' && c.codeless) {
          // once per agent and reason: every action of a codeless agent says the same
          if (!this.#logicWarned.has(`${agent}: ${c.reason}`)) this.#emit({ type: 'warning', message: `agent ${agent}: ${c.reason}` })
          this.#logicWarned.add(`${agent}: ${c.reason}`)
        } else if (c.status === 'unchecked') this.#emit({ type: 'warning', message: `agent ${agent} action ${actionId}: ${c.reason}` })
      } catch (error) {
        this.#emit({ type: 'error', where: `logic of action ${actionId}`, error })
      }
    }
    return faults
  }

  // ------------------------------------------------------------------------ untraced transactions

  /**
   * Finds what agents did with their funds in [from, to]: every call of an agent's
   * AgentAccount (its `Executed` events, whoever sent the transaction: the signer, a relayer
   * of a 7702-delegated signer, anyone); for an agent without an account, the transactions
   * sent from its wallet key (blocks where the key's nonce moved). With an account, the key
   * holds only gas money: its own transactions are not agent actions.
   */
  async #scanWallets(from: bigint, to: bigint): Promise<void> {
    const state = this.#state as VerifierState
    const pc = this.client.publicClient
    for (const [id, a] of Object.entries(state.agents)) {
      const agentId = BigInt(id)
      const lo = BigInt(a.registeredBlock) > from ? BigInt(a.registeredBlock) : from
      if (lo > to) continue
      if (a.account) {
        for (const call of await getAccountCalls(this.client, a.account, { fromBlock: lo, toBlock: to })) {
          if (state.pendingTxs.some((p) => p.call?.sequence === call.sequence && p.agentId === id)) continue
          const { coverBy } = await getAccountCall(this.client, a.account, call.sequence)
          const block = await pc.getBlock({ blockNumber: call.blockNumber })
          state.pendingTxs.push({
            agentId: id,
            txHash: call.txHash,
            blockNumber: call.blockNumber.toString(),
            timestamp: Number(block.timestamp),
            nonce: 0,
            from: a.account,
            to: call.to,
            value: call.value.toString(),
            input: '0x',
            deadline: coverBy,
            call: { sequence: call.sequence, leaf: call.leaf, stepIndex: call.stepIndex },
          })
        }
        continue
      }
      const count = (block: bigint) => pc.getTransactionCount({ address: a.wallet, blockNumber: block })
      let blocks: bigint[]
      try {
        const [nLo, nHi] = await Promise.all([count(lo - 1n), count(to)])
        blocks = await bisectNonce(count, lo, to, nLo, nHi)
      } catch {
        // a node without historical state: look at every block of the range
        blocks = []
        for (let b = lo; b <= to; b++) blocks.push(b)
      }
      for (const b of blocks) {
        const block = await pc.getBlock({ blockNumber: b, includeTransactions: true })
        for (const tx of block.transactions) {
          if (typeof tx === 'string' || !isAddressEqual(tx.from, a.wallet)) continue
          if (state.pendingTxs.some((p) => p.txHash === tx.hash)) continue
          const version = await this.#agents.versionAt(agentId, Number(block.timestamp))
          if (!version) continue
          state.pendingTxs.push({
            agentId: id,
            txHash: tx.hash,
            blockNumber: b.toString(),
            timestamp: Number(block.timestamp),
            nonce: tx.nonce,
            from: getAddress(tx.from),
            to: tx.to ? getAddress(tx.to) : null,
            value: tx.value.toString(),
            input: tx.input,
            deadline: Number(block.timestamp) + version.policy.commitDeadline,
          })
        }
      }
    }
  }

  async #checkPendingTxs(now: number): Promise<void> {
    const state = this.#state as VerifierState
    const keep: PendingTx[] = []
    for (const p of state.pendingTxs) {
      if (p.call) {
        if (!(await this.#checkAccountCall(p, now).catch((error: unknown) => (this.#emit({ type: 'error', where: `account call ${p.call?.sequence} of agent ${p.agentId}`, error }), true)))) continue
        keep.push(p)
        continue
      }
      try {
        const tx = { hash: p.txHash, from: p.from, to: p.to, value: BigInt(p.value), input: p.input, nonce: p.nonce }
        const due = now > p.deadline
        const cover = await untracedCoverage(this.#ctx, BigInt(p.agentId), tx, p.deadline, { refresh: due })
        if (cover.covered) continue
        if (!due) {
          keep.push(p)
          continue
        }
        if (cover.unknown) {
          keep.push(p)
          continue
        }
        await this.#act({ type: 'UntracedAction', agentId: BigInt(p.agentId), txHash: p.txHash, reason: cover.reason, harm: BigInt(p.value) })
      } catch (error) {
        keep.push(p)
        this.#emit({ type: 'error', where: `untraced ${p.txHash}`, error })
      }
    }
    state.pendingTxs = keep
  }

  /**
   * One AgentAccount call: covered when a committed wallet step has its leaf by its cover-by
   * time. Past that time, uncovered: if TraceLog does not even declare it covered, the proof
   * is on chain (proveUntracedCall, no vote); if it is declared covered but no committed step
   * has its leaf, the quorum decides (UntracedAction on the transaction). Returns whether to
   * keep watching it.
   */
  async #checkAccountCall(p: PendingTx, now: number): Promise<boolean> {
    const call = p.call!
    const agentId = BigInt(p.agentId)
    const due = now > p.deadline
    const cover = await this.#index.stepByLeaf(agentId, call.leaf, { refresh: due })
    if (cover.step && cover.step.committedAt <= p.deadline) return false
    if (!due) return true
    // Coverage fails safe: a batch that cannot be read covers nothing once it is past the
    // withheld-blob grace period (it is disputed as DataWithheld on its own); until then, wait.
    if (!cover.step && cover.unreadable.length > 0 && now <= p.deadline + this.#ctx.withheldGraceSeconds) return true
    const declared = await this.client.publicClient.readContract({
      address: this.client.deployment.contracts.traceLog,
      abi: traceLogAbi,
      functionName: 'coveredCalls',
      args: [agentId],
    })
    const reason = cover.step
      ? `account call ${call.sequence} was traced only in batch ${cover.step.sequence}, committed at ${cover.step.committedAt}, after its deadline ${p.deadline}`
      : `no committed wallet step has the leaf ${call.leaf} of account call ${call.sequence}`
    await this.#act(untracedCallFault({ agentId, sequence: call.sequence, txHash: p.txHash, declaredCovered: declared, reason, value: BigInt(p.value) }))
    return false
  }

  // ------------------------------------------------------------------------ withheld blobs

  async #checkPendingBlobs(now: number): Promise<void> {
    const state = this.#state as VerifierState
    const keep: PendingBlob[] = []
    for (const p of state.pendingBlobs) {
      const ev: BatchEvent = {
        agentId: BigInt(p.agentId),
        sequence: BigInt(p.sequence),
        merkleRoot: p.merkleRoot,
        daCommitment: p.daCommitment,
        firstIndex: BigInt(p.firstIndex),
        stepCount: p.stepCount,
        committedAt: p.committedAt,
        blockNumber: BigInt(p.blockNumber),
        blockHash: zeroHash,
        transactionHash: zeroHash,
      }
      try {
        const check = await fetchAndCheckBatch(this.#da, ev, await this.#index.previousHead(ev))
        if (check.status === 'unavailable') {
          // The grace period never eats the challenge window: at most half of the batch's
          // window, so a withheld blob is still disputable at MIN_CHALLENGE_WINDOW (60 s).
          const window = (await getBatch(this.client, ev.agentId, ev.sequence))?.challengeWindow
          const grace = withheldGrace(this.#ctx.withheldGraceSeconds, window)
          if (now < p.committedAt + grace) {
            keep.push(p)
            continue
          }
          const health = await this.#da.health()
          if (!health.ok) {
            keep.push(p)
            this.#emit({ type: 'warning', message: `batch ${p.agentId}/${p.sequence} still unavailable, but our DA is unhealthy (${health.detail}): not disputing` })
            continue
          }
          this.#index.record(ev, check)
          await this.#act({
            type: 'DataWithheld',
            agentId: ev.agentId,
            sequence: ev.sequence,
            daCommitment: ev.daCommitment,
            reason: `blob unavailable past the ${grace}s grace period: ${check.reason}`,
          })
          continue
        }
        this.#index.record(ev, check)
        const faults: Fault[] = []
        await this.#afterFetch(ev, check, faults)
        if (check.status === 'ok') faults.push(...(await this.#checkLogic(ev, check.batch.steps)))
        for (const f of faults) await this.#act(f)
      } catch (error) {
        keep.push(p)
        this.#emit({ type: 'error', where: `blob ${p.agentId}/${p.sequence}`, error })
      }
    }
    state.pendingBlobs = keep
  }

  // ------------------------------------------------------------------------ equivocation

  async #pollHeaders(): Promise<Fault[]> {
    const faults: Fault[] = []
    for (const source of this.#o.headers ?? []) {
      let headers: SignedHeader[]
      try {
        headers = await source.poll()
      } catch (error) {
        this.#emit({ type: 'error', where: source.name, error })
        continue
      }
      for (const h of headers) {
        const agentId = h.header.agentId
        if (!this.#follows(agentId)) continue
        const operator = (await this.#agents.agent(agentId).catch(() => undefined))?.operator
        if (!operator || !(await isOperatorSigned(this.client.deployment, h, operator))) {
          this.#emit({ type: 'warning', message: `${source.name}: header for agent ${agentId} batch ${h.header.sequence} is not signed by its operator; ignored` })
          continue
        }
        const key = `${agentId}/${h.header.sequence}`
        const list = this.#headers.get(key) ?? []
        if (list.some((x) => x.signature === h.signature)) continue
        list.push(h)
        this.#headers.set(key, list)
        faults.push(...(await this.#headerFaults(agentId, h.header.sequence)))
      }
    }
    return faults
  }

  /** Signed headers for (agent, sequence) that differ from the committed batch, or from each other. */
  async #headerFaults(agentId: bigint, sequence: bigint): Promise<Fault[]> {
    const list = this.#headers.get(`${agentId}/${sequence}`)
    if (!list?.length) return []
    const committed = await getBatch(this.client, agentId, sequence)
    if (committed) {
      const b = { agentId, sequence, merkleRoot: committed.merkleRoot, daCommitmentHash: committed.daCommitmentHash, stepCount: committed.stepCount }
      const bad = list.find((h) => !sameHeader(toBatchHeader(h.header), b))
      if (!bad) return []
      return [{ type: 'Equivocation', agentId, sequence, a: toBatchHeader(bad.header), sigA: bad.signature, b, reason: 'the operator signed a header that differs from the batch it committed' }]
    }
    const first = list[0] as SignedHeader
    const other = list.find((h) => !sameHeader(toBatchHeader(h.header), toBatchHeader(first.header)))
    if (!other) return []
    return [
      {
        type: 'Equivocation',
        agentId,
        sequence,
        a: toBatchHeader(first.header),
        sigA: first.signature,
        b: toBatchHeader(other.header),
        sigB: other.signature,
        reason: 'the operator signed two different headers for one sequence',
      },
    ]
  }

  // ------------------------------------------------------------------------ acting

  async #act(fault: Fault): Promise<void> {
    const description = describeFault(fault)
    if (this.#acted.has(description)) return
    this.#acted.add(description)
    this.#emit({ type: 'fault', fault, description })
    if (!this.#canAct) return
    try {
      const result = await challenge(this.client as CovenantWriteClient, fault)
      this.#emit({ type: 'challenge', fault, description, result })
    } catch (error) {
      this.#acted.delete(description)
      this.#retry.push(fault)
      this.#emit({ type: 'error', where: `challenge ${description}`, error })
    }
  }

  async #periodic(): Promise<void> {
    const now = await chainNow(this.client)
    const retry = this.#retry
    this.#retry = []
    for (const f of retry) await this.#act(f)
    for (const f of await this.#pollHeaders()) await this.#act(f)
    await this.#checkPendingBlobs(now)
    await this.#checkPendingTxs(now)
    await this.#handleDisputes(now)
    await this.store.save(this.#state as VerifierState)
  }

  // ------------------------------------------------------------------------ voting

  async #handleDisputes(now: number): Promise<void> {
    const state = this.#state as VerifierState
    const me = this.address
    const game = this.client.deployment.contracts.disputeGame
    const pc = this.client.publicClient
    const keep: TrackedDispute[] = []
    for (const d of state.disputes) {
      const id = BigInt(d.disputeId)
      try {
        const raw = await pc.readContract({ address: game, abi: disputeGameAbi, functionName: 'dispute', args: [id] })
        const status = DISPUTE_STATUSES[raw.status] ?? 'None'
        if (status === 'Decided' || status === 'Contested') {
          keep.push(d)
          const events = await followEscalation(
            {
              client: this.client,
              canAct: this.#canAct,
              me: me ?? undefined,
              myVerdict: state.verdicts[d.disputeId]?.agentAtFault,
              redeem: this.#o.redeemInForks ?? true,
              now,
            },
            { disputeId: id, status, agentAtFault: raw.forStake > raw.againstStake, finalizesAt: Number(raw.finalizesAt) },
          )
          for (const e of events) this.#announce(e)
          continue
        }
        if (status !== 'Open') {
          this.#emit({ type: 'resolved', disputeId: id, status, slashedEth: raw.slashedEth, slashedToken: raw.slashedToken })
          delete state.verdicts[d.disputeId]
          continue
        }
        if (now > Number(raw.deadline)) {
          if (this.#canAct) {
            await resolveExpired(this.client, { disputeId: id }).catch((err: unknown) => {
              if (!(err instanceof ContractRevertError && err.errorName === 'DisputeNotOpen')) throw err
            })
          }
          keep.push(d) // reported as resolved on the next pass
          continue
        }
        keep.push(d)
        if (d.kind === 'DataWithheld' && decidedByEvidence(d.subject)) {
          // settled by evidence, not votes: publish the blob if we hold it (an honest agent
          // is answered for even when its operator is offline); else the deadline decides
          if (this.#canAct) await this.#answerWithheld(id, d)
          continue
        }
        if (!this.#canVote || !me) continue
        if (this.#abstained.has(d.disputeId)) {
          await this.#relay(id)
          continue
        }
        const [voted, weight] = await Promise.all([
          pc.readContract({ address: game, abi: disputeGameAbi, functionName: 'voteOf', args: [id, me as Address] }).then((v) => v !== 0),
          pc.readContract({
            address: this.client.deployment.contracts.verifierRegistry,
            abi: verifierRegistryAbi,
            functionName: 'votingWeight',
            args: [me, raw.openedBlock],
          }),
        ])
        if (voted) {
          await this.#relay(id)
          continue
        }
        if (weight === 0n) {
          this.#abstained.add(d.disputeId)
          this.#emit({ type: 'abstain', disputeId: id, reason: 'this account has no voting weight in the dispute (not registered before it opened)' })
          continue
        }
        let verdict = state.verdicts[d.disputeId]
        if (!verdict) {
          const view: DisputeView = {
            disputeId: id,
            kind: d.kind,
            agentId: BigInt(d.agentId),
            sequence: BigInt(d.sequence),
            stepIndex: d.stepIndex,
            subject: d.subject,
            openedAt: Number(raw.openedAt),
            deadline: Number(raw.deadline),
            harm: raw.harm,
          }
          const c = await checkDispute(this.#ctx, view)
          if (!c.decided) {
            if (c.final) {
              this.#abstained.add(d.disputeId)
              this.#emit({ type: 'abstain', disputeId: id, reason: c.reason })
            }
            continue
          }
          const account = (this.client as CovenantWriteClient).walletClient.account
          const signed = await signVerdict(account, this.client.deployment, { disputeId: id, agentAtFault: c.agentAtFault })
          verdict = { agentAtFault: c.agentAtFault, signature: signed.signature, reason: c.reason }
          state.verdicts[d.disputeId] = verdict
          // persisted before it leaves this process: a restart re-sends this verdict, never the other one
          await this.store.save(state)
        }
        const mine = { agentAtFault: verdict.agentAtFault, signature: verdict.signature, verifier: me }
        await this.#pool?.publish(id, mine)
        if (this.#o.submitVerdicts === false) continue
        // this node's verdict and every gathered one not counted yet, in one transaction
        const others = await this.#uncounted(id, me)
        const r = await submitVerdicts(this.client, { disputeId: id, verdicts: [mine, ...others] })
        this.#emit({ type: 'vote', disputeId: id, agentAtFault: verdict.agentAtFault, reason: verdict.reason, status: r.status, counted: r.counted, gasUsed: r.gasUsed })
      } catch (error) {
        if (!keep.includes(d)) keep.push(d)
        if (error instanceof ContractRevertError && (error.errorName === 'DisputeNotOpen' || error.errorName === 'DeadlinePassed')) continue
        if (error instanceof ContractRevertError) {
          // another verifier's verdicts settled it (or counted ours) between our simulation and our transaction
          const status = await getDispute(this.client, id).then((x) => x.status, () => 'Open' as const)
          if (status !== 'Open') continue
          const counted = await this.client.publicClient
            .readContract({ address: this.client.deployment.contracts.disputeGame, abi: disputeGameAbi, functionName: 'voteOf', args: [id, me as Address] })
            .then((v) => v !== 0, () => false)
          if (counted) continue
        }
        this.#emit({ type: 'error', where: `dispute ${d.disputeId}`, error })
      }
    }
    state.disputes = keep
  }

  /**
   * Answers a DataWithheld challenge on a local commitment with the blob, when our DA can
   * serve it (hash-checked): the challenge fails and its bond is credited to this node.
   * Tried once per pass until the dispute closes; a blob we cannot get is left to others.
   */
  async #answerWithheld(disputeId: bigint, d: TrackedDispute): Promise<void> {
    if (this.#answered.has(d.disputeId)) return
    let blob: Uint8Array
    try {
      blob = await this.#da.get(commitmentOfSubject(d.subject))
    } catch (err) {
      this.#emit({ type: 'warning', message: `DataWithheld dispute ${disputeId}: we cannot get the blob either (${(err as Error).message}); the deadline decides` })
      return
    }
    try {
      const r = await answerDataWithheld(this.client, { disputeId, blob, subject: d.subject })
      this.#answered.add(d.disputeId)
      this.#emit({ type: 'answered', disputeId, bytes: blob.length, gasUsed: r.gasUsed })
    } catch (err) {
      // another node answered first: the dispute is closed, reported on the next pass
      if (err instanceof ContractRevertError && (err.errorName === 'DisputeNotOpen' || err.errorName === 'DeadlinePassed')) return
      throw err
    }
  }

  /** Escalation events; "decided" and "contested" once per dispute, the others as they happen. */
  #announce(e: EscalationEvent): void {
    if (e.type === 'decided' || e.type === 'contested') {
      const key = `${e.type}:${e.disputeId}`
      if (this.#announced.has(key)) return
      this.#announced.add(key)
    }
    this.#emit(e)
  }

  /** Gathered verdicts of other verifiers that the chain has not counted yet. */
  async #uncounted(disputeId: bigint, me: Address): Promise<{ agentAtFault: boolean; signature: Hex; verifier: Hex }[]> {
    if (!this.#pool) return []
    const game = this.client.deployment.contracts.disputeGame
    const out = []
    for (const v of await this.#pool.list(disputeId)) {
      if (isAddressEqual(v.verifier as Address, me)) continue
      const vote = await this.client.publicClient.readContract({ address: game, abi: disputeGameAbi, functionName: 'voteOf', args: [disputeId, v.verifier as Address] })
      if (vote === 0) out.push(v)
    }
    return out
  }

  /** Submits gathered verdicts others could not (or did not) send. */
  async #relay(disputeId: bigint): Promise<void> {
    const me = this.address
    if (!this.#pool || !me || this.#o.submitVerdicts === false || !this.#canAct) return
    const others = await this.#uncounted(disputeId, me)
    if (others.length === 0) return
    const r = await submitVerdicts(this.client, { disputeId, verdicts: others })
    this.#emit({ type: 'relay', disputeId, verifiers: others.map((v) => getAddress(v.verifier)), status: r.status, counted: r.counted, gasUsed: r.gasUsed })
  }

  // ------------------------------------------------------------------------ replays

  async #replay(job: ReplayJobData): Promise<ReplayJobResult> {
    if (!this.#o.replayer && this.#queue.kind === 'in-process') {
      return { status: 'unverifiable', reason: 'this verifier has no replayer configured' }
    }
    const id = replayJobId(job)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<ReplayJobResult>((resolve) => {
      timer = setTimeout(() => resolve({ status: 'unverifiable', reason: `replay ${id} did not finish in time` }), this.#o.replayTimeoutMs ?? 600_000)
    })
    try {
      return await Promise.race([
        this.#queue.run(id, job, { name: 'replay' }).catch((err: unknown): ReplayJobResult => ({
          status: 'unverifiable',
          reason: (err as { shortMessage?: string }).shortMessage ?? String(err),
        })),
        timeout,
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  #emit(e: VerifierEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e)
      } catch {
        /* a listener's bug must not stop the node */
      }
    }
  }
}

function pendingBlob(ev: BatchEvent, reason: string): PendingBlob {
  return {
    agentId: ev.agentId.toString(),
    sequence: ev.sequence.toString(),
    daCommitment: ev.daCommitment,
    merkleRoot: ev.merkleRoot,
    firstIndex: ev.firstIndex.toString(),
    stepCount: ev.stepCount,
    committedAt: ev.committedAt,
    blockNumber: ev.blockNumber.toString(),
    reason,
  }
}

/** The blocks in [lo, hi] where an account's nonce went up, by bisection on historical nonces. */
async function bisectNonce(count: (b: bigint) => Promise<number>, lo: bigint, hi: bigint, before: number, at: number): Promise<bigint[]> {
  if (before === at) return []
  if (lo === hi) return [lo]
  const mid = (lo + hi) / 2n
  const m = await count(mid)
  return [...(await bisectNonce(count, lo, mid, before, m)), ...(await bisectNonce(count, mid + 1n, hi, m, at))]
}
