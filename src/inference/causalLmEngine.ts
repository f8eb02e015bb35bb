import { chatRequestForModel } from './chatCanonical.js'
import type { InferenceResult } from './backend.js'
import type { ChatDelta, TokenLogprob } from './chatAssembler.js'
import type { CompleteOptions } from './chatEngine.js'
import { toolCallId } from './chatOutput.js'
import { exactChatResult } from './chatResult.js'
import { type ChatPlan, type PlanChatRequestReturnType, planChatRequest } from './chatRequest.js'
import { type CausalLm, loadCausalLm } from './causalLm.js'
import { jsonConstraint } from './causalLmJson.js'
import { InvalidChatRequestError } from './errors.js'
import { type Hash, hashJson } from './hash.js'
import type { ModelStore, StoredModel } from './modelStore.js'
import { type SamplingParameters, chooseToken, logSoftmax } from './sampling.js'
import type { ChatCompletionMessage, ChatCompletionRequest, ChatCompletionResponse, ChatToolCall } from './schemas.js'
import type { DeterministicSettings } from './settings.js'

/**
 * Chat completions on a causal LM (causalLm.ts), for the container and for replay.
 * Decoding `causal-lm-v1`: the request's messages and tools rendered by the model's own chat
 * template, tokens chosen greedily (temperature 0, the default) or by seeded sampling
 * (sampling.ts), stop tokens from generation_config.json, tool calls parsed from the model's
 * own format (`<tool_call>{"name": …, "arguments": {…}}</tool_call>`, Qwen2 / Hermes).
 * Every request field is honoured or refused (the table in src/inference/README.md).
 */
export const CAUSAL_LM_DECODING = 'causal-lm-v1' as const
/** Most tokens one answer may have, whatever max_tokens says. */
export const CAUSAL_LM_MAX_NEW_TOKENS = 512

export type CausalLmEngine = {
  readonly model: StoredModel
  readonly lm: CausalLm
  complete(request: unknown, options?: CausalLmCompleteOptions): Promise<InferenceResult<ChatCompletionResponse>>
  /** The request gate alone (the container answers 400 before streaming starts). */
  gate(request: unknown): PlanChatRequestReturnType
}

export type CausalLmCompleteOptions = CompleteOptions & {
  /** Sees each step's logits and the token chosen (tests hash them; nothing else needs them). */
  onStep?: ((logits: Float32Array, token: number) => void) | undefined
}

export async function createCausalLmEngine(p: { store: ModelStore; model: StoredModel; settings: DeterministicSettings }): Promise<CausalLmEngine> {
  const lm = await loadCausalLm(p.store, p.model, p.settings)
  return {
    model: p.model,
    lm,
    complete: (raw, options = {}) => complete(lm, raw, options),
    gate(raw) {
      try {
        const { request, plan } = planCausalLmRequest(raw, lm, hashJson(raw))
        return { ok: true, request, plan }
      } catch (err) {
        if (!(err instanceof InvalidChatRequestError)) throw err
        return { ok: false, issue: { message: err.issues.join('; '), param: err.param, code: err.code } }
      }
    },
  }
}

type Planned = { request: ChatCompletionRequest; plan: ChatPlan; sampling: SamplingParameters }

const refuse = (message: string, param: string | null, code: string | null = 'unsupported_value') => new InvalidChatRequestError([message], { param, code })

/** The request gate: covenant-chat's (chatRequest.ts) for the shared fields, then what differs for a causal LM. */
export function planCausalLmRequest(raw: unknown, lm: Pick<CausalLm, 'toolCallOpen'>, requestHash: Hash): Planned {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw refuse('the request body must be a JSON object', null, null)
  const { temperature, top_p: topP, seed, ...rest } = raw as Record<string, unknown>
  const planned = planChatRequest(rest)
  if (!planned.ok) throw new InvalidChatRequestError([planned.issue.message], planned.issue)
  const t = temperature ?? 0
  if (typeof t !== 'number' || !(t >= 0 && t <= 2)) throw refuse("Invalid value for 'temperature': a number from 0 to 2.", 'temperature', 'invalid_value')
  const p = topP ?? 1
  if (typeof p !== 'number' || !(p > 0 && p <= 1)) throw refuse("Invalid value for 'top_p': a number above 0 and at most 1.", 'top_p', 'invalid_value')
  if (seed != null && (typeof seed !== 'number' || !Number.isSafeInteger(seed))) throw refuse("Invalid value for 'seed': an integer.", 'seed', 'invalid_value')
  const choice = planned.plan.toolChoice
  if ((choice === 'required' || typeof choice === 'object') && lm.toolCallOpen === undefined) {
    throw refuse("Unsupported value: 'tool_choice' required or a named function needs a model whose tokenizer has a <tool_call> token.", 'tool_choice')
  }
  // no seed: one derived from the request, so the answer is still a function of the request (and replays)
  const derived = Number.parseInt(requestHash.slice(2, 14), 16)
  return { request: planned.request, plan: planned.plan, sampling: { temperature: t, topP: p, seed: typeof seed === 'number' ? seed : derived } }
}

/** OpenAI messages → what HF chat templates expect (text content, tool-call arguments as objects, developer → system). */
export function templateMessages(messages: ChatCompletionRequest['messages']): Array<Record<string, unknown>> {
  return messages.map((m) => {
    const content = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((part) => ('text' in part && typeof part.text === 'string' ? part.text : ('refusal' in part && typeof part.refusal === 'string' ? part.refusal : ''))).join('') : ''
    const out: Record<string, unknown> = { role: m.role === 'developer' ? 'system' : m.role, content }
    if (m.tool_calls && m.tool_calls.length > 0) {
      out['tool_calls'] = m.tool_calls.map((c) => {
        let args: unknown = c.function.arguments
        try {
          args = JSON.parse(c.function.arguments)
        } catch {
          // the template writes it as a string: what the client sent
        }
        return { id: c.id, type: 'function', function: { name: c.function.name, arguments: args } }
      })
    }
    if (m.tool_call_id !== undefined) out['tool_call_id'] = m.tool_call_id
    if (m.name !== undefined) out['name'] = m.name
    return out
  })
}

async function complete(lm: CausalLm, sent: unknown, options: CausalLmCompleteOptions): Promise<InferenceResult<ChatCompletionResponse>> {
  // Like covenant-chat, the model reads the canonical form the request hash is taken over
  // (chatCanonical.ts): key-order variants of one request render one prompt.
  const requestForm = options.requestForm ?? 'canonical-json'
  const raw = requestForm === 'canonical-json' ? chatRequestForModel(sent) : sent
  const requestHash = hashJson(raw)
  const { request, plan, sampling } = planCausalLmRequest(raw, lm, requestHash)
  const startedAt = Date.now()
  const t0 = performance.now()
  const choice = plan.toolChoice
  const tools = choice === 'none' ? undefined : plan.tools.map((t) => t as Record<string, unknown>)
  const prompt = lm.renderPrompt(templateMessages(request.messages), tools)
  const promptIds = lm.encode(prompt)
  const forced: number[] =
    choice === 'required' ? [lm.toolCallOpen!] : typeof choice === 'object' ? [lm.toolCallOpen!, ...lm.encode(`\n{"name": "${choice.name}", "arguments":`)] : []
  // response_format json_schema: only tokens that keep the answer a conforming object (causalLmJson.ts)
  const json =
    plan.structured && forced.length === 0
      ? jsonConstraint(lm, plan.structured.spec, { vocabSize: lm.vocabSize, toolCallFirst: choice === 'auto' && plan.tools.length > 0 && lm.toolCallOpen !== undefined })
      : undefined
  const allowed = json
    ? (id: number) => json.allowed(id)
    : choice === 'none' && lm.toolCallOpen !== undefined
      ? (id: number) => id !== lm.toolCallOpen
      : undefined
  if (lm.maxPositions !== undefined && promptIds.length >= lm.maxPositions) {
    throw refuse(`This model's maximum context length is ${lm.maxPositions} tokens; the messages and tools come to ${promptIds.length}. Shorten them.`, 'messages', 'context_length_exceeded')
  }
  // the answer stops where the context ends (finish_reason "length")
  const room = lm.maxPositions === undefined ? CAUSAL_LM_MAX_NEW_TOKENS : lm.maxPositions - promptIds.length
  const limit = Math.min(plan.maxTokens ?? CAUSAL_LM_MAX_NEW_TOKENS, CAUSAL_LM_MAX_NEW_TOKENS, room)

  const out = createLmAssembler(lm, plan, requestHash, options.onDelta)
  const session = lm.start()
  let logits = await session.step(promptIds)
  const actions: number[] = []
  let finish: 'stop' | 'length' | 'tool_calls' = 'length'
  while (actions.length < limit) {
    const step = actions.length
    const token = step < forced.length ? forced[step]! : chooseToken(logits, sampling, step, allowed)
    options.onStep?.(logits, token)
    json?.chosen(token)
    actions.push(token)
    if (lm.eosIds.has(token)) {
      finish = 'stop'
      break
    }
    out.push(token, plan.logprobs ? logprobOf(lm, logits, token, plan.logprobs.top) : undefined)
    if (out.stopped) {
      finish = 'stop'
      break
    }
    if (!plan.parallel && token === lm.toolCallClose && out.toolCalls > 0) {
      finish = 'stop'
      break
    }
    logits = await session.step([token])
  }
  const message = out.end()
  if (message.tool_calls) finish = 'tool_calls'
  return exactChatResult({
    model: lm.model,
    settings: lm.settings,
    decoding: CAUSAL_LM_DECODING,
    requestForm,
    options,
    startedAt,
    durationMs: performance.now() - t0,
    choice: { index: 0, message, logprobs: plan.logprobs ? { content: out.logprobs.length > 0 ? out.logprobs : null, refusal: null } : null, finish_reason: finish },
    usage: { prompt_tokens: promptIds.length, completion_tokens: actions.length, total_tokens: promptIds.length + actions.length },
    actions,
    request: raw,
    requestHash,
  })
}

function logprobOf(lm: CausalLm, logits: Float32Array, token: number, top: number): TokenLogprob {
  const lp = logSoftmax(logits)
  const entry = (id: number) => {
    const text = lm.decode([id])
    return { token: text, logprob: lp[id]!, bytes: [...Buffer.from(text, 'utf8')] }
  }
  const best = [...lp.keys()].sort((a, b) => lp[b]! - lp[a]! || a - b).slice(0, top)
  return { ...entry(token), top_logprobs: best.map(entry) }
}

/**
 * Tokens → deltas → message. Content is sent as it is decoded, trimmed like the final
 * message (leading whitespace dropped, trailing whitespace held until more text comes),
 * holding back text that may begin a stop sequence and a partial UTF-8 character. A tool
 * call is sent when its `</tool_call>` arrives; a block that is not `{"name", "arguments"}`
 * JSON becomes content. The message is the sum of the deltas, so stream = non-stream.
 */
function createLmAssembler(lm: CausalLm, plan: ChatPlan, requestHash: Hash, onDelta: ((d: ChatDelta) => void) | undefined) {
  const emit = (d: ChatDelta) => onDelta?.(d)
  let contentIds: number[] = [] // content tokens since the last flush point
  let pendingText = '' // decoded text not yet sent (after the last sent piece)
  let sentAny = false
  let content = ''
  let block: number[] | undefined
  const calls: ChatToolCall[] = []
  const logprobs: TokenLogprob[] = []
  let queued: TokenLogprob[] = []
  let stopped = false

  const flush = (final: boolean) => {
    const decoded = lm.decode(contentIds)
    // a character split across tokens: wait for its last byte
    if (!final && decoded.endsWith('\uFFFD')) return
    let text = pendingText + decoded
    contentIds = []
    pendingText = ''
    if (!sentAny) text = text.trimStart()
    // a stop sequence: cut before it, stop decoding
    for (const s of plan.stop) {
      const at = text.indexOf(s)
      if (at >= 0) {
        text = text.slice(0, at)
        stopped = true
      }
    }
    let hold = 0
    if (!stopped && !final) {
      hold = text.length - text.trimEnd().length
      for (const s of plan.stop) for (let k = Math.min(s.length - 1, text.length); k > hold; k--) if (text.endsWith(s.slice(0, k))) hold = k
    }
    let send = text.slice(0, text.length - hold)
    if (final || stopped) send = send.trimEnd()
    pendingText = text.slice(text.length - hold)
    if (send.length > 0) {
      sentAny = true
      content += send
      const lp = queued
      queued = []
      logprobs.push(...lp)
      emit({ content: send, ...(plan.logprobs ? { logprobs: lp } : {}) })
    }
  }

  return {
    get stopped() {
      return stopped
    },
    get toolCalls() {
      return calls.length
    },
    logprobs,
    push(token: number, lp: TokenLogprob | undefined) {
      if (block) {
        if (token === lm.toolCallClose) {
          const inner = lm.decode(block)
          block = undefined
          const call = parseCall(inner)
          if (call) {
            const c: ChatToolCall = { id: toolCallId(requestHash, calls.length), type: 'function', function: { name: call.name, arguments: JSON.stringify(call.arguments) } }
            emit({ tool_calls: [{ index: calls.length, id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }] })
            calls.push(c)
          } else {
            pendingText += lm.decode(contentIds) + `<tool_call>${inner}</tool_call>`
            contentIds = []
            flush(false)
          }
        } else block.push(token)
        return
      }
      if (token === lm.toolCallOpen) {
        flush(false)
        block = []
        return
      }
      contentIds.push(token)
      if (lp) queued.push(lp)
      flush(false)
    },
    end(): ChatCompletionMessage {
      if (block) {
        // cut inside a call (max_tokens): what was written is content
        pendingText += lm.decode(contentIds) + `<tool_call>${lm.decode(block)}`
        contentIds = []
        block = undefined
      }
      flush(true)
      if (calls.length === 0) return { role: 'assistant', content, refusal: null }
      return { role: 'assistant', content: content === '' ? null : content, refusal: null, tool_calls: calls }
    },
  }
}

function parseCall(inner: string): { name: string; arguments: Record<string, unknown> } | undefined {
  let obj: unknown
  try {
    obj = JSON.parse(inner)
  } catch {
    return undefined
  }
  const o = obj as { name?: unknown; arguments?: unknown }
  const args = o.arguments ?? {}
  if (typeof obj !== 'object' || obj === null || typeof o.name !== 'string' || typeof args !== 'object' || args === null || Array.isArray(args)) return undefined
  return { name: o.name, arguments: args as Record<string, unknown> }
}
