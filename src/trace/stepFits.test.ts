// stepFitsSchema's promise: when it says yes, stepSchema accepts the step and hands back an
// equal value, and the step's canonical bytes decode (as recovery decodes them). Checked on the
// sample steps, a receipted chat record, random JSON bodies and random mutations of them all.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decodeCheckedStep, encodeCheckedStep } from './builtStep.js'
import { canonicalize, canonicalStepTexts, decodeStep, encodeStep } from './canonical.js'
import { linkStep } from './chain.js'
import { stepLeaf } from './leaf.js'
import { stepFitsSchema } from './stepFits.js'
import { type JsonValue, type Step, type StepBody, stepSchema } from './schemas.js'
import { AGENT_ID, mutateBytes, sampleStepBytes, sampleBodies, sampleSteps, T0 } from './_fixtures.js'

const H = (c: string) => `0x${c.repeat(64)}` as `0x${string}`
const chatRecord = {
  backend: 'openai-compatible',
  format: 'chat-completions-v1',
  modelDigest: H('1'),
  model: { name: 'covenant-chat', digestOf: 'model-bytes' },
  runtime: { name: 'openai-compatible', version: 'fp_1', settings: { model: 'covenant-chat', temperature: 0, seed: 'none', stream: false } },
  replay: 'exact',
  request: { model: 'covenant-chat', messages: [{ role: 'user', content: 'pay' }], tools: [{ type: 'function', function: { name: 'pay', parameters: {} } }] },
  requestBody: '{"model":"covenant-chat"}',
  response: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [] } }], usage: { total_tokens: 3 } },
  inputHash: H('2'),
  outputHash: H('3'),
  timing: { startedAt: T0, durationMs: 1.25 },
  endpoint: { url: 'http://127.0.0.1:8000/v1/chat/completions', signer: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', measurement: H('4'), quote: 'simulated' },
  receipt: {
    version: 1,
    scheme: 'eip712',
    signer: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    measurement: H('4'),
    modelDigest: H('1'),
    requestHash: H('2'),
    responseHash: H('5'),
    outputHash: H('3'),
    issuedAt: 1_700_000_000,
    signature: `0x${'ab'.repeat(65)}`,
  },
}
const toolWithReads: StepBody = {
  kind: 'tool',
  actionId: 'a',
  timestamp: T0,
  tool: 'pay_invoice',
  args: { to: '0x00000000000000000000000000000000000a11ce', amountEth: '0.001' },
  outcome: { status: 'ok', result: { returned: { paid: '0.001' }, transactions: [] }, reads: [{ label: 'price', value: 3 }, { label: 'fx', error: { name: 'E', message: 'm' } }] },
}
const bodies: StepBody[] = [...sampleBodies(), { kind: 'inference', actionId: 'a', timestamp: T0, record: chatRecord } as StepBody, toolWithReads]
const link = (b: StepBody, index = 3) => linkStep({ agentId: AGENT_ID, nextIndex: index, prevHash: H('a') }, b)

/** The promise, for one value: a yes means the schema agrees, changes nothing, and the bytes decode. */
function checkPromise(step: unknown): boolean {
  let text: string
  try {
    text = canonicalStepTexts(step as object).text
  } catch {
    return false // not JSON: encodeCheckedStep refuses it before asking
  }
  if (!stepFitsSchema(step)) return false
  const parsed = stepSchema.safeParse(step)
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true)
  expect(canonicalize(parsed.data)).toBe(text)
  expect(canonicalize(decodeStep(new TextEncoder().encode(text)))).toBe(text)
  return true
}

/** Every place in a value: [parent, key] pairs, objects and arrays included. */
function places(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), places(x, out)))
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) out.push([v as Record<string, unknown>, k]), places((v as Record<string, unknown>)[k], out)
  return out
}

const strange: (() => unknown)[] = [
  () => '',
  () => 'x'.repeat(257),
  () => 'x'.repeat(129),
  () => 'x'.repeat(65_537),
  () => H('A'),
  () => H('a'),
  () => '0x00000000000000000000000000000000000A11CE',
  () => '0x00000000000000000000000000000000000a11ce',
  () => '0x0',
  () => '01',
  () => '1'.repeat(78),
  () => (2n ** 256n).toString(),
  () => (2n ** 256n - 1n).toString(),
  () => -1,
  () => 1.5,
  () => 2 ** 53,
  () => 2 ** 32,
  () => 0,
  () => 7n,
  () => null,
  () => true,
  () => [],
  () => ({}),
  () => Object.create(null) as unknown,
  () => JSON.parse('{"__proto__": 1}') as unknown,
  () => 'ok',
  () => 'error',
  () => 'exact',
  () => 'onnx',
  () => 'wallet',
]

/**
 * Body `b` linked, with one place in it changed: set to `strange[what]` (or a key `extra…`
 * added with it, when `addKey`), or removed when `what` is past the list.
 */
function mutated(b: number, at: number, what: number, addKey: boolean): Record<string, unknown> {
  const step = structuredClone(link(bodies[b]!)) as unknown as Record<string, unknown>
  const all = places(step)
  const [parent, key] = all[at % all.length]!
  if (what === strange.length) {
    if (Array.isArray(parent)) parent.splice(key as number, 1)
    else delete parent[key as string]
  } else if (addKey && !Array.isArray(parent)) parent[`extra${at % 3}`] = strange[what]!()
  else (parent as Record<string | number, unknown>)[key] = strange[what]!()
  return step
}

describe('stepFitsSchema', () => {
  test('vouches for the steps the runtime and the wallet write (the fast path is taken)', () => {
    for (const b of bodies) expect(checkPromise(link(b)), b.kind).toBe(true)
  })

  test('a yes always means the schema accepts the step unchanged (random mutations)', () => {
    let yes = 0
    let no = 0
    fc.assert(
      fc.property(fc.nat(bodies.length - 1), fc.nat(10_000), fc.nat(strange.length), fc.boolean(), (b, at, what, addKey) => {
        const step = mutated(b, at, what, addKey)
        if (checkPromise(step)) yes++
        else no++
      }),
      { numRuns: 3000 },
    )
    // the property means something only if both answers happen
    expect(yes).toBeGreaterThan(50)
    expect(no).toBeGreaterThan(500)
  })

  test('a yes always means the schema accepts the step unchanged (random JSON in every JSON field)', () => {
    const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>
    fc.assert(
      fc.property(json, json, fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 4 }), (task, result, args) => {
        checkPromise(link({ kind: 'input', actionId: 'a', timestamp: T0, task }))
        checkPromise(link({ kind: 'output', actionId: 'a', timestamp: T0, result }))
        checkPromise(link({ kind: 'tool', actionId: 'a', timestamp: T0, tool: 't', args, outcome: { status: 'ok', result } }))
        checkPromise(link({ kind: 'inference', actionId: 'a', timestamp: T0, record: { ...chatRecord, request: task, response: result } } as StepBody))
      }),
      { numRuns: 500 },
    )
  })

  test('says no to what the schema refuses or would change', () => {
    const input = link({ kind: 'input', actionId: 'a', timestamp: T0, task: 1 })
    const no: unknown[] = [
      { ...input, actionId: 'x'.repeat(257) },
      { ...input, timestamp: 1.5 },
      { ...input, extra: true },
      { ...input, task: JSON.parse('{"__proto__": ""}') as JsonValue },
      { ...input, task: { n: 1n } },
      { ...input, prevHash: H('A') },
      { ...input, agentId: '01' },
      link({ kind: 'inference', actionId: 'a', timestamp: T0, record: { ...chatRecord, unknownField: 1 } } as StepBody),
      link({ kind: 'inference', actionId: 'a', timestamp: T0, record: { ...chatRecord, requestBody: 'x'.repeat(4 * 1024 * 1024 + 1) } } as StepBody),
      link({ kind: 'tool', actionId: 'a', timestamp: T0, tool: 'x'.repeat(257), args: {}, outcome: { status: 'ok', result: null } }),
    ]
    for (const s of no) {
      expect(stepFitsSchema(s)).toBe(false)
      // and encodeCheckedStep still refuses it, through the schema
      expect(() => encodeCheckedStep(s as Step)).toThrow()
    }
  })
})

/** decodeCheckedStep's promise: what decodeStep and stepLeaf give, or the same error. */
function sameAsDecodeStep(bytes: Uint8Array): 'step' | 'error' {
  const outcome = (f: () => { step: Step; leaf: string }) => {
    try {
      return f()
    } catch (err) {
      return { error: `${(err as Error).name}: ${(err as Error).message}` }
    }
  }
  const want = outcome(() => {
    const step = decodeStep(bytes)
    return { step, leaf: stepLeaf(step) }
  })
  const got = outcome(() => decodeCheckedStep(bytes))
  expect(got).toEqual(want)
  return 'error' in want ? 'error' : 'step'
}
const utf8 = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : canonicalize(v))

describe('decodeCheckedStep (the WAL reading a step back)', () => {
  test('gives what decodeStep and stepLeaf give for the steps the runtime and the wallet write', () => {
    for (const b of bodies) expect(sameAsDecodeStep(utf8(link(b)))).toBe('step')
    for (const s of sampleSteps(12)) expect(sameAsDecodeStep(encodeStep(s))).toBe('step')
  })

  test('the same step and leaf, or the same error, for mutated steps, random JSON fields and random bytes', () => {
    const seen = { step: 0, error: 0 }
    fc.assert(
      fc.property(fc.nat(bodies.length - 1), fc.nat(10_000), fc.nat(strange.length), fc.boolean(), (b, at, what, addKey) => {
        const step = mutated(b, at, what, addKey)
        let text: string
        try {
          text = canonicalize(step)
        } catch {
          return // no JSON form (a bigint): never on disk
        }
        seen[sameAsDecodeStep(utf8(text))]++
        // and the same text, not canonical (spaces, keys out of order)
        const spaced = (() => {
          try {
            return [JSON.stringify(step, null, 1), JSON.stringify(Object.fromEntries(Object.entries(step).reverse()))]
          } catch {
            return [] // a bigint: canonicalize writes it, JSON.stringify does not
          }
        })()
        for (const t of spaced) sameAsDecodeStep(utf8(t))
      }),
      { numRuns: 2000 },
    )
    expect(seen.step).toBeGreaterThan(50)
    expect(seen.error).toBeGreaterThan(300)
    const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>
    fc.assert(
      fc.property(json, json, (task, result) => {
        sameAsDecodeStep(utf8(link({ kind: 'input', actionId: 'a', timestamp: T0, task })))
        sameAsDecodeStep(utf8(link({ kind: 'output', actionId: 'a', timestamp: T0, result })))
        sameAsDecodeStep(utf8(link({ kind: 'inference', actionId: 'a', timestamp: T0, record: { ...chatRecord, request: task, response: result } } as StepBody)))
      }),
      { numRuns: 300 },
    )
    for (const arb of [fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.constantFrom(...sampleStepBytes()), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat()).map(mutateBytes)]) fc.assert(fc.property(arb, (bytes) => void sameAsDecodeStep(bytes)), { numRuns: 500 })
    // deeper than the canonical form allows, and a lone surrogate
    const deep = link({ kind: 'output', actionId: 'a', timestamp: T0, result: null }) as unknown as Record<string, unknown>
    let nest: unknown = 1
    for (let i = 0; i < 70; i++) nest = [nest]
    expect(sameAsDecodeStep(utf8(JSON.stringify({ ...deep, result: nest })))).toBe('error')
    expect(sameAsDecodeStep(utf8(JSON.stringify({ ...deep, result: '\ud800' })))).toBe('error')
  })
})
