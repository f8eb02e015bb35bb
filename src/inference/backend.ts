import type { ReplayRecord } from './schemas.js'

/** What every inference returns: the output and the record that lets anyone replay it. */
export type InferenceResult<TOutput> = { output: TOutput; record: ReplayRecord }

/**
 * One interface for every way Covenant runs a model: local ONNX Runtime (exact replay) or
 * an OpenAI-compatible endpoint (replay as the endpoint allows: exact, attested or none).
 */
export interface InferenceBackend<TInput, TOutput> {
  readonly kind: 'onnx' | 'openai-compatible'
  run(input: TInput): Promise<InferenceResult<TOutput>>
}
