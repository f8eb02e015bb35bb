import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { ProgressEvent, StepEvent } from './taskFeed.js'
import { isFinished, isFullyCommitted } from './taskCommitments.js'
import type { TaskState, TaskStore } from './taskStore.js'
import { taskView } from './taskView.js'

/** How long a stream waits for an update before it looks again (a missed wake-up costs at most this). */
const IDLE_MS = 15_000
/** A finished task whose last steps are not committed yet is watched this long after its last update. */
const FINAL_GRACE_MS = 30_000

/**
 * The `Last-Event-ID` a reconnecting client sends (EventSource does it by itself), or the
 * `lastEventId` query parameter; 0 (send everything) when absent or not a number.
 */
export function resumeFrom(c: Context): number {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId')
  if (raw === undefined || !/^\d{1,15}$/.test(raw.trim())) return 0
  return Number(raw.trim())
}

type FeedItem = { seq: number; event: 'progress'; data: ProgressEvent } | { seq: number; event: 'step'; data: StepEvent }

/** The numbered progress lines and steps of a task after `seq`, in order. */
function feedAfter(s: TaskState, seq: number): FeedItem[] {
  const items: FeedItem[] = []
  for (const e of s.events) if (e.seq !== undefined && e.seq > seq) items.push({ seq: e.seq, event: 'progress', data: e })
  for (const st of s.steps ?? []) if (st.seq > seq) items.push({ seq: st.seq, event: 'step', data: st })
  return items.sort((a, b) => a.seq - b.seq)
}

/**
 * `GET /tasks/:id/events`: the task's progress as server-sent events, from its first event
 * (or after the client's `Last-Event-ID`) until it is finished and every step committed.
 *
 * - `progress` (id n): a progress line `{ at, message, seq }`;
 * - `step` (id n): a trace step as the WAL appended it, `{ seq, index, kind, actionId,
 *   timestamp, leaf, summary }` (see taskFeed.ts), in the trace's order;
 * - `status` (no id): the whole task (as GET /tasks/:id) when the stream opens and at each
 *   status change;
 * - `end` (no id): the task, last; the stream closes after it.
 *
 * Ids are the task's own sequence, so a stream resumed on any service process sends the
 * same events after the same id.
 */
export function streamTaskEvents(c: Context, store: TaskStore, id: string, first: TaskState): Response {
  const after = resumeFrom(c)
  return streamSSE(c, async (stream) => {
    let last = first
    let wake: (() => void) | undefined
    let dirty = false
    // Published updates only wake the loop; the state is read back from the store, after
    // subscribing, so an update made between the first read and the subscription (or
    // delivered out of order) is never lost.
    const unsubscribe = await store.subscribe((e) => {
      if (e.taskId !== id) return
      dirty = true
      wake?.()
    })
    // a client that goes away ends the stream now, not at the next timeout
    stream.onAbort(() => wake?.())
    const reread = async () => {
      last = (await store.get(id)) ?? last
    }
    try {
      await reread()
      let sentSeq = after
      // lines written before events were numbered: sent once, to a stream that resumes nothing
      if (after === 0) for (const e of last.events) if (e.seq === undefined) await stream.writeSSE({ event: 'progress', data: JSON.stringify(e) })
      let sentStatus = ''
      for (;;) {
        for (const item of feedAfter(last, sentSeq)) {
          await stream.writeSSE({ event: item.event, data: JSON.stringify(item.data), id: String(item.seq) })
          sentSeq = item.seq
        }
        if (last.status !== sentStatus) {
          sentStatus = last.status
          await stream.writeSSE({ event: 'status', data: JSON.stringify(taskView(last)) })
        }
        const final = isFinished(last)
        if (final && isFullyCommitted(last)) break
        if (stream.aborted) break
        if (!dirty) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, final ? 5_000 : IDLE_MS)
            wake = () => {
              clearTimeout(timer)
              resolve()
            }
          })
        }
        wake = undefined
        dirty = false
        if (stream.aborted) break
        await reread()
        if (final && Date.now() - last.updatedAt > FINAL_GRACE_MS) break
      }
      if (!stream.aborted) await stream.writeSSE({ event: 'end', data: JSON.stringify(taskView(last)) })
    } finally {
      unsubscribe()
    }
  })
}
