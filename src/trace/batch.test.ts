import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MAX_BATCH_BYTES, batchRoot, decodeBatch, encodeBatch, splitIntoBatches } from './batch.js'
import { canonicalize, encodeStep } from './canonical.js'
import { TraceChain, genesisHead, verifyChain } from './chain.js'
import { BatchTooLargeError, CanonicalDecodingError, InvalidStepError, TraceChainError } from './errors.js'
import { stepLeaf } from './leaf.js'
import { merkleRoot } from './merkle.js'
import type { Batch, Step } from './schemas.js'
import { AGENT_ID, T0, sampleSteps } from './_fixtures.js'

const steps = sampleSteps(20)
const batch: Batch = { version: 1, agentId: AGENT_ID, sequence: 0, steps }
const text = (b: Uint8Array) => new TextDecoder().decode(b)
const bytes = (s: string) => new TextEncoder().encode(s)

describe('encodeBatch / decodeBatch', () => {
  test('round-trip; the blob is canonical JSON with keys agentId, sequence, steps, version', () => {
    const blob = encodeBatch(batch)
    expect(text(blob).startsWith(`{"agentId":"42","sequence":0,"steps":[${canonicalize(steps[0])},`)).toBe(true)
    expect(text(blob).endsWith('],"version":1}')).toBe(true)
    expect(decodeBatch(blob)).toEqual(batch)
    expect(batchRoot(batch)).toBe(merkleRoot(steps.map(stepLeaf)))
  })

  test('a later batch continues the chain from the previous head', () => {
    const first = { ...batch, steps: steps.slice(0, 8) }
    const second = { ...batch, sequence: 1, steps: steps.slice(8) }
    const { head } = verifyChain(first.steps)
    expect(decodeBatch(encodeBatch(second), { start: head })).toEqual(second)
    expect(() => decodeBatch(encodeBatch(second), { start: genesisHead(AGENT_ID) })).toThrow(TraceChainError)
  })

  test('rejects batches that are empty, mixed, broken, unknown-versioned or too large', () => {
    expect(() => encodeBatch({ ...batch, steps: [] })).toThrow(InvalidStepError)
    expect(() => encodeBatch({ ...batch, version: 2 } as never)).toThrow(InvalidStepError)
    expect(() => encodeBatch({ ...batch, agentId: '7' })).toThrow(TraceChainError)
    expect(() => encodeBatch({ ...batch, steps: [steps[0]!, steps[2]!] })).toThrow(TraceChainError)
    expect(() => encodeBatch(batch, { maxBytes: 1000 })).toThrow(BatchTooLargeError)
    const blob = encodeBatch(batch)
    expect(() => decodeBatch(blob, { maxBytes: blob.length - 1 })).toThrowErrorMatchingInlineSnapshot(`
      [BatchTooLargeError: The batch blob is 7303 bytes, more than the limit of 7302 bytes.

      Split the steps with splitIntoBatches(steps, maxBytes); a single step larger than the limit must be made smaller
      (store large tool results or model outputs by hash and keep the hash in the step).
      Docs: src/trace/README.md#batches]
    `)
    expect(() => decodeBatch(bytes(`${text(blob)}\n`))).toThrow(CanonicalDecodingError)
    expect(() => decodeBatch(bytes(text(blob).replace('"version":1', '"version":1,"aa":0')))).toThrow(CanonicalDecodingError)
    expect(() => decodeBatch(bytes(text(blob).replace('"version":1', '"version":1,"zz":0')))).toThrow(InvalidStepError)
  })

  test('decodeBatch: 3,000 malformed blobs give only typed errors and never a batch that fails to chain', () => {
    const blob = encodeBatch({ ...batch, steps: steps.slice(0, 6) })
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), fc.boolean(), fc.nat())
      .map(([flips, cut, at]) => {
        const out = Uint8Array.from(blob)
        for (const [i, v] of flips) out[i % out.length] = v
        return cut ? out.subarray(0, at % out.length) : out
      })
    // Structurally valid JSON around a wrong field, so validation, not parsing, has to catch it.
    const shuffled = fc
      .record({
        version: fc.oneof(fc.constant(1), fc.jsonValue()),
        agentId: fc.oneof(fc.constant(AGENT_ID), fc.string()),
        sequence: fc.oneof(fc.nat(), fc.double(), fc.string()),
        steps: fc.oneof(
          fc.shuffledSubarray(steps.slice(0, 6), { minLength: 0 }),
          fc.array(fc.jsonValue(), { maxLength: 3 }),
        ),
      })
      .map((v) => {
        try {
          return bytes(canonicalize(v))
        } catch {
          return bytes(JSON.stringify(v))
        }
      })
    for (const arb of [fc.uint8Array({ maxLength: 400 }), mutated, shuffled]) {
      fc.assert(
        fc.property(arb, (input) => {
          const copy = Uint8Array.from(input)
          try {
            const decoded = decodeBatch(input)
            expect(encodeBatch(decoded)).toEqual(input)
            verifyChain(decoded.steps)
          } catch (err) {
            expect(err).toBeInstanceOf(BaseError)
          }
          expect(input).toEqual(copy)
        }),
        { numRuns: 1000 },
      )
    }
  })
})

describe('splitIntoBatches', () => {
  test('groups fit maxBytes with any sequence number, keep order, and are greedy', () => {
    const all = sampleSteps(60)
    for (const maxBytes of [2_500, 4_000, 10_000, 1_000_000]) {
      const groups = splitIntoBatches(all, maxBytes)
      expect(groups.flat()).toEqual(all)
      groups.forEach((group, i) => {
        const size = encodeBatch({ version: 1, agentId: AGENT_ID, sequence: Number.MAX_SAFE_INTEGER, steps: group }, { maxBytes }).length
        expect(size).toBeLessThanOrEqual(maxBytes)
        const next = groups[i + 1]?.[0]
        if (next) {
          const bigger = [...group, next]
          expect(() =>
            encodeBatch({ version: 1, agentId: AGENT_ID, sequence: Number.MAX_SAFE_INTEGER, steps: bigger }, { maxBytes }),
          ).toThrow(BatchTooLargeError)
        }
      })
    }
    expect(splitIntoBatches([], 100)).toEqual([])
  })

  test('more than 16 MiB of steps become several blobs of at most 16 MiB', () => {
    const chain = new TraceChain(genesisHead(AGENT_ID))
    const big: Step[] = []
    for (let i = 0; i < 9; i++) {
      big.push(chain.append({ kind: 'output', actionId: 'bulk', timestamp: T0 + i, result: 'x'.repeat(2 * 1024 * 1024) }).step)
    }
    const groups = splitIntoBatches(big)
    expect(groups.map((g) => g.length)).toEqual([7, 2])
    for (const group of groups) {
      expect(encodeBatch({ version: 1, agentId: AGENT_ID, sequence: 0, steps: group }).length).toBeLessThanOrEqual(MAX_BATCH_BYTES)
    }
  })

  test('batches are written up to what a 16 MiB EigenDA blob holds, and read up to 16 MiB (batches written before the limit moved)', () => {
    expect(MAX_BATCH_BYTES).toBe(16_252_897)
    const chain = new TraceChain(genesisHead(AGENT_ID))
    // one step whose batch is between the two limits
    const step = chain.append({ kind: 'output', actionId: 'bulk', timestamp: T0, result: 'x'.repeat(MAX_BATCH_BYTES) }).step
    const old: Batch = { version: 1, agentId: AGENT_ID, sequence: 0, steps: [step] }
    expect(() => encodeBatch(old)).toThrow(BatchTooLargeError)
    const blob = encodeBatch(old, { maxBytes: 16 * 1024 * 1024 })
    expect(blob.length).toBeGreaterThan(MAX_BATCH_BYTES)
    expect(decodeBatch(blob).steps).toHaveLength(1)
    expect(() => decodeBatch(blob, { maxBytes: MAX_BATCH_BYTES })).toThrow(BatchTooLargeError)
  })

  test('a step that cannot fit alone is an error', () => {
    const [one] = sampleSteps(1)
    expect(() => splitIntoBatches([one!], encodeStep(one!).length)).toThrow(BatchTooLargeError)
  })
})
