import type { InferenceResult } from './backend.js'
import type { ChatDelta } from './chatAssembler.js'
import { decodeTurn } from './chatDecode.js'
import { CHAT_PROMPT_V1, type PromptSpec, promptFeatures, serializeChatRequest } from './chatPrompt.js'
import { parseModelOutput, toAssistantMessage } from './chatOutput.js'
import { exactChatResult } from './chatResult.js'
import { type ChatPlan, autoPlan, planChatRequest } from './chatRequest.js'
import { InvalidChatRequestError, ModelLoadError } from './errors.js'
import { chatRequestForModel } from './chatCanonical.js'
import { type Hash, hashJson } from './hash.js'
import type { ModelStore, StoredModel } from './modelStore.js'
import { type OnnxBackend, createOnnxBackend } from './onnxBackend.js'
import {
  type ChatCompletionRequest,
  type ChatCompletionResponse,
  chatCompletionRequestSchema,
} from './schemas.js'
import type { DeterministicSettings } from './settings.js'

/**
 * How covenant-chat turns logits into a message; recorded in every response
 * (`covenant.decoding`) so a replay decodes the same way.
 * - `greedy-constrained-v1` (current): greedy among the actions the request's grammar
 *   allows (tool_choice, response_format, tool schemas; see chatGrammar.ts), stop
 *   sequences, logprobs.
 * - `greedy` (records written before): plain argmax over everything; tool_choice "none"
 *   hid the tools; other request fields did not change the output. Kept so those records
 *   still replay bit for bit.
 */
export const CHAT_DECODING = 'greedy-constrained-v1' as const
export type ChatDecoding = typeof CHAT_DECODING | 'greedy'

export type ChatGeneration = {
  /** The decoder's choices: < pieces.length emits a piece, otherwise copies input token (action − pieces.length). */
  actions: number[]
  text: string
  /** True when decoding stopped at the step limit instead of <eos>. */
  truncated: boolean
  promptTokens: number
}

export type ChatEngine = {
  readonly model: StoredModel
  readonly backend: OnnxBackend
  readonly spec: PromptSpec
  readonly pieces: readonly string[]
  /**
   * Greedy decoding of one turn: the same request always gives the same actions. Takes
   * the request's messages and tools (tool_choice auto, no other constraint); `complete`
   * honours every field.
   */
  generate(request: Pick<ChatCompletionRequest, 'messages' | 'tools'>, options?: { decoding?: ChatDecoding | undefined }): Promise<ChatGeneration>
  /**
   * A full OpenAI chat completion (without receipt) and its replay record. Throws
   * InvalidChatRequestError (a field it refuses) or ChatConstraintError (a forced call
   * the prompt gives no way to write).
   */
  complete(request: unknown, options?: CompleteOptions): Promise<InferenceResult<ChatCompletionResponse>>
}

export type CompleteOptions = {
  /** @defaultValue now, in unix seconds */
  created?: number | undefined
  /** @defaultValue `fp_` + the first 12 hex digits of the model digest */
  systemFingerprint?: string | undefined
  /** @defaultValue `chatcmpl-` + 24 random hex digits (unique per completion) */
  id?: string | undefined
  /** @defaultValue CHAT_DECODING; replay passes what the record states */
  decoding?: ChatDecoding | undefined
  /** Each piece of the answer as the model writes it (the SSE stream). */
  onDelta?: ((delta: ChatDelta) => void) | undefined
  /**
   * What the model reads: `canonical-json`, the request in the canonical form its hash is
   * taken over; `as-sent` only to replay responses written before (no `covenant.requestForm`).
   * @defaultValue 'canonical-json'
   */
  requestForm?: 'canonical-json' | 'as-sent' | undefined
}

export type CreateChatEngineParameters = {
  store?: ModelStore | undefined
  /** @defaultValue 'covenant-chat' */
  model?: string | StoredModel | undefined
  settings?: Partial<DeterministicSettings> | undefined
}

/** Loads covenant-chat (or another model with the same prompt format) for greedy, exact generation. */
export async function createChatEngine(p: CreateChatEngineParameters = {}): Promise<ChatEngine> {
  return chatEngineFor(await createOnnxBackend({ model: p.model ?? 'covenant-chat', store: p.store, settings: p.settings }))
}

const engines = new WeakMap<OnnxBackend, ChatEngine>()

/** The chat engine over an existing backend (one per backend; replay reuses them). */
export function chatEngineFor(backend: OnnxBackend): ChatEngine {
  let engine = engines.get(backend)
  if (!engine) engines.set(backend, (engine = buildChatEngine(backend)))
  return engine
}

function buildChatEngine(backend: OnnxBackend): ChatEngine {
  const meta = backend.model.meta ?? {}
  const prompt = meta['prompt'] as (Partial<PromptSpec> & { kind?: string }) | undefined
  const pieces = meta['pieces']
  if (prompt?.kind !== 'covenant-chat-v1' || !Array.isArray(pieces) || pieces.some((x) => typeof x !== 'string')) {
    throw new ModelLoadError({
      model: backend.model.name,
      cause: new Error('meta.json must declare prompt.kind "covenant-chat-v1" and the output pieces'),
    })
  }
  const spec: PromptSpec = { ...CHAT_PROMPT_V1, ...prompt }
  const V = pieces.length
  const EOS = 1

  /** "greedy": the decoding of records written before greedy-constrained-v1. */
  const generateLegacy = async (request: Pick<ChatCompletionRequest, 'messages' | 'tools' | 'tool_choice' | 'max_tokens' | 'max_completion_tokens'>): Promise<ChatGeneration> => {
    const tools = request.tool_choice === 'none' ? [] : request.tools
    const tokens = serializeChatRequest({ messages: request.messages, tools }, spec)
    const feats = promptFeatures(tokens, spec)
    const L = tokens.length
    const features = new BigInt64Array(L * spec.slots)
    feats.forEach((row, i) => row.forEach((v, j) => (features[i * spec.slots + j] = BigInt(v))))
    const limit = Math.min(spec.maxSteps - 1, request.max_completion_tokens ?? request.max_tokens ?? Number.POSITIVE_INFINITY)
    const actions: number[] = []
    let truncated = true
    while (actions.length < limit) {
      const prev = BigInt64Array.from([0, ...actions].map(BigInt))
      const out = await backend.runRaw({
        features: { dtype: 'int64', shape: [1, L, spec.slots], data: features },
        prev: { dtype: 'int64', shape: [1, prev.length], data: prev },
      })
      const next = argmax(out['logits']!.data as Float32Array)
      if (next === EOS) {
        truncated = false
        break
      }
      actions.push(next)
    }
    const text = actions
      .map((a) => (a < V ? (a > EOS ? (pieces[a] as string) : '') : tokens[a - V]?.[0] === 't' ? tokens[a - V]![1] : ''))
      .join('')
    return { actions, text, truncated, promptTokens: L }
  }

  const decodeV1 = (request: Pick<ChatCompletionRequest, 'messages'>, plan: ChatPlan, requestHash: Hash, onDelta?: (d: ChatDelta) => void) =>
    decodeTurn({ backend, spec, pieces: pieces as string[], request, plan, requestHash, onDelta })

  const generate: ChatEngine['generate'] = async (request, options = {}) => {
    if (options.decoding === 'greedy') return generateLegacy(request)
    const turn = await decodeV1(request, autoPlan(request.tools), hashJson(request))
    return { actions: turn.actions, text: turn.text, truncated: turn.truncated, promptTokens: turn.promptTokens }
  }

  return {
    model: backend.model,
    backend,
    spec,
    pieces: pieces as string[],
    generate,
    async complete(sent, options = {}) {
      const decoding = options.decoding ?? CHAT_DECODING
      const requestForm = options.requestForm ?? 'canonical-json'
      // The model reads the form the request hash is taken over (sorted keys): key-order
      // variants of one request are one prompt, so a signed requestHash pins the computation.
      const raw = requestForm === 'canonical-json' ? chatRequestForModel(sent) : sent
      const requestHash = hashJson(raw)
      const startedAt = Date.now()
      const t0 = performance.now()
      let choice: ChatCompletionResponse['choices'][number]
      let usage: ChatCompletionResponse['usage']
      let actions: number[]
      if (decoding === 'greedy') {
        const parsed = chatCompletionRequestSchema.safeParse(raw)
        if (!parsed.success) throw new InvalidChatRequestError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`))
        const gen = await generateLegacy(parsed.data)
        const message = toAssistantMessage(parseModelOutput(gen.text), requestHash)
        choice = { index: 0, message, logprobs: null, finish_reason: message.tool_calls ? 'tool_calls' : gen.truncated ? 'length' : 'stop' }
        usage = { prompt_tokens: gen.promptTokens, completion_tokens: gen.actions.length, total_tokens: gen.promptTokens + gen.actions.length }
        actions = gen.actions
      } else {
        const planned = planChatRequest(raw)
        if (!planned.ok) throw new InvalidChatRequestError([planned.issue.message], planned.issue)
        const turn = await decodeV1(planned.request, planned.plan, requestHash, options.onDelta)
        choice = {
          index: 0,
          message: turn.message,
          logprobs: planned.plan.logprobs ? { content: turn.contentLogprobs, refusal: null } : null,
          finish_reason: turn.finishReason,
        }
        usage = { prompt_tokens: turn.promptTokens, completion_tokens: turn.actions.length, total_tokens: turn.promptTokens + turn.actions.length }
        actions = turn.actions
      }
      return exactChatResult({
        model: backend.model,
        settings: backend.settings,
        decoding,
        requestForm,
        options,
        startedAt,
        durationMs: performance.now() - t0,
        choice,
        usage,
        actions,
        request: raw,
        requestHash,
      })
    },
  }
}

/** Index of the largest value; the first one on ties (so decoding is a function of the logits). */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i
  return best
}
