import { z } from 'zod'

/**
 * The replay record every inference returns and every inference trace step carries.
 * It says exactly what ran (backend, model digest, runtime and settings), on what, with
 * what result, and how a verifier can check it (`replay`). Owned by src/inference/;
 * other folders import the schema and the type from here.
 */
export const hex32Schema = z
  .string()
  .regex(/^0x[0-9a-f]{64}$/, 'expected 0x followed by 64 lowercase hex digits')

export const replayModeSchema = z
  .enum(['exact', 'tolerance', 'attested', 'none'])
  .describe('how a verifier checks this inference')

export const replayRecordSchema = z.object({
  backend: z.enum(['onnx', 'openai-compatible']),
  modelDigest: hex32Schema,
  runtime: z.object({
    name: z.string(),
    version: z.string(),
    settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  }),
  replay: replayModeSchema,
  request: z.unknown(),
  response: z.unknown(),
  inputHash: hex32Schema,
  outputHash: hex32Schema,
  timing: z.object({ startedAt: z.number(), durationMs: z.number() }),
})

export type ReplayRecord = z.infer<typeof replayRecordSchema>
export type ReplayMode = z.infer<typeof replayModeSchema>
