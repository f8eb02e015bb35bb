/**
 * Every step the WAL accepts must fit in a batch, or the committer stalls for good on it
 * (and every later step of the agent stays uncommitted). Generated steps whose task, tool
 * arguments or tool result nest from 0 to 70 levels: each one is either refused as a step
 * (a typed error, nothing appended) or appended to a real WAL and then encoded in a batch
 * that decodes back to the same steps under the same root.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { BaseError } from '../../src/errors/base.js'
import { batchRoot, decodeBatch, encodeBatch, MAX_JSON_DEPTH, TraceWal, type StepBody } from '../../src/trace/index.js'

const RUNS = 1_000
let dir: string
let wal: TraceWal

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-prop-depth-'))
  wal = await TraceWal.open({ dir, agentId: '3' })
})
afterAll(async () => {
  await wal?.close()
  rmSync(dir, { recursive: true, force: true })
})

const MAX = MAX_JSON_DEPTH + 6
const shape = fc
  .tuple(fc.integer({ min: 0, max: MAX }), fc.array(fc.constantFrom('array', 'object'), { minLength: MAX, maxLength: MAX }))
  .map(([depth, kinds]) => kinds.slice(0, depth))
const leaf = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null))
const nestedValue = fc.tuple(shape, leaf, fc.string({ minLength: 1, maxLength: 4 })).map(([levels, v, key]) => {
  let out: unknown = v
  for (const l of levels) out = l === 'array' ? [out] : { [key]: out }
  return { value: out, depth: levels.length }
})
const body = fc.tuple(fc.constantFrom('input', 'toolArgs', 'toolResult', 'output'), nestedValue).map(([where, { value, depth }]): { body: StepBody; depth: number } => {
  const base = { actionId: 'a-1', timestamp: 1_700_000_000_000 }
  switch (where) {
    case 'input':
      return { body: { kind: 'input', ...base, task: value as never }, depth }
    case 'toolArgs':
      return { body: { kind: 'tool', ...base, tool: 't', args: { x: value } as never, outcome: { status: 'ok', result: null } }, depth }
    case 'toolResult':
      return { body: { kind: 'tool', ...base, tool: 't', args: {}, outcome: { status: 'ok', result: value as never } }, depth }
    default:
      return { body: { kind: 'output', ...base, result: value as never }, depth }
  }
})

test(`${RUNS} steps nested 0–${MAX} deep: refused as a step, or appended and batched`, async () => {
  let appended = 0
  let refused = 0
  await fc.assert(
    fc.asyncProperty(body, async ({ body: b }) => {
      const before = wal.head
      let step
      try {
        ;({ step } = await wal.appendNext(b))
      } catch (err) {
        expect(err).toBeInstanceOf(BaseError)
        expect((err as Error).name).toMatch(/^(CanonicalEncodingError|InvalidStepError|WalAppendError)$/)
        expect(wal.head).toEqual(before) // nothing appended
        refused++
        return
      }
      appended++
      const batch = { version: 1 as const, agentId: '3', sequence: 0, steps: [step] }
      const blob = encodeBatch(batch)
      const back = decodeBatch(blob)
      expect(back.steps).toEqual([step])
      expect(batchRoot(back)).toBe(batchRoot(batch))
    }),
    { numRuns: RUNS },
  )
  expect(appended).toBeGreaterThan(100)
  expect(refused).toBeGreaterThan(10)
  // the WAL holds exactly what was appended, readable
  expect((await wal.readAll()).steps).toHaveLength(appended)
})
