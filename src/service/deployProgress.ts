import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { getAddress, type Hex } from 'viem'
import { z } from 'zod'
import { assertAgentName } from '../agent/agentName.js'
import { agentNameSchema } from '../agent/schemas.js'
import { writeFileAtomic } from '../trace/wal.js'
import { agentsDir } from './agentRecord.js'
import { pathInDataDir } from './dataDir.js'
import { AgentRecordError } from './errors.js'

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/)
  .transform((v) => getAddress(v))
const hex = z
  .string()
  .regex(/^0x[0-9a-fA-F]*$/)
  .transform((v) => v as Hex)
const key = z.object({ address, keystore: z.string() })

/**
 * What a deploy that has not finished has done so far, in
 * `<dataDir>/agents/<name>.deploy.json`, written atomically after each step. The same
 * deploy (same chain, registry, owner and manifest hash) run again resumes from it; it is
 * removed once the agent record is written.
 */
export const deployProgressSchema = z.object({
  version: z.literal(1),
  name: agentNameSchema,
  chainId: z.number().int(),
  agentRegistry: address,
  owner: address,
  manifestHash: hex,
  /** The manifest's DA commitment (step `manifest`). */
  manifestCommitment: hex,
  /** The code bundle the manifest registers and its DA commitment (step `manifest`), if any. */
  code: z.object({ hash: hex, commitment: hex }).nullable().optional(),
  /** The operator and signer keys (step `keys`). */
  keys: z.object({ operator: key, wallet: key }).optional(),
  /**
   * The owner's nonce for the next transaction of this deploy, noted before it is sent: a
   * re-run that finds it neither mined nor replaced waits instead of sending it twice.
   */
  nextNonce: z.number().int().nonnegative().optional(),
  /** Step `registered`. */
  agentId: z.string().regex(/^\d+$/).optional(),
  account: address.optional(),
  /** Steps `bonded` and `funded`. */
  bonded: z.boolean().default(false),
  funded: z.boolean().default(false),
  /** Step `identity`: the ERC-8004 id once minted, and whether its URI and wallet are set. */
  erc8004AgentId: z.string().regex(/^\d+$/).optional(),
  identityDone: z.boolean().default(false),
  startedAt: z.number().int(),
  updatedAt: z.number().int(),
})
export type DeployProgress = z.output<typeof deployProgressSchema>

/** `<dataDir>/agents/<name>.deploy.json` (not an agent record: names have no dots, so no agent is called `x.deploy`). */
export function deployProgressFile(dataDir: string, name: string): string {
  assertAgentName(name)
  return pathInDataDir(dataDir, 'agents', `${name}.deploy.json`)
}

export function readDeployProgress(dataDir: string, name: string): DeployProgress | undefined {
  const file = deployProgressFile(dataDir, name)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new AgentRecordError(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    raw = undefined
  }
  const parsed = deployProgressSchema.safeParse(raw)
  if (!parsed.success) {
    throw new AgentRecordError(`${file} is not a deploy progress record.`, {
      metaMessages: ['It is written by `covenant deploy` alone. Move it away to start the deploy over (check first that no agent was registered for it).'],
    })
  }
  return parsed.data
}

export async function writeDeployProgress(dataDir: string, progress: DeployProgress): Promise<string> {
  const file = deployProgressFile(dataDir, progress.name)
  mkdirSync(agentsDir(dataDir), { recursive: true })
  await writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify(progress, null, 2)}\n`))
  return file
}

export function removeDeployProgress(dataDir: string, name: string): void {
  rmSync(deployProgressFile(dataDir, name), { force: true })
}
