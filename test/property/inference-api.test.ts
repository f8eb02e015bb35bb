/**
 * The inference container's HTTP API (createInferenceApp, in-process through app.request)
 * against generated bad requests: malformed JSON, wrong types, out-of-range settings,
 * unknown fields and models, tensors that do not fit the model, bad nonces, unknown routes,
 * bodies nested far deeper than a trace step may hold (`messages[].content`, tool
 * parameters, tensors). Every answer is a 4xx (never a 5xx) OpenAI-style JSON error with a
 * short message, carrying a signed receipt; no model runs on bad input, and the container
 * answers a good request exactly as before (nothing changed).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createInferenceApp, type InferenceApp, MAX_REQUEST_DEPTH } from '../../src/inference/server.js'
import { MAX_JSON_DEPTH } from '../../src/trace/canonical.js'

const RUNS = 1_000
let inf: InferenceApp
let reference: unknown

const goodInfer = { model: 'moderation', text: 'Lovely turnout at the community garden today' }
const post = (path: string, body: string, type = 'application/json') => inf.app.request(path, { method: 'POST', headers: { 'content-type': type }, body })
const outputsOf = async (res: Response) => ((await res.json()) as { outputs: unknown; result: unknown }).outputs

beforeAll(async () => {
  inf = await createInferenceApp()
  reference = await outputsOf(await post('/v1/infer', JSON.stringify(goodInfer)))
})
afterAll(() => {})

async function expectOpenAIError(res: Response, allowed: number[], what: string): Promise<void> {
  const text = await res.text()
  expect(allowed, `${what} → ${res.status}: ${text.slice(0, 300)}`).toContain(res.status)
  expect(res.status).toBeLessThan(500)
  const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown }; covenant_receipt?: unknown }
  expect(typeof body.error?.message, what).toBe('string')
  expect((body.error!.message as string).length).toBeGreaterThan(5)
  expect((body.error!.message as string).length, what).toBeLessThanOrEqual(300)
  expect(body.error?.type).toBe('invalid_request_error')
  expect(body.covenant_receipt, 'every answer carries a receipt').toBeDefined()
  expect(res.headers.get('x-covenant-receipt')).toBeTruthy()
}

const json = fc.jsonValue({ maxDepth: 2 })
const notJson = fc.string({ maxLength: 120 }).filter((s) => {
  try {
    JSON.parse(s)
    return false
  } catch {
    return true
  }
})
const okMessages = [{ role: 'user', content: 'pay invoice 7' }]

/** Chat requests, each wrong in at least one way; none can reach the model. */
const badChat: fc.Arbitrary<{ body: string; why: string }> = fc.oneof(
  notJson.map((body) => ({ body, why: 'not JSON' })),
  fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(json, { maxLength: 3 })).map((v) => ({ body: JSON.stringify(v), why: 'not an object' })),
  fc.record({ messages: fc.constant(okMessages) }).map((v) => ({ body: JSON.stringify(v), why: 'no model' })),
  fc.record({ model: fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.array(fc.string())), messages: fc.constant(okMessages) }).map((v) => ({ body: JSON.stringify(v), why: 'bad model' })),
  fc.record({ model: fc.constant('covenant-chat'), messages: fc.oneof(fc.constant([]), fc.string(), fc.integer(), fc.constant(null), fc.array(fc.oneof(fc.integer(), fc.string(), fc.record({ role: fc.string({ maxLength: 8 }).filter((r) => !['system', 'developer', 'user', 'assistant', 'tool'].includes(r)) })), { minLength: 1, maxLength: 3 })) }).map((v) => ({ body: JSON.stringify(v), why: 'bad messages' })),
  fc.constant({ body: JSON.stringify({ model: 'covenant-chat', messages: Array.from({ length: 257 }, () => okMessages[0]) }), why: 'too many messages' }),
  fc
    .oneof(
      fc.record({ temperature: fc.oneof(fc.double({ min: 2.0001, max: 1e9, noNaN: true }), fc.double({ min: -1e9, max: -0.0001, noNaN: true }), fc.string()) }),
      fc.record({ top_p: fc.oneof(fc.double({ min: 1.0001, max: 1e6, noNaN: true }), fc.constant(-1)) }),
      fc.record({ n: fc.integer({ min: 2, max: 1_000 }) }),
      fc.record({ max_tokens: fc.oneof(fc.integer({ min: -1_000, max: 0 }), fc.constant(1.5), fc.string()) }),
      fc.record({ seed: fc.oneof(fc.constant(0.5), fc.string()) }),
      fc.record({ stream: fc.oneof(fc.string(), fc.integer()) }),
      fc.record({ tools: fc.oneof(fc.string(), fc.constant([{ type: 'function', function: { name: 'has space' } }]), fc.constant(Array.from({ length: 65 }, (_, i) => ({ type: 'function', function: { name: `t${i}` } })))) }),
      fc.record({ tool_choice: fc.oneof(fc.constant('sometimes'), fc.integer()) }),
    )
    .map((extra) => ({ body: JSON.stringify({ model: 'covenant-chat', messages: okMessages, ...extra }), why: `bad ${Object.keys(extra)[0]}` })),
  fc.string({ minLength: 1, maxLength: 30 }).filter((m) => m !== 'covenant-chat' && m.toLowerCase() !== inf.models.find((x) => x.kind === 'chat')?.model.digest).map((model) => ({ body: JSON.stringify({ model, messages: okMessages }), why: 'unknown model' })),
)

/**
 * Bodies nested deeper than MAX_REQUEST_DEPTH, written as text (building such values would
 * test this file's stack): in a message's content, a content part, tool parameters, a
 * tensor, or the whole body; strings with brackets and escaped quotes around them.
 */
const deep = fc.record({
  // 150,000 object levels stay under the 1 MiB body limit (past it the answer is a 413)
  depth: fc.oneof(fc.integer({ min: MAX_REQUEST_DEPTH + 1, max: 200 }), fc.integer({ min: 1_000, max: 150_000 })),
  objects: fc.boolean(),
  noise: fc.constantFrom('"x"', '"[[[{{"', '"\\"]]]"', '"\\\\"'),
})
const nest = ({ depth, objects, noise }: { depth: number; objects: boolean; noise: string }) => (objects ? `${'{"k":'.repeat(depth)}${noise}${'}'.repeat(depth)}` : `${'['.repeat(depth)}${noise}${']'.repeat(depth)}`)
const deepChat: fc.Arbitrary<{ body: string; why: string }> = fc.tuple(deep, fc.constantFrom('content', 'part', 'tools', 'body', 'extra')).map(([d, where]) => {
  const v = nest(d)
  const body = {
    content: `{"model":"covenant-chat","messages":[{"role":"user","content":${v}}]}`,
    part: `{"model":"covenant-chat","messages":[{"role":"user","content":[{"type":"text","text":"hi","x":${v}}]}]}`,
    tools: `{"model":"covenant-chat","messages":[{"role":"user","content":"pay"}],"tools":[{"type":"function","function":{"name":"pay","parameters":${v}}}]}`,
    body: v,
    extra: `{"model":"covenant-chat","messages":[{"role":"user","content":${d.noise}}],"metadata":${v}}`,
  }[where]
  return { body, why: `${where} nested ${d.depth} deep` }
})

const base64 = (n: number) => Buffer.alloc(n).toString('base64')
/** Inference requests, each wrong in at least one way. */
const badInfer: fc.Arbitrary<{ body: string; why: string }> = fc.oneof(
  notJson.map((body) => ({ body, why: 'not JSON' })),
  fc.record({ model: fc.constant('moderation'), text: fc.constant('x'), extra: json }).map((v) => ({ body: JSON.stringify(v), why: 'unknown field' })),
  fc.record({ text: fc.string() }).map((v) => ({ body: JSON.stringify(v), why: 'no model' })),
  fc.record({ model: fc.constant('moderation'), text: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string())) }).map((v) => ({ body: JSON.stringify(v), why: 'text not a string' })),
  fc.constant({ body: JSON.stringify({ model: 'moderation', text: 'x'.repeat(100_001) }), why: 'text too long' }),
  fc.string({ minLength: 1, maxLength: 30 }).filter((m) => m !== 'moderation').map((model) => ({ body: JSON.stringify({ model, text: 'hello' }), why: 'not a tensor model here' })),
  fc.constant({ body: JSON.stringify({ model: 'moderation', inputs: [] }), why: 'no inputs' }),
  fc
    .record({
      name: fc.oneof(fc.constant('counts'), fc.string({ minLength: 1, maxLength: 10 })),
      dtype: fc.oneof(fc.constantFrom('float32', 'int64', 'int32', 'float64', 'uint8'), fc.string({ maxLength: 6 })),
      shape: fc.oneof(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
        fc.constant([1, 4095]),
        fc.constant([1, 4096, 1]),
        fc.array(fc.integer({ min: -5, max: -1 }), { minLength: 1, maxLength: 2 }),
        fc.constant([1.5]),
        fc.constant(Array.from({ length: 9 }, () => 1)),
      ),
      data: fc.oneof(fc.array(fc.double({ noNaN: true }), { maxLength: 8 }), fc.constant('not base64!'), fc.integer({ min: 0, max: 64 }).map(base64), fc.constant(null)),
    })
    // the one well-formed counts tensor the model takes is left out: everything here must be refused
    .filter((t) => !(t.name === 'counts' && t.dtype === 'float32' && t.shape.length === 2 && t.shape[0] !== 0 && t.shape[1] === 4096))
    .map((t) => ({ body: JSON.stringify({ model: 'moderation', inputs: [t] }), why: `tensor ${t.name} ${t.dtype} [${t.shape}]` })),
  // well-formed tensors (data matches dtype and shape) that do not fit the model's input
  fc
    .record({
      name: fc.constantFrom('counts', 'features', 'input', 'x'),
      dtype: fc.constantFrom('float32', 'int64', 'int32'),
      shape: fc.oneof(fc.constant([1, 4096]), fc.constant([2, 4096]), fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 64 })), fc.tuple(fc.integer({ min: 1, max: 4 })), fc.constant([1, 1, 4096])),
      extra: fc.array(fc.record({ name: fc.constantFrom('counts', 'other'), dtype: fc.constant('float32'), shape: fc.constant([1, 4096]) }), { maxLength: 1 }),
    })
    .filter((t) => !(t.name === 'counts' && t.dtype === 'float32' && t.shape.length === 2 && t.shape[1] === 4096 && t.extra.length === 0))
    .map((t) => {
      const tensor = (x: { name: string; dtype: string; shape: readonly number[] }) => ({ ...x, data: Array.from({ length: x.shape.reduce((a, b) => a * b, 1) }, (_, i) => i % 3) })
      const inputs = [tensor({ name: t.name, dtype: t.dtype, shape: t.shape }), ...t.extra.map(tensor)]
      return { body: JSON.stringify({ model: 'moderation', inputs }), why: `inputs ${inputs.map((x) => `${x.name} ${x.dtype} [${x.shape}]`).join(', ')}` }
    }),
)

describe('inference container HTTP API: bad input', () => {
  test(`${RUNS} generated bad chat completion requests: 4xx with an OpenAI-style error and a receipt, no model run`, async () => {
    await fc.assert(
      fc.asyncProperty(badChat, async ({ body, why }) => {
        await expectOpenAIError(await post('/v1/chat/completions', body), [400, 404], why)
      }),
      { numRuns: RUNS },
    )
  })

  test(`${RUNS} generated bodies nested past ${MAX_REQUEST_DEPTH} levels (chat and infer): 400 before parsing, never a 500`, async () => {
    // a request sits inside a replay record inside a trace step: the limit leaves room for both
    expect(MAX_REQUEST_DEPTH + 8).toBeLessThanOrEqual(MAX_JSON_DEPTH)
    const deepInfer = deep.map((d) => ({ body: `{"model":"moderation","inputs":[{"name":"counts","dtype":"float32","shape":[1,4096],"data":${nest(d)}}]}`, why: `tensor data nested ${d.depth} deep` }))
    await fc.assert(
      fc.asyncProperty(fc.oneof(deepChat.map((b) => ({ ...b, path: '/v1/chat/completions' })), deepInfer.map((b) => ({ ...b, path: '/v1/infer' }))), async ({ body, why, path }) => {
        const res = await post(path, body)
        const text = await res.clone().text()
        await expectOpenAIError(res, [400], why)
        expect(text).toMatch(/deeper than 48 levels/)
      }),
      { numRuns: RUNS },
    )
    // the limit itself is allowed: 48 levels reach the schema (which refuses a content that is not text)
    const atLimit = `{"model":"covenant-chat","messages":[{"role":"user","content":${'['.repeat(MAX_REQUEST_DEPTH - 3)}${']'.repeat(MAX_REQUEST_DEPTH - 3)}}]}`
    const res = await post('/v1/chat/completions', atLimit)
    expect(await res.clone().text()).not.toMatch(/deeper than/)
    await expectOpenAIError(res, [400], 'at the limit')
    // and a good request still gets the same answer
    expect(await outputsOf(await post('/v1/infer', JSON.stringify(goodInfer)))).toEqual(reference)
  })

  test(`${RUNS} generated bad inference requests (bodies, tensors, nonces, routes): 4xx with an error and a receipt`, async () => {
    const other = fc.oneof(
      badInfer.map((b) => ({ ...b, path: '/v1/infer', method: 'POST', allowed: [400, 404] })),
      fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^0x[0-9a-f]{129,200}$/), fc.stringMatching(/^[0-9a-f]{1,20}$/)).filter((n) => !/^0x[0-9a-fA-F]{0,128}$/.test(n)).map((n) => ({ body: '', why: `nonce ${n}`, path: `/attestation?nonce=${encodeURIComponent(n)}`, method: 'GET', allowed: [400] })),
      fc.stringMatching(/^\/[a-z0-9/_-]{1,30}$/).filter((p) => !/^\/(v1\/(models|infer|chat\/completions)|attestation)$/.test(p)).map((path) => ({ body: '', why: `route ${path}`, path, method: 'GET', allowed: [404] })),
      fc.integer({ min: 1_000, max: 12_000 }).map((n) => ({ body: '', why: `route of ${n} characters`, path: `/${'u'.repeat(n)}`, method: 'GET', allowed: [404] })),
      fc.string({ minLength: 300, maxLength: 5_000 }).map((model) => ({ body: JSON.stringify({ model, text: 'hello' }), why: 'long model name', path: '/v1/infer', method: 'POST', allowed: [404] })),
    )
    await fc.assert(
      fc.asyncProperty(other, async ({ body, why, path, method, allowed }) => {
        const res = method === 'POST' ? await post(path, body) : await inf.app.request(path)
        await expectOpenAIError(res, allowed, why)
      }),
      { numRuns: RUNS },
    )
    // a body over the limit is refused before it is read
    await expectOpenAIError(await post('/v1/infer', JSON.stringify({ model: 'moderation', text: 'x'.repeat(1 << 20) })), [413], 'too large')
    // nothing changed: the same request gives the same answer
    expect(await outputsOf(await post('/v1/infer', JSON.stringify(goodInfer)))).toEqual(reference)
  })
})
