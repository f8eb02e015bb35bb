import type { z } from 'zod'
import { CanonicalDecodingError, CanonicalEncodingError, InvalidStepError } from './errors.js'
import { type Step, stepSchema } from './schemas.js'
import { type JsonTrail, jsonPathOf } from '../errors/jsonPath.js'
import { FAST_REFUSED, type FastCanonicalRules, fastCanonical } from '../json/fastCanonical.js'

/**
 * Canonical JSON: the one byte string a trace value hashes to.
 *
 * - object keys sorted by UTF-16 code units (as `Array.prototype.sort` and RFC 8785 do),
 *   no whitespace, strings escaped as `JSON.stringify` escapes them;
 * - numbers finite only, written as ECMAScript writes them (`-0` as `0`);
 * - bigints written as decimal strings;
 * - `undefined`, functions, symbols, NaN/Infinity, sparse arrays, cycles and objects other
 *   than plain objects and arrays (Date, Map, Uint8Array, class instances) are rejected,
 *   never dropped or coerced, so nothing is hashed that a reader could not rebuild;
 * - nesting deeper than {@link MAX_JSON_DEPTH} is rejected (a hostile blob must not exhaust
 *   the stack of whoever validates it);
 * - encoded as UTF-8.
 *
 * Decoding is strict in the other direction: invalid UTF-8, a byte-order mark, JSON that
 * is not in canonical form (extra whitespace, unsorted or duplicate keys, `1.0`, `"\u0041"`)
 * is rejected, so bytes ↔ value is one to one.
 */
export const MAX_JSON_DEPTH = 64

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The trace's rules for the fast pass (src/json/fastCanonical.ts): bigints as strings, undefined and symbol keys refused. */
const FAST_RULES: FastCanonicalRules = { maxDepth: MAX_JSON_DEPTH, bigints: true, dropUndefined: false, refuseSymbolKeys: true }

export function canonicalize(value: unknown): string {
  return canonicalizeWithin(value, MAX_JSON_DEPTH)
}

/** {@link canonicalize} with another nesting limit (a batch allows its envelope's two levels on top of its steps'). */
export function canonicalizeWithin(value: unknown, maxDepth: number): string {
  try {
    return fastCanonical(value, maxDepth === MAX_JSON_DEPTH ? FAST_RULES : { ...FAST_RULES, maxDepth })
  } catch (err) {
    if (err !== FAST_REFUSED) throw err
  }
  // the careful pass says where and why (it refuses what the fast one refused)
  const out: string[] = []
  write(value, ['$'], 0, new Set(), out, maxDepth)
  return out.join('')
}

export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value))
}

function write(value: unknown, trail: JsonTrail, depth: number, ancestors: Set<object>, out: string[], maxDepth: number): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value))
      return
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalEncodingError({ path: jsonPathOf(trail), reason: `${value} is not a finite number` })
      out.push(Object.is(value, -0) ? '0' : JSON.stringify(value))
      return
    case 'bigint':
      out.push(`"${value.toString(10)}"`)
      return
    case 'boolean':
      out.push(value ? 'true' : 'false')
      return
    case 'undefined':
      throw new CanonicalEncodingError({ path: jsonPathOf(trail), reason: 'undefined has no JSON form (use null or leave the key out)' })
    case 'function':
    case 'symbol':
      throw new CanonicalEncodingError({ path: jsonPathOf(trail), reason: `a ${typeof value} has no JSON form` })
  }
  if (value === null) {
    out.push('null')
    return
  }
  const obj = value as object
  if (depth >= maxDepth) {
    throw new CanonicalEncodingError({ path: jsonPathOf(trail), reason: `nested deeper than ${maxDepth} levels` })
  }
  if (ancestors.has(obj)) throw new CanonicalEncodingError({ path: jsonPathOf(trail), reason: 'the value contains itself (a cycle)' })
  ancestors.add(obj)
  if (Array.isArray(obj)) {
    out.push('[')
    for (let i = 0; i < obj.length; i++) {
      if (!(i in obj)) throw new CanonicalEncodingError({ path: jsonPathOf([...trail, i]), reason: 'sparse array hole' })
      if (i > 0) out.push(',')
      trail.push(i)
      write(obj[i], trail, depth + 1, ancestors, out, maxDepth)
      trail.pop()
    }
    out.push(']')
  } else {
    const proto = Object.getPrototypeOf(obj)
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: unknown } }).constructor?.name
      throw new CanonicalEncodingError({
        path: jsonPathOf(trail),
        reason: `${typeof name === 'string' && name ? name : 'a non-plain object'} is not a plain object`,
      })
    }
    if (Object.getOwnPropertySymbols(obj).length > 0) {
      throw new CanonicalEncodingError({ path: jsonPathOf(trail), reason: 'symbol keys have no JSON form' })
    }
    const keys = Object.keys(obj).sort()
    out.push('{')
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      if (i > 0) out.push(',')
      out.push(JSON.stringify(key), ':')
      trail.push(key)
      write((obj as Record<string, unknown>)[key], trail, depth + 1, ancestors, out, maxDepth)
      trail.pop()
    }
    out.push('}')
  }
  ancestors.delete(obj)
}

/**
 * A step's canonical text and its payload's (the step without `agentId`, `index`, `kind` and
 * `prevHash`, what leaf.ts hashes), from one pass over its values: each top-level value is
 * encoded once and both texts are assembled from the same pieces. Byte for byte what
 * `canonicalize(step)` and `canonicalize(stepPayload(step))` give (canonical.test.ts checks it).
 */
export function canonicalStepTexts(step: object): { text: string; payloadText: string } {
  const proto = Object.getPrototypeOf(step)
  if (step === null || typeof step !== 'object' || Array.isArray(step) || (proto !== Object.prototype && proto !== null)) {
    throw new CanonicalEncodingError({ path: '$', reason: 'a step must be a plain object' })
  }
  if (Object.getOwnPropertySymbols(step).length > 0) throw new CanonicalEncodingError({ path: '$', reason: 'symbol keys have no JSON form' })
  const keys = Object.keys(step).sort()
  const pieces: string[] = []
  try {
    for (const key of keys) pieces.push(`${JSON.stringify(key)}:${fastCanonical((step as Record<string, unknown>)[key], FAST_RULES, 1)}`)
  } catch (err) {
    if (err !== FAST_REFUSED) throw err
    // the careful pass names the problem
    pieces.length = 0
    const ancestors = new Set<object>([step])
    for (const key of keys) {
      const out: string[] = [JSON.stringify(key), ':']
      write((step as Record<string, unknown>)[key], ['$', key], 1, ancestors, out, MAX_JSON_DEPTH)
      pieces.push(out.join(''))
    }
  }
  let text = '{'
  let payloadText = '{'
  for (let i = 0; i < keys.length; i++) {
    text += (i > 0 ? ',' : '') + pieces[i]!
    if (!STEP_CHAIN_FIELDS.has(keys[i]!)) payloadText += (payloadText.length > 1 ? ',' : '') + pieces[i]!
  }
  return { text: `${text}}`, payloadText: `${payloadText}}` }
}

/** The fields a step's leaf binds directly (see leaf.ts); the rest is its payload. */
export const STEP_CHAIN_FIELDS: ReadonlySet<string> = new Set(['agentId', 'index', 'kind', 'prevHash'])

/** Parses canonical bytes back to a JSON value; rejects anything that is not exactly canonical. */
export function parseCanonical(bytes: Uint8Array): unknown {
  const { value } = parseCanonicalText(bytes)
  return value
}

function parseCanonicalText(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): { text: string; value: unknown } {
  if (!(bytes instanceof Uint8Array)) throw new CanonicalDecodingError({ reason: 'expected a Uint8Array' })
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch (cause) {
    throw new CanonicalDecodingError({ reason: 'the bytes are not valid UTF-8', cause })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new CanonicalDecodingError({ reason: 'the bytes are not JSON', cause })
  }
  let again: string
  try {
    again = canonicalizeWithin(value, maxDepth)
  } catch (cause) {
    throw new CanonicalDecodingError({ reason: (cause as Error).message.split('\n')[0] ?? 'unencodable value', cause })
  }
  if (again !== text) {
    throw new CanonicalDecodingError({
      reason: `the JSON is not in canonical form (first difference at character ${firstDifference(again, text)})`,
    })
  }
  return { text, value }
}

function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i
  return n
}

/** zod issues as short lines, `path: message`. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
}

/**
 * Validates `value` with `schema` and checks that validation changed nothing (no field was
 * stripped or coerced), so the hash of what the caller gave equals the hash of what a
 * reader will decode.
 */
export function parseExact<T>(
  schema: z.ZodType<T>,
  value: unknown,
  what: string,
  /** canonicalize(value), when the caller already has it */
  known?: string,
  maxDepth = MAX_JSON_DEPTH,
): { value: T; text: string } {
  const given = known ?? canonicalizeWithin(value, maxDepth)
  const result = schema.safeParse(value)
  if (!result.success) throw new InvalidStepError({ what, issues: formatIssues(result.error) })
  let text: string
  try {
    text = canonicalizeWithin(result.data, maxDepth)
  } catch {
    text = '' // validation produced something unencodable (e.g. a "__proto__" key became a prototype)
  }
  if (text !== given) {
    throw new InvalidStepError({ what, issues: ['holds fields its schema does not define (they would be dropped)'] })
  }
  return { value: result.data, text }
}

/** Decodes canonical bytes and validates them with `schema`, rejecting unknown fields. */
export function decodeCanonical<T>(schema: z.ZodType<T>, bytes: Uint8Array, what: string, maxDepth = MAX_JSON_DEPTH): T {
  const { text, value } = parseCanonicalText(bytes, maxDepth)
  return parseExact(schema, value, what, text, maxDepth).value
}

/** A step's canonical bytes (the whole step, as stored in the WAL and in batches). */
export function encodeStep(step: Step): Uint8Array {
  return encoder.encode(parseExact(stepSchema, step, 'trace step').text)
}

/** Decodes and validates one step's canonical bytes. */
export function decodeStep(bytes: Uint8Array): Step {
  return decodeCanonical(stepSchema, bytes, 'trace step')
}
