import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { AgentDefinition } from '../agent/defineAgent.js'
import type { ChatInference, OnnxInference } from '../agent/runtime.js'
import { CommitBundler } from '../bonds/bundler.js'
import type { CovenantWriteClient } from '../bonds/client.js'
import type { CommittedBatchInfo } from '../bonds/committer.js'
import type { CovenantDeployment } from '../bonds/deployment.js'
import type { DAClient } from '../da/client.js'
import { isUnrecoverable, retryAfterMs } from '../errors/base.js'
import { createJobQueue, type JobQueue, type JobWorker } from '../verify/queue.js'
import { WalLockedError } from '../trace/errors.js'
import type { JsonValue } from '../trace/schemas.js'
import type { AgentRecord } from './agentRecord.js'
import { AgentHost, type AgentHostUnsafeOptions } from './agentHost.js'
import { ActionEndedError, firstLine, NoAgentHostedError } from './errors.js'
import { appendEvent, appendStep, queuedTaskState, type TaskState, type TaskStore } from './taskStore.js'
import { stepEvent } from './stepSummary.js'

/**
 * Tasks run at once by default for an agent without on-chain effects that reasons with a chat
 * model: its model calls go out side by side, but not so many that an endpoint (a local
 * container on CPU) queues them past their timeouts.
 */
export const CHAT_AGENT_CONCURRENCY = 4

/**
 * Tasks run at once by default for an agent without on-chain effects whose decisions come from
 * an ONNX model: inference runs in this process in about 0.3 ms, so what costs is the
 * bookkeeping around it, and tasks in flight together share it — one WAL fdatasync for all
 * their durable steps (group commit), one Redis write for several task-store updates and
 * BullMQ commands (auto-pipelining). On the 2-core bench machine (bench/moderation.ts, one
 * worker), 4 → 64 at once took the worker from 2.1 to 1.0 ms of CPU per task and the service
 * from about 500 to about 1,000 tasks/s.
 */
export const ONNX_AGENT_CONCURRENCY = 64

/**
 * How many tasks of one agent a worker runs at once unless told. An agent whose tools act on
 * chain runs one action at a time, in queue order: its actions enter the trace whole and in
 * the order they were queued, and its payments are sent in that order (the wallet's nonces and
 * daily budget follow the trace). An agent without on-chain effects runs several at once —
 * {@link ONNX_AGENT_CONCURRENCY} for an ONNX model, {@link CHAT_AGENT_CONCURRENCY} for a chat
 * model: the runtime appends one step at a time to its hash chain, so the steps of concurrent
 * actions interleave in the trace, each carrying its action id and each action's steps in
 * their order (verifiers read an action by its id). Their durable steps share the WAL's
 * fdatasyncs (group commit): each is still on disk before its append returns, so before
 * anything is signed on it or the action reported done.
 */
export function defaultConcurrency(agent: AgentDefinition): number {
  if (agent.tools.some((t) => t.effect.kind !== 'none')) return 1
  return agent.model.kind === 'onnx' ? ONNX_AGENT_CONCURRENCY : CHAT_AGENT_CONCURRENCY
}

/**
 * What a task job carries (JSON). `queuedAt` is the task's `createdAt` when the API queued
 * it (absent from jobs of older versions): the worker rebuilds the queued state from it and
 * updates the task without reading it first (a hint: a task that holds anything else is
 * read as before).
 */
export type TaskJobData = { taskId: string; task: JsonValue; queuedAt?: number | undefined }
export type TaskJobResult = { output: JsonValue; txHashes: string[]; stepIndices: number[] }

export type DeployedAgent = { agent: AgentDefinition; record: AgentRecord }

type Commitment = TaskState['commitments'][number] & { firstIndex: number; stepCount: number }

function withCommitments(s: TaskState, add: readonly Commitment[]): TaskState {
  if (add.length === 0) return s
  const seqs = new Set(add.map((c) => c.sequence))
  return { ...s, commitments: [...s.commitments.filter((c) => !seqs.has(c.sequence)), ...add].sort((a, b) => a.sequence - b.sequence) }
}

/** The queue of one agent's tasks (BullMQ with a Redis URL, in-process without). */
export function taskQueue(agentId: string, redisUrl: string | undefined, prefix?: string): JobQueue<TaskJobData, TaskJobResult> {
  return createJobQueue<TaskJobData, TaskJobResult>({
    name: `tasks-${agentId}`,
    redisUrl,
    attempts: 3,
    prefix,
    // A job of a killed host is back in the queue within about 6 s (its lock lapses after
    // 4 s, the next stalled check of a live worker runs within 2 s), about when a stand-by
    // has taken the agent over. A live host renews its locks every 2 s; if one lapses anyway
    // (an event loop blocked for 4 s), the job is run again — harmless: only this process
    // hosts the agent, and AgentHost.run joins a running action id or answers a finished one
    // from the trace, so nothing runs twice.
    lockDurationMs: 4_000,
    stalledIntervalMs: 2_000,
  })
}

export type StartServiceWorkerOptions = {
  agents: readonly DeployedAgent[]
  deployment: CovenantDeployment
  rpcUrl: string
  da: DAClient
  dataDir: string
  password: string
  store: TaskStore
  /** Queues to pull from, by agent id; created from `redisUrl` when absent. */
  queues?: ReadonlyMap<string, JobQueue<TaskJobData, TaskJobResult>> | undefined
  redisUrl?: string | undefined
  queuePrefix?: string | undefined
  inference: { chat(agent: AgentDefinition): ChatInference | undefined; onnx(agent: AgentDefinition): Promise<OnnxInference | undefined> }
  /**
   * Tasks of one agent run at once in this worker. Tasks of different agents always run side
   * by side (each hosted agent has its own queue and BullMQ worker).
   * @defaultValue {@link defaultConcurrency}: 1 for an agent that acts on chain; for one that does not, 64 with an ONNX model and 4 with a chat model
   */
  concurrency?: number | undefined
  commitIntervalMs?: number | undefined
  /** Dishonest-operator simulation per agent name (tests and the demo only). */
  unsafe?: Readonly<Record<string, AgentHostUnsafeOptions>> | undefined
  logger?: Logger | undefined
  onEvent?: ((message: string) => void) | undefined
  /** Names this worker in task progress events. @defaultValue `<hostname>:<pid>` */
  workerId?: string | undefined
}

/** An agent another process hosts: this one takes it over when that one dies. */
export type StandingByAgent = { name: string; heldBy: number | null; since: number }
/** An agent this process does not host: opening it failed with `error`. */
export type QuarantinedAgent = { name: string; error: Error; at: number }

export type ServiceWorker = {
  /** Agents this process hosts now (holds their WAL), by agent id. */
  hosts(): ReadonlyMap<string, AgentHost>
  /** Agents whose WAL another process holds, by agent id; tried again every 500 ms. */
  standingBy(): ReadonlyMap<string, StandingByAgent>
  /** Agents that failed to open (not for their lock), by agent id: never retried by this process. */
  quarantined(): ReadonlyMap<string, QuarantinedAgent>
  /** The last commit failure of a hosted agent; cleared by its next committed batch. */
  lastCommitError(agentId: string): { error: unknown; at: number } | undefined
  /** Stops taking tasks, lets running ones finish, commits, releases the WALs. */
  close(): Promise<void>
}

/**
 * A running task's progress line and step events are written to the task store together:
 * with its result when it finishes within this many ms (one write for the whole task), else
 * this long after the first of them (a long task's stream still shows its steps as they come).
 */
export const TASK_STORE_FLUSH_MS = 50

/** How often a stand-by tries an agent's WAL lock: one open and one fcntl when it fails. */
const STANDBY_RETRY_MS = 500

/**
 * A service worker: for every agent it can host (one process at a time holds an agent's
 * WAL; the others stand by and take over when it dies), it pulls the agent's task queue
 * and runs each task through the agent's runtime. A task is idempotent by its id (the
 * action id): a retried job never sends a transaction twice. A policy refusal is final.
 *
 * An agent that fails to open for any reason but its lock (a damaged WAL, a keystore that
 * does not open, a model that does not load) is quarantined: logged with its cause, not
 * hosted, not retried, reported by `quarantined()` — and the others are hosted as usual.
 * When every agent is quarantined at start-up, this closes what it opened and throws
 * {@link NoAgentHostedError}.
 */
export async function startServiceWorker(o: StartServiceWorkerOptions): Promise<ServiceWorker> {
  const hosts = new Map<string, AgentHost>()
  const standingBy = new Map<string, StandingByAgent>()
  const quarantined = new Map<string, QuarantinedAgent>()
  const commitErrors = new Map<string, { error: unknown; at: number }>()
  // one bundler per operator: the batches of its agents hosted here share commit transactions
  const bundlers = new Map<string, CommitBundler>()
  const bundlerFor = (operator: CovenantWriteClient): CommitBundler => {
    const key = operator.walletClient.account.address.toLowerCase()
    let b = bundlers.get(key)
    if (!b) bundlers.set(key, (b = new CommitBundler({ client: operator })))
    return b
  }
  /** Host attempts under way (close() waits for them). */
  const attempts = new Set<Promise<unknown>>()
  /** Inference clients, made once per agent (a stand-by tries again every 500 ms). */
  const inference = new Map<string, Promise<{ chat: ChatInference | undefined; onnx: OnnxInference | undefined }>>()
  const workers: JobWorker[] = []
  const owned: JobQueue<TaskJobData, TaskJobResult>[] = []
  const say = o.onEvent ?? (() => {})
  let closing = false
  const workerId = o.workerId ?? `${hostname()}:${process.pid}`
  const timers = new Set<NodeJS.Timeout>()
  // Which task owns which step, per agent, for steps not yet committed; and the batches
  // committed lately (a run can finish after some of its steps were committed).
  const stepOwners = new Map<string, Map<number, string>>()
  const recentBatches = new Map<string, Commitment[]>()
  // store updates still in flight when close() is called are awaited there
  const pending = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>) => {
    const q = p.catch((err: unknown) => o.logger?.error({ err: String(err) }, 'task store update failed'))
    pending.add(q)
    void q.finally(() => pending.delete(q))
  }

  // Updates of a task not written yet (its progress line and step events while it runs):
  // written in one store update with the next one that must be written now (the task's
  // result), or TASK_STORE_FLUSH_MS after the first, whichever comes first.
  type Patch = (s: TaskState) => TaskState
  const buffered = new Map<string, { patches: Patch[]; timer: NodeJS.Timeout }>()
  function later(taskId: string, patch: Patch): void {
    let b = buffered.get(taskId)
    if (!b) {
      const timer = setTimeout(() => track(writeNow(taskId)), TASK_STORE_FLUSH_MS)
      b = { patches: [], timer }
      buffered.set(taskId, b)
    }
    b.patches.push(patch)
  }
  // The state a task just taken from the queue should hold (queuedTaskState), for its first write.
  const expectedStates = new Map<string, TaskState>()
  /** Writes the task's buffered updates, then `last`, in one store update. */
  function writeNow(taskId: string, last?: Patch): Promise<TaskState | undefined> {
    const b = buffered.get(taskId)
    if (b) {
      buffered.delete(taskId)
      clearTimeout(b.timer)
    }
    const patches = [...(b?.patches ?? []), ...(last ? [last] : [])]
    if (patches.length === 0) return Promise.resolve(undefined)
    const expected = expectedStates.get(taskId)
    expectedStates.delete(taskId)
    return o.store.update(taskId, (s) => patches.reduce((state, patch) => patch(state), s), { expected })
  }

  function onBatch(agentId: string, b: CommittedBatchInfo): void {
    commitErrors.delete(agentId)
    const commitment: Commitment = { sequence: b.sequence, root: b.root, daCommitment: b.daCommitment, txHash: b.txHash ?? null, firstIndex: b.firstIndex, stepCount: b.stepCount }
    const recent = recentBatches.get(agentId) ?? []
    recent.push(commitment)
    if (recent.length > 256) recent.shift()
    recentBatches.set(agentId, recent)
    const owners = stepOwners.get(agentId)
    if (!owners) return
    const tasks = new Set<string>()
    for (let i = b.firstIndex; i < b.firstIndex + b.stepCount; i++) {
      const t = owners.get(i)
      if (t) {
        tasks.add(t)
        owners.delete(i)
      }
    }
    // recorded beside the tasks, one write for all (readers see it merged: taskCommitments.ts)
    if (tasks.size > 0) {
      const entry = { at: Date.now(), commitment }
      track(o.store.addCommitments([...tasks].map((taskId) => ({ taskId, entry }))))
    }
  }

  /** Batches already holding some of these steps; the other steps are registered to the task. */
  function claimSteps(agentId: string, taskId: string, stepIndices: readonly number[]): Commitment[] {
    const committed = (recentBatches.get(agentId) ?? []).filter((c) => stepIndices.some((i) => i >= c.firstIndex && i < c.firstIndex + c.stepCount))
    const owners = stepOwners.get(agentId)
    for (const i of stepIndices) {
      if (!committed.some((c) => i >= c.firstIndex && i < c.firstIndex + c.stepCount)) owners?.set(i, taskId)
    }
    return committed
  }

  function quarantine(d: DeployedAgent, err: unknown): void {
    const agentId = d.record.agentId
    const error = err instanceof Error ? err : new Error(String(err))
    standingBy.delete(agentId)
    quarantined.set(agentId, { name: d.agent.name, error, at: Date.now() })
    o.logger?.error({ err: error, agentId, agent: d.agent.name }, 'agent quarantined: it failed to open and is not hosted')
    say(`quarantined agent ${d.agent.name} (#${agentId}): not hosted by this process until it restarts — ${firstLine(error)}`)
  }

  function inferenceFor(d: DeployedAgent) {
    let p = inference.get(d.record.agentId)
    if (!p) {
      p = (async () => ({ chat: o.inference.chat(d.agent), onnx: await o.inference.onnx(d.agent) }))()
      inference.set(d.record.agentId, p)
    }
    return p
  }

  /** Hosts the agent if its WAL lock is free; stands by if another process holds it; quarantines it on any other failure. */
  function tryHost(d: DeployedAgent): Promise<'hosted' | 'standby' | 'quarantined'> {
    const p = openHost(d).catch((err: unknown) => {
      quarantine(d, err)
      return 'quarantined' as const
    })
    attempts.add(p)
    void p.finally(() => attempts.delete(p))
    return p
  }

  async function openHost(d: DeployedAgent): Promise<'hosted' | 'standby' | 'quarantined'> {
    const agentId = d.record.agentId
    let host: AgentHost
    try {
      const { chat, onnx } = await inferenceFor(d)
      host = await AgentHost.open({
        agent: d.agent,
        record: d.record,
        deployment: o.deployment,
        rpcUrl: o.rpcUrl,
        da: o.da,
        dataDir: o.dataDir,
        password: o.password,
        chat,
        onnx,
        commitIntervalMs: o.commitIntervalMs,
        onBatch: (b) => onBatch(agentId, b),
        // the step's action id is its task id: the task's stream shows the step as it is written
        onStep: ({ step, leaf }) => later(step.actionId, (s) => appendStep(s, (seq) => stepEvent(step, leaf, seq))),
        onCommitError: (err) => {
          commitErrors.set(agentId, { error: err, at: Date.now() })
          o.logger?.warn({ err: String(err), agentId }, 'commit failed (will retry)')
        },
        logger: o.logger,
        unsafe: o.unsafe?.[d.agent.name],
        bundlerFor,
      })
    } catch (err) {
      if (err instanceof WalLockedError) {
        standingBy.set(agentId, { name: d.agent.name, heldBy: err.pid, since: standingBy.get(agentId)?.since ?? Date.now() })
        return 'standby'
      }
      quarantine(d, err)
      return 'quarantined'
    }
    if (closing) {
      await host.close().catch(() => {})
      return 'standby'
    }
    try {
      let queue = o.queues?.get(agentId)
      if (!queue) {
        queue = taskQueue(agentId, o.redisUrl, o.queuePrefix)
        owned.push(queue)
      }
      stepOwners.set(agentId, new Map())
      hosts.set(agentId, host)
      standingBy.delete(agentId)
      workers.push(await queue.process((job) => runTask(host, job.data, job.attempt), { concurrency: o.concurrency ?? defaultConcurrency(d.agent) }))
    } catch (err) {
      hosts.delete(agentId)
      await host.close().catch(() => {})
      quarantine(d, err)
      return 'quarantined'
    }
    say(`hosting agent ${d.agent.name} (#${agentId})`)
    o.logger?.info({ agentId, agent: d.agent.name, workerId }, 'agent hosted')
    return 'hosted'
  }

  async function runTask(host: AgentHost, data: TaskJobData, attempt: number): Promise<TaskJobResult> {
    const { taskId, task, queuedAt } = data
    const agentId = host.record.agentId
    if (attempt === 1 && typeof queuedAt === 'number' && Number.isSafeInteger(queuedAt)) {
      expectedStates.set(taskId, queuedTaskState({ taskId, agentId, agentName: host.record.name, task, at: queuedAt }))
    }
    // a job re-run after its worker died keeps BullMQ's attempt number: count the runs here
    let before = 0
    // buffered: written with the task's step events and its result (see TASK_STORE_FLUSH_MS)
    later(taskId, (s) => {
      before = s.attempts ?? 0
      const run = Math.max(attempt, before + 1)
      return appendEvent({ ...s, status: 'running', attempts: run }, `running on ${workerId} (run ${run})`)
    })
    try {
      const r = await host.run(task, taskId)
      const committed = claimSteps(agentId, taskId, r.stepIndices)
      const result = { output: r.output, txHashes: r.txHashes, stepIndices: r.stepIndices }
      await writeNow(taskId, (s) =>
        appendEvent(
          withCommitments({ ...s, status: 'completed', result, error: null }, committed),
          r.txHashes.length ? `completed on ${workerId}; sent ${r.txHashes.length} transaction(s)` : `completed on ${workerId}`,
        ),
      )
      // one info line per task: what an operator follows (pino writes it asynchronously, ~µs)
      o.logger?.info({ taskId, agentId, txHashes: r.txHashes, steps: r.stepIndices.length }, 'task completed')
      return result
    } catch (err) {
      // An action whose trace is closed (failed output step, or closed by crash recovery) is
      // never run again under its id: that failure is final, whatever caused it.
      const ended = err instanceof ActionEndedError ? err : host.ended(taskId)
      // refused before it started (e.g. the trace is behind on commits): the queue puts the
      // job back without counting an attempt, so it is never final here
      const later = ended ? undefined : retryAfterMs(err)
      const final = later === undefined && (!!ended || isUnrecoverable(err) || attempt >= 3)
      const e = err as Error
      const error = ended
        ? { name: ended.recorded.name, message: ended.recorded.message.split('\n')[0] ?? '', final: true }
        : { name: e.name, message: e.message.split('\n')[0] ?? '', final }
      const committed = ended ? claimSteps(agentId, taskId, ended.stepIndices) : []
      await writeNow(taskId, (s) =>
        appendEvent(
          withCommitments(
            {
              ...s,
              status: final ? 'failed' : 'queued',
              // a run refused before it started (retry later) is not an attempt: the count goes
              // back to what it was (0 for a task that has not run yet)
              ...(later !== undefined ? { attempts: before } : {}),
              error,
              ...(ended ? { result: { output: null, txHashes: [...ended.txHashes], stepIndices: [...ended.stepIndices] } } : {}) },
            committed,
          ),
          final
            ? `failed on ${workerId}: ${error.name}`
            : later !== undefined
              ? `waiting: ${e.name} on ${workerId}; trying again in ${Math.ceil(later / 1000)} s`
              : `attempt ${attempt} failed on ${workerId} (${e.name}); will retry`,
        ),
      )
      const logged = { taskId, agentId, attempt, error: `${error.name}: ${error.message}` }
      if (final) o.logger?.error(logged, 'task failed')
      else o.logger?.warn(logged, later !== undefined ? 'task waiting (will retry)' : 'task attempt failed (will retry)')
      throw ended && ended !== err ? ended : err
    }
  }

  function standBy(d: DeployedAgent): void {
    const t = setTimeout(() => {
      timers.delete(t)
      if (closing) return
      void tryHost(d).then((r) => {
        if (r === 'standby' && !closing) standBy(d)
      })
    }, STANDBY_RETRY_MS)
    timers.add(t)
  }

  async function close(): Promise<void> {
    closing = true
    for (const t of timers) clearTimeout(t)
    while (attempts.size > 0) await Promise.all([...attempts])
    for (const w of workers) await w.close()
    for (const h of hosts.values()) await h.close()
    for (const taskId of [...buffered.keys()]) track(writeNow(taskId))
    // the final flush's commitments reach the task store before this returns
    while (pending.size > 0) await Promise.all([...pending])
    for (const q of owned) await q.close()
    for (const p of inference.values()) await (await p.catch(() => undefined))?.onnx?.close?.()
  }

  for (const d of o.agents) {
    const r = await tryHost(d)
    if (r === 'standby') {
      const pid = standingBy.get(d.record.agentId)?.heldBy
      say(`agent ${d.agent.name} (#${d.record.agentId}) is hosted by ${pid ? `process ${pid}` : 'another process'}; standing by`)
      standBy(d)
    }
  }
  if (o.agents.length > 0 && hosts.size === 0 && standingBy.size === 0) {
    await close()
    throw new NoAgentHostedError([...quarantined].map(([agentId, q]) => ({ agentId, name: q.name, error: q.error })))
  }

  return {
    hosts: () => hosts,
    standingBy: () => standingBy,
    quarantined: () => quarantined,
    lastCommitError: (agentId) => commitErrors.get(agentId),
    close,
  }
}
