import type { InferenceResult } from './backend.js'
import { CHAT_PROMPT_V1, type PromptSpec, promptFeatures, serializeChatRequest } from './chatPrompt.js'
import { chatOutputHash, parseModelOutput, toAssistantMessage } from './chatOutput.js'
import { InvalidChatRequestError, ModelLoadError } from './errors.js'
import { hashJson } from './hash.js'
import type { ModelStore, StoredModel } from './modelStore.js'
import { type OnnxBackend, createOnnxBackend } from './onnxBackend.js'
import {
  type ChatCompletionRequest,
  type ChatCompletionResponse,
  type ReplayRecord,
  chatCompletionRequestSchema,
} from './schemas.js'
import { type DeterministicSettings, RUNTIME_NAME, runtimeVersion, settingsRecord } from './settings.js'

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
  /** Greedy decoding: the same request always gives the same actions. */
  generate(request: Pick<ChatCompletionRequest, 'messages' | 'tools' | 'tool_choice' | 'max_tokens' | 'max_completion_tokens'>): Promise<ChatGeneration>
  /** A full OpenAI chat completion (without receipt) and its replay record. */
  complete(request: unknown, options?: CompleteOptions): Promise<InferenceResult<ChatCompletionResponse>>
}

export type CompleteOptions = {
  /** @defaultValue now, in unix seconds */
  created?: number | undefined
  /** @defaultValue `fp_` + the first 12 hex digits of the model digest */
  systemFingerprint?: string | undefined
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

  const generate: ChatEngine['generate'] = async (request) => {
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

  return {
    model: backend.model,
    backend,
    spec,
    pieces: pieces as string[],
    generate,
    async complete(raw, options = {}) {
      const parsed = chatCompletionRequestSchema.safeParse(raw)
      if (!parsed.success) throw new InvalidChatRequestError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`))
      const request = parsed.data
      const requestHash = hashJson(raw)
      const startedAt = Date.now()
      const t0 = performance.now()
      const gen = await generate(request)
      const durationMs = performance.now() - t0
      const message = toAssistantMessage(parseModelOutput(gen.text), requestHash)
      const response: ChatCompletionResponse = {
        id: `chatcmpl-${requestHash.slice(2, 26)}`,
        object: 'chat.completion',
        created: options.created ?? Math.floor(startedAt / 1000),
        model: backend.model.name,
        system_fingerprint: options.systemFingerprint ?? `fp_${backend.model.digest.slice(2, 14)}`,
        choices: [
          {
            index: 0,
            message,
            logprobs: null,
            finish_reason: message.tool_calls ? 'tool_calls' : gen.truncated ? 'length' : 'stop',
          },
        ],
        usage: { prompt_tokens: gen.promptTokens, completion_tokens: gen.actions.length, total_tokens: gen.promptTokens + gen.actions.length },
        covenant: {
          model: backend.model.name,
          modelDigest: backend.model.digest,
          runtime: { name: RUNTIME_NAME, version: runtimeVersion(), settings: settingsRecord(backend.settings) },
          decoding: 'greedy',
          actions: gen.actions,
          replay: 'exact',
        },
      }
      const record: ReplayRecord = {
        backend: 'onnx',
        format: 'chat-completions-v1',
        modelDigest: backend.model.digest,
        model: { name: backend.model.name, digestOf: 'model-bytes' },
        runtime: { name: RUNTIME_NAME, version: runtimeVersion(), settings: { ...settingsRecord(backend.settings), decoding: 'greedy' } },
        replay: 'exact',
        request: raw,
        response,
        inputHash: requestHash,
        outputHash: chatOutputHash(response),
        timing: { startedAt, durationMs: Math.round(durationMs * 1000) / 1000 },
      }
      return { output: response, record }
    },
  }
}

/** Index of the largest value; the first one on ties (so decoding is a function of the logits). */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i
  return best
}
