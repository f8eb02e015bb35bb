import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { assertAgentName } from '../agent/agentName.js'
import { agentNameSchema } from '../agent/schemas.js'
import { writeFileAtomic } from '../trace/wal.js'
import { pathInDataDir } from './dataDir.js'
import { AgentRecordError } from './errors.js'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
const hex = z.string().regex(/^0x[0-9a-fA-F]*$/)

/** What `covenant deploy` remembers about an agent it deployed (no secrets: keystores are encrypted files). */
export const agentRecordSchema = z.object({
  version: z.literal(1),
  name: agentNameSchema,
  agentId: z.string().regex(/^\d+$/),
  chainId: z.number().int(),
  agentRegistry: address,
  manifestHash: hex,
  manifestCommitment: hex,
  /** The agent's code bundle (keccak256 = the manifest's codeHash) and its DA commitment; null or absent: registered without code. */
  code: z.object({ hash: hex, commitment: hex }).nullable().optional(),
  policyVersion: z.number().int().positive(),
  pendingVersion: z.number().int().nullable(),
  source: z.string().nullable(),
  owner: address,
  operator: z.object({ address, keystore: z.string() }),
  wallet: z.object({ address, keystore: z.string() }),
  deployedAt: z.number().int(),
  /** The agent's ERC-8004 identity (IdentityRegistry token id), when the deployment has the registries. */
  erc8004AgentId: z.string().regex(/^\d+$/).optional(),
})
export type AgentRecord = z.infer<typeof agentRecordSchema>

export function agentsDir(dataDir: string): string {
  return join(dataDir, 'agents')
}

/** `<dataDir>/agents/<name>.json`. Throws InvalidAgentNameError for a name outside the one rule. */
export function agentRecordFile(dataDir: string, name: string): string {
  assertAgentName(name)
  return pathInDataDir(dataDir, 'agents', `${name}.json`)
}

/** `<dataDir>/agents/<name>/`, where the agent's keystores live. Throws InvalidAgentNameError for a name outside the one rule. */
export function agentKeyDir(dataDir: string, name: string): string {
  assertAgentName(name)
  return pathInDataDir(dataDir, 'agents', name)
}

export function readAgentRecord(dataDir: string, name: string): AgentRecord | undefined {
  const file = agentRecordFile(dataDir, name)
  if (!existsSync(file)) return undefined
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new AgentRecordError(`${file} is not an agent record${code ? ` (${code})` : ' (not JSON)'}.`)
  }
  const parsed = agentRecordSchema.safeParse(raw)
  if (!parsed.success) throw new AgentRecordError(`${file} is not an agent record.`, { details: z.prettifyError(parsed.error) })
  return parsed.data
}

export function writeAgentRecord(dataDir: string, record: AgentRecord): string {
  const file = agentRecordFile(dataDir, record.name)
  mkdirSync(agentsDir(dataDir), { recursive: true })
  writeFileSync(file, JSON.stringify(record, null, 2), { mode: 0o600 })
  return file
}

/** {@link writeAgentRecord}, atomically (temp file, fsync, rename): a crash leaves the old record or the new one. */
export async function saveAgentRecord(dataDir: string, record: AgentRecord): Promise<string> {
  const file = agentRecordFile(dataDir, agentRecordSchema.parse(record).name)
  mkdirSync(agentsDir(dataDir), { recursive: true })
  await writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(record, null, 2)))
  return file
}

export function listAgentRecords(dataDir: string): AgentRecord[] {
  const dir = agentsDir(dataDir)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.deploy.json'))
    .flatMap((f) => {
      const r = agentRecordSchema.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')))
      return r.success ? [r.data] : []
    })
}
