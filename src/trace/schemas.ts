import type { Hex } from 'viem'
import { z } from 'zod'
import { hex32Schema, replayRecordSchema } from '../inference/schemas.js'

/**
 * Trace steps. A step is one thing an agent did, in the order it did it: the task it got
 * (`input`), a model call (`inference`), a tool call (`tool`), a transaction it is about to
 * sign (`wallet`) and the answer it gave (`output`).
 *
 * Every schema is strict (unknown keys are rejected, not dropped): a step's hash covers its
 * bytes, so a field that validation would silently remove would change what was committed.
 * Hex strings are lowercase so that one step has exactly one canonical encoding.
 *
 * stepFits.ts restates these rules by hand for the WAL's fast path: change both together
 * (stepFits.test.ts compares them).
 */

/** The Solidity `KIND_*` constants of `LeafEncoding.sol`. */
export const STEP_KINDS = { input: 0, inference: 1, tool: 2, wallet: 3, output: 4 } as const
export type StepKind = keyof typeof STEP_KINDS

const UINT256_MAX = 2n ** 256n - 1n

/** A uint256 written as a decimal string without leading zeros (JSON has no safe big integers). */
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/
export const uint256StringSchema = z
  .string()
  .regex(DECIMAL, 'expected a decimal integer string without leading zeros')
  // zod runs every check even after one fails: this one must not assume the regex held
  .refine((s) => !DECIMAL.test(s) || BigInt(s) <= UINT256_MAX, 'does not fit in uint256')

/** Integers that must survive JSON and Solidity `uint64`: 0 ≤ n ≤ 2^53 − 1. */
export const safeUintSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

export const bytes32Schema = hex32Schema as unknown as z.ZodType<Hex, string>

export const addressSchema = z
  .string()
  .regex(/^0x[0-9a-f]{40}$/, 'expected a lowercase 0x-prefixed 20-byte address') as unknown as z.ZodType<Hex, string>

export const hexBytesSchema = z
  .string()
  .regex(/^0x(?:[0-9a-f]{2})*$/, 'expected lowercase 0x-prefixed hex of whole bytes') as unknown as z.ZodType<Hex, string>

/** Any JSON value (finite numbers only). */
export const jsonValueSchema = z.json()
export type JsonValue = z.infer<typeof jsonValueSchema>

/**
 * Fields every step has. `agentId`, `index` and `prevHash` place the step in its agent's
 * hash chain and are hashed into the leaf directly; `actionId` and `timestamp` belong to the
 * step's payload (see leaf.ts).
 */
const commonFields = {
  agentId: uint256StringSchema.describe('the agent id in AgentRegistry, decimal'),
  index: safeUintSchema.describe("the step's position in the agent's whole trace, from 0, gapless"),
  prevHash: bytes32Schema.describe('leaf of the previous step of this agent; 32 zero bytes for step 0'),
  actionId: z.string().min(1).max(256).describe('the task/action this step belongs to'),
  timestamp: safeUintSchema.describe('when the step was taken, in milliseconds since the Unix epoch'),
}

export const inputStepSchema = z.strictObject({
  kind: z.literal('input'),
  ...commonFields,
  task: jsonValueSchema.describe('the task exactly as the agent received it'),
})

export const inferenceStepSchema = z.strictObject({
  kind: z.literal('inference'),
  ...commonFields,
  record: replayRecordSchema.describe('what ran, on what, with what result, and how to replay it'),
})

/**
 * One read of the outside world a `pay` / `call` tool made (`ToolContext.read`): its label and
 * the JSON it answered, or what it threw. Recorded so that a replay answers it again instead
 * of reading the world twice.
 */
export const toolReadSchema = z.union([
  z.strictObject({ label: z.string().min(1).max(128), value: jsonValueSchema }),
  z.strictObject({ label: z.string().min(1).max(128), error: z.strictObject({ name: z.string().max(256), message: z.string().max(65_536) }) }),
])

/** A tool call's reads, in order; absent when it made none (every step written before reads existed). */
const toolReads = z.array(toolReadSchema).min(1).max(64).optional().describe("the tool's reads of the outside world, in order")

export const toolOutcomeSchema = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('ok'), result: jsonValueSchema, reads: toolReads }),
  z.strictObject({
    status: z.literal('error'),
    error: z.strictObject({ name: z.string().max(256), message: z.string().max(65_536) }),
    reads: toolReads,
  }),
])

export const toolStepSchema = z.strictObject({
  kind: z.literal('tool'),
  ...commonFields,
  tool: z.string().min(1).max(256).describe('the tool name'),
  args: z.record(z.string(), jsonValueSchema).describe("the arguments, after validation by the tool's zod schema"),
  outcome: toolOutcomeSchema.describe('the result, or the error the tool threw'),
})

/**
 * A transaction the wallet is about to sign: exactly the payload of the Solidity
 * `WalletStep` (CovenantTypes.sol). The transaction hash is unknown before signing; it goes
 * into a later step.
 */
export const walletStepSchema = z.strictObject({
  kind: z.literal('wallet'),
  ...commonFields,
  chainId: uint256StringSchema,
  from: addressSchema,
  to: addressSchema,
  value: uint256StringSchema.describe('native value in wei, decimal'),
  data: hexBytesSchema.describe('calldata; 0x for a plain transfer'),
  nonce: safeUintSchema,
  policyVersion: z.number().int().min(0).max(2 ** 32 - 1),
})

export const outputStepSchema = z.strictObject({
  kind: z.literal('output'),
  ...commonFields,
  result: jsonValueSchema.describe('the answer the agent gave for the action'),
})

export const stepSchema = z.discriminatedUnion('kind', [
  inputStepSchema,
  inferenceStepSchema,
  toolStepSchema,
  walletStepSchema,
  outputStepSchema,
])

export type InputStep = z.infer<typeof inputStepSchema>
export type InferenceStep = z.infer<typeof inferenceStepSchema>
export type ToolStep = z.infer<typeof toolStepSchema>
export type ToolOutcome = z.infer<typeof toolOutcomeSchema>
export type ToolRead = z.infer<typeof toolReadSchema>
export type WalletStep = z.infer<typeof walletStepSchema>
export type OutputStep = z.infer<typeof outputStepSchema>
export type Step = z.infer<typeof stepSchema>

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
/** A step before it is placed in the chain: `agentId`, `index` and `prevHash` are filled in by TraceChain / TraceWal. */
export type StepBody = DistributiveOmit<Step, 'agentId' | 'index' | 'prevHash'>

/** The version-1 batch blob: consecutive steps of one agent, canonically encoded. */
export const batchSchema = z.strictObject({
  version: z.literal(1),
  agentId: uint256StringSchema,
  sequence: safeUintSchema.describe('the batch sequence number in TraceLog, from 0, gapless'),
  steps: z.array(stepSchema).min(1),
})
export type Batch = z.infer<typeof batchSchema>
