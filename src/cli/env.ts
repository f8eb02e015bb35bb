import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { InvalidArgumentError } from 'commander'
import { z } from 'zod'
import { parseEther, type LocalAccount } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { ANVIL_MNEMONIC } from '../bonds/anvil.js'
import { createCovenantClient, type CovenantClient } from '../bonds/client.js'
import { readDeployment, type CovenantDeployment } from '../bonds/deployment.js'
import { EigenDAProxyClient } from '../da/eigendaProxyClient.js'
import { LocalDAStore } from '../da/localStore.js'
import type { DAClient } from '../da/client.js'
import { loadKeystore } from '../wallet/keystore.js'
import { withConfig } from './config.js'
import { DEFAULT_DATA_DIR, EnvError } from './errors.js'

/**
 * Where a command finds its infrastructure. Flags win; then the environment variables
 * COVENANT_RPC_URL, COVENANT_DA_URL, REDIS_URL, COVENANT_KEYSTORE (+ COVENANT_PASSWORD);
 * then the project's covenant.config.json (config.ts); then a local dev stack's
 * `.covenant/dev.json` (written by `covenant dev` and the demo); then the embedded defaults
 * (a local DA store under the data dir).
 */
export type EnvOptions = {
  /** covenant.config.json to read (--config); see config.ts. */
  config?: string | undefined
  dataDir?: string | undefined
  rpc?: string | undefined
  deployment?: string | undefined
  da?: string | undefined
  redis?: string | undefined
  keystore?: string | undefined
  /** Use anvil's well-known dev account N (dev chains only). */
  devAccount?: string | number | undefined
}

export type CovenantEnv = {
  dataDir: string
  rpcUrl: string
  deployment: CovenantDeployment
  da: DAClient
  daUrl: string | undefined
  inferenceUrl: string | undefined
  redisUrl: string | undefined
  account: LocalAccount | undefined
  client: CovenantClient
  /** The dev stack description, when one is running. */
  dev: DevStackInfo | undefined
}

export const devStackInfoSchema = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  rpcUrl: z.string().url(),
  daUrl: z.string().url().optional(),
  inferenceUrl: z.string().url().optional(),
  serviceUrl: z.string().url().optional(),
  deploymentFile: z.string(),
  chainId: z.number().int(),
})
export type DevStackInfo = z.infer<typeof devStackInfoSchema>

// the two live in errors.ts so that commands without a chain (keys) need not load this file
export { DEFAULT_DATA_DIR, EnvError } from './errors.js'

export function devStackFile(dataDir: string): string {
  return join(dataDir, 'dev.json')
}

/** The running dev stack described in `<dataDir>/dev.json`, if its process is alive. */
export function readDevStack(dataDir: string): DevStackInfo | undefined {
  const file = devStackFile(dataDir)
  if (!existsSync(file)) return undefined
  const parsed = devStackInfoSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')))
  if (!parsed.success) return undefined
  try {
    process.kill(parsed.data.pid, 0)
  } catch {
    return undefined
  }
  return parsed.data
}

export async function resolveEnv(options: EnvOptions = {}): Promise<CovenantEnv> {
  const o = withConfig(options)
  const dataDir = resolve(o.dataDir ?? process.env.COVENANT_DATA_DIR ?? DEFAULT_DATA_DIR)
  const dev = readDevStack(dataDir)
  const rpcUrl = o.rpc ?? process.env.COVENANT_RPC_URL ?? dev?.rpcUrl
  if (!rpcUrl) {
    throw new EnvError('No chain to talk to.', {
      metaMessages: [
        'Pass --rpc <url> (and --deployment <file>), set COVENANT_RPC_URL,',
        'or start a local stack in another terminal with `covenant dev`.',
      ],
    })
  }
  const deploymentFile = o.deployment ?? process.env.COVENANT_DEPLOYMENT ?? dev?.deploymentFile ?? join(dataDir, 'deployment.json')
  if (!existsSync(deploymentFile)) {
    throw new EnvError(`No deployment file at ${deploymentFile}.`, {
      metaMessages: ['Pass --deployment <file> with the contract addresses, or deploy with `covenant dev`.'],
    })
  }
  const deployment = readDeployment(deploymentFile)
  const daUrl = o.da ?? process.env.COVENANT_DA_URL ?? dev?.daUrl
  const da: DAClient = daUrl ? new EigenDAProxyClient({ url: daUrl }) : new LocalDAStore({ dir: join(dataDir, 'da') })
  const account = await resolveAccount(o, deployment)
  const client = createCovenantClient({ rpcUrl, deployment, account })
  return {
    dataDir,
    rpcUrl,
    deployment,
    da,
    daUrl,
    inferenceUrl: process.env.COVENANT_INFERENCE_URL ?? dev?.inferenceUrl,
    redisUrl: o.redis ?? process.env.REDIS_URL,
    account,
    client,
    dev,
  }
}

async function resolveAccount(o: EnvOptions, deployment: CovenantDeployment): Promise<LocalAccount | undefined> {
  const keystore = o.keystore ?? process.env.COVENANT_KEYSTORE
  if (keystore) {
    const password = process.env.COVENANT_PASSWORD
    if (password === undefined) {
      throw new EnvError('The keystore needs a password.', {
        metaMessages: ['Set COVENANT_PASSWORD in the environment (it is never printed or logged).'],
      })
    }
    return loadKeystore(keystore, { password })
  }
  if (o.devAccount !== undefined) {
    const index = Number(o.devAccount)
    if (!Number.isInteger(index) || index < 0 || index > 1000) {
      throw new EnvError(`--dev-account must be an integer from 0 to 1000, not "${o.devAccount}".`)
    }
    if (deployment.chainId !== 31337) {
      throw new EnvError(`--dev-account uses public, well-known keys: refused on chain ${deployment.chainId}.`, {
        metaMessages: ['Use --keystore <file> with COVENANT_PASSWORD on real chains.'],
      })
    }
    return mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index })
  }
  return undefined
}

/** Adds the infrastructure flags every chain-facing command takes. */
export function withEnvOptions<T extends { option(flags: string, description: string): T }>(cmd: T): T {
  return cmd
    .option('--data-dir <dir>', 'where local state lives (default ./.covenant)')
    .option('--rpc <url>', 'JSON-RPC URL of the chain (default: the local dev stack)')
    .option('--deployment <file>', 'contract addresses (default: the dev stack / .covenant/deployment.json)')
    .option('--da <url>', 'an eigenda-proxy (or `covenant da serve`) URL (default: the local DA store)')
    .option('--redis <url>', 'Redis URL for BullMQ queues (default: REDIS_URL, else in-process)')
    .option('--keystore <file>', 'encrypted keystore of the account to act as (password: COVENANT_PASSWORD)')
    .option('--dev-account <n>', "act as anvil's well-known dev account n (dev chains only)")
}

/** A decimal agent id from a flag or argument (`--agent`); anything else is an {@link EnvError}. */
export function parseAgentId(value: string, what = '--agent'): bigint {
  if (!/^(0|[1-9][0-9]{0,77})$/.test(value)) throw new EnvError(`${what} must be an agent id, a decimal number (got "${value}").`)
  return BigInt(value)
}

/** `--load-timeout <seconds>` (an option parser): how long an agent file may take to load, in ms. */
export function parseLoadTimeout(value: string): number {
  const seconds = Number(value)
  if (!/^\d{1,4}(\.\d{1,3})?$/.test(value) || !(seconds > 0) || seconds > 3_600) throw new InvalidArgumentError('expected seconds, a number above 0 and at most 3600')
  return Math.round(seconds * 1000)
}

/** An amount of ETH from a flag (`--stake 1.5`); anything parseEther refuses is an {@link EnvError}. */
export function parseEthFlag(value: string, what: string): bigint {
  if (!/^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$/.test(value)) throw new EnvError(`${what} must be an amount of ETH such as 1 or 0.5 (got "${value}").`)
  return parseEther(value)
}

/** An amount of WorkToken (CVW, 18 decimals) such as 1000 or 0.5, in wei. */
export function parseCvwFlag(value: string, what: string): bigint {
  if (!/^(0|[1-9][0-9]{0,30})(\.[0-9]{1,18})?$/.test(value)) throw new EnvError(`${what} must be an amount of CVW such as 1000 or 0.5 (got "${value}").`)
  return parseEther(value)
}
