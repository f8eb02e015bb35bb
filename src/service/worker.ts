import type { Logger } from 'pino'
import type { AgentDefinition } from '../agent/defineAgent.js'
import type { ChatInference, OnnxInference } from '../agent/runtime.js'
import type { CommittedBatchInfo } from '../bonds/committer.js'
import type { CovenantDeployment } from '../bonds/deployment.js'
import type { DAClient } from '../da/client.js'
import { isUnrecoverable } from '../errors/base.js'
import { createJobQueue, type JobQueue, type JobWorker } from '../verify/queue.js'
import type { JsonValue } from '../trace/schemas.js'
import type { AgentRecord } from './agentRecord.js'
import { AgentHost, type AgentHostUnsafeOptions } from './agentHost.js'
import { appendEvent, type TaskStore } from './taskStore.js'

/** What a task job carries (JSON). */
export type TaskJobData = { taskId: string; task: JsonValue }
export type TaskJobResult = { output: JsonValue; txHashes: string[]; stepIndices: number[] }

export type DeployedAgent = { agent: AgentDefinition; record: AgentRecord }

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
  const timers = new Set<NodeJS.Timeout>()
  // step index → task id, per agent, for tasks this worker ran (to attach commitments)
  const stepOwners = new Map<string, Map<number, string>>()

  async function onBatch(agentId: string, b: CommittedBatchInfo) {
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
    const commitment = { sequence: b.sequence, root: b.root, daCommitment: b.daCommitment, txHash: b.txHash ?? null }
    for (const taskId of tasks) {
      await o.store.update(taskId, (s) =>
        appendEvent(
          { ...s, commitments: [...s.commitments.filter((c) => c.sequence !== b.sequence), commitment] },
          `steps committed in batch ${b.sequence} (root ${b.root.slice(0, 10)}…)`,
        ),
      )
    }
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
        onBatch: (b) => void onBatch(agentId, b).catch(() => {}),
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
    await o.store.update(taskId, (s) => appendEvent({ ...s, status: 'running', attempts: attempt }, `running (attempt ${attempt})`))
    try {
      const r = await host.run(task, taskId)
      const owners = stepOwners.get(host.record.agentId)
      for (const i of r.stepIndices) owners?.set(i, taskId)
      const result = { output: r.output, txHashes: r.txHashes, stepIndices: r.stepIndices }
      await o.store.update(taskId, (s) =>
        appendEvent(
          { ...s, status: 'completed', result, error: null },
          r.txHashes.length ? `completed; sent ${r.txHashes.length} transaction(s)` : 'completed',
        ),
      )
      return result
    } catch (err) {
      const final = isUnrecoverable(err) || attempt >= 3
      const e = err as Error
      await o.store.update(taskId, (s) =>
        appendEvent(
          { ...s, status: final ? 'failed' : 'queued', error: { name: e.name, message: e.message.split('\n')[0] ?? '', final } },
          final ? `failed: ${e.name}` : `attempt ${attempt} failed (${e.name}); will retry`,
        ),
      )
      throw err
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
      for (const q of owned) await q.close()
    },
  }
}
