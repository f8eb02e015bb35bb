// The causal-LM path on the shipped tiny Qwen2-layout model (models/tiny-qwen2): its
// tokenizer and template agree with the Python that trained it, the directory digest
// binds every file that matters, every request field is honoured or refused, the container
// serves it with receipts, and replay is exact (and catches a tampered record).
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Template } from '@huggingface/jinja'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { loadCausalLm } from './causalLm.js'
import { causalLmDigest, causalLmFiles } from './causalLmDir.js'
import { type CausalLmEngine, createCausalLmEngine } from './causalLmEngine.js'
import { assembleChatStream, chatOutputHash } from './chatOutput.js'
import { SHIPPED_MODELS_DIR, createModelStore } from './modelStore.js'
import type { ChatCompletionResponse } from './schemas.js'
import { compileFlatSchema, validateFlat } from './chatSchema.js'
import { verifyReceipt } from './receipt.js'
import { replay } from './replay.js'
import { chooseToken, uniformAt } from './sampling.js'
import type { Receipt } from './schemas.js'
import { type InferenceServer, startInferenceServer } from './server.js'
import { DEFAULT_SETTINGS } from './settings.js'

const dir = join(SHIPPED_MODELS_DIR, 'tiny-qwen2')
const store = createModelStore({ root: '/nonexistent-covenant-root', models: [{ name: 'tiny-qwen2', path: dir }] })
const model = store.get('tiny-qwen2')
const fixtures = JSON.parse(readFileSync(join(dir, 'fixtures.json'), 'utf8')) as {
  render: Array<{ messages: unknown[]; tools: unknown[]; add_generation_prompt: boolean; text: string }>
  encode: Array<{ text: string; ids: number[] }>
}
const weather = { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }
const price = { type: 'function', function: { name: 'get_price', description: 'Latest price of an asset in USD', parameters: { type: 'object', properties: { symbol: { type: 'string' } }, required: ['symbol'] } } }
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'tiny-qwen2', messages: [{ role: 'user', content }], ...extra })

let engine: CausalLmEngine
beforeAll(async () => {
  engine = await createCausalLmEngine({ store, model, settings: { ...DEFAULT_SETTINGS } })
})

describe('tokenizer (tokenizer.json through @huggingface/tokenizers)', () => {
  test('encodes exactly as the Python BPE that trained the model', async () => {
    const lm = await loadCausalLm(store, model, { ...DEFAULT_SETTINGS })
    expect(fixtures.encode.length).toBeGreaterThan(5)
    for (const f of fixtures.encode) expect(lm.encode(f.text)).toEqual(f.ids)
  })

  test('round-trips varied text: unicode, emoji, CJK, control characters, whitespace runs, the special tokens', async () => {
    const lm = await loadCausalLm(store, model, { ...DEFAULT_SETTINGS })
    const texts = [
      'It is snowy and -3°C in Zürich.',
      'naïve café — “quotes” ‘single’ … ½ ² µ',
      'こんにちは世界 안녕하세요 你好 Здравствуйте مرحبا',
      'emoji 👋🏽 👨‍👩‍👧‍👦 🇯🇵 and a lone combining mark e\u0301',
      'tabs\tand\nnewlines\r\n\n  leading and trailing  ',
      '{"name": "get_weather", "arguments": {"city": "Paris"}}',
      '<|im_start|>user\nHi<|im_end|>\n<tool_call>\n{"name": "x"}\n</tool_call><|endoftext|>',
      "I'm sure they'll say it's 12,345.67 USD's worth",
      '',
    ]
    for (const t of texts) {
      // NFC is the tokenizer's normaliser: round-trips are exact up to it
      expect(lm.decode(lm.encode(t))).toBe(t.normalize('NFC'))
    }
    for (const s of ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<tool_call>', '</tool_call>']) {
      const ids = lm.encode(s)
      expect(ids).toHaveLength(1)
      expect(lm.decode(ids)).toBe(s)
    }
    expect(lm.eosIds.has(lm.encode('<|im_end|>')[0]!)).toBe(true)
    expect(lm.toolCallOpen).toBe(lm.encode('<tool_call>')[0])
  })

  test('the chat template (@huggingface/jinja) renders what the Python training code rendered', () => {
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as { chat_template: string }
    const t = new Template(tc.chat_template)
    for (const f of fixtures.render) {
      expect(t.render({ messages: f.messages, ...(f.tools.length ? { tools: f.tools } : {}), add_generation_prompt: f.add_generation_prompt })).toBe(f.text)
    }
  })
})

describe('directory digest', () => {
  test('covers the tokenizer, template and configs, not only model.onnx; a file swapped after indexing is refused', () => {
    const copy = mkdtempSync(join(tmpdir(), 'covenant-lm-'))
    cpSync(dir, copy, { recursive: true })
    const before = causalLmDigest(causalLmFiles(copy))
    expect(before).toBe(model.digest)
    expect(causalLmFiles(copy).map((f) => f.name)).toEqual(['config.json', 'generation_config.json', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json'])
    const s = createModelStore({ root: '/nonexistent-covenant-root', models: [{ name: 'copy', path: copy }] })
    // an attacker edits the chat template (say, to hide a system prompt): another digest, and the indexed one no longer loads
    const tc = JSON.parse(readFileSync(join(copy, 'tokenizer_config.json'), 'utf8')) as { chat_template: string }
    writeFileSync(join(copy, 'tokenizer_config.json'), JSON.stringify({ ...tc, chat_template: tc.chat_template.replace('You are a helpful assistant.', 'Pay everyone.') }))
    expect(causalLmDigest(causalLmFiles(copy))).not.toBe(before)
    expect(() => s.read('copy')).toThrow(/does not have the expected digest/)
  })
})

describe('decoding', () => {
  test('greedy: the same request gives the same tokens; stop token ends the answer', async () => {
    const a = await engine.complete(ask('Hello!'))
    const b = await engine.complete(ask('Hello!'))
    expect(a.output.covenant.actions).toEqual(b.output.covenant.actions)
    expect(a.output.covenant.decoding).toBe('causal-lm-v1')
    expect(a.output.choices[0]!.finish_reason).toBe('stop')
    expect(engine.lm.eosIds.has(a.output.covenant.actions.at(-1)!)).toBe(true)
  })

  test('seeded sampling: a seed fixes the answer; no seed means one derived from the request (still replayable)', async () => {
    const s = (seed: number | undefined) => engine.complete(ask('Who are you?', { temperature: 1.5, max_tokens: 12, ...(seed === undefined ? {} : { seed }) }))
    const [a, b] = [await s(1), await s(1)]
    expect(a.output.covenant.actions).toEqual(b.output.covenant.actions)
    const seeds = await Promise.all([2, 3, 4, 5, 6].map((x) => s(x)))
    expect(new Set(seeds.map((x) => x.output.covenant.actions.join())).size).toBeGreaterThan(1)
    const unseeded = await s(undefined)
    expect((await replay(unseeded.record, { store })).match).toBe(true)
  })

  test('the PRNG is our own: fixed values, uniform in [0, 1); top_p keeps the nucleus', () => {
    expect(uniformAt(1, 0)).toBe(uniformAt(1, 0))
    const us = Array.from({ length: 2000 }, (_, i) => uniformAt(42, i))
    expect(Math.min(...us)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...us)).toBeLessThan(1)
    expect(Math.abs(us.reduce((a, b) => a + b, 0) / us.length - 0.5)).toBeLessThan(0.05)
    const logits = Float32Array.from([0, 10, 9.9, -5])
    const picks = new Set(us.slice(0, 300).map((_, step) => chooseToken(logits, { temperature: 1, topP: 0.5, seed: 9 }, step)))
    expect([...picks]).toEqual([1]) // the top token alone holds ≥ 50 % of the mass
    expect(chooseToken(logits, { temperature: 0, topP: 1, seed: 0 }, 0)).toBe(1)
    expect(chooseToken(Float32Array.from([3, 3]), { temperature: 0, topP: 1, seed: 0 }, 0)).toBe(0) // ties: lowest id
  })

  test('a weather question gives a get_weather call in the model’s own format, parsed into OpenAI tool_calls', async () => {
    const { output } = await engine.complete(ask('What is the weather in Oslo?', { tools: [weather, price] }))
    const m = output.choices[0]!.message
    expect(output.choices[0]!.finish_reason).toBe('tool_calls')
    expect(m.tool_calls?.[0]?.function.name).toBe('get_weather')
    expect(JSON.parse(m.tool_calls![0]!.function.arguments)).toHaveProperty('city')
  })

  test('tool_choice: none never writes a call; required and a named function always start one', async () => {
    const none = await engine.complete(ask('What is the weather in Oslo?', { tools: [weather], tool_choice: 'none', max_tokens: 24 }))
    expect(none.output.covenant.actions).not.toContain(engine.lm.toolCallOpen)
    expect(none.output.choices[0]!.message.tool_calls).toBeUndefined()
    const required = await engine.complete(ask('Hello!', { tools: [weather], tool_choice: 'required', max_tokens: 40 }))
    expect(required.output.covenant.actions[0]).toBe(engine.lm.toolCallOpen)
    const named = await engine.complete(ask('Price of SOL?', { tools: [weather, price], tool_choice: { type: 'function', function: { name: 'get_price' } }, max_tokens: 40 }))
    expect(named.output.choices[0]!.message.tool_calls?.[0]?.function).toEqual({ name: 'get_price', arguments: '{"symbol":"SOL"}' })
    // forced against the question: the call's opening is written for the model; its arguments are still the model's
    const against = await engine.complete(ask('What is the weather in Oslo?', { tools: [weather, price], tool_choice: { type: 'function', function: { name: 'get_price' } }, max_tokens: 40 }))
    const prefix = [engine.lm.toolCallOpen!, ...engine.lm.encode('\n{"name": "get_price", "arguments":')]
    expect(against.output.covenant.actions.slice(0, prefix.length)).toEqual(prefix)
    const call = against.output.choices[0]!.message.tool_calls?.[0]
    // either a get_price call, or (the tiny model wrote malformed arguments) the text as content — never another tool
    if (call) expect(call.function.name).toBe('get_price')
    else expect(against.output.choices[0]!.message.content).toContain('"name": "get_price"')
  })

  test('max_tokens cuts with finish_reason length; stop sequences are never sent; logprobs are real', async () => {
    const cut = await engine.complete(ask('Hello!', { max_tokens: 2 }))
    expect(cut.output.choices[0]!.finish_reason).toBe('length')
    expect(cut.output.covenant.actions).toHaveLength(2)
    const full = (await engine.complete(ask('Hello!'))).output.choices[0]!.message.content!
    const word = full.split(' ')[1]!
    const stopped = await engine.complete(ask('Hello!', { stop: [word] }))
    expect(stopped.output.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(word)).trimEnd())
    const lp = await engine.complete(ask('Hello!', { logprobs: true, top_logprobs: 3 }))
    const content = lp.output.choices[0]!.logprobs!.content!
    expect(content.length).toBeGreaterThan(0)
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0)
      expect(t.top_logprobs).toHaveLength(3)
      expect(t.top_logprobs[0]!.logprob).toBeGreaterThanOrEqual(t.logprob) // greedy: the chosen token is the best
    }
    expect(content.map((t) => t.token).join('').trim()).toBe(lp.output.choices[0]!.message.content)
  })

  test('response_format json_schema: the answer is an object that fits the schema, whatever the model would rather say; it replays', async () => {
    const schema = {
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 2, maxLength: 12 },
        celsius: { type: 'integer', minimum: -40, maximum: 50 },
        sky: { enum: ['clear', 'cloudy', 'rain'] },
        windy: { type: 'boolean' },
      },
      required: ['city', 'celsius', 'sky'],
      additionalProperties: false,
    }
    const { spec } = compileFlatSchema(schema)
    for (const [question, extra] of [
      ['What is the weather in Paris?', {}],
      ['Hello!', {}],
      ['Tell me about Oslo.', { temperature: 0.9, seed: 7 }],
    ] as const) {
      const r = await engine.complete(ask(question, { ...extra, response_format: { type: 'json_schema', json_schema: { name: 'report', schema, strict: true } } }))
      const choice = r.output.choices[0]!
      expect(choice.finish_reason).toBe('stop')
      expect(choice.message.tool_calls).toBeUndefined()
      const value = JSON.parse(choice.message.content!) as unknown
      expect(validateFlat(value, spec)).toEqual([])
      expect((await replay(r.record, { store })).match).toBe(true)
    }
    // cut by max_tokens: finish_reason length, as OpenAI
    const cut = await engine.complete(ask('Hi', { max_tokens: 3, response_format: { type: 'json_schema', json_schema: { name: 'report', schema } } }))
    expect(cut.output.choices[0]!.finish_reason).toBe('length')
  })

  test('refused, never ignored: json_object, n > 1, temperature out of range, a tool_choice not in tools', async () => {
    const refused = async (extra: Record<string, unknown>) => (await engine.complete(ask('Hi', extra)).catch((e: unknown) => e)) as { name: string; param: string }
    expect(await refused({ response_format: { type: 'json_object' } })).toMatchObject({ name: 'InvalidChatRequestError', param: 'response_format.type' })
    expect(await refused({ n: 2 })).toMatchObject({ param: 'n' })
    expect(await refused({ temperature: 3 })).toMatchObject({ param: 'temperature' })
    expect(await refused({ top_p: 0 })).toMatchObject({ param: 'top_p' })
    expect(await refused({ tools: [weather], tool_choice: { type: 'function', function: { name: 'pay' } } })).toMatchObject({ param: 'tool_choice' })
    // longer than the model's context (512 positions): refused before anything runs
    expect(await engine.complete(ask('weather '.repeat(600))).catch((e: unknown) => e)).toMatchObject({ name: 'InvalidChatRequestError', code: 'context_length_exceeded' })
  })
})

describe('the container serving a model directory', () => {
  let server: InferenceServer
  beforeAll(async () => {
    server = await startInferenceServer({ port: 0, store })
  })
  afterAll(async () => {
    await server?.close()
  })
  const post = async (body: unknown) => fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  test('listed as a chat model under its directory digest; answers carry a receipt for that digest; replay is exact', async () => {
    expect(server.models.map((m) => [m.model.name, m.kind, m.model.digest])).toEqual([['tiny-qwen2', 'chat', model.digest]])
    const request = ask('What is the weather in Paris?', { tools: [weather] })
    const res = await post(request)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { covenant_receipt: Receipt; choices: unknown[] }
    const { covenant_receipt: receipt, ...response } = body
    expect(receipt.modelDigest).toBe(model.digest)
    await verifyReceipt({ receipt, request, response, expectedSigner: server.address, expectedMeasurement: server.measurement })
    const record = {
      backend: 'openai-compatible',
      format: 'chat-completions-v1',
      modelDigest: model.digest,
      runtime: { name: 'onnxruntime-node', version: '0', settings: {} },
      replay: 'exact',
      request,
      response,
      inputHash: receipt.requestHash,
      outputHash: chatOutputHash(response),
      timing: { startedAt: 0, durationMs: 0 },
      receipt,
    }
    expect((await replay(record, { store })).match).toBe(true)
    // a cheater edits the recorded answer (another city in the call) and re-hashes it: the re-executed model disagrees
    const forged = structuredClone(response) as { choices: Array<{ message: { tool_calls?: Array<{ function: { arguments: string } }>; content: string | null } }> }
    const call = forged.choices[0]!.message.tool_calls?.[0]
    if (call) call.function.arguments = JSON.stringify({ city: 'Atlantis' })
    else forged.choices[0]!.message.content = 'forged'
    const verdict = await replay({ ...record, response: forged, outputHash: chatOutputHash(forged) }, { store })
    expect(verdict.match).toBe(false)
    // …or claims the answer came from another decoding: the signed receipt no longer covers the
    // response, a mismatch
    const relabelled = structuredClone(response) as unknown as { covenant: { decoding: string } }
    relabelled.covenant.decoding = 'greedy-constrained-v1'
    const relabelledVerdict = await replay({ ...record, response: relabelled }, { store })
    expect(relabelledVerdict.match).toBe(false)
    expect(relabelledVerdict.diff?.reason).toMatch(/receipt/)
    // and with the receipt dropped, a record from an endpoint that claims exact is a mismatch too
    const unsigned = { ...record, response: relabelled, outputHash: chatOutputHash(relabelled as unknown as ChatCompletionResponse) }
    delete (unsigned as { receipt?: unknown }).receipt
    expect((await replay(unsigned, { store })).match).toBe(false)
  })

  test('streams token by token; the assembled stream equals the plain answer; a refused field is an OpenAI 400', async () => {
    const request = ask('Hello!', { temperature: 0.8, seed: 11 })
    const plain = (await (await post(request)).json()) as { choices: unknown[] }
    const text = await (await post({ ...request, stream: true })).text()
    const chunks = text
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as unknown)
    expect(chunks.length).toBeGreaterThan(3)
    expect(chatOutputHash(assembleChatStream(chunks))).toBe(chatOutputHash(plain))
    const bad = await post(ask('Hi', { response_format: { type: 'json_object' } }))
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('response_format.type')
  })
})
