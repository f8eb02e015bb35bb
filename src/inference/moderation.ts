import type { InferenceResult } from './backend.js'
import { InvalidTensorError } from './errors.js'
import { featurizeModeration } from './featurize.js'
import { featurizerSpec, moderationLabels, moderationOutput, type ModerationOutput } from './moderationOutput.js'
import type { ModelStore } from './modelStore.js'
import { type OnnxBackend, createOnnxBackend } from './onnxBackend.js'
import type { DeterministicSettings } from './settings.js'

export type ModerationLabel = 'ok' | 'spam' | 'abuse' | 'scam'

export { moderationOutput, type ModerationOutput } from './moderationOutput.js'

export type ModerationClassifier = {
  readonly backend: OnnxBackend
  readonly labels: readonly string[]
  /** Classifies one post; the record holds the exact input counts and output logits. */
  classify(text: string): Promise<InferenceResult<ModerationOutput>>
  /** For agent runtimes (`OnnxInference`): `input` is a string or `{ text }`. */
  infer(input: unknown): Promise<InferenceResult<ModerationOutput>>
}

export type CreateModerationClassifierParameters = {
  store?: ModelStore | undefined
  /** @defaultValue 'moderation' */
  model?: string | undefined
  settings?: Partial<DeterministicSettings> | undefined
}

/** The shipped moderation model with its featurizer. */
export async function createModerationClassifier(p: CreateModerationClassifierParameters = {}): Promise<ModerationClassifier> {
  const backend = await createOnnxBackend({ model: p.model ?? 'moderation', store: p.store, settings: p.settings })
  const meta = backend.model.meta ?? {}
  const labels = moderationLabels(meta)
  const spec = featurizerSpec(meta['featurizer'])
  const classify = async (text: string): Promise<InferenceResult<ModerationOutput>> => {
    const counts = featurizeModeration(text, spec)
    const { output, record } = await backend.run({ counts: { dtype: 'float32', shape: [1, spec.dim], data: counts } })
    return { output: moderationOutput(labels, output['logits']!.data as Float32Array), record }
  }
  return {
    backend,
    labels,
    classify,
    async infer(input) {
      const text = typeof input === 'string' ? input : (input as { text?: unknown } | null)?.text
      if (typeof text !== 'string') throw new InvalidTensorError('moderation input must be a string or { text: string }')
      return classify(text)
    },
  }
}
