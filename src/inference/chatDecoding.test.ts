import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { ChatDelta } from './chatAssembler.js'
import { CHAT_DECODING, createChatEngine } from './chatEngine.js'
import { SHIPPED_MODELS_DIR } from './modelStore.js'
import { replay } from './replay.js'
import type { ReplayRecord } from './schemas.js'

/**
 * Decoding versions. Records say how they were decoded (`covenant.decoding`); replay
 * decodes the same way, so records written before constrained decoding still replay bit for
 * bit, and a record cannot claim a decoding it did not use. On the tasks the model knows,
 * the new decoding gives the same answers as the old one (an honest agent's records do not
 * change meaning), and a streamed answer is the plain one.
 */
const INVOICE = 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.'
const pay = { type: 'function', function: { name: 'pay_invoice', parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } } } } }
const none = { model: 'covenant-chat', messages: [{ role: 'user', content: INVOICE }], tools: [pay], tool_choice: 'none' }
const clone = <T>(x: T): T => structuredClone(x)
type Decoded = ReplayRecord & { response: { covenant: { decoding?: string } }; runtime: { settings: Record<string, string | number | boolean> } }
const claim = (r: ReplayRecord, decoding: string | undefined): ReplayRecord => {
  const c = clone(r) as Decoded
  if (decoding === undefined) {
    delete c.response.covenant.decoding
    delete c.runtime.settings['decoding']
  } else {
    c.response.covenant.decoding = decoding
    c.runtime.settings['decoding'] = decoding
  }
  return c
}

describe('decoding versions and replay', () => {
  test('a "greedy" record (before constrained decoding) replays with its old output; the new one with the new', async () => {
    const engine = await createChatEngine()
    const old = await engine.complete(none, { decoding: 'greedy' })
    // what the container answered before: tool-call markup as text, under tool_choice "none"
    expect(old.output.choices[0]!.message.content).toMatch(/^<tool_call>\{"name":"/)
    expect(old.output.covenant.decoding).toBe('greedy')
    expect(await replay(old.record)).toMatchObject({ match: true, diff: null })
    // records from before the field existed say nothing: they are "greedy"
    expect(await replay(claim(old.record, undefined))).toMatchObject({ match: true, diff: null })

    const now = await engine.complete(none)
    expect(now.output.covenant.decoding).toBe(CHAT_DECODING)
    expect(now.output.choices[0]!.message).toEqual({ role: 'assistant', content: 'I can only help with the tasks my tools support.', refusal: null })
    expect(await replay(now.record)).toMatchObject({ match: true, diff: null })
  })

  test('a record cannot claim the decoding it did not use', async () => {
    const engine = await createChatEngine()
    const old = await engine.complete(none, { decoding: 'greedy' })
    const now = await engine.complete(none)
    expect(await replay(claim(now.record, 'greedy'))).toMatchObject({ match: false, diff: { reason: 'the re-executed model gives another assistant message' } })
    expect(await replay(claim(old.record, CHAT_DECODING))).toMatchObject({ match: false })
    await expect(replay(claim(now.record, 'beam-search-v9'))).rejects.toMatchObject({ name: 'ReplayNotPossibleError', message: expect.stringMatching(/decoded with "beam-search-v9"/) })
  })

  test('on the shipped eval set the new decoding answers as the old one did, and each stream adds up to its answer', async () => {
    const engine = await createChatEngine()
    const rows = readFileSync(join(SHIPPED_MODELS_DIR, 'covenant-chat', 'eval.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { messages: unknown[]; tools: unknown[] })
    // every 8th row: all tasks and splits, in a time this machine can spare
    const sample = rows.filter((_, i) => i % 8 === 0)
    expect(sample.length).toBeGreaterThan(70)
    for (const row of sample) {
      const request = { model: 'covenant-chat', messages: row.messages, tools: row.tools }
      const before = await engine.complete(request, { decoding: 'greedy' })
      const deltas: ChatDelta[] = []
      const after = await engine.complete({ ...request, logprobs: true }, { onDelta: (d) => deltas.push(d) })
      // (tool-call ids derive from the request, which differs by `logprobs`)
      const withoutIds = (o: typeof before.output) => ({ ...o.choices[0]!, logprobs: null, message: { ...o.choices[0]!.message, tool_calls: o.choices[0]!.message.tool_calls?.map((t) => t.function) } })
      expect(withoutIds(after.output), JSON.stringify(row.messages).slice(0, 200)).toEqual(withoutIds(before.output))
      const message = after.output.choices[0]!.message
      const content = deltas.filter((d) => d.content !== undefined).map((d) => d.content).join('')
      expect(content).toBe(message.content ?? '')
      const args = (message.tool_calls ?? []).map((_, i) => deltas.flatMap((d) => d.tool_calls ?? []).filter((t) => t.index === i).map((t) => t.function.arguments).join(''))
      expect(args).toEqual((message.tool_calls ?? []).map((t) => t.function.arguments))
      const tokens = after.output.choices[0]!.logprobs!.content
      if (message.content) expect(tokens!.map((t) => t.token).join('')).toBe(message.content)
    }
  }, 120_000)
})
