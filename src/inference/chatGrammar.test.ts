import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { ChatDelta } from './chatAssembler.js'
import { STRUCTURE, createChatGrammar } from './chatGrammar.js'
import { decodeTurn, grammarPolicy, promptTools } from './chatDecode.js'
import { CHAT_PROMPT_V1, serializeChatRequest } from './chatPrompt.js'
import { type ChatPlan, planChatRequest } from './chatRequest.js'
import { validateFlat } from './chatSchema.js'
import { hashJson } from './hash.js'
import { shippedModelStore } from './modelStore.js'
import type { OnnxBackend } from './onnxBackend.js'

/**
 * The grammar against a model that writes anything: logits drawn at random (with a random
 * pull towards the structural pieces, so calls get finished). Whatever the "model" wants,
 * the answer keeps what the request asked for — no call under tool_choice "none", a call of
 * a declared tool with arguments that fit its schema under "required", that tool when named,
 * a schema-valid object for response_format — and the streamed deltas add up to the message.
 */
const pieces = shippedModelStore().get('covenant-chat').meta!['pieces'] as string[]
const V = pieces.length
const STRUCTURAL = new Set(Object.values(STRUCTURE).map((t) => pieces.indexOf(t)))

const tools = [
  { type: 'function', function: { name: 'pay_invoice', parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'number' } }, required: ['invoiceId', 'to', 'amountEth'] } } },
  { type: 'function', function: { name: 'resolve_market', parameters: { type: 'object', properties: { marketId: { type: 'string' }, outcome: { type: 'string', enum: ['yes', 'no'] } }, required: ['marketId', 'outcome'] } } },
  { type: 'function', function: { name: 'set_limit', parameters: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 }, strict: { type: 'boolean' } }, required: ['limit'] } } },
]
const messages = [
  { role: 'user', content: 'Invoice INV-2041: pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed. Resolve MKT-17 (yes or no). Set the limit to 7 or -3.' },
]
const schema = { type: 'object', properties: { marketId: { type: 'string', maxLength: 12 }, outcome: { enum: ['yes', 'no'] }, votes: { type: 'integer' } }, required: ['marketId', 'outcome'], additionalProperties: false }

const requests: Record<string, Record<string, unknown>> = {
  auto: { tools },
  none: { tools, tool_choice: 'none' },
  required: { tools, tool_choice: 'required' },
  named: { tools, tool_choice: { type: 'function', function: { name: 'set_limit' } } },
  single: { tools, tool_choice: 'required', parallel_tool_calls: false },
  structured: { response_format: { type: 'json_schema', json_schema: { name: 'resolution', schema } } },
  structuredOrTool: { tools, response_format: { type: 'json_schema', json_schema: { name: 'resolution', schema } } },
}

function planOf(extra: Record<string, unknown>): ChatPlan {
  const planned = planChatRequest({ model: 'covenant-chat', messages, ...extra })
  if (!planned.ok) throw new Error(planned.issue.message)
  return planned.plan
}

/** A backend whose logits come from a seeded generator, not a model. */
function randomBackend(seed: number, pull: number): OnnxBackend {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    runRaw: async (feeds: Record<string, { shape: readonly number[] }>) => {
      const n = V + feeds['features']!.shape[1]!
      const data = new Float32Array(n)
      for (let i = 0; i < n; i++) data[i] = next() * 4 - 2 + (STRUCTURAL.has(i) ? pull : 0)
      return { logits: { dtype: 'float32', shape: [1, n], data } }
    },
  } as unknown as OnnxBackend
}

/** The message the deltas add up to (what a streaming client assembles). */
function sumOf(deltas: ChatDelta[]) {
  let content: string | null = null
  const calls: Array<{ id: string; name: string; arguments: string }> = []
  for (const d of deltas) {
    if (d.content !== undefined) content = (content ?? '') + d.content
    for (const t of d.tool_calls ?? []) {
      if (t.id) calls[t.index] = { id: t.id, name: t.function.name ?? '', arguments: '' }
      calls[t.index]!.arguments += t.function.arguments
    }
  }
  return { content, calls }
}

describe('constrained decoding holds against any logits', () => {
  for (const [label, extra] of Object.entries(requests)) {
    test(`${label}: 150 random "models"`, async () => {
      const plan = planOf(extra)
      const specs = new Map([...plan.toolSpecs])
      let finished = 0
      await fc.assert(
        fc.asyncProperty(fc.integer(), fc.double({ min: 0, max: 6, noNaN: true }), async (seed, pull) => {
          const deltas: ChatDelta[] = []
          const turn = await decodeTurn({ backend: randomBackend(seed, pull), spec: CHAT_PROMPT_V1, pieces, request: { messages: messages as never }, plan, requestHash: hashJson({ seed }), onDelta: (d) => deltas.push(d) })
          const { message } = turn
          const done = turn.finishReason !== 'length'
          if (!done) expect(turn.actions.length).toBe(CHAT_PROMPT_V1.maxSteps - 1)
          // the streamed deltas are the message
          const sum = sumOf(deltas)
          expect(sum.content ?? (message.tool_calls ? null : '')).toBe(message.content)
          expect(sum.calls).toEqual((message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })))
          // text never carries tool-call markup, never starts or ends with a space
          for (const piece of [STRUCTURE.OPEN, STRUCTURE.STR_CLOSE, STRUCTURE.VAL_CLOSE]) expect(message.content ?? '').not.toContain(piece)
          if (done && !plan.structured && message.content) expect(message.content).toBe(message.content.trim())
          const calls = message.tool_calls ?? []
          if (label === 'none' || label === 'structured') expect(calls).toEqual([])
          if (done && ['required', 'named', 'single'].includes(label)) expect(calls.length).toBeGreaterThan(0)
          if (label === 'named') for (const c of calls) expect(c.function.name).toBe('set_limit')
          if (label === 'single') expect(calls.length).toBeLessThanOrEqual(1)
          for (const [i, c] of calls.entries()) {
            expect(specs.has(c.function.name)).toBe(true)
            if (done || i < calls.length - 1) expect(validateFlat(JSON.parse(c.function.arguments), specs.get(c.function.name)!)).toEqual([])
          }
          if (plan.structured && calls.length === 0 && done) expect(validateFlat(JSON.parse(message.content!), plan.structured.spec)).toEqual([])
          if (done && calls.length > 0) expect(turn.finishReason).toBe('tool_calls')
          if (done && (calls.length > 0 || plan.structured)) finished++
        }),
        { numRuns: 150 },
      )
      // the checks above ran on finished calls / objects, not only on cut-off ones. Rates over
      // 3,000 random models: auto 7.4 % (so ~11 of 150, and more than 5 failed ~3 % of runs:
      // at least one fails ~1e-5), required 39 %, single 61 %, named 98 %, structured 100 %
      if (label !== 'none') expect(finished).toBeGreaterThan(label === 'auto' ? 0 : 30)
    }, 120_000)
  }
})

describe('the grammar, step by step', () => {
  const tokens = (extra: Record<string, unknown>) => serializeChatRequest({ messages: messages as never, tools: promptTools(planOf(extra)) }, CHAT_PROMPT_V1)
  const grammar = (extra: Record<string, unknown>) => createChatGrammar({ pieces, tokens: tokens(extra), policy: grammarPolicy(planOf(extra)) })
  const OPEN = pieces.indexOf(STRUCTURE.OPEN)
  const EOS = pieces.indexOf(STRUCTURE.EOS)

  test('tool_choice none: a call cannot open; required: nothing but a call can', () => {
    const none = grammar(requests['none']!).allowed()
    expect(none[OPEN]).toBe(0)
    expect(none[EOS]).toBe(1)
    const required = grammar(requests['required']!).allowed()
    expect([...required.keys()].filter((i) => required[i] === 1)).toEqual([OPEN])
  })

  test('named: after OPEN only the tokens that spell that name', () => {
    const g = grammar(requests['named']!)
    g.accept(OPEN)
    const t = tokens(requests['named']!)
    const allowed = [...g.allowed().keys()].filter((i) => g.allowed()[i] === 1)
    expect(allowed.length).toBeGreaterThan(0)
    expect(new Set(allowed.map((a) => t[a - V]![1]))).toEqual(new Set(['set_limit']))
  })

  test('an action outside the grammar is refused', () => {
    const g = grammar(requests['none']!)
    expect(() => g.accept(OPEN)).toThrow(/outside the grammar/)
  })

  test('a forced tool the prompt cannot spell is a ChatConstraintError naming tool_choice, before any decoding', async () => {
    // 30 tools fill the 96-token tool list; the last one is cut off
    const many = Array.from({ length: 30 }, (_, i) => ({ type: 'function', function: { name: `tool_${i}`, parameters: { type: 'object', properties: { a: { type: 'string' } } } } }))
    const plan = planOf({ tools: many, tool_choice: { type: 'function', function: { name: 'tool_29' } } })
    let runs = 0
    const backend = { runRaw: async () => (runs++, {}) } as unknown as OnnxBackend
    const err = await decodeTurn({ backend, spec: CHAT_PROMPT_V1, pieces, request: { messages: messages as never }, plan, requestHash: hashJson(1) }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'ChatConstraintError', param: 'tool_choice' })
    expect((err as Error).message).toMatch(/'tool_29' is not in the prompt the model reads \(the tool list is cut at 96 tokens\)/)
    expect(runs).toBe(0)
  })
})
