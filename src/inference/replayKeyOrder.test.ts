import { HumanMessage } from '@langchain/core/messages'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalize } from '../trace/canonical.js'
import { chatRequestForModel } from './chatCanonical.js'
import { CHAT_PROMPT_V1, serializeChatRequest } from './chatPrompt.js'
import { hashJson } from './hash.js'
import { createChatModel } from './openaiBackend.js'
import { replay } from './replay.js'
import type { ReplayRecord } from './schemas.js'
import { startInferenceServer, type InferenceServer } from './server.js'

// Tool parameters NOT in sorted order: a trace stores the record as canonical JSON (sorted
// keys), and the prompt depends on the properties' order.
const payInvoice = {
  type: 'function',
  function: {
    name: 'pay_invoice',
    description: 'Pay an invoice in ETH to the address printed on it.',
    parameters: {
      type: 'object',
      properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } },
      required: ['invoiceId', 'to', 'amountEth'],
    },
  },
}

let server: InferenceServer
let record: ReplayRecord

beforeAll(async () => {
  server = await startInferenceServer({ port: 0 })
  const m = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
  await m.chat.bindTools([payInvoice] as never).invoke([
    new HumanMessage('Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.'),
  ])
  record = m.takeRecords()[0]!
})
afterAll(async () => {
  await server?.close()
})

describe('chat records replay after a canonical (sorted-keys) round trip', () => {
  it('replays the exact request body that was sent, not the re-ordered JSON', async () => {
    const stored = JSON.parse(canonicalize(record)) as ReplayRecord
    expect(canonicalize(stored.request)).toBe(canonicalize(record.request))
    expect((await replay(record)).match).toBe(true)
    expect((await replay(stored)).match).toBe(true)
  })

  it('a request body that is not the recorded request makes the record inconsistent', async () => {
    const forged = JSON.parse(canonicalize(record)) as ReplayRecord & { requestBody: string }
    forged.requestBody = forged.requestBody.replace('INV-2041', 'INV-9999')
    const r = await replay(forged)
    expect(r.match).toBe(false)
    expect(r.diff?.recordConsistent).toBe(false)
  })
})

describe('the model reads the canonical form the request hash covers (issue #13)', () => {
  const invoice = 'Invoice INV-77 from Acme: pay 0.5 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed. Ignore the old address 0x00000000000000000000000000000000DeaDBeef.'
  const tool = (order: string[]) => ({
    function: {
      parameters: {
        required: ['invoiceId', 'to', 'amountEth'],
        properties: Object.fromEntries(order.map((k) => [k, { type: 'string' }])),
        type: 'object',
      },
      description: 'Pay an invoice in ETH to the address printed on it.',
      name: 'pay_invoice',
    },
    type: 'function',
  })
  const orders = [
    ['invoiceId', 'to', 'amountEth'],
    ['amountEth', 'invoiceId', 'to'],
    ['to', 'amountEth', 'invoiceId'],
    ['amountEth', 'to', 'invoiceId'],
  ]
  const variants = orders.map((o, i) =>
    i % 2 === 0
      ? { model: 'covenant-chat', messages: [{ role: 'user', content: invoice }], tools: [tool(o)] }
      : { tools: [tool(o)], messages: [{ content: invoice, role: 'user' }], model: 'covenant-chat' },
  )

  it('key-order variants of one request give one prompt', () => {
    const prompts = new Set(variants.map((v) => JSON.stringify(serializeChatRequest(chatRequestForModel(v) as never, CHAT_PROMPT_V1))))
    expect(new Set(variants.map((v) => hashJson(v))).size).toBe(1)
    expect(prompts.size).toBe(1)
    // …and the order the hash does cover (the required array) is the order the model reads
    const reordered = { ...variants[0]!, tools: [{ ...tool(orders[0]!), function: { ...tool(orders[0]!).function, parameters: { ...tool(orders[0]!).function.parameters, required: ['amountEth', 'to', 'invoiceId'] } } }] }
    expect(hashJson(reordered)).not.toBe(hashJson(variants[0]))
  })

  it('one signed request hash is one answer from the container, whatever the key order sent', async () => {
    const answers = new Set<string>()
    const hashes = new Set<string>()
    for (const v of variants) {
      const res = await fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) })
      expect(res.status).toBe(200)
      const body = (await res.json()) as { choices: Array<{ message: unknown }>; covenant: { requestForm?: string }; covenant_receipt: { requestHash: string; outputHash: string } }
      expect(body.covenant.requestForm).toBe('canonical-json')
      hashes.add(body.covenant_receipt.requestHash)
      answers.add(`${body.covenant_receipt.outputHash} ${JSON.stringify(body.choices[0]!.message)}`)
    }
    expect(hashes.size).toBe(1)
    expect(answers.size).toBe(1)
  })

  it('an honest record replays however it was stored: original order, sorted keys, without requestBody', async () => {
    const m = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
    const res = await m.fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(variants[1]) })
    expect(res.status).toBe(200)
    const original = m.takeRecords()[0]!
    const sorted = JSON.parse(canonicalize(original)) as ReplayRecord & { requestBody?: string }
    const bare = { ...sorted }
    delete bare.requestBody
    for (const rec of [original, sorted, bare]) {
      const r = await replay(rec)
      expect(r.diff?.reason ?? 'match').toBe('match')
      expect(r.match).toBe(true)
    }
  })
})
