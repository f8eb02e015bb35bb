import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { AgentDefinition } from '../agent/defineAgent.js'
import type { ChatInference, OnnxInference } from '../agent/runtime.js'
import type { CommittedBatchInfo } from '../bonds/committer.js'
import type { CovenantDeployment } from '../bonds/deployment.js'
import type { DAClient } from '../da/client.js'
import { isUnrecoverable, retryAfterMs } from '../errors/base.js'
import { createJobQueue, type JobQueue, type JobWorker } from '../verify/queue.js'
import type { JsonValue } from '../trace/schemas.js'
import type { AgentRecord } from './agentRecord.js'
import { AgentHost, type AgentHostUnsafeOptions } from './agentHost.js'
import { ActionEndedError } from './errors.js'
import { appendEvent, isFullyCommitted, type TaskState, type TaskStore } from './taskStore.js'

/** What a task job carries (JSON). */
export type TaskJobData = { taskId: string; task: JsonValue }
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
    // a worker killed mid-task is noticed within a few seconds, and its task retried
    lockDurationMs: 10_000,
    stalledIntervalMs: 5_000,
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
  /** Tasks of one agent run at once in this worker. @defaultValue 1 */
  concurrency?: number | undefined
  commitIntervalMs?: number | undefined
  /** Dishonest-operator simulation per agent name (tests and the demo only). */
  unsafe?: Readonly<Record<string, AgentHostUnsafeOptions>> | undefined
  logger?: Logger | undefined
  onEvent?: ((message: string) => void) | undefined
  /** Names this worker in task progress events. @defaultValue `<hostname>:<pid>` */
  workerId?: string | undefined
}

export type ServiceWorker = {
  /** Agents this process hosts now (holds their WAL). */
  hosts(): ReadonlyMap<string, AgentHost>
  /** Stops taking tasks, lets running ones finish, commits, releases the WALs. */
  close(): Promise<void>
}

/**
 * A service worker: for every agent it can host (one process at a time holds an agent's
 * WAL; the others stand by and take over when it dies), it pulls the agent's task queue
 * and runs each task through the agent's runtime. A task is idempotent by its id (the
 * action id): a retried job never sends a transaction twice. A policy refusal is final.
 */
export async function startServiceWorker(o: StartServiceWorkerOptions): Promise<ServiceWorker> {
  const hosts = new Map<string, AgentHost>()
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

  function onBatch(agentId: string, b: CommittedBatchInfo): void {
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
    for (const taskId of tasks) {
      track(
        o.store.update(taskId, (s) => {
          const next = withCommitments(s, [commitment])
          const all = isFullyCommitted(next) ? '; every step of the action is committed' : ''
          return appendEvent(next, `steps committed in batch ${b.sequence} (root ${b.root.slice(0, 10)}…)${all}`)
        }),
      )
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

  async function tryHost(d: DeployedAgent): Promise<boolean> {
    const agentId = d.record.agentId
    try {
      const host = await AgentHost.open({
        agent: d.agent,
        record: d.record,
        deployment: o.deployment,
        rpcUrl: o.rpcUrl,
        da: o.da,
        dataDir: o.dataDir,
        password: o.password,
        chat: o.inference.chat(d.agent),
        onnx: await o.inference.onnx(d.agent),
        commitIntervalMs: o.commitIntervalMs,
        onBatch: (b) => onBatch(agentId, b),
        onCommitError: (err) => o.logger?.error({ err: String(err), agentId }, 'commit failed (will retry)'),
        logger: o.logger,
        unsafe: o.unsafe?.[d.agent.name],
      })
      if (closing) {
        await host.close()
        return true
      }
      hosts.set(agentId, host)
      stepOwners.set(agentId, new Map())
      let queue = o.queues?.get(agentId)
      if (!queue) {
        queue = taskQueue(agentId, o.redisUrl, o.queuePrefix)
        owned.push(queue)
      }
      workers.push(await queue.process((job) => runTask(host, job.data, job.attempt), { concurrency: o.concurrency ?? 1 }))
      say(`hosting agent ${d.agent.name} (#${agentId})`)
      return true
    } catch (err) {
      if ((err as Error).name === 'WalLockedError') return false
      throw err
    }
  }

  async function runTask(host: AgentHost, data: TaskJobData, attempt: number): Promise<TaskJobResult> {
    const { taskId, task } = data
    const agentId = host.record.agentId
    await o.store.update(taskId, (s) => appendEvent({ ...s, status: 'running', attempts: attempt }, `running on ${workerId} (attempt ${attempt})`))
    try {
      const r = await host.run(task, taskId)
      const committed = claimSteps(agentId, taskId, r.stepIndices)
      const result = { output: r.output, txHashes: r.txHashes, stepIndices: r.stepIndices }
      await o.store.update(taskId, (s) =>
        appendEvent(
          withCommitments({ ...s, status: 'completed', result, error: null }, committed),
          r.txHashes.length ? `completed on ${workerId}; sent ${r.txHashes.length} transaction(s)` : `completed on ${workerId}`,
        ),
      )
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
      await o.store.update(taskId, (s) =>
        appendEvent(
          withCommitments(
            { ...s, status: final ? 'failed' : 'queued', error, ...(ended ? { result: { output: null, txHashes: [...ended.txHashes], stepIndices: [...ended.stepIndices] } } : {}) },
            committed,
          ),
          final
            ? `failed on ${workerId}: ${error.name}`
            : later !== undefined
              ? `waiting: ${e.name} on ${workerId}; trying again in ${Math.ceil(later / 1000)} s`
              : `attempt ${attempt} failed on ${workerId} (${e.name}); will retry`,
        ),
      )
      throw ended && ended !== err ? ended : err
    }
  }

  for (const d of o.agents) {
    if (!(await tryHost(d))) {
      say(`agent ${d.agent.name} (#${d.record.agentId}) is hosted by another worker; standing by`)
      const retry = () => {
        const t = setTimeout(async () => {
          timers.delete(t)
          if (closing) return
          if (!(await tryHost(d).catch(() => false))) retry()
        }, 2_000)
        timers.add(t)
      }
      retry()
    }
  }

  return {
    hosts: () => hosts,
    async close() {
      closing = true
      for (const t of timers) clearTimeout(t)
      for (const w of workers) await w.close()
      for (const h of hosts.values()) await h.close()
      // the final flush's commitments reach the task store before this returns
      while (pending.size > 0) await Promise.all([...pending])
      for (const q of owned) await q.close()
    },
  }
}
