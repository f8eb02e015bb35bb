import { z } from 'zod'
import { MAX_TASK_EVENTS } from './taskFeed.js'
import type { TaskState } from './taskStore.js'

/** A committed batch holding some of a task's steps, as the task store reports it. */
export const taskCommitmentSchema = z.object({
  sequence: z.number().int(),
  root: z.string(),
  daCommitment: z.string(),
  txHash: z.string().nullable(),
  /** The batch's steps [firstIndex, firstIndex + stepCount) of the agent's trace. */
  firstIndex: z.number().int().optional(),
  stepCount: z.number().int().optional(),
})
export type TaskCommitment = z.output<typeof taskCommitmentSchema>

/** Whether a task is finished (completed or failed): no run of it is under way. */
export function isFinished(s: Pick<TaskState, 'status'>): boolean {
  return s.status === 'completed' || s.status === 'failed'
}

/**
 * Whether every step of the task's action is in a committed batch (not merely some of
 * them: a commit can land while the action is still running).
 */
export function isFullyCommitted(s: Pick<TaskState, 'result' | 'commitments'>): boolean {
  const indices = s.result?.stepIndices ?? []
  if (indices.length === 0 || s.commitments.length === 0) return false
  if (s.commitments.some((c) => c.firstIndex === undefined || c.stepCount === undefined)) return true // older records: no ranges
  return indices.every((i) => s.commitments.some((c) => i >= c.firstIndex! && i < c.firstIndex! + c.stepCount!))
}

/**
 * A committed batch recorded for a task beside its state (`TaskStore.addCommitments`), with
 * when it was recorded: the time of the progress line it reads as.
 */
export const taskCommitmentEntrySchema = z.object({ at: z.number(), commitment: taskCommitmentSchema })
export type TaskCommitmentEntry = z.output<typeof taskCommitmentEntrySchema>

/**
 * A task's state with the batches recorded beside it merged in — what every read of a task
 * answers (`get`, `list`, the base of an `update`).
 *
 * Why beside it: a commit touches every task of its batch (a moderation worker's batch holds
 * hundreds), and rewriting each task's whole state for it — read, patch, compare-and-set,
 * publish — cost the worker and Redis about a sixth of their CPU per action. Recording the
 * batch under each task costs a few bytes each, in one script call for all of them.
 *
 * The merge is a function of the stored state and the entries alone, so every reader, on any
 * process, sees the same thing:
 *
 * - batches the state does not list yet are added to `commitments`, in sequence order;
 * - for a finished task (completed or failed), each adds the progress line the worker once
 *   wrote, numbered next in the task's feed (`steps committed in batch 3 (root 0x1234abcd…)`,
 *   the last one noting when every step of the action is committed). A task still running
 *   gets no line: its own next updates take those numbers. An update of a finished task is
 *   made from the merged state, so what it writes keeps the lines readers were shown.
 */
export function withCommitmentEntries(s: TaskState, entries: readonly TaskCommitmentEntry[]): TaskState {
  const have = new Set(s.commitments.map((c) => c.sequence))
  const add: TaskCommitmentEntry[] = []
  for (const e of [...entries].sort((a, b) => a.commitment.sequence - b.commitment.sequence)) {
    if (have.has(e.commitment.sequence)) continue
    have.add(e.commitment.sequence)
    add.push(e)
  }
  if (add.length === 0) return s
  const bySequence = (a: TaskCommitment, b: TaskCommitment) => a.sequence - b.sequence
  if (!isFinished(s)) return { ...s, commitments: [...s.commitments, ...add.map((e) => e.commitment)].sort(bySequence) }
  const commitments = [...s.commitments]
  const events = [...s.events]
  let lastSeq = s.lastSeq ?? 0
  let updatedAt = s.updatedAt
  for (const { at, commitment } of add) {
    commitments.push(commitment)
    const all = isFullyCommitted({ result: s.result, commitments }) ? '; every step of the action is committed' : ''
    events.push({ at, message: `steps committed in batch ${commitment.sequence} (root ${commitment.root.slice(0, 10)}…)${all}`, seq: ++lastSeq })
    updatedAt = Math.max(updatedAt, at)
  }
  return { ...s, commitments: commitments.sort(bySequence), events: events.slice(-MAX_TASK_EVENTS), lastSeq, updatedAt }
}
