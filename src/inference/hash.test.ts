import { describe, expect, test } from 'vitest'
import { canonicalJson, hashJson, sha256Hex } from './hash.js'

/** The canonical form written the slow, obvious way (the reference both passes must match). */
function careful(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(careful).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${careful(o[k])}`).join(',')}}`
  }
  return typeof v === 'number' && Object.is(v, -0) ? '0' : JSON.stringify(v)
}

describe('canonical JSON and hashes', () => {
  test('keys sorted, no whitespace, ECMAScript numbers, undefined members dropped', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: -0, e: 1e21 })).toBe('{"a":[true,null,"x"],"b":1,"d":0,"e":1e+21}')
  })
  test('values JSON cannot carry are rejected', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/no JSON form/)
    expect(() => canonicalJson({ x: 1n })).toThrow(/bigint/)
    expect(() => canonicalJson(new Date())).toThrow(/plain objects/)
    const cyc: Record<string, unknown> = {}
    cyc['self'] = cyc
    expect(() => canonicalJson(cyc)).toThrow(/cycle/)
  })
  test('the fast pass and the careful one write the same string; what the fast one refuses, the careful one names', () => {
    const values: unknown[] = [
      { model: 'm', messages: [{ role: 'user', content: 'é\u2028"\\\n' }], temperature: 0, seed: -0, n: [1.5e-7, 2 ** 60, -3], tools: null, z: undefined },
      [[], {}, [[[]]], { '': 1, ' ': 2, A: 3, a: 4, é: 5, '\ud83d\ude00': 6, '10': 7, '9': 8 }],
      Object.assign(Object.create(null) as object, { b: true, a: false }),
      'plain',
      42,
    ]
    let deep: unknown = 'leaf'
    for (let i = 0; i < 600; i++) deep = [deep] // past the fast pass's depth: the careful pass writes it
    values.push(deep)
    for (const v of values) expect(canonicalJson(v)).toBe(careful(v))
    expect(() => canonicalJson([1, , 3])).toThrow(/\$\[1\]: a undefined has no JSON form/)
    expect(() => canonicalJson({ a: [{ f: () => 1 }] })).toThrow(/\$\.a\[0\]\.f: a function has no JSON form/)
    expect(() => canonicalJson({ a: { b: Number.POSITIVE_INFINITY } })).toThrow(/\$\.a\.b: Infinity has no JSON form/)
  })
  test('sha256 as 0x + 64 lowercase hex', () => {
    expect(sha256Hex('')).toBe('0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(hashJson({ b: 2, a: 1 })).toBe(hashJson({ a: 1, b: 2 }))
  })
})
