import { createHash } from 'node:crypto'
import type { Hex } from 'viem'
import { type JsonTrail, jsonPathOf } from '../errors/jsonPath.js'
import { FAST_REFUSED, type FastCanonicalRules, fastCanonical } from '../json/fastCanonical.js'

/**
 * Hashing for src/inference: sha256 everywhere, written as `0x` + 64 lowercase hex digits
 * (the `hex32` format of the replay record). JSON values are hashed in their canonical
 * form: the same rules as src/trace's canonical JSON (RFC 8785 key order, ECMAScript
 * number form, no whitespace), implemented here because inference sits before trace in
 * the data flow.
 */
export type Hash = Hex

export function sha256Hex(data: Uint8Array | string): Hash {
  return `0x${createHash('sha256').update(data).digest('hex')}`
}

/** Inference's rules for the fast pass: undefined members left out, no bigints, symbols ignored; deep values go to the careful pass. */
const FAST_RULES: FastCanonicalRules = { maxDepth: 512, bigints: false, dropUndefined: true, refuseSymbolKeys: false }

/** Canonical JSON of a JSON value; throws on values JSON cannot carry (undefined, NaN, bigint, cycles). */
export function canonicalJson(value: unknown): string {
  try {
    // every request and response an agent records is hashed here, and each one a container signs
    return fastCanonical(value, FAST_RULES)
  } catch (err) {
    if (err !== FAST_REFUSED) throw err
  }
  // the careful pass says where and why (it refuses what the fast one refused)
  const out: string[] = []
  write(value, ['$'], new Set(), out)
  return out.join('')
}

/**
 * A JSON value rebuilt from its canonical JSON: the same value, every object's keys in
 * canonical order. A chat model reads requests in this form, so what it sees is a function
 * of the request hash alone (key-order variants of one request are one prompt).
 */
export function canonicalRequest<T>(value: T): T {
  return JSON.parse(canonicalJson(value)) as T
}

/** sha256 of the canonical JSON of `value`. */
export function hashJson(value: unknown): Hash {
  return sha256Hex(canonicalJson(value))
}

function write(value: unknown, trail: JsonTrail, seen: Set<object>, out: string[]): void {
  if (value === null) return void out.push('null')
  switch (typeof value) {
    case 'string':
      return void out.push(JSON.stringify(value))
    case 'boolean':
      return void out.push(value ? 'true' : 'false')
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${jsonPathOf(trail)}: ${value} has no JSON form`)
      return void out.push(Object.is(value, -0) ? '0' : JSON.stringify(value))
    case 'object':
      break
    default:
      throw new TypeError(`${jsonPathOf(trail)}: a ${typeof value} has no JSON form`)
  }
  const obj = value as object
  if (seen.has(obj)) throw new TypeError(`${jsonPathOf(trail)}: cycle`)
  seen.add(obj)
  if (Array.isArray(obj)) {
    out.push('[')
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(',')
      trail.push(i)
      write(obj[i], trail, seen, out)
      trail.pop()
    }
    out.push(']')
  } else {
    const proto = Object.getPrototypeOf(obj)
    if (proto !== Object.prototype && proto !== null) throw new TypeError(`${jsonPathOf(trail)}: only plain objects have a JSON form`)
    const keys = Object.keys(obj)
      .filter((k) => (obj as Record<string, unknown>)[k] !== undefined)
      .sort()
    out.push('{')
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      if (i > 0) out.push(',')
      out.push(JSON.stringify(k), ':')
      trail.push(k)
      write((obj as Record<string, unknown>)[k], trail, seen, out)
      trail.pop()
    }
    out.push('}')
  }
  seen.delete(obj)
}
