import { Agent, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { HumanMessage } from '@langchain/core/messages'
import { tool } from '@langchain/core/tools'
import { type ServerType, serve } from '@hono/node-server'
import OpenAI from 'openai'
import { zodResponseFormat } from 'openai/helpers/zod'
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { assembleChatStream, chatOutputHash } from './chatOutput.js'
import { compileFlatSchema, validateFlat } from './chatSchema.js'
import { createChatModel } from './openaiBackend.js'
import { verifyReceipt } from './receipt.js'
import { replay } from './replay.js'
import { type InferenceApp, createInferenceApp } from './server.js'

/**
 * The container as OpenAI clients see it: the real `openai` SDK (v6) and LangChain's
 * ChatOpenAI, over HTTP. Every field is honoured or refused with OpenAI's error shape;
 * streams are token by token and add up to the plain answer; ids are unique; a refused
 * request leaves the keep-alive connection usable.
 */
let inference: InferenceApp
let server: ServerType
let baseURL: string
let client: OpenAI

beforeAll(async () => {
  inference = await createInferenceApp()
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: inference.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  client = new OpenAI({ baseURL, apiKey: 'covenant-local', maxRetries: 0 })
})
afterAll(async () => {
  ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const INVOICE = 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.'
const MARKET = 'Resolve market MKT-17: Will the Lisbon marathon be held on 2026-12-06? Evidence: the organisers confirmed the race took place on 2026-12-06.'
const ARGS = { invoiceId: 'INV-2041', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amountEth: '0.25' }
const payInvoice = {
  type: 'function' as const,
  function: {
    name: 'pay_invoice',
    description: 'Pay an invoice from the treasury',
    parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } }, required: ['invoiceId', 'to', 'amountEth'] },
  },
}
const resolveMarket = {
  type: 'function' as const,
  function: { name: 'resolve_market', parameters: { type: 'object', properties: { marketId: { type: 'string' }, outcome: { type: 'string', enum: ['yes', 'no'] } }, required: ['marketId', 'outcome'] } },
}
const model = 'covenant-chat'
/** The turn after pay_invoice returned: the model answers "Paid INV-2041." */
const paid: ChatCompletionCreateParamsNonStreaming['messages'] = [
  { role: 'user', content: INVOICE },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pay_invoice', arguments: JSON.stringify(ARGS) } }] },
  { role: 'tool', tool_call_id: 'call_1', content: '{"status":"paid","txHash":"0x1234"}' },
]

type Receipted = { covenant_receipt?: unknown }
const apiError = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>)

/** Streams a request through the SDK; returns the chunks as the SDK parsed them. */
async function streamed(body: Omit<ChatCompletionCreateParamsNonStreaming, 'stream'> & { stream_options?: { include_usage: boolean } }): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = []
  for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) chunks.push(chunk)
  return chunks
}

describe('openai SDK → the container', () => {
  test('plain: a completion with a unique id and a receipt over the exact exchange', async () => {
    const body = { model, messages: [{ role: 'user' as const, content: 'hello' }] }
    const a = await client.chat.completions.create(body)
    const b = await client.chat.completions.create(body)
    expect(a.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'I can only help with the tasks my tools support.' }, logprobs: null })
    expect(a.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/)
    expect(b.id).not.toBe(a.id) // same request, another completion
    expect(chatOutputHash(b)).toBe(chatOutputHash(a)) // …with the same answer
    await expect(verifyReceipt({ receipt: (a as Receipted).covenant_receipt, request: body, response: a, expectedSigner: inference.address })).resolves.toBeTruthy()
  })

  test('stream: one chunk per decoded piece, one id, the same answer as without stream, a receipt in the last chunk', async () => {
    const body = { model, messages: paid, tools: [payInvoice] }
    const plain = await client.chat.completions.create(body)
    expect(plain.choices[0]!.message.content).toBe('Paid INV-2041.')
    const chunks = await streamed({ ...body, stream_options: { include_usage: true } })
    const contents = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content).filter((x) => x !== undefined && x !== null))
    expect(contents).toEqual(['Paid', ' ', 'INV-2041', '.']) // token by token, not the answer in one piece
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
    expect(chunks[0]!.id).not.toBe(plain.id)
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop')
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: plain.usage }) // include_usage: a last chunk with usage only
    expect(chatOutputHash(assembleChatStream(chunks))).toBe(chatOutputHash(plain))
    const receipt = (chunks.at(-1) as Receipted).covenant_receipt
    await expect(verifyReceipt({ receipt, request: { ...body, stream: true, stream_options: { include_usage: true } }, response: chunks, expectedSigner: inference.address })).resolves.toBeTruthy()
    // the SDK's own stream helper puts the same message together
    const final = await client.chat.completions.stream(body).finalChatCompletion()
    expect(final.choices[0]!.message.content).toBe('Paid INV-2041.')
  })

  test('stream of a tool call: the name first, then the arguments fragment by fragment; the record replays', async () => {
    const { fetch: recording, takeRecords } = createChatModel({ baseURL, model })
    const recorded = new OpenAI({ baseURL, apiKey: 'covenant-local', maxRetries: 0, fetch: recording })
    const chunks: ChatCompletionChunk[] = []
    for await (const c of await recorded.chat.completions.create({ model, messages: [{ role: 'user', content: INVOICE }], tools: [payInvoice], stream: true })) chunks.push(c)
    const calls = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []))
    expect(calls[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'pay_invoice' } })
    expect(calls.length).toBeGreaterThan(10)
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual(ARGS)
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls')
    const [record] = takeRecords()
    expect(record).toMatchObject({ replay: 'exact', runtime: { settings: { stream: true } } })
    expect(await replay(record!)).toMatchObject({ match: true, diff: null })
  })

  describe('tools, with every tool_choice', () => {
    const invoice = { model, messages: [{ role: 'user' as const, content: INVOICE }] }
    const callsOf = (c: ChatCompletion) => (c.choices[0]!.message.tool_calls ?? []).map((t) => (t.type === 'function' ? [t.function.name, JSON.parse(t.function.arguments) as unknown] : [t.type]))

    test('auto: the honest agent’s call, exactly as before', async () => {
      const c = await client.chat.completions.create({ ...invoice, tools: [payInvoice], tool_choice: 'auto' })
      expect(callsOf(c)).toEqual([['pay_invoice', ARGS]])
      expect(c.choices[0]!.finish_reason).toBe('tool_calls')
    })

    test('none: plain text, no call and no tool-call markup (it used to return broken markup here)', async () => {
      for (const tools of [[payInvoice], undefined]) {
        const c = await client.chat.completions.create({ ...invoice, ...(tools ? { tools, tool_choice: 'none' as const } : {}) })
        expect(c.choices[0]!.message.tool_calls).toBeUndefined()
        expect(c.choices[0]!.finish_reason).toBe('stop')
        expect(c.choices[0]!.message.content).toBe('I can only help with the tasks my tools support.')
      }
    })

    test('required: a call even to "hello", of a declared tool, with arguments that fit its schema', async () => {
      const c = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }], tools: [payInvoice, resolveMarket], tool_choice: 'required' })
      const calls = c.choices[0]!.message.tool_calls ?? []
      expect(calls.length).toBeGreaterThan(0)
      for (const t of calls) {
        if (t.type !== 'function') throw new Error('not a function call')
        const declared = [payInvoice, resolveMarket].find((d) => d.function.name === t.function.name)!
        expect(validateFlat(JSON.parse(t.function.arguments), compileFlatSchema(declared.function.parameters).spec)).toEqual([])
      }
    })

    test('named: that function, even when the model would call another; its enum holds', async () => {
      const c = await client.chat.completions.create({ ...invoice, tools: [payInvoice, resolveMarket], tool_choice: { type: 'function', function: { name: 'resolve_market' } } })
      const [call] = callsOf(c)
      expect(call![0]).toBe('resolve_market')
      expect(['yes', 'no']).toContain((call![1] as { outcome: string }).outcome)
    })

    test('a function that is not in tools, or tool_choice without tools: 400, OpenAI-shaped', async () => {
      const err = await apiError(client.chat.completions.create({ ...invoice, tools: [payInvoice], tool_choice: { type: 'function', function: { name: 'send_eth' } } }))
      expect(err).toBeInstanceOf(OpenAI.BadRequestError)
      expect([err!.status, err!.type, err!.param, err!.code]).toEqual([400, 'invalid_request_error', 'tool_choice', 'invalid_value'])
      expect(err!.message).toMatch(/function 'send_eth' is not in 'tools' \(declared: pay_invoice\)/)
      const none = await apiError(client.chat.completions.create({ ...invoice, tool_choice: 'required' }))
      expect([none!.status, none!.param]).toEqual([400, 'tool_choice'])
    })

    test('a forced function the model cannot write from this prompt: 400 before any token, streamed or not', async () => {
      // 30 tools fill the 96-token tool list the model reads; the last one is cut off
      const many = Array.from({ length: 30 }, (_, i) => ({ type: 'function' as const, function: { name: `tool_${i}`, parameters: { type: 'object', properties: { a: { type: 'string' } } } } }))
      const body = { ...invoice, tools: many, tool_choice: { type: 'function' as const, function: { name: 'tool_29' } } }
      for (const err of [await apiError(client.chat.completions.create(body)), await apiError(streamed(body))]) {
        expect(err).toBeInstanceOf(OpenAI.BadRequestError)
        expect([err!.param, err!.code]).toEqual(['tool_choice', 'unsatisfiable_constraint'])
        expect(err!.message).toMatch(/'tool_29' is not in the prompt the model reads/)
      }
    })
  })

  describe('structured output', () => {
    const Resolution = z.object({ marketId: z.string(), outcome: z.enum(['yes', 'no']) })

    test('response_format json_schema (zodResponseFormat + parse): content that parses and fits the schema', async () => {
      const c = await client.chat.completions.parse({ model, messages: [{ role: 'user', content: MARKET }], response_format: zodResponseFormat(Resolution, 'resolution') })
      expect(c.choices[0]!.message.parsed).toEqual({ marketId: 'MKT-17', outcome: 'yes' })
      expect(c.choices[0]!.finish_reason).toBe('stop')
      // off task, the model still cannot leave the schema
      const off = await client.chat.completions.parse({ model, messages: [{ role: 'user', content: 'hello' }], response_format: zodResponseFormat(Resolution, 'resolution') })
      expect(Resolution.safeParse(off.choices[0]!.message.parsed).success).toBe(true)
    })

    test('json_object and schemas it cannot guarantee: a clear 400', async () => {
      const obj = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'reply in JSON' }], response_format: { type: 'json_object' } }))
      expect([obj!.status, obj!.param, obj!.code]).toEqual([400, 'response_format.type', 'unsupported_value'])
      const nested = await apiError(
        client.chat.completions.parse({ model, messages: [{ role: 'user', content: MARKET }], response_format: zodResponseFormat(z.object({ market: z.object({ id: z.string() }) }), 'nested') }),
      )
      expect([nested!.status, nested!.param]).toEqual([400, 'response_format.json_schema.schema'])
      expect(nested!.message).toMatch(/properties\.market/)
    })
  })

  test('logprobs: real values from the model’s logits, the chosen token first among its alternatives; the same in the stream', async () => {
    const body = { model, messages: paid, tools: [payInvoice], logprobs: true, top_logprobs: 3 }
    const c = await client.chat.completions.create(body)
    const tokens = c.choices[0]!.logprobs!.content!
    expect(tokens.map((t) => t.token).join('')).toBe(c.choices[0]!.message.content)
    for (const t of tokens) {
      expect(t.logprob).toBeLessThanOrEqual(0)
      expect(t.bytes).toEqual([...Buffer.from(t.token)])
      expect(t.top_logprobs).toHaveLength(3)
      expect(t.top_logprobs[0]).toMatchObject({ token: t.token, logprob: t.logprob }) // greedy: the chosen one is the likeliest
      expect(t.top_logprobs.map((x) => x.logprob)).toEqual([...t.top_logprobs.map((x) => x.logprob)].sort((a, b) => b - a))
      expect(t.top_logprobs.reduce((a, x) => a + Math.exp(x.logprob), 0)).toBeLessThanOrEqual(1 + 1e-9)
    }
    const chunks = await streamed(body)
    expect(chunks.flatMap((ch) => ch.choices.flatMap((x) => x.logprobs?.content ?? []))).toEqual(tokens)
  })

  test('stop and max_tokens: honoured, in the stream too', async () => {
    const stop = await client.chat.completions.create({ model, messages: paid, tools: [payInvoice], stop: ['.'] })
    expect(stop.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Paid INV-2041' } })
    const cut = await client.chat.completions.create({ model, messages: paid, tools: [payInvoice], max_tokens: 2 })
    expect(cut.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'Paid ' } })
    for (const plain of [stop, cut]) {
      const body = { model, messages: paid, tools: [payInvoice], ...(plain === stop ? { stop: ['.'] } : { max_tokens: 2 }) }
      expect(chatOutputHash(assembleChatStream(await streamed(body)))).toBe(chatOutputHash(plain))
    }
  })

  test('errors: OpenAI-shaped, with param and code, for fields it will not pretend to honour', async () => {
    const cases: Array<[Record<string, unknown>, string, string | null]> = [
      [{ foo: 1 }, 'foo', 'unknown_parameter'],
      [{ temperature: 0.7 }, 'temperature', 'unsupported_value'],
      [{ n: 3 }, 'n', 'unsupported_value'],
      [{ logit_bias: { '1': 5 } }, 'logit_bias', 'unsupported_value'],
      [{ model: 'gpt-4o' }, 'model', 'model_not_found'],
    ]
    for (const [extra, param, code] of cases) {
      const err = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], ...extra } as ChatCompletionCreateParamsNonStreaming))
      expect([err!.type, err!.param, err!.code]).toEqual(['invalid_request_error', param, code])
      expect(err!.status).toBe(param === 'model' ? 404 : 400)
    }
  })
})

describe('LangChain ChatOpenAI → the container', () => {
  test('withStructuredOutput (json_schema, its default here, and function calling): the object, and records that replay', async () => {
    const { chat, takeRecords } = createChatModel({ baseURL, model })
    const schema = z.object({ marketId: z.string().describe('the market id'), outcome: z.enum(['yes', 'no']) })
    expect(await chat.withStructuredOutput(schema, { name: 'resolution' }).invoke([new HumanMessage(MARKET)])).toEqual({ marketId: 'MKT-17', outcome: 'yes' })
    expect(await chat.withStructuredOutput(schema, { name: 'resolution', method: 'functionCalling' }).invoke([new HumanMessage(MARKET)])).toEqual({ marketId: 'MKT-17', outcome: 'yes' })
    const records = takeRecords()
    expect((records[0]!.request as { response_format?: { type: string } }).response_format?.type).toBe('json_schema')
    expect((records[1]!.request as { tool_choice?: unknown }).tool_choice).toEqual({ type: 'function', function: { name: 'resolution' } })
    for (const r of records) expect(await replay(r)).toMatchObject({ match: true })
  })

  test('bindTools with tool_choice none / required / a named tool', async () => {
    const { chat } = createChatModel({ baseURL, model })
    const pay = tool(async () => 'ok', { name: 'pay_invoice', schema: z.object({ invoiceId: z.string(), to: z.string(), amountEth: z.string() }) })
    const market = tool(async () => 'ok', { name: 'resolve_market', schema: z.object({ marketId: z.string(), outcome: z.enum(['yes', 'no']) }) })
    const none = await chat.bindTools([pay], { tool_choice: 'none' }).invoke([new HumanMessage(INVOICE)])
    expect([none.tool_calls, none.content]).toEqual([[], 'I can only help with the tasks my tools support.'])
    const required = await chat.bindTools([pay], { tool_choice: 'required' }).invoke([new HumanMessage('hello')])
    expect(required.tool_calls?.map((c) => c.name)).toEqual(['pay_invoice'])
    const named = await chat.bindTools([pay, market], { tool_choice: 'resolve_market' }).invoke([new HumanMessage(MARKET)])
    expect(named.tool_calls?.map((c) => [c.name, c.args])).toEqual([['resolve_market', { marketId: 'MKT-17', outcome: 'yes' }]])
  })

  test('stream: the answer arrives in pieces', async () => {
    const { chat } = createChatModel({ baseURL, model })
    const pieces: string[] = []
    for await (const c of await chat.stream([new HumanMessage('hello')])) if (typeof c.content === 'string' && c.content !== '') pieces.push(c.content)
    expect(pieces.join('')).toBe('I can only help with the tasks my tools support.')
  })
})

describe('keep-alive survives a refused request', () => {
  /** One request over `agent`; resolves with the status, the body and whether the socket was reused. */
  const send = (agent: Agent, body: string) =>
    new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
      const req = httpRequest(`${baseURL}/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, reused: req.reusedSocket }))
      })
      req.on('error', reject)
      req.end(body)
    })

  test('node:http keep-alive agent: a 413 then a 400 then a 200, all over one socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const big = await send(agent, JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(1_500_000) }] }))
      expect(big.status).toBe(413)
      expect(JSON.parse(big.body)).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/larger than/) } })
      const bad = await send(agent, JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], foo: 1 }))
      expect([bad.status, bad.reused]).toEqual([400, true])
      const good = await send(agent, JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }))
      expect([good.status, good.reused]).toEqual([200, true])
    } finally {
      agent.destroy()
    }
  })

  test('the openai SDK over one keep-alive socket: a 413, then the next request is served on the same socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const reused: boolean[] = []
    // the SDK's fetch, over node:http with one pooled socket (so "same connection" is observable)
    const pooled = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
      new Promise((resolve, reject) => {
        const url = input instanceof Request ? input.url : input.toString()
        const headers = Object.fromEntries(new Headers(init?.headers).entries())
        const req = httpRequest(url, { method: init?.method ?? 'GET', agent, headers }, (res) => {
          reused.push(req.reusedSocket)
          const h = new Headers()
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v)
          resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode ?? 0, headers: h }))
        })
        req.on('error', reject)
        req.end(typeof init?.body === 'string' ? init.body : undefined)
      })
    const sdk = new OpenAI({ baseURL, apiKey: 'covenant-local', maxRetries: 0, fetch: pooled })
    try {
      const tooBig = await apiError(sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'x'.repeat(1_500_000) }] }))
      expect([tooBig!.status, tooBig!.type]).toEqual([413, 'invalid_request_error'])
      const next = await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] })
      expect(next.choices[0]!.finish_reason).toBe('stop')
      expect(reused).toEqual([false, true])
    } finally {
      agent.destroy()
    }
  })
})
