import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import type { Logger } from 'pino'
import type { CovenantClient } from '../bonds/client.js'
import type { CovenantDeployment } from '../bonds/deployment.js'
import type { DAClient } from '../da/client.js'
import { findAction, verifyAction } from '../verify/action.js'
import { withPublishedBlobs } from '../verify/publishedBlobs.js'
import { TraceIndex } from '../verify/traceIndex.js'
import type { Replayer } from '../verify/inference.js'
import type { ManifestSource } from '../verify/manifest.js'
import type { JobQueue } from '../verify/queue.js'
import { createServiceApp } from './api.js'
import { createTaskStore, type TaskStore } from './taskStore.js'
import { startServiceWorker, taskQueue, type DeployedAgent, type ServiceWorker, type StartServiceWorkerOptions, type TaskJobData, type TaskJobResult } from './worker.js'
import { PortInUseError, ServiceConfigError } from './errors.js'
import { serviceHealth } from './health.js'

export type StartServiceOptions = {
  agents: readonly DeployedAgent[]
  deployment: CovenantDeployment
  client: CovenantClient
  rpcUrl: string
  da: DAClient
  dataDir: string
  /** BullMQ + Redis task queues and status; in-process when unset. */
  redisUrl?: string | undefined
  /** Key prefix in Redis (tests use a unique one). @defaultValue 'covenant' */
  prefix?: string | undefined
  /** @defaultValue 8787; 0 picks a free port */
  port?: number | undefined
  host?: string | undefined
  /** Run a worker in this process too. @defaultValue true (false: API only, workers elsewhere) */
  worker?: boolean | undefined
  /** Needed by the in-process worker. */
  password?: string | undefined
  inference?: StartServiceWorkerOptions['inference'] | undefined
  concurrency?: number | undefined
  commitIntervalMs?: number | undefined
  unsafe?: StartServiceWorkerOptions['unsafe']
  /** How /actions/:id replays inferences, and where it finds manifests. */
  replayer?: Replayer | undefined
  manifests?: readonly ManifestSource[] | undefined
  logger?: Logger | undefined
  onEvent?: ((message: string) => void) | undefined
}

export type Service = {
  url: string
  port: number
  store: TaskStore
  queues: ReadonlyMap<string, JobQueue<TaskJobData, TaskJobResult>>
  worker: ServiceWorker | undefined
  /** Drains the worker (running tasks finish, steps are committed) and stops serving. */
  close(): Promise<void>
}

/**
 * Deploys nothing: serves already-deployed agents over HTTP, with a worker in-process unless
 * told otherwise. It listens first, so a busy port fails ({@link PortInUseError}) before any
 * agent's WAL is opened; a worker that cannot host any agent (NoAgentHostedError) stops the
 * server again. Either way every connection and lock is released before this rejects.
 */
export async function startService(o: StartServiceOptions): Promise<Service> {
  const inProcess = o.worker ?? true
  if (!o.redisUrl && !inProcess) {
    throw new ServiceConfigError('Without Redis the task queue lives in this process, so it needs its own worker.', {
      metaMessages: ['Pass --redis <url> to run workers in other processes, or keep the in-process worker.'],
    })
  }
  if (inProcess && (!o.password || !o.inference)) throw new ServiceConfigError('The in-process worker needs the keystore password and the inference clients.')
  const store = createTaskStore({ redisUrl: o.redisUrl, prefix: o.prefix })
  const queues = new Map(o.agents.map((a) => [a.record.agentId, taskQueue(a.record.agentId, o.redisUrl, o.prefix)] as const))
  const closeQueues = async () => {
    for (const q of queues.values()) await q.close().catch(() => {})
    await store.close().catch(() => {})
  }
  let worker: ServiceWorker | 'starting' | undefined = inProcess ? 'starting' : undefined
  const records = o.agents.map((a) => a.record)
  const verifyParams = { client: o.client, da: o.da, replayer: o.replayer, manifests: o.manifests }
  const index = new TraceIndex({ client: o.client, da: withPublishedBlobs(o.client, o.da) })
  const app = createServiceApp({
    agents: records,
    queues,
    store,
    client: o.client,
    da: o.da,
    health: () => serviceHealth(records, worker),
    async verifyAction(actionId) {
      const [report, found] = await Promise.all([verifyAction(verifyParams, actionId), findAction(verifyParams, actionId)])
      const byIndex = new Map(found.steps.map((s) => [s.step.index, s.step]))
      return { ...report, steps: report.steps.map((s) => ({ ...s, step: byIndex.get(s.index) ?? null })) }
    },
    async actionOfStep(agentId, sequence, stepIndex) {
      const b = await index.batch(agentId, sequence)
      return b?.check.status === 'ok' ? b.check.batch.steps[stepIndex]?.actionId : undefined
    },
    async signedHeaders(agentId) {
      const file = join(o.dataDir, 'wal', `agent-${agentId}.headers.jsonl`)
      if (!existsSync(file)) return []
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as unknown]
          } catch {
            return []
          }
        })
    },
  })
  const host = o.host ?? '127.0.0.1'
  const wanted = o.port ?? 8787
  let server: ServerType
  try {
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: wanted, hostname: host }, () => resolve(s))
      s.once('error', reject)
    })
  } catch (err) {
    await closeQueues()
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError({ port: wanted, host, cause: err })
    throw err
  }
  const stopServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
    })
  const { password, inference } = o
  if (inProcess && password && inference) {
    try {
      worker = await startServiceWorker({
        agents: o.agents,
        deployment: o.deployment,
        rpcUrl: o.rpcUrl,
        da: o.da,
        dataDir: o.dataDir,
        password,
        store,
        queues,
        redisUrl: o.redisUrl,
        queuePrefix: o.prefix,
        inference,
        concurrency: o.concurrency,
        commitIntervalMs: o.commitIntervalMs,
        unsafe: o.unsafe,
        logger: o.logger,
        onEvent: o.onEvent,
      })
    } catch (err) {
      await stopServer()
      await closeQueues()
      throw err
    }
  }
  const started = typeof worker === 'object' ? worker : undefined
  const { port } = server.address() as AddressInfo
  o.logger?.info({ url: `http://${host}:${port}`, agents: o.agents.map((a) => a.agent.name), worker: !!started, queue: o.redisUrl ? 'bullmq' : 'in-process' }, 'service listening')
  return {
    url: `http://${host}:${port}`,
    port,
    store,
    queues,
    worker: started,
    async close() {
      await started?.close()
      await stopServer()
      for (const q of queues.values()) await q.close()
      await store.close()
    },
  }
}
