import type { InferenceResult } from './backend.js'
import { InvalidTensorError } from './errors.js'
import { MODERATION_FEATURIZER, type HashedNgramSpec, featurizeModeration } from './featurize.js'
import type { ModelStore } from './modelStore.js'
import { type OnnxBackend, createOnnxBackend } from './onnxBackend.js'
import type { DeterministicSettings } from './settings.js'

export type ModerationLabel = 'ok' | 'spam' | 'abuse' | 'scam'

export type ModerationOutput = {
  label: string
  /** Softmax of the logits, per label (computed in float64 from the recorded float32 logits). */
  scores: Record<string, number>
  logits: number[]
}

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
  const labels = Array.isArray(meta['labels']) ? (meta['labels'] as string[]) : ['ok', 'spam', 'abuse', 'scam']
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

export function moderationOutput(labels: readonly string[], logits: Float32Array): ModerationOutput {
  const xs = Array.from(logits)
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i
  const m = xs[best]!
  const exps = xs.map((x) => Math.exp(x - m))
  const z = exps.reduce((a, b) => a + b, 0)
  return {
    label: labels[best] ?? String(best),
    scores: Object.fromEntries(labels.map((l, i) => [l, exps[i]! / z])),
    logits: xs,
  }
}

function featurizerSpec(raw: unknown): HashedNgramSpec {
  const f = (raw ?? {}) as Record<string, unknown>
  if (f['kind'] !== undefined && f['kind'] !== 'hashed-ngrams-v1') {
    throw new InvalidTensorError(`unknown featurizer "${String(f['kind'])}"`, { hint: 'This build knows hashed-ngrams-v1.' })
  }
  return {
    dim: typeof f['dim'] === 'number' ? f['dim'] : MODERATION_FEATURIZER.dim,
    maxChars: typeof f['maxChars'] === 'number' ? f['maxChars'] : MODERATION_FEATURIZER.maxChars,
    charNgrams: Array.isArray(f['charNgrams']) ? (f['charNgrams'] as number[]) : MODERATION_FEATURIZER.charNgrams,
  }
}
