import { type FlatObjectSpec, type FlatProperty, valueFits } from './chatSchema.js'

/**
 * The JSON a `response_format: json_schema` answer may be, as a prefix checker a decoder can
 * ask before each token: a flat object (chatSchema.ts) written compactly — no whitespace
 * outside strings, no exponents, no `\u` escapes of surrogates. It accepts a character only
 * when some completion of the text so far still fits the schema, so a decoder that picks only
 * accepted tokens never paints itself into a corner and ends on a conforming object.
 */
type Phase = 'start' | 'keyOrEnd' | 'keyNext' | 'key' | 'colon' | 'value' | 'string' | 'number' | 'literal' | 'afterValue' | 'done'

type State = {
  phase: Phase
  used: readonly string[]
  key: string
  prop: FlatProperty | undefined
  /** The value's text so far (numbers, literals and enum values are checked on it whole). */
  value: string
  /** Code points of the string value so far. */
  length: number
  /** 0 outside an escape; 1 after `\`; 2–5 inside `\uXXXX` (hex digits read + 1). */
  escape: number
  hex: string
}

const NUMBER_PREFIX = /^-?((0|[1-9]\d*)(\.\d*)?)?$/
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't'])

export class FlatJsonPrefix {
  readonly #spec: FlatObjectSpec
  /** Property names as they appear between the key's quotes. */
  readonly #keys: ReadonlyMap<string, FlatProperty>
  #s: State

  constructor(spec: FlatObjectSpec, state?: State) {
    this.#spec = spec
    this.#keys = new Map(spec.properties.map((p) => [JSON.stringify(p.name).slice(1, -1), p]))
    this.#s = state ?? { phase: 'start', used: [], key: '', prop: undefined, value: '', length: 0, escape: 0, hex: '' }
  }

  /** Whether the text so far is a whole conforming object. */
  get done(): boolean {
    return this.#s.phase === 'done'
  }

  /** Whether `text` may follow what was accepted, without accepting it. */
  accepts(text: string): boolean {
    if (text.length === 0) return false
    const trial = new FlatJsonPrefix(this.#spec, { ...this.#s })
    return trial.feed(text)
  }

  /** Accepts `text`, or returns false and leaves the state as it was. */
  feed(text: string): boolean {
    const before = this.#s
    this.#s = { ...before }
    for (const ch of text) {
      if (!this.#step(ch)) {
        this.#s = before
        return false
      }
    }
    return true
  }

  #unused(): FlatProperty[] {
    return this.#spec.properties.filter((p) => !this.#s.used.includes(p.name))
  }

  #requiredMet(): boolean {
    return this.#spec.required.every((r) => this.#s.used.includes(r))
  }

  #step(ch: string): boolean {
    const s = this.#s
    switch (s.phase) {
      case 'start':
        if (ch !== '{') return false
        s.phase = 'keyOrEnd'
        return true
      case 'keyOrEnd':
        if (ch === '}' && this.#requiredMet()) return (s.phase = 'done'), true
        if (ch === '"' && this.#unused().length > 0) return (s.phase = 'key'), (s.key = ''), true
        return false
      case 'keyNext':
        if (ch !== '"') return false
        s.phase = 'key'
        s.key = ''
        return true
      case 'key': {
        if (ch === '"') {
          const prop = this.#keys.get(s.key)
          if (!prop || s.used.includes(prop.name)) return false
          s.prop = prop
          s.phase = 'colon'
          return true
        }
        const next = s.key + ch
        if (![...this.#keys].some(([k, p]) => k.startsWith(next) && !s.used.includes(p.name))) return false
        s.key = next
        return true
      }
      case 'colon':
        if (ch !== ':') return false
        s.phase = 'value'
        s.value = ''
        return true
      case 'value':
        return this.#startValue(ch)
      case 'string':
        return this.#stringChar(ch)
      case 'number':
        return this.#numberChar(ch)
      case 'literal':
        return this.#literalChar(ch)
      case 'afterValue':
        return this.#afterValue(ch)
      case 'done':
        return false
    }
  }

  #startValue(ch: string): boolean {
    const s = this.#s
    const p = s.prop!
    if (p.enum) {
      s.phase = 'literal'
      return this.#literalChar(ch)
    }
    if (ch === '"' && p.string) return (s.phase = 'string'), (s.value = ch), (s.length = 0), (s.escape = 0), true
    if ((ch === '-' || (ch >= '0' && ch <= '9')) && p.number !== 'none' && numberFeasible(ch, p)) return (s.phase = 'number'), (s.value = ch), true
    if ((ch === 't' || ch === 'f') && p.boolean) return (s.phase = 'literal'), (s.value = ch), true
    return false
  }

  #stringChar(ch: string): boolean {
    const s = this.#s
    const p = s.prop!
    if (s.escape === 1) {
      if (ch === 'u') return (s.escape = 2), (s.hex = ''), true
      if (!SIMPLE_ESCAPES.has(ch)) return false
      s.escape = 0
      return this.#count()
    }
    if (s.escape >= 2) {
      if (!/^[0-9a-fA-F]$/.test(ch)) return false
      s.hex += ch
      if (s.hex.length < 4) return true
      const code = Number.parseInt(s.hex, 16)
      if (code >= 0xd800 && code <= 0xdfff) return false // write the character itself
      s.escape = 0
      return this.#count()
    }
    if (ch === '"') {
      if (p.minLength !== undefined && s.length < p.minLength) return false
      s.phase = 'afterValue'
      s.used = [...s.used, p.name]
      return true
    }
    if (ch === '\\') {
      // an escape is one more character: only where one still fits
      if (p.maxLength !== undefined && s.length + 1 > p.maxLength) return false
      return (s.escape = 1), true
    }
    if (ch.codePointAt(0)! < 0x20) return false
    return this.#count()
  }

  #count(): boolean {
    const s = this.#s
    if (s.prop!.maxLength !== undefined && s.length + 1 > s.prop!.maxLength) return false
    s.length += 1
    return true
  }

  #numberChar(ch: string): boolean {
    const s = this.#s
    const p = s.prop!
    const next = s.value + ch
    if ((ch >= '0' && ch <= '9') || ch === '.') {
      if (!NUMBER_PREFIX.test(next) || (ch === '.' && p.number === 'integer')) return false
      if (!numberFeasible(next, p)) return false
      s.value = next
      return true
    }
    if (!NUMBER.test(s.value) || !valueFits(p, Number(s.value))) return false
    return this.#closeValue(ch)
  }

  #literalChar(ch: string): boolean {
    const s = this.#s
    const p = s.prop!
    const texts = p.enum ? p.enum.map((e) => JSON.stringify(e)) : ['true', 'false']
    const next = s.value + ch
    if (texts.some((t) => t.startsWith(next))) {
      s.value = next
      return true
    }
    if (!texts.includes(s.value) || !valueFits(p, JSON.parse(s.value))) return false
    return this.#closeValue(ch)
  }

  /** A number or literal ends at the `,` or `}` after it. */
  #closeValue(ch: string): boolean {
    const s = this.#s
    s.used = [...s.used, s.prop!.name]
    s.phase = 'afterValue'
    return this.#afterValue(ch)
  }

  #afterValue(ch: string): boolean {
    const s = this.#s
    if (ch === '}' && this.#requiredMet()) return (s.phase = 'done'), true
    if (ch === ',' && this.#unused().length > 0) return (s.phase = 'keyNext'), true
    return false
  }
}

/**
 * Whether some number written on from `prefix` (more digits, a fraction) fits the bounds. The
 * magnitudes it can still become: for integer digits `a`, `a` itself (or `[a, a+1)` with a
 * fraction) and, with k more digits, `[a·10^k, (a+1)·10^k)`; after the point, up to the next
 * step of its last digit.
 */
function numberFeasible(prefix: string, p: FlatProperty): boolean {
  const negative = prefix.startsWith('-')
  const body = negative ? prefix.slice(1) : prefix
  const integer = p.number === 'integer'
  const lo = Math.max(p.minimum ?? -Infinity, p.exclusiveMinimum ?? -Infinity)
  const hi = Math.min(p.maximum ?? Infinity, p.exclusiveMaximum ?? Infinity)
  const loOpen = p.exclusiveMinimum !== undefined && p.exclusiveMinimum >= (p.minimum ?? -Infinity)
  const hiOpen = p.exclusiveMaximum !== undefined && p.exclusiveMaximum <= (p.maximum ?? Infinity)
  // a magnitude interval [m1, m2] (m2 open when `open`), signed, against the bounds
  const fits = (m1: number, m2: number, open: boolean): boolean => {
    const [from, to, fromOpen, toOpen] = negative ? [-m2, -m1, open, false] : [m1, m2, false, open]
    const left = Math.max(from, lo)
    const leftOpen = from > lo ? fromOpen : from < lo ? loOpen : fromOpen || loOpen
    const right = Math.min(to, hi)
    const rightOpen = to < hi ? toOpen : to > hi ? hiOpen : toOpen || hiOpen
    return left < right || (left === right && !leftOpen && !rightOpen)
  }
  if (body === '') return fits(0, Infinity, false)
  const dot = body.indexOf('.')
  if (dot >= 0) {
    const a = Number(body.endsWith('.') ? body.slice(0, -1) : body)
    return fits(a, a + 10 ** -(body.length - dot - 1), true)
  }
  const a = Number(body)
  if (integer ? fits(a, a, false) : fits(a, a + 1, true)) return true
  if (a === 0) return false // no leading zeros
  // the largest magnitude the bounds allow on this side
  const most = negative ? -lo : hi
  if (most === Infinity) return true
  for (let k = 1; a * 10 ** k <= most; k++) {
    const m1 = a * 10 ** k
    const m2 = (a + 1) * 10 ** k
    if (integer ? fits(m1, m2 - 1, false) : fits(m1, m2, true)) return true
  }
  return false
}
