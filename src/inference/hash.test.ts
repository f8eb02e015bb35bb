import { describe, expect, test } from 'vitest'
import { canonicalJson, hashJson, sha256Hex } from './hash.js'

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
  test('sha256 as 0x + 64 lowercase hex', () => {
    expect(sha256Hex('')).toBe('0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(hashJson({ b: 2, a: 1 })).toBe(hashJson({ a: 1, b: 2 }))
  })
})
