import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { featurizeModeration, moderationFeatures } from './featurize.js'
import { SHIPPED_MODELS_DIR } from './modelStore.js'
import { fnv1a32, shape, tokenize } from './text.js'
import fc from 'fast-check'

type Fixture = { text: string; nonzero: Array<[number, number]> }
const fixtures = JSON.parse(readFileSync(`${SHIPPED_MODELS_DIR}/moderation/fixtures.json`, 'utf8')) as Fixture[]

describe('text helpers (twins of models/lib/covenant_text.py)', () => {
  test('fnv1a32', () => {
    expect(fnv1a32('hello')).toBe(0x4f9f2cab)
    expect(fnv1a32('')).toBe(0x811c9dc5)
    // the ASCII fast path and the UTF-8 path agree: non-ASCII text hashes its UTF-8 bytes
    const bytewise = (s: string) => [...new TextEncoder().encode(s)].reduce((h, b) => Math.imul(h ^ b, 0x01000193) >>> 0, 0x811c9dc5)
    for (const s of ['hello', 'c3:é a', 'w:🚀', 'abc\u007f', 'x\u0080', 'naïve café']) expect(fnv1a32(s)).toBe(bytewise(s))
  })
  test('tokenize keeps identifiers whole and drops whitespace', () => {
    expect(tokenize('Invoice INV-2041: pay 0.25 ETH to 0x5aAeb.')).toEqual(['Invoice', 'INV-2041', ':', 'pay', '0.25', 'ETH', 'to', '0x5aAeb', '.'])
    expect(tokenize('a 🚀b')).toEqual(['a', '🚀', 'b'])
  })
  test('shape', () => {
    expect(shape('INV-2041')).toBe('A-9')
    expect(shape('0.25')).toBe('9.9')
  })
})

describe('featurizeModeration matches the Python featurizer the model was trained on', () => {
  test.each(fixtures.map((f, i) => [i, f] as const))('fixture %i', (_i, f) => {
    const counts = featurizeModeration(f.text)
    const nonzero: Array<[number, number]> = []
    counts.forEach((c, i) => c && nonzero.push([i, c]))
    expect(nonzero).toEqual(f.nonzero)
  })
})

describe('featurizeModeration hashes as it reads', () => {
  test('same counts as hashing the feature strings (any text, non-ASCII and astral included)', () => {
    const bySt = (text: string) => {
      const counts = new Float32Array(4096)
      for (const f of moderationFeatures(text)) counts[fnv1a32(f) % 4096]! += 1
      return counts
    }
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom('a', 'B', ' ', '\n', '.', '-', 'é', 'ß', '🚀', '中'), fc.string({ unit: 'grapheme', maxLength: 1 })), maxLength: 80 }), (text) => {
        expect([...featurizeModeration(text)]).toEqual([...bySt(text)])
      }),
      { numRuns: 300 },
    )
  })
})
