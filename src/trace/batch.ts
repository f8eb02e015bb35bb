import type { Hex } from 'viem'
import { MAX_JSON_DEPTH, canonicalBytes, decodeCanonical, encodeStep, parseExact } from './canonical.js'
import { type ChainHead, verifyChain } from './chain.js'
import { BatchTooLargeError, CanonicalDecodingError, TraceChainError } from './errors.js'
import { merkleRoot } from './merkle.js'
import type { EncodedStep } from './builtStep.js'
import { type Batch, batchSchema, type Step } from './schemas.js'

/**
 * The batch blob, version 1: `{ version: 1, agentId, sequence, steps }` as canonical JSON
 * (keys sorted: agentId, sequence, steps, version). The steps are consecutive steps of one
 * agent's chain; the blob goes to DA as is and its Merkle root over the step leaves goes
 * to `TraceLog.commit`.
 */

/**
 * The largest batch blob written: 16,252,897 bytes, the most a 16 MiB EigenDA blob (the
 * proxy's default `max-blob-length`) holds once encoded — 31 payload bytes in every 32,
 * after a 32-byte header. The same number as src/da's `MAX_BLOB_BYTES` (a test there pins it).
 */
export const MAX_BATCH_BYTES = (2 ** 19 - 1) * 31
/**
 * The largest batch blob read: 16 MiB, the limit batches were written under before it moved
 * from the payload to the encoded blob, so that batches committed then still decode.
 */
const MAX_BATCH_READ_BYTES = 16 * 1024 * 1024

const encoder = new TextEncoder()

/**
 * A batch nests its steps two levels down (`{ steps: [step] }`), so its limit is the step
 * limit plus two: every step the WAL accepts fits in a batch, and a verifier decodes it.
 */
const BATCH_MAX_DEPTH = MAX_JSON_DEPTH + 2

export type EncodeBatchOptions = {
  /** @defaultValue {@link MAX_BATCH_BYTES} */
  maxBytes?: number | undefined
}

export type DecodeBatchOptions = {
  /** @defaultValue 16 MiB (batches written before the limit became {@link MAX_BATCH_BYTES} decode too) */
  maxBytes?: number | undefined
  /** Where the batch must continue the agent's chain (the head after the previous batch). */
  start?: ChainHead | undefined
}

function checkChain(batch: Batch, start: ChainHead | undefined) {
  return verifyChain(batch.steps, { agentId: batch.agentId, start })
}

/** Validates `batch` (schema, one agent, unbroken chain, size) and returns its blob bytes. */
export function encodeBatch(batch: Batch, options: EncodeBatchOptions = {}): Uint8Array {
  const maxBytes = options.maxBytes ?? MAX_BATCH_BYTES
  const { value, text } = parseExact(batchSchema, batch, 'batch', undefined, BATCH_MAX_DEPTH)
  checkChain(value, undefined)
  const bytes = encoder.encode(text)
  if (bytes.length > maxBytes) throw new BatchTooLargeError({ size: bytes.length, maxBytes, what: 'The encoded batch' })
  return bytes
}

/**
 * Decodes a batch blob, rejecting anything malformed with a typed error: too large, not
 * canonical JSON, unknown or invalid fields, steps of another agent, a broken chain (or one
 * that does not continue `start`).
 */
export function decodeBatch(bytes: Uint8Array, options: DecodeBatchOptions = {}): Batch {
  const maxBytes = options.maxBytes ?? MAX_BATCH_READ_BYTES
  if (!(bytes instanceof Uint8Array)) throw new CanonicalDecodingError({ reason: 'expected a Uint8Array' })
  if (bytes.length > maxBytes) throw new BatchTooLargeError({ size: bytes.length, maxBytes, what: 'The batch blob' })
  const batch = decodeCanonical(batchSchema, bytes, 'batch', BATCH_MAX_DEPTH)
  checkChain(batch, options.start)
  return batch
}

export function batchRoot(batch: Batch): Hex {
  return merkleRoot(checkChain(batch, undefined).leaves)
}

/**
 * Splits consecutive steps into groups whose batch blob (with any sequence number) is at
 * most `maxBytes`, in order. Throws {@link BatchTooLargeError} for a step that cannot fit
 * even alone.
 */
export function splitIntoBatches(steps: readonly Step[], maxBytes: number = MAX_BATCH_BYTES): Step[][] {
  if (steps.length === 0) return []
  // The envelope with the longest possible sequence number; each step adds its bytes and a comma.
  const envelope = canonicalBytes({
    agentId: steps[0]?.agentId,
    sequence: Number.MAX_SAFE_INTEGER,
    steps: [],
    version: 1,
  }).length
  const groups: Step[][] = []
  let group: Step[] = []
  let size = envelope
  for (const step of steps) {
    const bytes = encodeStep(step).length
    if (envelope + bytes > maxBytes) {
      throw new BatchTooLargeError({ size: envelope + bytes, maxBytes, what: `Step ${step.index} alone in a batch` })
    }
    const added = bytes + (group.length > 0 ? 1 : 0)
    if (size + added > maxBytes) {
      groups.push(group)
      group = []
      size = envelope
      size += bytes
    } else {
      size += added
    }
    group.push(step)
  }
  groups.push(group)
  return groups
}

/**
 * The blob bytes and Merkle root of a batch of steps already encoded and hashed (the WAL's
 * {@link EncodedStep}s: checked when they were appended, or when read back from disk), built
 * from those bytes and leaves instead of encoding, checking and hashing every step again.
 * The same bytes and root as {@link encodeBatch} and {@link batchRoot} of the same batch
 * (batch.test.ts checks it on random batches). Only the envelope and the chain links are
 * checked here: one agent, consecutive indices, each prevHash the leaf before it.
 */
export function encodeEncodedBatch(
  agentId: string,
  sequence: number,
  steps: readonly EncodedStep[],
  options: EncodeBatchOptions = {},
): { blob: Uint8Array; root: Hex } {
  const maxBytes = options.maxBytes ?? MAX_BATCH_BYTES
  if (steps.length === 0) throw new TraceChainError({ index: 0, reason: 'a batch needs at least one step' })
  for (const [i, e] of steps.entries()) {
    const prev = steps[i - 1]
    if (e.step.agentId !== agentId || (prev && (e.step.index !== prev.step.index + 1 || e.step.prevHash !== prev.leaf))) {
      throw new TraceChainError({ index: e.step.index, reason: `the step does not continue the batch's chain of agent ${agentId}` })
    }
  }
  const head = encoder.encode(`{"agentId":${JSON.stringify(agentId)},"sequence":${JSON.stringify(sequence)},"steps":[`)
  const tail = encoder.encode('],"version":1}')
  let size = head.length + tail.length + steps.length - 1
  for (const e of steps) size += e.bytes.length
  if (size > maxBytes) throw new BatchTooLargeError({ size, maxBytes, what: 'The encoded batch' })
  const blob = new Uint8Array(size)
  blob.set(head, 0)
  let at = head.length
  for (const [i, e] of steps.entries()) {
    if (i > 0) blob[at++] = 0x2c // ','
    blob.set(e.bytes, at)
    at += e.bytes.length
  }
  blob.set(tail, at)
  return { blob, root: merkleRoot(steps.map((e) => e.leaf)) }
}

/** How many of `steps` (from the first) fit in one batch blob of at most `maxBytes`, with any sequence number. */
export function encodedStepsThatFit(agentId: string, steps: readonly EncodedStep[], maxBytes: number = MAX_BATCH_BYTES): number {
  const envelope = canonicalBytes({ agentId, sequence: Number.MAX_SAFE_INTEGER, steps: [], version: 1 }).length
  let size = envelope
  for (const [i, e] of steps.entries()) {
    const added = e.bytes.length + (i > 0 ? 1 : 0)
    if (size + added > maxBytes) {
      if (i === 0) throw new BatchTooLargeError({ size: envelope + e.bytes.length, maxBytes, what: `Step ${e.step.index} alone in a batch` })
      return i
    }
    size += added
  }
  return steps.length
}
