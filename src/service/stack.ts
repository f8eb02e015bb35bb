import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createPublicClient, createWalletClient, type PublicClient } from 'viem'
import { rpcTransport } from '../http/rpcTransport.js'
import type { HDAccount } from 'viem/accounts'
import { startAnvil, type Anvil } from '../bonds/anvil.js'
import { chainFor, createCovenantClient, type CovenantClient } from '../bonds/client.js'
import { deployCovenant } from '../bonds/deploy.js'
import { startIdleMining } from '../bonds/devTime.js'
import { DEV_WORK_TOKEN_GRANT, devProtocolParams, writeDeployment, type CovenantDeployment, type ProtocolParamsInput } from '../bonds/deployment.js'
import { LocalDAStore } from '../da/localStore.js'
import { startDAServer, type DAServer } from '../da/server.js'
import { EigenDAProxyClient } from '../da/eigendaProxyClient.js'
import type { DAClient } from '../da/client.js'
import { devStackFile, readDevStack, type DevStackInfo } from '../cli/env.js'
import { ProcessLock } from '../trace/processLock.js'
import { DevStackRunningError } from './errors.js'

function readDevStackUrl(dataDir: string): string | undefined {
  try {
    return readDevStack(dataDir)?.rpcUrl
  } catch {
    return undefined
  }
}

/** A running inference container, as `src/inference` starts it. */
export type InferenceServerHandle = { url: string; close(): Promise<void> }
export type InferenceStarter = (options: { port: number; host: string }) => Promise<InferenceServerHandle>

export type StartLocalStackOptions = {
  /** Local state: deployment, DA blobs, WALs, keystores. @defaultValue ./.covenant */
  dataDir?: string | undefined
  /** Start the inference container too. */
  inference?: InferenceStarter | undefined
  /** Protocol parameter overrides for the deployment (on top of {@link devProtocolParams}). */
  params?: Partial<ProtocolParamsInput> | undefined
  /** Write `<dataDir>/dev.json` so other `covenant` commands find this stack. @defaultValue true */
  announce?: boolean | undefined
  /** Start from empty DA/WAL state. @defaultValue true (a fresh chain means fresh traces) */
  fresh?: boolean | undefined
  /**
   * Mine an empty block whenever the chain was idle this long, so chain time — commit
   * deadlines, challenge windows, grace periods — moves as on a real chain. `false` leaves
   * anvil mining only on transactions. @defaultValue 2000
   */
  idleBlockMs?: number | false | undefined
  onProgress?: ((message: string) => void) | undefined
}

export type LocalStack = {
  dataDir: string
  anvil: Anvil
  rpcUrl: string
  deployment: CovenantDeployment
  deploymentFile: string
  /** The DA server (eigenda-proxy API) over the local store, and a client for it. */
  daServer: DAServer
  da: DAClient
  inference: InferenceServerHandle | undefined
  /** Funded dev accounts (anvil's well-known keys: dev only). */
  accounts: HDAccount[]
  client: CovenantClient
  stop(): Promise<void>
}

/**
 * The embedded defaults in one call: a real anvil chain with the contracts deployed, the
 * DA server over a local content-addressed store, and (optionally) the inference
 * container — everything on free local ports.
 */
export async function startLocalStack(o: StartLocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = resolve(o.dataDir ?? '.covenant')
  const say = o.onProgress ?? (() => {})
  // one local stack per data dir: a second one would wipe the first one's keystores, DA
  // store and WALs (a kernel lock, released when the holder exits or is killed)
  const locked = await ProcessLock.tryAcquire(join(dataDir, 'dev.lock'))
  if ('heldBy' in locked) throw new DevStackRunningError({ dataDir, pid: locked.heldBy, rpcUrl: readDevStackUrl(dataDir) })
  const stops: Array<() => Promise<void>> = [() => locked.lock.release()]
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {})
  }
  if (o.fresh ?? true) {
    for (const sub of ['da', 'wal', 'agents', 'verifier', 'outbox']) rmSync(join(dataDir, sub), { recursive: true, force: true })
  }
  mkdirSync(dataDir, { recursive: true })
  try {
    say('starting a local chain (anvil)…')
    const anvil = await startAnvil({ accounts: 20 })
    stops.push(() => anvil.stop())
    const chain = chainFor(anvil.rpcUrl, anvil.chainId)
    const deployment = await deployCovenant({
      publicClient: createPublicClient({ chain, transport: rpcTransport(anvil.rpcUrl), pollingInterval: 100 }) as PublicClient,
      walletClient: createWalletClient({ chain, transport: rpcTransport(anvil.rpcUrl), account: anvil.accounts[0]!, pollingInterval: 100 }),
      params: { ...devProtocolParams, ...o.params },
      workTokenAllocation: anvil.accounts.map((a) => ({ to: a.address, amount: DEV_WORK_TOKEN_GRANT })),
      onProgress: (m) => say(`  ${m}`),
    })
    const deploymentFile = join(dataDir, 'deployment.json')
    writeDeployment(deploymentFile, deployment)
    say(`chain ${anvil.rpcUrl} (id ${anvil.chainId}), contracts deployed`)

    if (o.idleBlockMs !== false) {
      const stopMining = startIdleMining(createPublicClient({ transport: rpcTransport(anvil.rpcUrl) }) as PublicClient, o.idleBlockMs ?? 2_000)
      stops.push(async () => stopMining())
    }
    const daStore = new LocalDAStore({ dir: join(dataDir, 'da') })
    stops.push(() => daStore.close()) // after the server (stops run last first): its segments' files and locks
    const daServer = await startDAServer({ store: daStore, port: 0 })
    stops.push(() => daServer.close())
    say(`DA server (eigenda-proxy API) at ${daServer.url}`)

    let inference: InferenceServerHandle | undefined
    if (o.inference) {
      inference = await o.inference({ port: 0, host: '127.0.0.1' })
      stops.push(() => inference!.close())
      say(`inference container at ${inference.url}`)
    }

    const info: DevStackInfo = {
      version: 1,
      pid: process.pid,
      rpcUrl: anvil.rpcUrl,
      daUrl: daServer.url,
      ...(inference ? { inferenceUrl: inference.url } : {}),
      deploymentFile,
      chainId: anvil.chainId,
    }
    if (o.announce ?? true) {
      const file = devStackFile(dataDir)
      writeFileSync(file, JSON.stringify(info, null, 2))
      stops.unshift(async () => rmSync(file, { force: true }))
    }
    return {
      dataDir,
      anvil,
      rpcUrl: anvil.rpcUrl,
      deployment,
      deploymentFile,
      daServer,
      da: new EigenDAProxyClient({ url: daServer.url }),
      inference,
      accounts: anvil.accounts,
      client: createCovenantClient({ rpcUrl: anvil.rpcUrl, deployment, pollingInterval: 100 }),
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** What a service needs from a running stack: `startService({ ...onStack(stack), agents, … })`. */
export function onStack(stack: LocalStack): Pick<LocalStack, 'deployment' | 'client' | 'rpcUrl' | 'da' | 'dataDir'> {
  return { deployment: stack.deployment, client: stack.client, rpcUrl: stack.rpcUrl, da: stack.da, dataDir: stack.dataDir }
}
