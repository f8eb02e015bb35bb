import { z } from 'zod'
import { BaseError } from '../errors/base.js'

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
  events: z.array(z.object({ at: z.number(), message: z.string() })),
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
    p?: { timeoutMs?: number | undefined; onProgress?: ((message: string) => void) | undefined; onStatus?: ((t: TaskView) => void) | undefined },
  ): Promise<TaskView>
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
    async wait(taskId, p = {}) {
      const url = `${base}/tasks/${segment(taskId)}/events`
      const controller = new AbortController()
      const timer = p.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(), p.timeoutMs)
      let last: TaskView | undefined
      try {
        const res = await doFetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal })
        if (!res.ok || !res.body) {
          const body = await res.json().catch(() => undefined)
          const e = errorSchema.safeParse(body)
          if (e.success) throw new ServiceApiError({ status: res.status, code: e.data.error.code, message: e.data.error.message, issues: e.data.error.issues, url })
          throw new ServiceResponseError(url, `HTTP ${res.status}`)
        }
        const decoder = new TextDecoder()
        let buffer = ''
        const reader = res.body.getReader()
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += decoder.decode(value, { stream: true })
          // one server-sent event per blank-line-separated block
          let cut: number
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut)
            buffer = buffer.slice(cut + 2)
            const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message'
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).replace(/^ /, ''))
              .join('\n')
            if (event === 'progress') {
              const ev = z.object({ message: z.string() }).loose().safeParse(JSON.parse(data))
              if (ev.success) p.onProgress?.(ev.data.message)
            } else if (event === 'status' || event === 'end') {
              const t = taskViewSchema.safeParse(JSON.parse(data))
              if (!t.success) throw new ServiceResponseError(url, `a ${event} event that is not a task`)
              last = t.data
              if (event === 'status') p.onStatus?.(t.data)
              else return t.data
            }
          }
        }
      } catch (err) {
        if (!(controller.signal.aborted && last)) throw err
      } finally {
        if (timer) clearTimeout(timer)
        controller.abort()
      }
      return last ?? (await this.task(taskId))
    },
  }
}
