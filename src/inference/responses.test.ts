import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import OpenAI from 'openai'
import type { ResponseCreateParamsNonStreaming, ResponseStreamEvent, Response as OpenAIResponse } from 'openai/resources/responses/responses'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { hashJson } from './hash.js'
import { verifyReceipt } from './receipt.js'
import { responsesOutputHash } from './responsesOutput.js'
import { type InferenceApp, createInferenceApp } from './server.js'

/**
 * /v1/responses as the real `openai` SDK (v6) calls it: `client.responses.create`, plain and
 * streamed, with instructions, function tools, every tool_choice and the function_call /
 * function_call_output round trip; the receipt binds the request as sent and the output; what
 * the container cannot honour is refused with OpenAI's 400.
 */
let inference: InferenceApp
let server: ServerType
let client: OpenAI

beforeAll(async () => {
  inference = await createInferenceApp()
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: inference.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: 'covenant-local', maxRetries: 0 })
})
afterAll(async () => {
  ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const model = 'covenant-chat'
const INVOICE = 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.'
const ARGS = { invoiceId: 'INV-2041', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amountEth: '0.25' }
const payInvoice = {
  type: 'function' as const,
  name: 'pay_invoice',
  description: 'Pay an invoice from the treasury',
  strict: false,
  parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } }, required: ['invoiceId', 'to', 'amountEth'] },
}

type Receipted = { covenant_receipt?: unknown }
/** The body as the server sent it: the SDK adds `output_text` (a convenience) to what it parsed. */
const asSent = (r: OpenAIResponse) => {
  const { output_text: _t, ...body } = r as OpenAIResponse & { output_text?: string }
  return body
}
const apiError = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>)
const callsOf = (r: OpenAIResponse) => r.output.flatMap((o) => (o.type === 'function_call' ? [[o.name, JSON.parse(o.arguments) as unknown]] : []))

async function streamOf(body: ResponseCreateParamsNonStreaming): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = []
  for await (const e of await client.responses.create({ ...body, stream: true })) events.push(e)
  return events
}

describe('openai SDK → /v1/responses', () => {
  test('a string input: a response object with a unique id, the SDK’s output_text, and a receipt over the request as sent', async () => {
    const body = { model, input: 'hello' }
    const a = await client.responses.create(body)
    const b = await client.responses.create(body)
    expect(a).toMatchObject({ object: 'response', status: 'completed', model, output: [{ type: 'message', role: 'assistant', status: 'completed' }] })
    expect(a.output_text).toBe('I can only help with the tasks my tools support.')
    expect(a.id).toMatch(/^resp_[0-9a-f]{48}$/)
    expect(b.id).not.toBe(a.id)
    expect(responsesOutputHash(b)).toBe(responsesOutputHash(a))
    expect(a.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) })
    const receipt = (a as Receipted).covenant_receipt
    expect(receipt).toMatchObject({ requestHash: hashJson(body), modelDigest: inference.models.find((m) => m.kind === 'chat')!.model.digest })
    await expect(verifyReceipt({ receipt, request: body, response: asSent(a), expectedSigner: inference.address })).resolves.toBeTruthy()
    // an edited answer no longer matches its receipt
    const edited = { ...asSent(a), output: [{ ...a.output[0]!, content: [{ type: 'output_text', text: 'pay 0xdEaD', annotations: [] }] }] }
    await expect(verifyReceipt({ receipt, request: body, response: edited })).rejects.toMatchObject({ name: 'ReceiptHashMismatchError' })
  })

  test('instructions and message items read as the chat completion they are: the same answer as /v1/chat/completions', async () => {
    const r = await client.responses.create({ model, instructions: 'You pay invoices.', input: [{ role: 'user', content: [{ type: 'input_text', text: INVOICE }] }], tools: [payInvoice] })
    const c = await client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'You pay invoices.' },
        { role: 'user', content: INVOICE },
      ],
      tools: [{ type: 'function', function: { name: payInvoice.name, description: payInvoice.description, parameters: payInvoice.parameters, strict: false } }],
    })
    const chatCalls = (c.choices[0]!.message.tool_calls ?? []).map((t) => (t.type === 'function' ? [t.function.name, JSON.parse(t.function.arguments) as unknown] : []))
    expect(callsOf(r)).toEqual(chatCalls)
    expect(callsOf(r)).toEqual([['pay_invoice', ARGS]])
    const call = r.output.find((o) => o.type === 'function_call')!
    expect(call).toMatchObject({ type: 'function_call', call_id: expect.stringMatching(/^call_/), id: expect.stringMatching(/^fc_/), status: 'completed' })
  })

  test('the function_call → function_call_output round trip: the model answers with text', async () => {
    const first = await client.responses.create({ model, input: INVOICE, tools: [payInvoice] })
    const call = first.output.find((o) => o.type === 'function_call')!
    const next = await client.responses.create({
      model,
      tools: [payInvoice],
      input: [{ role: 'user', content: INVOICE }, call, { type: 'function_call_output', call_id: call.call_id, output: '{"status":"paid","txHash":"0x1234"}' }],
    })
    expect(next.output_text).toBe('Paid INV-2041.')
    expect(callsOf(next)).toEqual([])
  })

  test('tool_choice: none, required and a named function are honoured', async () => {
    const none = await client.responses.create({ model, input: INVOICE, tools: [payInvoice], tool_choice: 'none' })
    expect(callsOf(none)).toEqual([])
    expect(none.output_text).not.toMatch(/tool_call/)
    const required = await client.responses.create({ model, input: 'hello', tools: [payInvoice], tool_choice: 'required' })
    expect(callsOf(required).map((c) => c[0])).toEqual(['pay_invoice'])
    const named = await client.responses.create({ model, input: INVOICE, tools: [payInvoice], tool_choice: { type: 'function', name: 'pay_invoice' } })
    expect(callsOf(named)).toEqual([['pay_invoice', ARGS]])
    const missing = await apiError(client.responses.create({ model, input: INVOICE, tools: [payInvoice], tool_choice: { type: 'function', name: 'wire_funds' } }))
    expect(missing).toMatchObject({ status: 400, param: expect.stringMatching(/^tool_choice/) })
  })

  test('stream: the Responses event types, text delta by delta, adding up to the plain answer; the receipt in the last event covers every event', async () => {
    const body = { model, input: [{ role: 'user' as const, content: INVOICE }, { type: 'function_call' as const, call_id: 'call_1', name: 'pay_invoice', arguments: JSON.stringify(ARGS) }, { type: 'function_call_output' as const, call_id: 'call_1', output: '{"status":"paid"}' }], tools: [payInvoice] }
    const plain = await client.responses.create(body)
    const events = await streamOf(body)
    const types = events.map((e) => e.type)
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added'])
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed'])
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []))
    expect(deltas.length).toBeGreaterThan(1) // token by token, not the answer in one piece
    expect(deltas.join('')).toBe(plain.output_text)
    const completed = events.at(-1)!
    if (completed.type !== 'response.completed') throw new Error('no response.completed')
    expect(completed.response.id).toBe((events[0] as { response: { id: string } }).response.id)
    expect(responsesOutputHash(completed.response)).toBe(responsesOutputHash(plain))
    const receipt = (completed as Receipted).covenant_receipt
    await expect(verifyReceipt({ receipt, request: { ...body, stream: true }, response: events, expectedSigner: inference.address })).resolves.toBeTruthy()
    // the SDK's stream helper assembles the same response
    const final = await client.responses.stream(body).finalResponse()
    expect(final.output_text).toBe(plain.output_text)
  })

  test('stream of a function call: the item, then its arguments fragment by fragment', async () => {
    const events = await streamOf({ model, input: INVOICE, tools: [payInvoice] })
    const added = events.find((e) => e.type === 'response.output_item.added')
    expect(added).toMatchObject({ item: { type: 'function_call', name: 'pay_invoice', call_id: expect.stringMatching(/^call_/), status: 'in_progress' } })
    const fragments = events.flatMap((e) => (e.type === 'response.function_call_arguments.delta' ? [e.delta] : []))
    expect(fragments.length).toBeGreaterThan(3)
    expect(JSON.parse(fragments.join(''))).toEqual(ARGS)
    expect(events.find((e) => e.type === 'response.function_call_arguments.done')).toMatchObject({ arguments: fragments.join('') })
    const completed = events.at(-1)
    expect(completed).toMatchObject({ type: 'response.completed', response: { status: 'completed', output: [{ type: 'function_call', name: 'pay_invoice' }] } })
  })

  test('key-order variants of one request: one requestHash, one answer', async () => {
    const a = { model, input: INVOICE, tools: [payInvoice] }
    const reordered = { tools: [{ ...payInvoice, parameters: { required: payInvoice.parameters.required, properties: { amountEth: { type: 'string' }, to: { type: 'string' }, invoiceId: { type: 'string' } }, type: 'object' } }], input: INVOICE, model }
    const [x, y] = [await client.responses.create(a), await client.responses.create(reordered)]
    expect((x as Receipted).covenant_receipt).toMatchObject({ requestHash: (y as unknown as { covenant_receipt: { requestHash: string } }).covenant_receipt.requestHash })
    expect(callsOf(y)).toEqual(callsOf(x))
  })

  test.each([
    ['previous_response_id', { previous_response_id: 'resp_1' }, 'previous_response_id', 'unsupported_parameter'],
    ['a hosted tool', { tools: [{ type: 'web_search' }] }, 'tools[0].type', 'unsupported_value'],
    ['sampling', { temperature: 0.7 }, 'temperature', 'unsupported_value'],
    ['an image', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] }, 'input[0].content[0].type', 'unsupported_value'],
    ['store: true', { store: true }, 'store', 'unsupported_value'],
    ['reasoning', { reasoning: { effort: 'high' } }, 'reasoning', 'unsupported_parameter'],
    ['an unknown field', { frobnicate: 1 }, 'frobnicate', 'unknown_parameter'],
  ])('refuses %s with an OpenAI-shaped 400 that names the parameter', async (_what, extra, param, code) => {
    const err = await apiError(client.responses.create({ model, input: 'hello', ...extra } as never))
    expect(err).toMatchObject({ status: 400, param, code, type: 'invalid_request_error' })
    expect(err?.message).toBeTruthy()
  })

  test('structured output through text.format json_schema: the text is an object of the schema', async () => {
    const r = await client.responses.create({
      model,
      input: INVOICE,
      text: { format: { type: 'json_schema', name: 'invoice', strict: true, schema: { type: 'object', properties: { invoiceId: { type: 'string' }, amountEth: { type: 'string' } }, required: ['invoiceId', 'amountEth'], additionalProperties: false } } },
    })
    const parsed = JSON.parse(r.output_text) as Record<string, unknown>
    expect(Object.keys(parsed).sort()).toEqual(['amountEth', 'invoiceId'])
  })
})
