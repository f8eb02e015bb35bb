import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MAX_JSON_DEPTH, canonicalBytes, canonicalize, decodeStep, encodeStep, parseCanonical } from './canonical.js'
import { CanonicalDecodingError, CanonicalEncodingError, InvalidStepError } from './errors.js'
import { mutateBytes, sampleStepBytes, replayRecord, sampleSteps } from './_fixtures.js'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('canonicalize', () => {
  test('sorts keys by UTF-16 code units, no whitespace, bigint as decimal string, -0 as 0', () => {
    expect(canonicalize({ b: 1, a: [true, null, 'x'], A: { z: -0, y: 10n ** 30n }, é: 1, '\u{1F600}': 2, '\uFFFF': 3 })).toBe(
      '{"A":{"y":"1000000000000000000000000000000","z":0},"a":[true,null,"x"],"b":1,"é":1,"\u{1F600}":2,"\uFFFF":3}',
    )
    expect(canonicalize(1e21)).toBe('1e+21')
    expect(canonicalize(0.1 + 0.2)).toBe('0.30000000000000004')
    expect(canonicalize('line\nbreak "q" \u2028')).toBe('"line\\nbreak \\"q\\" \u2028"')
    expect(canonicalize(Object.assign(Object.create(null), { k: 'v' }))).toBe('{"k":"v"}')
  })

  test.each([
    ['NaN', { a: Number.NaN }, '$.a'],
    ['Infinity', [1, Number.POSITIVE_INFINITY], '$[1]'],
    ['undefined', { a: { b: undefined } }, '$.a.b'],
    ['a function', { f: () => 1 }, '$.f'],
    ['a symbol', [Symbol('s')], '$[0]'],
    ['a Date', { d: new Date(0) }, '$.d'],
    ['a Map', { m: new Map() }, '$.m'],
    ['a Uint8Array', { b: new Uint8Array(2) }, '$.b'],
    ['a sparse array', { s: [1, , 3] }, '$.s[1]'],
    ['a symbol key', { [Symbol('k')]: 1 }, '$'],
  ])('rejects %s, naming its path', (_name, value, path) => {
    const err = (() => {
      try {
        canonicalize(value)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(CanonicalEncodingError)
    expect((err as CanonicalEncodingError).path).toBe(path)
  })

  test('any JSON value: the text is JSON.stringify of it with the keys of every object sorted; a cycle is named as one', () => {
    // JSON.stringify writes integer-like keys first whatever their order, so objects are written here
    const sortedJson = (v: unknown): string =>
      Array.isArray(v)
        ? `[${v.map(sortedJson).join(',')}]`
        : v !== null && typeof v === 'object'
          ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${sortedJson((v as Record<string, unknown>)[k])}`).join(',')}}`
          : JSON.stringify(v)
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        expect(canonicalize(value)).toBe(sortedJson(value))
      }),
      { numRuns: 500 },
    )
    const cyclic: unknown[] = [1]
    cyclic.push({ back: cyclic })
    const err = (() => {
      try {
        canonicalize({ list: cyclic })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(CanonicalEncodingError)
    expect((err as CanonicalEncodingError).path).toBe('$.list[1].back')
    expect((err as Error).message).toMatch(/contains itself \(a cycle\)/)
  })

  test('rejects cycles and excessive depth', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { back: cyclic }
    expect(() => canonicalize(cyclic)).toThrow(CanonicalEncodingError)
    let deep: unknown = 1
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep]
    expect(canonicalize(deep)).toHaveLength(MAX_JSON_DEPTH * 2 + 1)
    expect(() => canonicalize([deep])).toThrow(/nested deeper than 64/)
  })

  test('the error message says what to do', () => {
    expect(() => canonicalize({ amount: 1n, when: new Date(0) })).toThrowErrorMatchingInlineSnapshot(`
      [CanonicalEncodingError: Cannot encode the value at $.when canonically: Date is not a plain object.

      Trace steps hold JSON values only: strings, finite numbers, booleans, null, arrays and plain objects.
      Write bigints as decimal strings, bytes as 0x-hex strings and dates as milliseconds.
      Docs: src/trace/README.md#canonical-encoding]
    `)
  })
})

describe('parseCanonical', () => {
  test('round-trips any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const encoded = canonicalBytes(value)
        const decoded = parseCanonical(encoded)
        expect(canonicalBytes(decoded)).toEqual(encoded)
      }),
      { numRuns: 1000 },
    )
  })

  test.each([
    ['whitespace', '{"a": 1}'],
    ['unsorted keys', '{"b":1,"a":2}'],
    ['duplicate keys', '{"a":1,"a":1}'],
    ['a non-shortest number', '[1.0]'],
    ['an exponent form', '[1E2]'],
    ['an unnecessary escape', '["\\u0041"]'],
    ['an upper-case escape', '["\\uD800"]'],
    ['a byte-order mark', '\uFEFF{}'],
    ['an overflowing number', '[1e400]'],
    ['trailing bytes', '{} '],
    ['not JSON', '{a:1}'],
    ['nothing', ''],
  ])('rejects %s', (_name, text) => {
    expect(() => parseCanonical(bytes(text))).toThrow(CanonicalDecodingError)
  })

  test('rejects invalid UTF-8 and non-bytes', () => {
    expect(() => parseCanonical(new Uint8Array([0x22, 0xff, 0x22]))).toThrow(/not valid UTF-8/)
    expect(() => parseCanonical(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]))).toThrow(/not valid UTF-8/)
    expect(() => parseCanonical('{}' as unknown as Uint8Array)).toThrow(/expected a Uint8Array/)
  })

  test('accepts a lone surrogate only in its canonical escape', () => {
    expect(parseCanonical(bytes('["\\ud800"]'))).toEqual(['\ud800'])
  })

  test('rejects nesting deeper than the limit without exhausting the stack', () => {
    const text = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    expect(() => parseCanonical(bytes(text))).toThrow(/nested deeper than 64/)
  })
})

describe('encodeStep / decodeStep', () => {
  test('round-trips every kind', () => {
    for (const step of sampleSteps(12)) {
      const encoded = encodeStep(step)
      expect(decodeStep(encoded)).toEqual(step)
      expect(new TextDecoder().decode(encoded)).toBe(canonicalize(step))
    }
  })

  test('rejects unknown fields, including ones a nested schema would silently strip', () => {
    const [input, inference] = sampleSteps(2)
    expect(() => encodeStep({ ...input, extra: 1 } as never)).toThrow(InvalidStepError)
    const withExtra = { ...inference, record: { ...replayRecord, secret: 'x' } } as never
    expect(() => encodeStep(withExtra)).toThrow(/fields its schema does not define/)
    expect(() => decodeStep(bytes(canonicalize(withExtra)))).toThrow(/fields its schema does not define/)
  })

  test('rejects values the schema forbids', () => {
    const [input] = sampleSteps(1)
    const bad = [
      { ...input, agentId: '042' },
      { ...input, agentId: (2n ** 256n).toString() },
      { ...input, index: -1 },
      { ...input, index: 2 ** 53 },
      { ...input, prevHash: `0x${'AB'.repeat(32)}` },
      { ...input, actionId: '' },
      { ...input, kind: 'thought' },
      { ...input, timestamp: 1.5 },
    ]
    for (const step of bad) expect(() => encodeStep(step as never)).toThrow(InvalidStepError)
    expect(() => encodeStep({ ...input, task: { when: new Date() } } as never)).toThrow(CanonicalEncodingError)
  })

  test('the error lists the issues', () => {
    const [input] = sampleSteps(1)
    expect(() => encodeStep({ ...input, agentId: '042', index: -1 } as never)).toThrowErrorMatchingInlineSnapshot(`
      [InvalidStepError: Invalid trace step.

      - agentId: expected a decimal integer string without leading zeros
      - index: Too small: expected number to be >=0
      Docs: src/trace/README.md#trace-steps]
    `)
  })

  test('decodeStep: 3,000 malformed inputs give only typed errors; anything accepted re-encodes to the same bytes', () => {
    const mutated = fc.tuple(fc.constantFrom(...sampleStepBytes()), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat()).map(mutateBytes)
    const jsonish = fc
      .record({
        kind: fc.constantFrom('input', 'inference', 'tool', 'wallet', 'output', 'x'),
        agentId: fc.oneof(fc.string(), fc.constant('1')),
        index: fc.oneof(fc.integer(), fc.double()),
        prevHash: fc.string(),
        extra: fc.jsonValue(),
      })
      .map((v) => new TextEncoder().encode(JSON.stringify(v)))
    for (const arb of [fc.uint8Array({ maxLength: 300 }), mutated, jsonish]) {
      fc.assert(
        fc.property(arb, (input) => {
          const copy = Uint8Array.from(input)
          try {
            const step = decodeStep(input)
            expect(encodeStep(step)).toEqual(input)
          } catch (err) {
            expect(err).toBeInstanceOf(BaseError)
          }
          expect(input).toEqual(copy)
        }),
        { numRuns: 1000 },
      )
    }
  })
})
