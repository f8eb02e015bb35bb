import type { InferenceResult } from './backend.js'
import { type ChatEngine, type CompleteOptions, chatEngineFor } from './chatEngine.js'
import { CAUSAL_LM_DECODING, createCausalLmEngine } from './causalLmEngine.js'
import type { PlanChatRequestReturnType } from './chatRequest.js'
import type { ModelStore, StoredModel } from './modelStore.js'
import { sharedOnnxBackend } from './onnxBackend.js'
import type { ChatCompletionResponse } from './schemas.js'
import type { DeterministicSettings } from './settings.js'

/**
 * The one place that picks a chat engine for a stored model: covenant-chat's
 * pointer-generator (chatEngine.ts) or a causal LM directory (causalLmEngine.ts). The
 * container serves, and replay re-executes, through this hook, so a new kind of chat model
 * is added here and nowhere else.
 */
export type ChatCompleter = {
  readonly model: StoredModel
  complete(request: unknown, options?: CompleteOptions): Promise<InferenceResult<ChatCompletionResponse>>
  /** This model's request gate, where it differs from covenant-chat's (planChatRequest). */
  gate?(request: unknown): PlanChatRequestReturnType
}

export function isChatModel(model: StoredModel): boolean {
  return model.kind === 'causal-lm' || (model.meta?.['prompt'] as { kind?: string } | undefined)?.kind === 'covenant-chat-v1'
}

/** The decodings a model's engine replays (replay refuses records that state another). */
export function decodingsOf(model: StoredModel): readonly string[] {
  return model.kind === 'causal-lm' ? [CAUSAL_LM_DECODING] : ['greedy', 'greedy-constrained-v1']
}

const causal = new Map<string, Promise<ChatCompleter>>()

export async function chatEngineForModel(store: ModelStore, model: StoredModel, settings: DeterministicSettings): Promise<ChatCompleter | ChatEngine> {
  if (model.kind === 'causal-lm') {
    const key = `${model.digest}|${JSON.stringify(settings)}`
    let e = causal.get(key)
    if (!e) {
      e = createCausalLmEngine({ store, model, settings })
      e.catch(() => causal.delete(key))
      causal.set(key, e)
    }
    return e
  }
  return chatEngineFor(await sharedOnnxBackend(store, model, settings))
}
