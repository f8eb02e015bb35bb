import { createHash } from 'node:crypto'
import type { Hex } from 'viem'
import { type JsonTrail, jsonPathOf } from '../errors/jsonPath.js'

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

/** Canonical JSON of a JSON value; throws on values JSON cannot carry (undefined, NaN, bigint, cycles). */
export function canonicalJson(value: unknown): string {
  try {
    return fast(value, 0)
  } catch (err) {
    if (err !== REFUSED) throw err
  }
  // the careful pass says where and why (it refuses what the fast one refused)
  const out: string[] = []
  write(value, ['$'], new Set(), out)
  return out.join('')
}

/** Thrown by {@link fast} for anything it does not encode; the careful pass then names the problem. */
const REFUSED: unique symbol = Symbol('refused')
/** Nesting at which the fast pass gives up (a cycle reaches it): the careful pass goes on, or names the cycle. */
const FAST_MAX_DEPTH = 512

/**
 * The encoding of {@link write} for the values it accepts, without its bookkeeping (the path
 * trail, the set of ancestors for cycles, the pieces array) — every request and response an
 * agent records is hashed here, and so is each one a container signs. Anything it is not
 * sure of throws REFUSED: a value with no JSON form, an array hole (read as undefined),
 * nesting past FAST_MAX_DEPTH. For the values both accept the output is the same string
 * (hash.test.ts checks it).
 */
function fast(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw REFUSED
      // ECMAScript's Number::toString, as JSON.stringify writes numbers (-0 as 0)
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      break
    default:
      throw REFUSED
  }
  if (value === null) return 'null'
  if (depth >= FAST_MAX_DEPTH) throw REFUSED
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + fast(value[i], depth + 1)
    return `${out}]`
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) throw REFUSED
  const keys = Object.keys(value).sort()
  let out = '{'
  for (const key of keys) {
    const member = (value as Record<string, unknown>)[key]
    if (member === undefined) continue
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${fast(member, depth + 1)}`
  }
  return `${out}}`
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
