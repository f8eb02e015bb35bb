import type { InferenceResult } from './backend.js'
import { createModerationClassifier } from './moderation.js'
import { createOnnxBackend, type TensorMap } from './onnxBackend.js'
import type { OnnxRunnerKind } from './recordedOnnx.js'

/** Which runner to open: the moderation classifier (text in) or a tensor model, by model name or digest. */
export type OnnxRunnerSpec = { runner: OnnxRunnerKind; model: string }

/** An opened ONNX runner: each call gives the output and its replay record. */
export type OnnxRunner = { infer(input: unknown): Promise<InferenceResult<unknown>>; modelDigest: string }

/**
 * Opens the runner an ONNX agent's model is run with (`onnxRunnerKind` says which), in this
 * thread: the service's in-process runner and the ONNX thread's (onnxThreadEntry.ts) are this one.
 */
export async function openOnnxRunner(spec: OnnxRunnerSpec): Promise<OnnxRunner> {
  if (spec.runner === 'moderation') {
    const c = await createModerationClassifier({ model: spec.model })
    return { infer: (input) => c.infer(input), modelDigest: c.backend.model.digest }
  }
  const backend = await createOnnxBackend({ model: spec.model })
  return { infer: (input) => backend.run(input as TensorMap), modelDigest: backend.model.digest }
}
