import { z } from 'zod'
import { BaseError } from '../errors/base.js'
import { progressEventSchema, stepEventSchema, type ProgressEvent, type StepEvent } from './taskFeed.js'

export { progressEventSchema, stepEventSchema, STEP_EVENT_KINDS, type ProgressEvent, type StepEvent } from './taskFeed.js'

/**
 * A typed client for a Covenant service's HTTP API (`covenant serve`): submit a task, follow
 * it to the end over server-sent events, read agents, actions and disputes. Every answer is
 * validated before it is returned; an error answer becomes a {@link ServiceApiError} with
 * the service's code and message.
 *
 * ```ts
 * const svc = createServiceClient({ url: 'http://127.0.0.1:8787' })
 * const { taskId } = await svc.submit({ agent: 'treasury', task: 'pay invoice INV-1' })
 * const done = await svc.wait(taskId, { onProgress: (m) => console.log(m) })
 * // or every event, one trace step at a time:
 * for await (const e of svc.events(taskId)) if (e.type === 'step') console.log(e.step.index, e.step.summary)
 * ```
 */

export class ServiceApiError extends BaseError {
  override name = 'ServiceApiError'
  readonly status: number
  readonly code: string
  readonly issues: string[]
  constructor(p: { status: number; code: string; message: string; issues?: string[] | undefined; url: string }) {
    super(`${p.message} (${p.status} ${p.code})`, {
      metaMessages: [...(p.issues ?? []), `from ${p.url}`],
    })
    this.status = p.status
    this.code = p.code
    this.issues = p.issues ?? []
  }
}

export class ServiceResponseError extends BaseError {
  override name = 'ServiceResponseError'
  constructor(url: string, reason: string) {
    super(`The service at ${url} answered something that is not a Covenant service answer: ${reason}.`, {
      metaMessages: ['Check the URL points at `covenant serve` (and its version matches this client).'],
    })
  }
}

const taskStatus = z.enum(['queued', 'running', 'completed', 'failed'])

export const taskViewSchema = z.object({
  taskId: z.string(),
  actionId: z.string(),
  agent: z.string(),
  agentId: z.string(),
  status: taskStatus,
  task: z.json(),
  result: z.json().nullable(),
  txHashes: z.array(z.string()),
  stepIndices: z.array(z.number().int()),
  error: z.object({ name: z.string(), message: z.string(), final: z.boolean() }).nullable(),
  commitments: z.array(z.object({ sequence: z.number().int(), root: z.string(), daCommitment: z.string(), txHash: z.string().nullable() }).loose()),
  committed: z.boolean(),
  attempts: z.number().int(),
  createdAt: z.number(),
  updatedAt: z.number(),
  events: z.array(progressEventSchema),
  /** The action's trace steps so far (services from before step events: empty). */
  steps: z.array(stepEventSchema).default([]),
  /** On lists: what the disputes on the action decided (`slashed`, `disputed`, `cleared`), null when none. */
  verdict: z.enum(['slashed', 'disputed', 'cleared']).nullable().optional(),
})
export type TaskView = z.output<typeof taskViewSchema>

const wei = z.string().regex(/^-?\d+$/)

export const agentSummarySchema = z
  .object({
    name: z.string().nullable(),
    agentId: z.string(),
    hosted: z.boolean(),
    status: z.enum(['active', 'disputed', 'slashed']),
    bond: z.object({ eth: wei, token: wei, pendingEth: wei }).loose(),
    slashedEth: wei,
    disputes: z.number().int(),
    openDisputes: z.number().int(),
  })
  .loose()
export type AgentSummary = z.output<typeof agentSummarySchema>

export const disputeViewSchema = z
  .object({
    disputeId: z.string(),
    kind: z.string(),
    status: z.enum(['None', 'Open', 'Slashed', 'Rejected', 'Expired']),
    agentId: z.string(),
    sequence: z.string(),
    stepIndex: z.number().int(),
    slashedEth: wei,
    challenger: z.string(),
    actionId: z.string().nullable(),
  })
  .loose()
export type DisputeView = z.output<typeof disputeViewSchema>

export const actionReportSchema = z
  .object({
    actionId: z.string(),
    verdict: z.enum(['honest', 'faulty', 'unverifiable', 'incomplete']),
    reasons: z.array(z.string()),
    steps: z.array(z.object({ index: z.number().int(), kind: z.string(), status: z.string() }).loose()),
  })
  .loose()
export type ActionReport = z.output<typeof actionReportSchema>

const submittedSchema = z.object({ taskId: z.string(), status: taskStatus, created: z.boolean() }).loose()
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), issues: z.array(z.string()).optional() }) })

/**
 * One event of a task's stream (`GET /tasks/:id/events`): a progress line, a trace step as
 * the agent's WAL appended it, the task at each status change, and the task once more at
 * the end. `id` is the event's SSE id (the task's own sequence): pass the last one seen as
 * `lastEventId` to resume without losing or repeating an event.
 */
export type TaskStreamEvent =
  | { type: 'progress'; id: number | undefined; progress: ProgressEvent }
  | { type: 'step'; id: number; step: StepEvent }
  | { type: 'status'; task: TaskView }
  | { type: 'end'; task: TaskView }

export type TaskEventsOptions = {
  /** Resume after this event id (sent as `Last-Event-ID`). */
  lastEventId?: number | undefined
  /** Stops the stream (the iterator then ends). */
  signal?: AbortSignal | undefined
  /**
   * Reconnects after the connection drops before the `end` event, resuming after the last
   * id seen, up to this many times in a row (an event received resets the count).
   * @defaultValue 3
   */
  reconnects?: number | undefined
  /** @defaultValue 500 */
  reconnectDelayMs?: number | undefined
}

export type ServiceClientOptions = {
  /** The service's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string
  /** @defaultValue the global fetch */
  fetch?: typeof fetch | undefined
  /** Per request (not for {@link ServiceClient.wait}). @defaultValue 30000 */
  timeoutMs?: number | undefined
}

export type ServiceClient = {
  /** Enqueues a task; re-sending the same `actionId` never runs it twice. */
  submit(p: { agent: string; task: unknown; actionId?: string | undefined }): Promise<{ taskId: string; status: TaskView['status']; created: boolean }>
  task(taskId: string): Promise<TaskView>
  tasks(p?: { agent?: string | undefined }): Promise<TaskView[]>
  /**
   * Follows a task over server-sent events until it is completed or failed and every step
   * is committed (or `timeoutMs` passes: then the last state seen). Progress lines go to
   * `onProgress`, each status change to `onStatus`.
   */
  wait(
    taskId: string,
    p?: {
      timeoutMs?: number | undefined
      onProgress?: ((message: string) => void) | undefined
      onStatus?: ((t: TaskView) => void) | undefined
      /** Each trace step of the action, in the trace's order, as it is written. */
      onStep?: ((step: StepEvent) => void) | undefined
    },
  ): Promise<TaskView>
  /**
   * The task's stream, every event validated: progress lines, one `step` per trace step in
   * order, `status` snapshots, then `end` (the iterator ends after it). Reconnects with
   * `Last-Event-ID` when the connection drops (see {@link TaskEventsOptions.reconnects}).
   */
  events(taskId: string, p?: TaskEventsOptions): AsyncGenerator<TaskStreamEvent, void, undefined>
  agents(): Promise<AgentSummary[]>
  /** Any agent on the chain (by id, or a hosted one by name): policy, bond and its history, disputes, tasks. */
  agent(key: string): Promise<Record<string, unknown>>
  /** The action's committed steps, checked against the chain, with a verdict. */
  action(actionId: string): Promise<ActionReport>
  disputes(): Promise<DisputeView[]>
  dispute(disputeId: string | bigint): Promise<DisputeView & { votes: Array<{ verifier: string; agentAtFault: boolean; weight: string }> }>
}

export function createServiceClient(o: ServiceClientOptions): ServiceClient {
  const base = o.url.replace(/\/+$/, '')
  const doFetch = o.fetch ?? fetch
  const timeoutMs = o.timeoutMs ?? 30_000

  async function call<T>(path: string, schema: z.ZodType<T>, init?: RequestInit): Promise<T> {
    const url = `${base}${path}`
    const res = await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
    const text = await res.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new ServiceResponseError(url, `not JSON (HTTP ${res.status})`)
    }
    if (!res.ok) {
      const e = errorSchema.safeParse(body)
      if (!e.success) throw new ServiceResponseError(url, `HTTP ${res.status} without an error body`)
      throw new ServiceApiError({ status: res.status, code: e.data.error.code, message: e.data.error.message, issues: e.data.error.issues, url })
    }
    const parsed = schema.safeParse(body)
    if (!parsed.success) throw new ServiceResponseError(url, parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).slice(0, 3).join('; '))
    return parsed.data
  }

  const segment = (s: string) => encodeURIComponent(s)

  return {
    submit: (p) =>
      call('/tasks', submittedSchema, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: p.agent, task: p.task, ...(p.actionId ? { actionId: p.actionId } : {}) }),
      }),
    task: (id) => call(`/tasks/${segment(id)}`, taskViewSchema),
    tasks: async (p = {}) => (await call(`/tasks${p.agent ? `?agent=${segment(p.agent)}` : ''}`, z.object({ tasks: z.array(taskViewSchema) }))).tasks,
    agents: async () => (await call('/agents', z.object({ agents: z.array(agentSummarySchema) }).loose())).agents,
    agent: (key) => call(`/agents/${segment(key)}`, z.record(z.string(), z.unknown())),
    action: (id) => call(`/actions/${segment(id)}`, actionReportSchema),
    disputes: async () => (await call('/disputes', z.object({ disputes: z.array(disputeViewSchema) }))).disputes,
    dispute: (id) =>
      call(
        `/disputes/${segment(String(id))}`,
        disputeViewSchema.extend({ votes: z.array(z.object({ verifier: z.string(), agentAtFault: z.boolean(), weight: wei }).loose()) }),
      ),
    events: (taskId, p = {}) => streamEvents(`${base}/tasks/${segment(taskId)}/events`, doFetch, p),
    async wait(taskId, p = {}) {
      const controller = new AbortController()
      const timer = p.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(), p.timeoutMs)
      let last: TaskView | undefined
      try {
        for await (const e of streamEvents(`${base}/tasks/${segment(taskId)}/events`, doFetch, { signal: controller.signal })) {
          if (e.type === 'progress') p.onProgress?.(e.progress.message)
          else if (e.type === 'step') p.onStep?.(e.step)
          else if (e.type === 'status') {
            last = e.task
            p.onStatus?.(e.task)
          } else return e.task
        }
      } finally {
        if (timer) clearTimeout(timer)
        controller.abort()
      }
      return last ?? (await this.task(taskId))
    },
  }
}

/** One parsed server-sent event. */
type RawEvent = { event: string; data: string; id: string | undefined }

/** The events of one response body, one per blank-line-separated block. */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<RawEvent> {
  const decoder = new TextDecoder()
  const reader = body.getReader()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const lines = buffer.slice(0, cut).split('\n')
        buffer = buffer.slice(cut + 2)
        const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''))
        yield { event: field('event')[0] ?? 'message', data: field('data').join('\n'), id: field('id').at(-1) }
      }
    }
  } finally {
    reader.releaseLock()
  }
}

function parseJson(url: string, event: string, data: string): unknown {
  try {
    return JSON.parse(data)
  } catch {
    throw new ServiceResponseError(url, `a ${event} event whose data is not JSON`)
  }
}

/** A stream event, validated; undefined for event types this client does not know (newer services). */
function toStreamEvent(url: string, raw: RawEvent): TaskStreamEvent | undefined {
  const bad = (what: string, issues: z.core.$ZodIssue[]): never => {
    throw new ServiceResponseError(url, `a ${raw.event} event that is not ${what} (${issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).slice(0, 2).join('; ')})`)
  }
  switch (raw.event) {
    case 'progress': {
      const r = progressEventSchema.safeParse(parseJson(url, raw.event, raw.data))
      return r.success ? { type: 'progress', id: raw.id === undefined ? undefined : Number(raw.id), progress: r.data } : bad('a progress line', r.error.issues)
    }
    case 'step': {
      const r = stepEventSchema.safeParse(parseJson(url, raw.event, raw.data))
      return r.success ? { type: 'step', id: r.data.seq, step: r.data } : bad('a trace step', r.error.issues)
    }
    case 'status':
    case 'end': {
      const r = taskViewSchema.safeParse(parseJson(url, raw.event, raw.data))
      return r.success ? { type: raw.event, task: r.data } : bad('a task', r.error.issues)
    }
    default:
      return undefined
  }
}

async function* streamEvents(url: string, doFetch: typeof fetch, p: TaskEventsOptions): AsyncGenerator<TaskStreamEvent, void, undefined> {
  const maxReconnects = p.reconnects ?? 3
  const delayMs = p.reconnectDelayMs ?? 500
  let lastId = p.lastEventId
  let failures = 0
  while (!p.signal?.aborted) {
    let res: Response
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' }
      if (lastId !== undefined) headers['last-event-id'] = String(lastId)
      res = await doFetch(url, { headers, ...(p.signal ? { signal: p.signal } : {}) })
    } catch (err) {
      if (p.signal?.aborted) return
      if (++failures > maxReconnects) throw err
      await sleep(delayMs, p.signal)
      continue
    }
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => undefined)
      const e = errorSchema.safeParse(body)
      if (e.success) throw new ServiceApiError({ status: res.status, code: e.data.error.code, message: e.data.error.message, issues: e.data.error.issues, url })
      throw new ServiceResponseError(url, `HTTP ${res.status}`)
    }
    try {
      for await (const raw of readEvents(res.body)) {
        const e = toStreamEvent(url, raw)
        if (!e) continue
        failures = 0
        if ((e.type === 'progress' || e.type === 'step') && e.id !== undefined) lastId = e.id
        yield e
        if (e.type === 'end') return
      }
    } catch (err) {
      if (p.signal?.aborted) return
      if (err instanceof ServiceResponseError) throw err
    } finally {
      // the caller stopped early: the connection is closed here (a generator's return runs this)
      await res.body.cancel().catch(() => {})
    }
    // the connection ended before `end`: resume after the last id
    if (++failures > maxReconnects) throw new ServiceResponseError(url, `the event stream closed ${failures} times in a row before its end event`)
    await sleep(delayMs, p.signal)
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      resolve()
    }, { once: true })
  })
}
