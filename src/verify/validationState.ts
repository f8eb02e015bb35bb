import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { Address, Hex } from 'viem'
import { writeFileAtomic } from '../trace/index.js'
import { VerifierStateError } from './errors.js'

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex, string>
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<Address, string>
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,77})$/)
const checkpoint = z.strictObject({ block: decimal, hash: hex32 })

const requestSchema = z.strictObject({
  /** the ERC-8004 agent id and the Covenant agent its agentWallet links it to */
  agentId: decimal,
  covenantAgentId: decimal,
  actionId: z.string(),
  blockNumber: decimal,
  status: z.enum(['pending', 'final', 'refused']),
  reason: z.string(),
  /** this validator's own check, once it could make one */
  verdict: z.enum(['honest', 'faulty', 'unverifiable', 'incomplete']).optional(),
  footprint: z
    .strictObject({
      steps: z.array(z.strictObject({ sequence: decimal, stepIndex: z.number().int().nonnegative() })),
      sequences: z.array(decimal),
      txHashes: z.array(hex32),
      callSequences: z.array(z.number().int().nonnegative()),
    })
    .optional(),
  finalAt: z.number().int().optional(),
  /** the last response sent */
  answered: z.strictObject({ response: z.number().int(), tag: z.string(), responseURI: z.string() }).optional(),
  attempts: z.number().int().nonnegative(),
  /** wall clock (ms) before which an unchecked action is not checked again */
  nextCheckAt: z.number().int().nonnegative(),
})
export type TrackedValidation = z.output<typeof requestSchema>

export const validationStateSchema = z.strictObject({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  validationRegistry: address,
  validator: address,
  cursor: checkpoint.nullable(),
  checkpoints: z.array(checkpoint),
  /** DisputeGame.disputeCount at the last evaluation: a change re-evaluates every open request */
  disputeCount: decimal,
  requests: z.record(hex32, requestSchema),
})
export type ValidationState = z.output<typeof validationStateSchema>

/**
 * `validation-responder.json` in the verifier's data dir (whose lock the node holds):
 * the ValidationRequest cursor and every request addressed to this validator with what
 * was answered, replaced atomically after each pass.
 */
export class ValidationStateStore {
  readonly path: string
  constructor(dir: string) {
    this.path = join(dir, 'validation-responder.json')
  }

  async load(expect: { chainId: number; validationRegistry: Address; validator: Address }): Promise<ValidationState> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { version: 1, ...expect, cursor: null, checkpoints: [], disputeCount: '0', requests: {} }
      }
      throw new VerifierStateError({ path: this.path, reason: 'cannot be read', cause: err })
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (cause) {
      throw new VerifierStateError({ path: this.path, reason: 'is not valid JSON', cause })
    }
    const parsed = validationStateSchema.safeParse(raw)
    if (!parsed.success) throw new VerifierStateError({ path: this.path, reason: `is damaged (${z.prettifyError(parsed.error).split('\n')[0]})` })
    const s = parsed.data
    if (
      s.chainId !== expect.chainId ||
      s.validationRegistry.toLowerCase() !== expect.validationRegistry.toLowerCase() ||
      s.validator.toLowerCase() !== expect.validator.toLowerCase()
    ) {
      throw new VerifierStateError({ path: this.path, reason: `answers for ${s.validator} on chain ${s.chainId} / ValidationRegistry ${s.validationRegistry}, not this node` })
    }
    return s
  }

  async save(state: ValidationState): Promise<void> {
    await writeFileAtomic(this.path, new TextEncoder().encode(`${JSON.stringify(state)}\n`))
  }
}
