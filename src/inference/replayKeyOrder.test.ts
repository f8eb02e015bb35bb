import { HumanMessage } from '@langchain/core/messages'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalize } from '../trace/canonical.js'
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
