import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { jsonTextDepth } from './jsonDepth.js'

/** The depth of a parsed value, the slow way. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0
  const children = Array.isArray(v) ? v : Object.values(v)
  return 1 + children.reduce<number>((m, c) => Math.max(m, depthOf(c)), 0)
}

describe('jsonTextDepth', () => {
  test('1,000 generated JSON values: the depth read from the text is the depth of the value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), (v) => {
        const text = JSON.stringify(v)
        expect(jsonTextDepth(text, 100)).toBe(depthOf(v))
        expect(jsonTextDepth(JSON.stringify(v, null, 2), 100)).toBe(depthOf(v))
      }),
      { numRuns: 1_000 },
    )
  })

  test('brackets inside strings (escaped quotes included) do not count; counting stops past the limit', () => {
    expect(jsonTextDepth(JSON.stringify({ a: '[[[{{{', b: ['"]]]\\\\[[[', '\\"{'] }), 10)).toBe(2)
    expect(jsonTextDepth('"\\\\"[[[]]]', 10)).toBe(3)
    expect(jsonTextDepth(`${'['.repeat(1_000_000)}`, 48)).toBe(49)
    expect(jsonTextDepth(`${'['.repeat(48)}${']'.repeat(48)}`, 48)).toBe(48)
    expect(jsonTextDepth('', 48)).toBe(0)
  })
})
