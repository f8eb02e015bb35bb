import { randomBytes } from 'node:crypto'
import type { InferenceResult } from './backend.js'
import { chatOutputHash } from './chatOutput.js'
import type { Hash } from './hash.js'
import type { StoredModel } from './modelStore.js'
import type { ChatCompletionResponse, ReplayRecord } from './schemas.js'
import { type DeterministicSettings, RUNTIME_NAME, runtimeVersion, settingsRecord } from './settings.js'

type Covenant = ChatCompletionResponse['covenant']

/**
 * A chat completion a local model decoded (covenant-chat's engine or a causal LM), as the
 * container answers it and as replay re-executes it: the OpenAI envelope with Covenant's
 * `covenant` block (model, digest, runtime settings, decoding, request form, the actions),
 * and its `exact` replay record.
 */
export function exactChatResult(p: {
  model: StoredModel
  settings: DeterministicSettings
  decoding: Covenant['decoding']
  requestForm: 'canonical-json' | 'as-sent'
  options: { id?: string | undefined; created?: number | undefined; systemFingerprint?: string | undefined }
  startedAt: number
  durationMs: number
  choice: ChatCompletionResponse['choices'][number]
  usage: ChatCompletionResponse['usage']
  actions: number[]
  /** The request as the model read it, and its hash. */
  request: unknown
  requestHash: Hash
}): InferenceResult<ChatCompletionResponse> {
  const settings = settingsRecord(p.settings)
  const response: ChatCompletionResponse = {
    id: p.options.id ?? `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion',
    created: p.options.created ?? Math.floor(p.startedAt / 1000),
    model: p.model.name,
    system_fingerprint: p.options.systemFingerprint ?? `fp_${p.model.digest.slice(2, 14)}`,
    choices: [p.choice],
    usage: p.usage,
    covenant: {
      model: p.model.name,
      modelDigest: p.model.digest,
      runtime: { name: RUNTIME_NAME, version: runtimeVersion(), settings },
      decoding: p.decoding,
      ...(p.requestForm === 'canonical-json' ? { requestForm: p.requestForm } : {}),
      actions: p.actions,
      replay: 'exact',
    },
  }
  const record: ReplayRecord = {
    backend: 'onnx',
    format: 'chat-completions-v1',
    modelDigest: p.model.digest,
    model: { name: p.model.name, digestOf: 'model-bytes' },
    runtime: { name: RUNTIME_NAME, version: runtimeVersion(), settings: { ...settings, decoding: p.decoding } },
    replay: 'exact',
    request: p.request,
    response,
    inputHash: p.requestHash,
    outputHash: chatOutputHash(response),
    timing: { startedAt: p.startedAt, durationMs: Math.round(p.durationMs * 1000) / 1000 },
  }
  return { output: response, record }
}
