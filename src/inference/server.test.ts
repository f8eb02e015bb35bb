import { HumanMessage, SystemMessage, ToolMessage } from '@langchain/core/messages'
import { tool } from '@langchain/core/tools'
import pino from 'pino'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { verifyQuote } from './attestation.js'
import { createChatModel } from './openaiBackend.js'
import { RECEIPT_HEADER, decodeReceiptHeader, verifyReceipt } from './receipt.js'
import { replay } from './replay.js'
import { type ReplayRecord, replayRecordSchema } from './schemas.js'
import { type InferenceServer, startInferenceServer } from './server.js'
import { featurizeModeration } from './featurize.js'
import { encodeTensor } from './tensor.js'

const privateKey = generatePrivateKey()
const logLines: string[] = []
let server: InferenceServer

beforeAll(async () => {
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) })
  server = await startInferenceServer({ port: 0, key: { account: privateKeyToAccount(privateKey), source: 'ephemeral' }, logger })
})
afterAll(async () => {
  await server?.close()
})

const INVOICE = 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.'
const MARKET = 'Resolve market MKT-17: Will the Lisbon marathon be held on 2026-12-06? Evidence: the organisers confirmed the race took place on 2026-12-06.'

const payInvoice = tool(async () => '{"status":"paid"}', {
  name: 'pay_invoice',
  description: 'Pay an invoice from the treasury',
  schema: z.object({
    invoiceId: z.string().describe('the invoice id, e.g. INV-2041'),
    to: z.string().describe('checksummed recipient address'),
    amountEth: z.string().describe('amount in ETH, as a decimal string'),
  }),
})
const resolveMarket = tool(async () => '{"status":"resolved"}', {
  name: 'resolve_market',
  description: 'Resolve a yes/no prediction market',
  schema: z.object({ marketId: z.string(), outcome: z.enum(['yes', 'no']) }),
})

const post = (path: string, body: unknown, raw = false) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ? (body as string) : JSON.stringify(body) })

describe('LangChain ChatOpenAI → the inference container', () => {
  test('treasury: a pay_invoice call copied exactly from the invoice, then a final answer', async () => {
    const { chat, takeRecords } = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
    const model = chat.bindTools([payInvoice])
    const messages = [new SystemMessage('You are a treasury agent. Pay valid invoices with the pay_invoice tool.'), new HumanMessage(INVOICE)]
    const ai = await model.invoke(messages)
    expect(ai.tool_calls).toEqual([
      { name: 'pay_invoice', args: { invoiceId: 'INV-2041', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amountEth: '0.25' }, id: expect.stringMatching(/^call_[0-9a-f]{24}$/), type: 'tool_call' },
    ])
    const final = await model.invoke([...messages, ai, new ToolMessage({ content: '{"status":"paid","txHash":"0x1234"}', tool_call_id: ai.tool_calls![0]!.id! })])
    expect(final.content).toBe('Paid INV-2041.')

    const records = takeRecords()
    expect(records).toHaveLength(2)
    expect(takeRecords()).toHaveLength(0)
    for (const r of records) {
      expect(replayRecordSchema.parse(r)).toEqual(r)
      expect(r).toMatchObject({ backend: 'openai-compatible', replay: 'exact', endpoint: { signer: server.address, measurement: server.measurement, quote: 'simulated' } })
      expect(r.modelDigest).toBe(server.models.find((m) => m.kind === 'chat')!.model.digest)
      expect((r.request as { tools?: unknown[] }).tools).toHaveLength(1)
      expect((r.response as { system_fingerprint?: string }).system_fingerprint).toMatch(/^fp_/)
      expect(await replay(r)).toMatchObject({ match: true, diff: null })
    }
  })

  test('market resolver: the right outcome, then "Resolved MKT-17: yes."', async () => {
    const { chat } = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
    const model = chat.bindTools([resolveMarket])
    const ai = await model.invoke([new HumanMessage(MARKET)])
    expect(ai.tool_calls?.map((c) => [c.name, c.args])).toEqual([['resolve_market', { marketId: 'MKT-17', outcome: 'yes' }]])
    const final = await model.invoke([new HumanMessage(MARKET), ai, new ToolMessage({ content: '{"status":"resolved"}', tool_call_id: ai.tool_calls![0]!.id! })])
    expect(final.content).toBe('Resolved MKT-17: yes.')
  })

  test('streaming works and its record replays', async () => {
    const { chat, takeRecords } = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
    const chunks = []
    for await (const c of await chat.bindTools([payInvoice]).stream([new HumanMessage(INVOICE)])) chunks.push(c)
    const calls = chunks.flatMap((c) => c.tool_call_chunks ?? [])
    expect(calls[0]).toMatchObject({ name: 'pay_invoice' })
    // the arguments arrive in fragments, one per decoded piece
    expect(calls.length).toBeGreaterThan(5)
    expect(JSON.parse(calls.map((c) => c.args ?? '').join(''))).toEqual({ invoiceId: 'INV-2041', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amountEth: '0.25' })
    const [record] = takeRecords()
    expect(record!.runtime.settings['stream']).toBe(true)
    expect(await replay(record!)).toMatchObject({ match: true })
  })

  test('a response tampered with on the way fails verification and yields no record', async () => {
    const mitm: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      const text = (await res.text()).replace('INV-2041', 'INV-9999')
      return new Response(text, { status: res.status, headers: res.headers })
    }
    const { chat, takeRecords } = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat', fetch: mitm })
    const err = await chat.bindTools([payInvoice]).invoke([new HumanMessage(INVOICE)]).catch((e: unknown) => e as Error)
    expect(err).toBeInstanceOf(Error)
    const chain: Array<{ name?: string }> = []
    for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e)
    expect(chain.map((e) => e.name)).toContain('ReceiptHashMismatchError')
    expect(takeRecords()).toHaveLength(0)
  })

  test('a receipt from another key than the attested one is rejected', async () => {
    const other = await startInferenceServer({ port: 0 })
    try {
      // Receipts signed by `other`, attestation fetched from `server`.
      const swap: typeof fetch = (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input.toString())
        if (url.pathname.endsWith('/chat/completions')) url.port = String(other.port)
        return fetch(url, init)
      }
      const { chat } = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat', fetch: swap })
      const err = await chat.invoke([new HumanMessage('hello')]).catch((e: unknown) => e as Error)
      const names: string[] = []
      for (let e: unknown = err; e instanceof Error; e = e.cause) names.push(e.name)
      expect(names).toContain('ReceiptSignerMismatchError')
    } finally {
      await other.close()
    }
  })
})

describe('the container HTTP API', () => {
  test('GET /v1/models lists the models with digests', async () => {
    const res = await fetch(`${server.baseURL}/models`)
    const body = (await res.json()) as { data: Array<{ id: string; digest: string; kind: string }> }
    expect(body.data.map((m) => [m.id, m.kind])).toEqual([
      ['covenant-chat', 'chat'],
      ['moderation', 'tensor'],
      ['tiny-qwen2', 'chat'],
    ])
    expect(body.data[0]!.digest).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('GET /attestation is a simulated quote, and says so', async () => {
    const nonce = `0x${'42'.repeat(32)}` as const
    const res = await fetch(`${server.url}/attestation?nonce=${nonce}`)
    const body = (await res.json()) as { simulated: boolean; notice: string; address: string; measurement: string; quote: unknown }
    expect(body.simulated).toBe(true)
    expect(body.notice).toMatch(/^SIMULATED QUOTE/)
    expect(body.address).toBe(server.address)
    await expect(verifyQuote(body.quote, { nonce })).resolves.toMatchObject({ simulated: true, signer: server.address, measurement: server.measurement })
  })

  test('POST /v1/infer classifies text and runs tensors; both signed', async () => {
    const res = await post('/v1/infer', { model: 'moderation', text: 'Guaranteed 300% daily returns, send ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed to join the pool.' })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { result: { label: string }; covenant_receipt: unknown; outputs: unknown[] }
    expect(body.result.label).toBe('scam')
    const request = { model: 'moderation', text: 'Guaranteed 300% daily returns, send ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed to join the pool.' }
    await expect(verifyReceipt({ receipt: body.covenant_receipt, request, response: body, expectedSigner: server.address })).resolves.toBeTruthy()

    const counts = encodeTensor('counts', { dtype: 'float32', shape: [1, 4096], data: featurizeModeration('hello everyone, meetup on thursday') })
    const res2 = await post('/v1/infer', { model: 'moderation', inputs: [counts] })
    const body2 = (await res2.json()) as { outputs: Array<{ name: string; shape: number[] }>; covenant_receipt: unknown }
    expect(body2.outputs[0]).toMatchObject({ name: 'logits', shape: [1, 4] })
    const header = decodeReceiptHeader(res2.headers.get(RECEIPT_HEADER)!)
    expect(header).toEqual(body2.covenant_receipt)
  })

  test('bad requests get 4xx with clear messages, and are signed too', async () => {
    const cases: Array<[Promise<Response>, number, RegExp]> = [
      [post('/v1/chat/completions', '{not json', true), 400, /not valid JSON/],
      [post('/v1/chat/completions', { model: 'covenant-chat', messages: [] }, false), 400, /messages must not be empty/],
      [post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), 404, /not a chat model served here; use one of: covenant-chat/],
      [post('/v1/chat/completions', { model: 'covenant-chat', messages: [{ role: 'wizard', content: 'hi' }] }), 400, /messages\[0\]\.role/],
      [post('/v1/chat/completions', { model: 'covenant-chat', n: 2, messages: [{ role: 'user', content: 'hi' }] }), 400, /'n' must be 1/],
      [post('/v1/infer', { model: 'moderation', inputs: [{ name: 'counts', dtype: 'float32', shape: [1, 3], data: [1, 2, 3] }] }), 400, /rejected the inputs/],
      [post('/v1/infer', { model: 'moderation', inputs: [{ name: 'nope', dtype: 'float32', shape: [1], data: [1] }] }), 400, /missing input "counts"|unknown input "nope"/],
      [post('/v1/infer', { model: 'covenant-chat', text: 'hi' }), 404, /not a tensor model/],
      [post('/v1/infer', { model: 'moderation' }), 400, /send \{ model, text \}/],
      [post('/v1/infer', { model: 'moderation', text: 'x'.repeat(2_000_000) }), 413, /larger than/],
      [fetch(`${server.url}/v2/anything`), 404, /no route GET \/v2\/anything/],
      [fetch(`${server.url}/attestation?nonce=zz`), 400, /nonce must be/],
    ]
    for (const [pending, status, message] of cases) {
      const res = await pending
      const body = (await res.json()) as { error: { message: string }; covenant_receipt?: unknown }
      expect([res.status, body.error.message]).toEqual([status, expect.stringMatching(message)])
      expect(body.covenant_receipt).toBeDefined()
    }
  })

  test('the private key appears in no log line, response or record', async () => {
    const { chat, takeRecords } = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat', apiKey: 'sk-secret-test-key' })
    await chat.invoke([new HumanMessage('hello')])
    const records: ReplayRecord[] = takeRecords()
    const att = await (await fetch(`${server.url}/attestation`)).text()
    const everything = [logLines.join('\n'), JSON.stringify(records), att].join('\n')
    expect(logLines.length).toBeGreaterThan(0)
    expect(everything).not.toContain(privateKey.slice(2))
    expect(everything).not.toContain('sk-secret-test-key')
  })
})
