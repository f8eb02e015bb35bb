import { InvalidTensorError } from './errors.js'
import { MODERATION_FEATURIZER, type HashedNgramSpec } from './featurize.js'

// The moderation classifier's pure parts (no ONNX Runtime): its labels and featurizer from
// the model's meta.json, and how its output is read from the logits. Live runs
// (moderation.ts) and replays of recorded inferences (recordedOnnx.ts) share them.

export type ModerationOutput = {
  label: string
  /** Softmax of the logits, per label (computed in float64 from the recorded float32 logits). */
  scores: Record<string, number>
  logits: number[]
}

/** The label order of the model's logits (meta.json `labels`). */
export function moderationLabels(meta: Record<string, unknown>): string[] {
  return Array.isArray(meta['labels']) ? (meta['labels'] as string[]) : ['ok', 'spam', 'abuse', 'scam']
}

/** The label, softmax scores and logits of one classification. */
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

/** The featurizer a moderation model declares in its meta.json (`featurizer`). */
export function featurizerSpec(raw: unknown): HashedNgramSpec {
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
