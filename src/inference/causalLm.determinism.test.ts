// 1,000 replays of recorded tiny-qwen2 requests in 4 separate processes (250 each): every
// replay gives bit-identical logits at every step, the same tokens and the recorded answer.
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, onTestFinished, test } from 'vitest'
import { bundleChild } from '../../test/fixtures/childBundle.js'
import { createHash } from 'node:crypto'
import { createCausalLmEngine } from './causalLmEngine.js'
import { SHIPPED_MODELS_DIR, createModelStore } from './modelStore.js'
import { DEFAULT_SETTINGS } from './settings.js'

const run = promisify(execFile)
const modelDir = join(SHIPPED_MODELS_DIR, 'tiny-qwen2')
const child = join(import.meta.dirname, '_causalLmReplayChild.ts')

const weather = { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }
const requests: unknown[] = [
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 12 },
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'What is the weather in Oslo?' }], tools: [weather], max_tokens: 24 },
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'Is it warm in Zürich right now?' }], tools: [weather], max_tokens: 24 },
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'Who are you?' }], temperature: 0.9, seed: 7, max_tokens: 12 },
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'Thanks!' }], temperature: 1.3, top_p: 0.9, seed: 123456789, max_tokens: 12 },
  {
    model: 'tiny-qwen2',
    messages: [
      { role: 'user', content: 'Weather in Lima, please.' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lima"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"city": "Lima", "forecast": "foggy", "temp_c": 17}' },
    ],
    tools: [weather],
    max_tokens: 16,
  },
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'こんにちは 👋 — what can you do?' }], temperature: 0.7, max_tokens: 10 },
  { model: 'tiny-qwen2', messages: [{ role: 'user', content: 'Price of ETH?' }], tools: [weather], tool_choice: 'none', max_tokens: 12 },
]

describe('tiny-qwen2: replay is bit-exact across processes', () => {
  test('4 processes × 250 replays: identical logits at every step, identical tokens, every answer the recorded one', { timeout: 240_000 }, async () => {
    const store = createModelStore({ root: '/nonexistent-covenant-root', models: [{ name: 'tiny-qwen2', path: modelDir }] })
    const engine = await createCausalLmEngine({ store, model: store.get('tiny-qwen2'), settings: { ...DEFAULT_SETTINGS } })
    const records = []
    const expected: Array<{ logits: string; tokens: number[] }> = []
    for (const request of requests) {
      const h = createHash('sha256')
      const tokens: number[] = []
      const { record } = await engine.complete(request, {
        onStep: (logits, token) => {
          h.update(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength))
          tokens.push(token)
        },
      })
      records.push(record)
      expected.push({ logits: h.digest('hex'), tokens })
    }
    // the recorded answers differ from each other (a constant model would pass trivially)
    expect(new Set(expected.map((e) => e.logits)).size).toBe(requests.length)
    const file = join(mkdtempSync(join(tmpdir(), 'covenant-lm-')), 'records.json')
    writeFileSync(file, JSON.stringify({ modelDir, records, count: 250 }))
    const bundle = await bundleChild(child)
    onTestFinished(() => bundle.dispose())
    const outputs = await Promise.all(
      [0, 1, 2, 3].map(async () => (await run(process.execPath, [bundle.path, file], { maxBuffer: 16 << 20 })).stdout.trim().split('\n')),
    )
    let replays = 0
    for (const lines of outputs) {
      const [head, ...rest] = lines.map((l) => JSON.parse(l) as { official?: boolean[]; i: number; logits: string; tokens: number[]; match: boolean })
      expect(head!.official).toEqual(requests.map(() => true))
      expect(rest).toHaveLength(250)
      for (const r of rest) {
        const want = expected[r.i % requests.length]!
        expect([r.logits, r.tokens, r.match]).toEqual([want.logits, want.tokens, true])
        replays++
      }
    }
    expect(replays).toBe(1000)
  })
})
