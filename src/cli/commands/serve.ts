import type { Command } from 'commander'
import { startService } from '../../service/service.js'
import { loadDeployedAgents } from '../../service/hostedAgents.js'
import { inferenceClients } from '../../service/inference.js'
import { localReplayer } from '../../verify/replayers.js'
import { startServiceWorker } from '../../service/worker.js'
import { createTaskStore } from '../../service/taskStore.js'
import { daManifestSource } from '../../verify/manifest.js'
import { EnvError, parseLoadTimeout, resolveEnv, withEnvOptions, type CovenantEnv, type EnvOptions } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { cliLogger } from '../logger.js'
import { keystorePassword } from '../password.js'
import { untilSignal } from './dev.js'

export type ServeFlags = {
  port?: string | undefined
  concurrency?: string | undefined
  worker?: boolean | undefined
  redisPrefix?: string | undefined
  /** ms, from `--load-timeout <seconds>` (parseLoadTimeout) */
  loadTimeout?: number | undefined
}

/** Where the API and its workers meet in Redis: flag, then COVENANT_REDIS_PREFIX, then `covenant`. */
export function redisPrefix(flags: ServeFlags): string | undefined {
  const p = flags.redisPrefix ?? process.env.COVENANT_REDIS_PREFIX
  if (p === undefined || p === '') return undefined
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(p)) throw new EnvError(`--redis-prefix must be 1-64 letters, digits, "_", ".", ":" or "-", not "${p}".`)
  return p
}

const PREFIX_HELP = 'key prefix in Redis: the API and its workers must agree (default: COVENANT_REDIS_PREFIX, else "covenant")'

export const CONCURRENCY_HELP = 'tasks run at once per agent (default: 1 for an agent that acts on chain; for one that does not, 64 with an ONNX model, 4 with a chat model)'

function positiveInt(v: string | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new EnvError(`${what} must be an integer from 0 to 65535, not "${v}".`)
  return n
}

/** Serves deployed agents until SIGINT/SIGTERM, then drains (running tasks finish and commit). */
export async function serveAgents(env: CovenantEnv, names: readonly string[], flags: ServeFlags & GlobalOptions, password?: string) {
  const agents = await loadDeployedAgents(env.dataDir, {
    chainId: env.deployment.chainId,
    agentRegistry: env.deployment.contracts.agentRegistry,
    names,
    loadTimeoutMs: flags.loadTimeout,
  })
  const service = await startService({
    agents,
    deployment: env.deployment,
    client: env.client,
    rpcUrl: env.rpcUrl,
    da: env.da,
    dataDir: env.dataDir,
    redisUrl: env.redisUrl,
    prefix: redisPrefix(flags),
    port: positiveInt(flags.port, 8787, '--port'),
    worker: flags.worker ?? true,
    password: flags.worker === false ? undefined : (password ?? keystorePassword(env.deployment.chainId)),
    inference: inferenceClients({ inferenceUrl: env.inferenceUrl }),
    concurrency: flags.concurrency === undefined ? undefined : positiveInt(flags.concurrency, 1, '--concurrency') || 1,
    replayer: localReplayer(),
    manifests: [daManifestSource(env.da, ({ agentId }) => agents.find((a) => a.record.agentId === agentId.toString())?.record.manifestCommitment as `0x${string}` | undefined)],
    onEvent: progress,
    logger: cliLogger(flags),
  })
  const quarantined = [...(service.worker?.quarantined().values() ?? [])].map((q) => q.name)
  printResult(
    { url: service.url, agents: agents.map((a) => ({ name: a.agent.name, agentId: a.record.agentId })), quarantined, queue: env.redisUrl ? 'bullmq' : 'in-process' },
    flags,
    (s) =>
      [
        `serving ${s.agents.map((a) => `${a.name} (#${a.agentId})`).join(', ')} on ${s.url} (queue: ${s.queue})`,
        ...(s.quarantined.length ? [`quarantined (not hosted, see above): ${s.quarantined.join(', ')} — GET ${s.url}/health reports it`] : []),
        `explorer: ${s.url}/`,
        'Ctrl-C drains and stops',
      ].join('\n'),
  )
  await untilSignal()
  progress('draining: running tasks finish, steps are committed…')
  await service.close()
}

export function register(program: Command): void {
  withEnvOptions(
    program
      .command('serve')
      .argument('[agents...]', 'agent names (default: every agent deployed from this data dir)')
      .description('serve deployed agents: HTTP API + explorer + worker')
      .option('--port <n>', 'HTTP port', '8787')
      .option('--concurrency <n>', CONCURRENCY_HELP)
      .option('--no-worker', 'API only: workers run elsewhere (`covenant worker`, needs --redis)')
      .option('--redis-prefix <prefix>', PREFIX_HELP)
      .option('--load-timeout <seconds>', 'longest each agent file may take to load', parseLoadTimeout),
  ).action(async (names: string[], _o, cmd: Command) => {
    const options = cmd.optsWithGlobals<GlobalOptions & EnvOptions & ServeFlags>()
    await serveAgents(await resolveEnv(options), names, options)
  })

  withEnvOptions(
    program
      .command('worker')
      .argument('[agents...]', 'agent names (default: every agent deployed from this data dir)')
      .description('a worker process pulling tasks from the agents\' BullMQ queues (needs --redis / REDIS_URL)')
      .option('--concurrency <n>', CONCURRENCY_HELP)
      .option('--redis-prefix <prefix>', PREFIX_HELP)
      .option('--load-timeout <seconds>', 'longest each agent file may take to load', parseLoadTimeout),
  ).action(async (names: string[], _o, cmd: Command) => {
    const options = cmd.optsWithGlobals<GlobalOptions & EnvOptions & ServeFlags>()
    const env = await resolveEnv(options)
    const prefix = redisPrefix(options)
    if (!env.redisUrl) throw new EnvError('A separate worker shares tasks through Redis: pass --redis <url> or set REDIS_URL.')
    const agents = await loadDeployedAgents(env.dataDir, { chainId: env.deployment.chainId, agentRegistry: env.deployment.contracts.agentRegistry, names, loadTimeoutMs: options.loadTimeout })
    const store = createTaskStore({ redisUrl: env.redisUrl, prefix })
    // a worker that cannot start has closed what it opened; the store is this command's to
    // close, so the process exits (code 1) instead of idling on its Redis connection
    const worker = await startServiceWorker({
      agents,
      deployment: env.deployment,
      rpcUrl: env.rpcUrl,
      da: env.da,
      dataDir: env.dataDir,
      password: keystorePassword(env.deployment.chainId),
      store,
      redisUrl: env.redisUrl,
      queuePrefix: prefix,
      inference: inferenceClients({ inferenceUrl: env.inferenceUrl }),
      concurrency: options.concurrency === undefined ? undefined : positiveInt(options.concurrency, 1, '--concurrency') || 1,
      onEvent: progress,
      logger: cliLogger(options),
    }).catch(async (err: unknown) => {
      await store.close().catch(() => {})
      throw err
    })
    progress(`worker ${process.pid} up; Ctrl-C drains and stops`)
    await untilSignal()
    progress('draining…')
    await worker.close()
    await store.close()
  })
}
