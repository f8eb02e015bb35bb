import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Hex } from 'viem'
import type { AgentDefinition } from '../agent/defineAgent.js'
import { createAgentRuntime, type AgentRuntime, type AgentRuntimeUnsafeOptions, type ChatInference, type OnnxInference, type RunResult } from '../agent/runtime.js'
import { createCovenantClient, type CovenantWriteClient } from '../bonds/client.js'
import { Committer, type CommittedBatchInfo } from '../bonds/committer.js'
import type { CommitBundler } from '../bonds/bundler.js'
import { getAgent } from '../bonds/actions/getAgent.js'
import type { CovenantDeployment } from '../bonds/deployment.js'
import type { DAClient } from '../da/client.js'
import { TraceWal, type WalAppendResult } from '../trace/wal.js'
import type { JsonValue, Step } from '../trace/schemas.js'
import { createAgentWallet, type AgentWallet } from '../wallet/agentWallet.js'
import type { AgentRecord } from './agentRecord.js'
import { openAgentKey } from './deployAgent.js'
import { ActionEndedError, ChainUnavailableError, CommitBacklogError, CommitPipelineDownError, ServiceConfigError } from './errors.js'

/** Dishonest-operator simulation, for tests and the demo only (see the `unsafe` options of the wallet and runtime). */
export type AgentHostUnsafeOptions = {
  skipPolicyCheck?: boolean | undefined
  tamperInference?: AgentRuntimeUnsafeOptions['tamperInference']
}

export type OpenAgentHostParameters = {
  agent: AgentDefinition
  record: AgentRecord
  deployment: CovenantDeployment
  rpcUrl: string
  da: DAClient
  dataDir: string
  /** Opens the operator and wallet keystores. */
  password: string
  chat?: ChatInference | undefined
  onnx?: OnnxInference | undefined
  /** Commit every this many ms (and on `flush()`). @defaultValue min(2000, commitDeadline/4) */
  commitIntervalMs?: number | undefined
  onBatch?: ((batch: CommittedBatchInfo) => void) | undefined
  onCommitError?: ((err: unknown) => void) | undefined
  /** Each step after the WAL appended it, in order (crash recovery's steps included). */
  onStep?: ((appended: WalAppendResult) => void) | undefined
  /**
   * Refuse new tasks ({@link CommitBacklogError}, retried later by the queue) while the
   * oldest uncommitted step is older than this, in ms: the agent stops acting before an
   * action could miss the commit deadline. `false` never refuses.
   * @defaultValue half the policy's commitDeadline
   */
  maxCommitLagMs?: number | false | undefined
  /** @defaultValue Date.now */
  now?: (() => number) | undefined
  logger?: Logger | undefined
  unsafe?: AgentHostUnsafeOptions | undefined
  /**
   * The bundler the agent's committer sends through, given its operator's client (the worker
   * keeps one per operator, so its agents' batches share commit transactions). Absent: each
   * batch is its own commit.
   */
  bundlerFor?: ((operator: CovenantWriteClient) => CommitBundler) | undefined
}

export type ActionRecord = {
  actionId: string
  done: boolean
  output: JsonValue | undefined
  txHashes: Hex[]
  steps: Step[]
}

/**
 * One deployed agent, live in this process: its WAL (this process holds the lock), its
 * policy-gated wallet, its runtime and its committer. `run()` is idempotent by action id:
 * an action already finished in the WAL returns what it returned then, and sends nothing.
 */
export class AgentHost {
  readonly agentId: bigint
  readonly record: AgentRecord
  readonly wal: TraceWal
  readonly wallet: AgentWallet | undefined
  readonly runtime: AgentRuntime
  readonly committer: Committer
  readonly operator: CovenantWriteClient
  /**
   * The finished actions (their last attempt's output says ok), each by the steps that hold
   * it, [from, to): a retried task is answered by reading them again (a retry is rare), where
   * keeping every result in memory grew a worker by ~0.8 KB an action for as long as it ran.
   */
  readonly #done = new Map<string, { from: number; to: number }>()
  /** Actions whose output step records a failure or an interruption: closed, never re-run. */
  readonly #ended = new Map<string, ActionEndedError>()
  readonly #running = new Map<string, Promise<RunResult>>()
  readonly #maxCommitLagMs: number | false
  readonly #commitDeadline: number
  readonly #now: () => number
  readonly #rpcUrl: string
  #lastCommitError: unknown
  /** When the committer's attempts started failing (undefined while they succeed). */
  #commitFailingSince: number | undefined

  private constructor(parts: {
    record: AgentRecord
    wal: TraceWal
    wallet: AgentWallet | undefined
    runtime: AgentRuntime
    committer: Committer
    operator: CovenantWriteClient
    maxCommitLagMs: number | false
    commitDeadline: number
    now: () => number
    rpcUrl: string
  }) {
    this.agentId = BigInt(parts.record.agentId)
    this.record = parts.record
    this.wal = parts.wal
    this.wallet = parts.wallet
    this.runtime = parts.runtime
    this.committer = parts.committer
    this.operator = parts.operator
    this.#maxCommitLagMs = parts.maxCommitLagMs
    this.#commitDeadline = parts.commitDeadline
    this.#now = parts.now
    this.#rpcUrl = parts.rpcUrl
  }

  static async open(p: OpenAgentHostParameters): Promise<AgentHost> {
    const agentId = p.record.agentId
    const commitDeadline = Number(p.agent.policy.commitDeadline)
    const maxCommitLagMs = p.maxCommitLagMs ?? (commitDeadline * 1000) / 2
    if (maxCommitLagMs !== false && !(Number.isFinite(maxCommitLagMs) && maxCommitLagMs >= 0)) {
      throw new ServiceConfigError(`maxCommitLagMs must be a number of ms ≥ 0 or false, not ${String(maxCommitLagMs)}.`)
    }
    // the start-up's readers (wallet, recovery, the index of finished actions) share the
    // open's read of the whole WAL, released once they have read it
    const wal = await TraceWal.open({ dir: join(p.dataDir, 'wal'), agentId, keepScan: true })
    if (p.onStep) wal.onAppend(p.onStep)
    let committer: Committer | undefined
    try {
      const operatorAccount = await openAgentKey(p.record.operator.keystore, p.password)
      const operator = createCovenantClient({ rpcUrl: p.rpcUrl, deployment: p.deployment, account: operatorAccount, pollingInterval: 100 }) as CovenantWriteClient
      const needsWallet = p.agent.tools.some((t) => t.effect.kind !== 'none')
      // the agent's funds live in its AgentAccount (created at registration); the wallet key
      // is only the account's signer, and the wallet follows the policy version in force
      const onChain = await getAgent(operator, BigInt(agentId))
      const policySource = async () => {
        const a = await getAgent(operator, BigInt(agentId))
        return { version: a.activeVersion, policy: a.active.policy }
      }
      const wallet = needsWallet
        ? await createAgentWallet({
            account: await openAgentKey(p.record.wallet.keystore, p.password),
            chain: operator.walletClient.chain,
            wal,
            policy: p.agent.policy,
            policyVersion: onChain.activeVersion,
            agentAccount: onChain.account,
            policySource,
            outboxDir: join(p.dataDir, 'outbox'),
            pollingIntervalMs: 100,
            logger: p.logger,
            unsafe: p.unsafe?.skipPolicyCheck ? { skipPolicyCheck: true } : undefined,
          })
        : undefined
      const runtime = createAgentRuntime({
        agent: p.agent,
        agentId,
        policyVersion: onChain.activeVersion,
        wal,
        wallet,
        chat: p.chat,
        onnx: p.onnx,
        logger: p.logger,
        unsafe: p.unsafe?.tamperInference ? { tamperInference: p.unsafe.tamperInference } : undefined,
      })
      committer = new Committer({
        wal,
        da: p.da,
        client: operator,
        agentId: BigInt(agentId),
        headersFile: join(p.dataDir, 'wal', `agent-${agentId}.headers.jsonl`),
        onBatch: p.onBatch,
        account: onChain.account,
        bundler: p.bundlerFor?.(operator),
      })
      const host = new AgentHost({ record: p.record, wal, wallet, runtime, committer, operator, maxCommitLagMs, commitDeadline, now: p.now ?? Date.now, rpcUrl: p.rpcUrl })
      await runtime.recover()
      await host.#index()
      wal.releaseScan()
      const interval = p.commitIntervalMs ?? Math.max(200, Math.min(2_000, (p.agent.policy.commitDeadline * 1000) / 4))
      committer.start(
        interval,
        (err) => {
          host.#lastCommitError = err
          host.#commitFailingSince ??= host.#now()
          p.onCommitError?.(err)
        },
        () => {
          host.#commitFailingSince = undefined
        },
      )
      return host
    } catch (err) {
      await committer?.stop() // leaves the operator's bundler, which would wait for it
      await wal.close().catch(() => {})
      throw err
    }
  }

  /**
   * Runs a task once per action id. An action that already ended without a result (its
   * output step records a failure, a policy refusal or a crash) is not run again: its
   * trace is closed, so this rejects with {@link ActionEndedError}. While the trace is not
   * being committed for too long (see `maxCommitLagMs`), a new action is refused before
   * anything is written, with {@link CommitBacklogError}; so is one of an agent that acts
   * on chain while its node cannot be reached ({@link ChainUnavailableError}).
   */
  run(task: unknown, actionId: string): Promise<RunResult> {
    const done = this.#done.get(actionId)
    if (done) return this.#finished(actionId, done)
    const ended = this.#ended.get(actionId)
    if (ended) return Promise.reject(ended)
    let running = this.#running.get(actionId)
    if (!running) {
      const backlog = this.commitBacklog() ?? this.commitPipelineDown()
      if (backlog) return Promise.reject(backlog)
      // an agent that acts on chain checks it can reach its node: refused before anything is
      // written, the task waits instead of recording a failed payment. The check goes out
      // beside the action's first model call; the action's first step waits for it.
      // the action's steps all come after this index: a failure reads only that tail
      const from = this.wal.head.nextIndex
      running = this.runtime
        .run(task, { actionId, ready: this.wallet ? this.#checkChain() : undefined })
        .then(
          (r) => {
            // the action's steps are all in [from, its last step]
            this.#done.set(actionId, { from, to: Math.max(from, ...r.stepIndices.map((i) => i + 1)) })
            return r
          },
          async (err: unknown) => {
            // The runtime closes a failed action with a failed output step before it throws;
            // from then on the action id is spent, whatever the error was.
            const a = await this.action(actionId, from).catch(() => undefined)
            if (a?.done) this.#ended.set(actionId, endedError(a, err))
            throw err
          },
        )
        .finally(() => this.#running.delete(actionId))
      this.#running.set(actionId, running)
    }
    return running
  }

  /**
   * The refusal a new action gets now, if the trace is too far behind: the oldest step the
   * committer could not commit yet is older than `maxCommitLagMs`.
   */
  commitBacklog(): CommitBacklogError | undefined {
    const oldest = this.committer.oldestUncommittedAt
    if (this.#maxCommitLagMs === false || oldest === undefined) return undefined
    const lagMs = this.#now() - oldest
    if (lagMs <= this.#maxCommitLagMs) return undefined
    return new CommitBacklogError({
      agentId: this.record.agentId,
      oldestUncommittedAt: oldest,
      lagMs,
      maxLagMs: this.#maxCommitLagMs,
      commitDeadline: this.#commitDeadline,
      lastCommitError: this.#lastCommitError,
    })
  }

  /**
   * The refusal a new action of an agent that acts on chain gets while its commits are
   * failing (the last attempt failed), before any backlog has built up: the first payment
   * of a DA outage would otherwise be made and then miss its commit deadline.
   */
  commitPipelineDown(): CommitPipelineDownError | undefined {
    if (!this.wallet || this.#commitFailingSince === undefined || this.#maxCommitLagMs === false) return undefined
    return new CommitPipelineDownError({ agentId: this.record.agentId, failingForMs: this.#now() - this.#commitFailingSince, lastCommitError: this.#lastCommitError })
  }

  async #checkChain(): Promise<void> {
    try {
      await this.operator.publicClient.getBlockNumber({ cacheTime: 0 })
    } catch (cause) {
      throw new ChainUnavailableError({ agentId: this.record.agentId, rpcUrl: this.#rpcUrl, cause })
    }
  }

  /** Whether the action's trace is closed without a result (see {@link ActionEndedError}). */
  ended(actionId: string): ActionEndedError | undefined {
    return this.#ended.get(actionId)
  }

  /** The steps of one action, from the WAL (read from step `fromIndex` on, and before `endIndex`, when known). */
  async action(actionId: string, fromIndex = 0, endIndex?: number): Promise<ActionRecord> {
    const { steps } = await this.wal.readFrom(fromIndex, endIndex)
    return summarize(actionId, steps.filter((s) => s.actionId === actionId))
  }

  /**
   * What a finished action returned, from its steps in the WAL: those of `at` (the run that
   * finished it in this process, or every attempt when it was found at open).
   */
  async #finished(actionId: string, at: { from: number; to: number }): Promise<RunResult> {
    const a = await this.action(actionId, at.from, at.to)
    const out = a.output as { output?: JsonValue } | undefined
    return { actionId, output: out?.output ?? null, txHashes: a.txHashes, stepIndices: a.steps.map((s) => s.index) }
  }

  /** Commits everything written so far. */
  flush(): Promise<CommittedBatchInfo[]> {
    return this.committer.flush()
  }

  /** Stops committing (after a final flush) and releases the WAL. */
  async close(options: { flush?: boolean } = {}): Promise<void> {
    await this.committer.stop()
    if (options.flush ?? true) await this.committer.flush().catch(() => {})
    await this.wal.close()
  }

  /** Finished actions found in the WAL, so a retried task is answered from it. */
  async #index(): Promise<void> {
    const { steps } = await this.wal.readAll()
    // one pass: each action's first and last step and what its last attempt holds so far
    type Seen = { from: number; to: number; output: unknown; signed: boolean }
    const byAction = new Map<string, Seen>()
    for (const s of steps) {
      let a = byAction.get(s.actionId)
      if (!a) byAction.set(s.actionId, (a = { from: s.index, to: s.index + 1, output: undefined, signed: false }))
      a.to = s.index + 1
      if (s.kind === 'input') {
        a.output = undefined
        a.signed = false
      } else if (s.kind === 'output') a.output = s.result
      else if (s.kind === 'wallet') a.signed = true
    }
    for (const [actionId, a] of byAction) {
      if (a.output === undefined) continue
      // the output step records { status: 'ok', output } — a fresh run returns `output`
      const status = (a.output as { status?: unknown } | null)?.status
      if (status === 'ok') this.#done.set(actionId, { from: a.from, to: a.to })
      // interrupted by a crash before it signed anything: it may run again under its id (a
      // fresh input step follows the closed attempt in the trace)
      else if (status === 'interrupted' && !a.signed) continue
      // the steps are in index order from 0: an action's are among steps[from, to)
      else this.#ended.set(actionId, endedError(summarize(actionId, steps.slice(a.from, a.to).filter((s) => s.actionId === actionId))))
    }
  }
}

function endedError(a: ActionRecord, cause?: unknown): ActionEndedError {
  const out = (a.output ?? {}) as { status?: unknown; error?: { name?: unknown; message?: unknown } }
  return new ActionEndedError({
    actionId: a.actionId,
    status: typeof out.status === 'string' ? out.status : 'failed',
    recorded: {
      name: typeof out.error?.name === 'string' ? out.error.name : 'Error',
      message: typeof out.error?.message === 'string' ? out.error.message : 'the action ended without a result',
    },
    txHashes: a.txHashes,
    stepIndices: a.steps.map((s) => s.index),
    cause,
  })
}

/** The steps of an action's last attempt (from its last input step on). */
function lastAttempt(steps: readonly Step[]): readonly Step[] {
  let from = 0
  steps.forEach((s, i) => {
    if (s.kind === 'input') from = i
  })
  return steps.slice(from)
}

function summarize(actionId: string, steps: Step[]): ActionRecord {
  // the last attempt's output decides (an interrupted attempt may be followed by a re-run)
  const out = [...lastAttempt(steps)].reverse().find((s) => s.kind === 'output')
  const txHashes: Hex[] = []
  for (const s of steps) {
    if (s.kind !== 'tool' || s.outcome.status !== 'ok') continue
    for (const hash of transactionHashes(s.outcome.result)) if (!txHashes.includes(hash)) txHashes.push(hash)
  }
  return { actionId, done: !!out, output: out?.kind === 'output' ? out.result : undefined, txHashes, steps }
}

/**
 * The hashes a tool step records for its wallet steps: the runtime writes them in the
 * step's `transactions` list (a wallet tool's `{ returned, transactions }`, recovery's
 * `{ transactions }`). What the tool itself returned is not looked at: it may hold the same
 * hash again, or hashes that are not this wallet's transactions.
 */
function transactionHashes(result: unknown): Hex[] {
  const list = result && typeof result === 'object' && !Array.isArray(result) ? (result as { transactions?: unknown }).transactions : undefined
  if (!Array.isArray(list)) return []
  return list.flatMap((t) => {
    const hash = t && typeof t === 'object' ? (t as { hash?: unknown }).hash : undefined
    return typeof hash === 'string' && /^0x[0-9a-fA-F]{64}$/.test(hash) ? [hash.toLowerCase() as Hex] : []
  })
}
