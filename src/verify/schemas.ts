import type { Address, Hex } from 'viem'
import { z } from 'zod'

/**
 * Schemas of what the verifier reads from outside (signed batch headers, manifests) and
 * of the state it keeps in its data dir. Numbers that can exceed 2^53 are decimal strings.
 */

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 32-byte 0x-hex string') as unknown as z.ZodType<Hex, string>
const hexBytes = z.string().regex(/^0x(?:[0-9a-fA-F]{2})*$/, 'expected 0x-hex bytes') as unknown as z.ZodType<Hex, string>
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 20-byte 0x-hex address') as unknown as z.ZodType<Address, string>
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'expected a decimal integer string')
const uintLike = z
  .union([decimal, z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.bigint().nonnegative()])
  .transform((v) => BigInt(v))

// ---------------------------------------------------------------------------------------
// signed batch headers (what the committer appends to its headers file, or an endpoint serves)

export const signedHeaderSchema = z.object({
  header: z.object({
    agentId: uintLike,
    sequence: uintLike,
    merkleRoot: hex32,
    daCommitmentHash: hex32,
    stepCount: z.number().int().min(0).max(2 ** 32 - 1),
  }),
  signature: hexBytes,
})
export type SignedHeader = z.output<typeof signedHeaderSchema>

// ---------------------------------------------------------------------------------------
// what the verifier reads from an agent manifest

export const toleranceSchema = z.strictObject({
  maxAbsDiff: z.number().nonnegative().optional().describe('largest |expected - actual| of any output element'),
  argmax: z.boolean().optional().describe('the argmax of every output row must agree'),
})
export type Tolerance = z.output<typeof toleranceSchema>

const replayRuleSchema = z.object({
  mode: z.enum(['exact', 'tolerance', 'attested', 'none']).describe('how a verifier checks inferences of this model'),
  tolerance: toleranceSchema.optional(),
  /** Keys whose receipts count for this model (manifest v3); a receipt from any other is a fault. */
  signers: z.array(address).optional(),
  /** The container measurement receipts must name. */
  measurement: hex32.nullable().optional(),
})
export type ReplayRule = z.output<typeof replayRuleSchema>

/**
 * The part of an agent manifest the verifier uses: how each model's inferences are
 * checked. Everything else in the manifest is ignored here (but hashed: the bytes must
 * match the registered manifestHash). Accepted shapes, most specific first:
 *   `models: [{ digest, replay: 'exact' | 'none' | … | { mode, tolerance }, receiptSigners, measurement }]` (manifest v3),
 *   `replay: { mode, tolerance }` (every model),
 *   neither: exact.
 */
const modelEntrySchema = z.object({
  digest: hex32,
  replay: z.union([z.enum(['exact', 'tolerance', 'attested', 'none']), replayRuleSchema]).optional(),
  tolerance: toleranceSchema.nullable().optional(),
  /** manifest v3: the endpoint's receipt keys and measurement. */
  receiptSigners: z.array(address).optional(),
  measurement: hex32.nullable().optional(),
})
export const manifestReplaySchema = z.object({
  replay: z.union([z.enum(['exact', 'tolerance', 'attested', 'none']), replayRuleSchema]).optional(),
  tolerance: toleranceSchema.optional(),
  models: z.array(modelEntrySchema).optional(),
})
export type ManifestReplay = z.output<typeof manifestReplaySchema>

/**
 * The part of an agent manifest whole-action replay reads: the agent's code bundle
 * (src/agent/bundle.ts), by hash and DA commitment. Absent or null: registered without code.
 */
export const manifestCodeSchema = z.object({
  codeHash: hex32.nullable().optional(),
  codeBundle: z
    .object({
      format: z.string(),
      commitment: hexBytes,
      size: z.number().int().nonnegative().optional(),
    })
    .nullable()
    .optional(),
})
export type ManifestCode = { codeHash: Hex; commitment: Hex; format: string }

// ---------------------------------------------------------------------------------------
// the verifier's state file

const checkpointSchema = z.strictObject({ block: decimal, hash: hex32 })
export type Checkpoint = z.output<typeof checkpointSchema>

/** A batch whose blob could not be fetched yet; disputed as withheld after the grace period. */
const pendingBlobSchema = z.strictObject({
  agentId: decimal,
  sequence: decimal,
  daCommitment: hexBytes,
  merkleRoot: hex32,
  firstIndex: decimal,
  stepCount: z.number().int(),
  committedAt: z.number().int(),
  blockNumber: decimal,
  reason: z.string(),
})
export type PendingBlob = z.output<typeof pendingBlobSchema>

/** A transaction from an agent wallet not yet covered by a committed wallet step. */
const pendingTxSchema = z.strictObject({
  agentId: decimal,
  txHash: hex32,
  blockNumber: decimal,
  timestamp: z.number().int(),
  nonce: z.number().int(),
  from: address,
  to: address.nullable(),
  value: decimal,
  input: hexBytes,
  deadline: z.number().int(),
  /**
   * An AgentAccount call (its `Executed` event): covered when a committed wallet step has
   * this leaf by `deadline` (the call's cover-by time). Absent for a plain transaction
   * from a wallet key.
   */
  call: z.strictObject({ sequence: z.number().int().nonnegative(), leaf: hex32, stepIndex: z.number().int().nonnegative() }).optional(),
})
export type PendingTx = z.output<typeof pendingTxSchema>

/** A quorum dispute this verifier follows until it is settled. */
const trackedDisputeSchema = z.strictObject({
  disputeId: decimal,
  kind: z.enum(['InferenceFraud', 'DataWithheld', 'UntracedAction', 'SubjectiveClaim', 'InvalidBatch', 'TraceMismatch']),
  agentId: decimal,
  sequence: decimal,
  stepIndex: z.number().int(),
  subject: hex32,
  challenger: address,
  deadline: z.number().int(),
  blockNumber: decimal,
})
export type TrackedDispute = z.output<typeof trackedDisputeSchema>

/** A verdict this verifier signed: kept so that it never signs the other way after a restart. */
const signedVerdictSchema = z.strictObject({
  agentAtFault: z.boolean(),
  signature: hexBytes,
  reason: z.string(),
})
export type StoredVerdict = z.output<typeof signedVerdictSchema>

export const verifierStateSchema = z.strictObject({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  traceLog: address,
  disputeGame: address,
  /** The last block fully processed, and its hash (null before the first range). */
  cursor: checkpointSchema.nullable(),
  /** Recent processed blocks and their hashes, oldest first: where to rewind on a reorg. */
  checkpoints: z.array(checkpointSchema),
  /** Registered agents: wallet and registration block. */
  agents: z.record(decimal, z.strictObject({ wallet: address, registeredBlock: decimal, account: address.optional() })),
  pendingBlobs: z.array(pendingBlobSchema),
  pendingTxs: z.array(pendingTxSchema),
  disputes: z.array(trackedDisputeSchema),
  verdicts: z.record(decimal, signedVerdictSchema),
})
export type VerifierState = z.output<typeof verifierStateSchema>
