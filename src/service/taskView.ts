import { isFullyCommitted } from './taskCommitments.js'
import type { TaskState } from './taskStore.js'

/** A task as the API answers it (GET /tasks/:id, and each `status`/`end` event of its stream). */
export function taskView(s: TaskState) {
  return {
    taskId: s.taskId,
    actionId: s.taskId,
    agent: s.agentName,
    agentId: s.agentId,
    status: s.status,
    task: s.task,
    result: s.result?.output ?? null,
    txHashes: s.result?.txHashes ?? [],
    stepIndices: s.result?.stepIndices ?? [],
    error: s.error,
    commitments: s.commitments,
    /** Every step of the action is in a committed batch (some may be committed before the action ends). */
    committed: isFullyCommitted(s),
    attempts: s.attempts,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    events: s.events,
    /** The action's trace steps so far, each with its kind, leaf and a one-line summary. */
    steps: s.steps ?? [],
  }
}
