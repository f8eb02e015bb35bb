import type { AddressInfo } from 'node:net'
import { HumanMessage } from '@langchain/core/messages'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createChatModel, createOpenAICompatibleBackend, sanitizeUrl } from './openaiBackend.js'
import { replay } from './replay.js'
import { endpointModelDigest } from './endpointDigest.js'

/** An OpenAI-compatible API that is not a Covenant container: no receipts, no attestation. */
let url = ''
let close: () => void = () => {}
const seen: Array<{ auth: string | undefined; body: unknown }> = []

beforeAll(async () => {
  const app = new Hono()
  app.post('/v1/chat/completions', async (c) => {
    const body = await c.req.json()
    seen.push({ auth: c.req.header('authorization'), body })
    return c.json({
      id: 'chatcmpl-x',
      object: 'chat.completion',
      created: 1,
      model: 'some-remote-model-2026-01-01',
      system_fingerprint: 'fp_remote',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    })
  })
  await new Promise<void>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => {
      url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`
      close = () => s.close()
      resolve()
    })
  })
})
afterAll(() => close())

describe('OpenAI-compatible backend on an endpoint without receipts', () => {
  test('records the exact request and full response, replay "none", no credentials', async () => {
    const { chat, takeRecords } = createChatModel({ baseURL: url, model: 'some-remote-model', apiKey: 'sk-live-do-not-record', seed: 7 })
    const ai = await chat.invoke([new HumanMessage('hello')])
    expect(ai.content).toBe('Hi!')
    const [r] = takeRecords()
    expect(r).toMatchObject({
      backend: 'openai-compatible',
      replay: 'none',
      model: { name: 'some-remote-model-2026-01-01', digestOf: 'endpoint-and-name' },
      runtime: { name: 'openai-compatible', version: 'fp_remote', settings: { model: 'some-remote-model', temperature: 0, seed: 7 } },
      endpoint: { url: `${url}/chat/completions`, quote: 'none' },
      request: seen.at(-1)!.body,
    })
    // named by the endpoint and the model the agent asked for (what a manifest registers), not the dated name the endpoint answered with
    expect(r!.modelDigest).toBe(endpointModelDigest(url, 'some-remote-model'))
    expect((r!.response as { system_fingerprint: string }).system_fingerprint).toBe('fp_remote')
    expect(seen.at(-1)!.auth).toBe('Bearer sk-live-do-not-record')
    expect(JSON.stringify(r)).not.toContain('sk-live-do-not-record')
    await expect(replay(r)).rejects.toMatchObject({ name: 'ReplayNotPossibleError' })
  })

  test('a declared replay mode is recorded as declared; receipts: "require" refuses unsigned answers', async () => {
    const declared = createChatModel({ baseURL: url, model: 'm', replay: 'attested' })
    await declared.chat.invoke([new HumanMessage('hello')])
    expect(declared.takeRecords()[0]!.replay).toBe('attested')

    const strict = createChatModel({ baseURL: url, model: 'm', receipts: 'require' })
    const err = await strict.chat.invoke([new HumanMessage('hello')]).catch((e: unknown) => e as Error)
    const names: string[] = []
    for (let e: unknown = err; e instanceof Error; e = e.cause) names.push(e.name)
    expect(names).toContain('ReceiptMissingError')
    expect(strict.takeRecords()).toHaveLength(0)
  })

  test('the plain InferenceBackend posts one request and returns its record', async () => {
    const backend = createOpenAICompatibleBackend({ baseURL: url, model: 'm' })
    const { output, record } = await backend.run({ messages: [{ role: 'user', content: 'hi' }], temperature: 0 })
    expect((output as { choices: unknown[] }).choices).toHaveLength(1)
    expect(record.request).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 })
  })

  test('the recorder hands a whole answer on as read, readable again, with its status and headers; errors too', async () => {
    const { fetch: recording, takeRecords } = createChatModel({ baseURL: url, model: 'm' })
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    const res = await recording(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(res).toMatchObject({ ok: true, status: 200, body: null })
    expect(res.headers.get('content-type')).toContain('application/json')
    const text = await res.text()
    expect(JSON.parse(text)).toMatchObject({ object: 'chat.completion', model: 'some-remote-model-2026-01-01' })
    expect(await res.json()).toEqual(JSON.parse(text))
    expect(Buffer.from(await res.arrayBuffer()).toString('utf8')).toBe(text)
    expect(takeRecords()).toHaveLength(1)
    const missing = await recording(`${url}/no-such-route`, { method: 'POST', body })
    expect(missing).toMatchObject({ ok: false, status: 404 })
    expect(await missing.text()).toBe('404 Not Found')
    expect(takeRecords()).toHaveLength(0)
  })

  test('sanitizeUrl drops credentials and query', () => {
    expect(sanitizeUrl('https://user:pw@api.example.com/v1/chat/completions?key=abc')).toBe('https://api.example.com/v1/chat/completions')
  })
})
