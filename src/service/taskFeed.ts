import { z } from 'zod'

/**
 * What a task's server-sent event stream (`GET /tasks/:id/events`) carries besides status
 * snapshots: progress lines and one event per trace step, as the agent's WAL appends it.
 * Both are numbered in one sequence per task (`seq`, from 1), which is each event's SSE
 * `id`: a client that reconnects with `Last-Event-ID: n` is sent everything after `n`.
 *
 * The schemas are shared by the service and its typed client (`covenant/client`), so this
 * file imports nothing but zod.
 */

/** Progress lines a task keeps (older ones drop off; a stream resumed past them misses them). */
export const MAX_TASK_EVENTS = 200
/** Step events a task keeps (older ones drop off the stored state; the WAL and DA keep every step). */
export const MAX_TASK_STEPS = 1_000

/** The step kinds of a trace (src/trace's STEP_KINDS). */
export const STEP_EVENT_KINDS = ['input', 'inference', 'tool', 'wallet', 'output'] as const

/** Longest `summary` a step event carries. */
export const MAX_STEP_SUMMARY = 160

/**
 * One trace step, as the stream tells it: where it sits in the agent's trace (`index`,
 * `leaf` — the leaf hash a committed batch's Merkle tree holds), what it was (`kind`) and a
 * one-line summary. No payloads: a task's text, tool arguments and results, and model
 * prompts and answers stay out of the stream (read the committed step from DA for those).
 */
export const stepEventSchema = z.object({
  seq: z.number().int().min(1),
  index: z.number().int().min(0),
  kind: z.enum(STEP_EVENT_KINDS),
  actionId: z.string(),
  /** When the agent took the step (ms since the epoch, the step's own timestamp). */
  timestamp: z.number(),
  leaf: z.string().regex(/^0x[0-9a-f]{64}$/),
  summary: z.string().max(MAX_STEP_SUMMARY),
})
export type StepEvent = z.output<typeof stepEventSchema>

/** A progress line (`queued`, `running on …`, `steps committed in batch …`). */
export const progressEventSchema = z.object({
  at: z.number(),
  message: z.string(),
  /** Absent only in records written before events were numbered. */
  seq: z.number().int().min(1).optional(),
})
export type ProgressEvent = z.output<typeof progressEventSchema>
