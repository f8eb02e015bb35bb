import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { compileFlatSchema, type FlatObjectSpec, validateFlat } from './chatSchema.js'
import { FlatJsonPrefix } from './flatJson.js'

const spec = (schema: unknown): FlatObjectSpec => {
  const { spec: s, issues } = compileFlatSchema(schema)
  expect(issues).toEqual([])
  return s
}
const whole = (s: FlatObjectSpec, text: string) => {
  const p = new FlatJsonPrefix(s)
  return p.feed(text) && p.done
}

const report = spec({
  type: 'object',
  properties: { city: { type: 'string', maxLength: 5 }, n: { type: 'integer', minimum: 1, maximum: 20 }, x: { type: 'number', exclusiveMinimum: 0 }, ok: { type: 'boolean' }, sky: { enum: ['clear', 'rain', 3] } },
  required: ['city', 'n'],
})

describe('FlatJsonPrefix', () => {
  test('accepts conforming compact objects, in any property order', () => {
    expect(whole(report, '{"city":"Oslo","n":12}')).toBe(true)
    expect(whole(report, '{"n":20,"ok":false,"city":"a\\"b","sky":3,"x":0.5}')).toBe(true)
    expect(whole(report, '{"sky":"rain","city":"","n":1}')).toBe(true)
  })

  test('refuses what does not fit, at the first character that cannot lead anywhere', () => {
    const at = (text: string) => {
      const p = new FlatJsonPrefix(report)
      for (let i = 0; i < text.length; i++) if (!p.feed(text[i]!)) return i
      return p.done ? -1 : text.length
    }
    expect(at('{}')).toBe(1) // required missing
    expect(at('{"city":"Oslo","n":12,}')).toBe(22) // trailing comma
    expect(at('{ "city"')).toBe(1) // no whitespace outside strings
    expect(at('{"town"')).toBe(2) // no such property
    expect(at('{"city":"Oslo!!"')).toBe(14) // maxLength 5
    expect(at('{"n":21')).toBe(6) // 21 > 20: the 1 cannot lead to a fitting integer
    expect(at('{"n":0')).toBe(5) // nor can 0 (no leading zeros, minimum 1)
    expect(at('{"n":1.5')).toBe(6) // integer
    expect(at('{"x":-')).toBe(5) // exclusiveMinimum 0
    expect(at('{"x":0,')).toBe(6) // 0 is not above 0
    expect(at('{"sky":"snow"')).toBe(8) // not in the enum
    expect(at('{"city":"a","city"')).toBe(13) // once each: no unused name starts with c
    expect(at('{"city":"\\ud800"')).toBe(14) // a lone surrogate escape
    expect(at('{"city":"a","n":3}x')).toBe(18) // nothing after the object
  })

  test('from any prefix it accepts, some character leads on, and every finished object validates (random schemas and walks)', () => {
    const prop = fc.oneof(
      fc.record({ type: fc.constant('string'), maxLength: fc.option(fc.nat(4), { nil: undefined }), minLength: fc.option(fc.nat(2), { nil: undefined }) }),
      fc.record({ type: fc.constantFrom('integer', 'number'), minimum: fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined }), maximum: fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined }) }),
      fc.record({ type: fc.constantFrom('number'), exclusiveMinimum: fc.integer({ min: -5, max: 5 }), exclusiveMaximum: fc.integer({ min: 6, max: 200 }) }),
      fc.record({ type: fc.constant('boolean') }),
      fc.record({ enum: fc.uniqueArray(fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -9, max: 99 }), fc.boolean()), { minLength: 1, maxLength: 3 }) }),
    )
    const schema = fc
      .uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,4}$/), prop), { minLength: 1, maxLength: 4, selector: ([k]) => k })
      .filter((ps) => ps.every(([, p]) => !('minimum' in p && 'maximum' in p && p.minimum !== undefined && p.maximum !== undefined && p.minimum > p.maximum)))
      .filter((ps) => ps.every(([, p]) => !('minLength' in p && p.minLength !== undefined && p.maxLength !== undefined && p.minLength > p.maxLength)))
      .chain((ps) => fc.record({ ps: fc.constant(ps), required: fc.subarray(ps.map(([k]) => k)) }))
    const base = [...'{}":,.-0123456789truefalsxyzabcdghijklmnopqvw\\/u_ ']
    fc.assert(
      fc.property(schema, fc.array(fc.nat(), { minLength: 300, maxLength: 300 }), ({ ps, required }, picks) => {
        const schemaValue = { type: 'object', properties: Object.fromEntries(ps), required }
        const s = spec(schemaValue)
        // a model's vocabulary has every character: here, the JSON ones and those of the names and enums
        const alphabet = [...new Set([...base, ...JSON.stringify(schemaValue)])]
        const p = new FlatJsonPrefix(s)
        let text = ''
        for (const pick of picks) {
          if (p.done) break
          const next = alphabet.filter((c) => p.accepts(c))
          expect(next.length, `dead end after ${text}`).toBeGreaterThan(0)
          // lean towards closing what is open, so walks finish
          const close = next.filter((c) => c === '}' || c === '"' || c === ',')
          const c = close.length > 0 && pick % 3 === 0 ? close[pick % close.length]! : next[pick % next.length]!
          expect(p.feed(c)).toBe(true)
          text += c
        }
        if (p.done) expect(validateFlat(JSON.parse(text), s), text).toEqual([])
      }),
      { numRuns: 300 },
    )
  })
})
