import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { packBatchFields, unpackBatchFields } from './actions/batchFields.js'

const fieldsArb = fc.record({
  firstIndex: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  stepCount: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  committedAt: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  challengeWindow: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  callsCovered: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
})

describe('BatchCommitted fields word', () => {
  test('every field keeps its own bits at any value', () => {
    fc.assert(
      fc.property(fieldsArb, (f) => {
        const word = packBatchFields(f)
        expect(word < 1n << 256n).toBe(true)
        expect(unpackBatchFields(word)).toEqual(f)
      }),
      { numRuns: 2_000 },
    )
  })

  test('the layout TraceLog.packBatchFields writes: firstIndex high, callsCovered low', () => {
    // firstIndex 5, stepCount 3, committedAt 0x10, challengeWindow 600, callsCovered 9
    const word = 0x0000000000000005_00000003_0000000000000010_0000000000000258_00000009n
    expect(unpackBatchFields(word)).toEqual({ firstIndex: 5n, stepCount: 3, committedAt: 16n, challengeWindow: 600n, callsCovered: 9 })
  })
})
