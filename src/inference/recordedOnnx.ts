import { featurizeModeration } from './featurize.js'
import { type ModelStore, shippedModelStore } from './modelStore.js'
import { featurizerSpec, moderationLabels, moderationOutput } from './moderationOutput.js'
import type { ReplayRecord } from './schemas.js'
import { type EncodedTensor, type TensorValue, decodeTensor, hashTensors, isDType } from './tensor.js'

/**
 * How an ONNX agent's model is run, by model name — the same rule the service uses to give
 * an agent its runner (src/service/inference.ts): `moderation` is the shipped classifier
 * (text in, `{ label, scores, logits }` out); any other model takes and returns tensors.
 */
export type OnnxRunnerKind = 'moderation' | 'tensors'

export function onnxRunnerKind(modelName: string): OnnxRunnerKind {
  return modelName === 'moderation' ? 'moderation' : 'tensors'
}

export type RecordedOnnxOutput =
  | { status: 'ok'; output: unknown }
  /** The model input the caller built is not the recorded one. */
  | { status: 'input-differs'; reason: string }
  /** The record cannot be read back without running the model (an unknown model, a malformed record). */
  | { status: 'unreadable'; reason: string }

/**
 * What an ONNX runner returned for a recorded inference, read back from the record without
 * running the model: checks that `input` (what the agent's code built from its task) is the
 * input the record holds, and decodes the recorded output exactly as the live runner did.
 * Whole-action replay (src/verify) feeds agents this; the inference itself is replayed
 * separately.
 */
export function recordedOnnxOutput(p: { modelName: string; input: unknown; record: ReplayRecord; store?: ModelStore | undefined }): RecordedOnnxOutput {
  const outputs = (p.record.response as { outputs?: unknown } | null)?.outputs
  if (!Array.isArray(outputs)) return { status: 'unreadable', reason: 'the record has no tensor outputs' }
  let decoded: Record<string, TensorValue>
  try {
    decoded = Object.fromEntries((outputs as EncodedTensor[]).map((t) => [t.name, decodeTensor(t)]))
  } catch (err) {
    return { status: 'unreadable', reason: `the recorded outputs do not decode: ${(err as Error).message.split('\n')[0]}` }
  }
  if (onnxRunnerKind(p.modelName) === 'tensors') {
    const feeds = p.input as Record<string, TensorValue> | null
    if (!isTensorMap(feeds)) return { status: 'input-differs', reason: 'the agent builds a model input that is not a tensor map' }
    if (hashTensors(feeds) !== p.record.inputHash) return { status: 'input-differs', reason: 'the model input the agent builds from its task is not the recorded one (input hash)' }
    return { status: 'ok', output: decoded }
  }
  const model = (p.store ?? shippedModelStore()).find(p.record.modelDigest)
  if (!model) return { status: 'unreadable', reason: `model ${p.record.modelDigest} is not on this machine (its labels and featurizer are needed)` }
  const meta = model.meta ?? {}
  const text = typeof p.input === 'string' ? p.input : (p.input as { text?: unknown } | null)?.text
  if (typeof text !== 'string') return { status: 'input-differs', reason: 'the agent builds a moderation input that is not a string or { text }' }
  const spec = featurizerSpec(meta['featurizer'])
  const counts: TensorValue = { dtype: 'float32', shape: [1, spec.dim], data: featurizeModeration(text, spec) }
  if (hashTensors({ counts }) !== p.record.inputHash) return { status: 'input-differs', reason: 'the text the agent classifies is not the recorded input (input hash)' }
  const logits = decoded['logits']
  if (!logits || !(logits.data instanceof Float32Array)) return { status: 'unreadable', reason: 'the record has no float32 logits' }
  return { status: 'ok', output: moderationOutput(moderationLabels(meta), logits.data) }
}

function isTensorMap(x: unknown): x is Record<string, TensorValue> {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false
  return Object.values(x).every((t) => t && typeof t === 'object' && isDType((t as TensorValue).dtype) && Array.isArray((t as TensorValue).shape) && ArrayBuffer.isView((t as TensorValue).data))
}
