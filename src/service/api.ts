import { randomBytes } from 'node:crypto'
import { Hono, type Context } from 'hono'
import { boundedBody } from '../http/readBody.js'
import { z } from 'zod'
import type { CovenantClient } from '../bonds/client.js'
import { getBond } from '../bonds/actions/getBond.js'
import { getAgent } from '../bonds/actions/getAgent.js'
import { getAccount } from '../bonds/actions/getAccount.js'
import { DisputeReader } from '../bonds/actions/disputeReader.js'
import { listForks } from '../bonds/actions/getFork.js'
import type { DAClient } from '../da/client.js'
import { parseCanonical } from '../trace/canonical.js'
import { parseActionId } from '../verify/action.js'
import type { JobQueue } from '../verify/queue.js'
import type { JsonValue } from '../trace/schemas.js'
import { explorerHtml } from './explorer.js'
import { bondHistory, chainAgentIds, disputeDetail } from './chainViews.js'
import type { DisputeInfo } from '../bonds/actions/getDispute.js'
import { serviceHealth, type ServiceHealth } from './health.js'
import type { TaskJobData, TaskJobResult } from './worker.js'
import type { AgentRecord } from './agentRecord.js'
import { queuedTaskState, type TaskState, type TaskStore } from './taskStore.js'
import { streamTaskEvents } from './taskEvents.js'
import { taskView as view } from './taskView.js'

export const MAX_TASK_BYTES = 256 * 1024
/** Dispute kinds about one step of a committed batch (the rest are about a batch or a transaction). */
const STEP_KINDS: ReadonlySet<string> = new Set(['PolicyBreach', 'InferenceFraud', 'SubjectiveClaim', 'TraceMismatch'])
/** Levels of nesting a task may have: it becomes part of trace steps, which allow MAX_JSON_DEPTH (src/trace) in all. */
export const MAX_TASK_DEPTH = 48
/** Largest body of `POST /tasks/bulk`, and the most tasks it takes. */
export const MAX_BULK_TASK_BYTES = 4 * 1024 * 1024
export const MAX_BULK_TASKS = 1000
/** The most an error body may be: a bad request is told what is wrong, never echoed back at length. */
export const MAX_ERROR_BODY_BYTES = 300

/** `<agentId>-<12 lowercase hex>`, the agent id a uint256 in decimal (parseActionId, src/verify). */
function isActionId(s: string): boolean {
  try {
    parseActionId(s)
    return true
  } catch {
    return false
  }
}

export const taskRequestSchema = z.strictObject({
  agent: z.string().min(1).max(128).describe('agent name or id'),
  task: z.json().describe('what the agent should do (any JSON; a string for chat agents)'),
  actionId: z
    .string()
    .refine(isActionId, 'actionId must look like <agentId>-<12 lowercase hex>')
    .optional()
    .describe('idempotency key: re-sending a task with the same actionId never runs it twice'),
})
export type TaskRequest = z.infer<typeof taskRequestSchema>

export const bulkTaskRequestSchema = z.strictObject({
  tasks: z.array(taskRequestSchema).min(1).max(MAX_BULK_TASKS).describe('tasks, queued in this order'),
})

export type ServiceAppOptions = {
  agents: readonly AgentRecord[]
  queues: ReadonlyMap<string, JobQueue<TaskJobData, TaskJobResult>>
  store: TaskStore
  client: CovenantClient
  da: DAClient
  /** Checks an action against the committed trace (src/verify's verifyAction). */
  verifyAction?: ((actionId: string) => Promise<unknown>) | undefined
  /**
   * The action a committed step belongs to (from the batch on DA), for linking a dispute to
   * its action; undefined when the batch cannot be read or has no such step.
   */
  actionOfStep?: ((agentId: bigint, sequence: bigint, stepIndex: number) => Promise<string | undefined>) | undefined
  /** Operator-signed batch headers of an agent (the committer's headers file). */
  signedHeaders?: ((agentId: string) => Promise<unknown[]>) | undefined
  /** What this process does with each agent (see serviceHealth); without it every agent is `remote`. */
  health?: (() => ServiceHealth) | undefined
}

type ErrorBody = { error: { code: string; message: string; issues?: string[] } }

function fail(c: Context, status: 400 | 404 | 413 | 415 | 500 | 503, code: string, message: string, issues?: string[]) {
  return c.json(errorBody(code, message, issues), status)
}

/**
 * An error body of at most MAX_ERROR_BODY_BYTES: the message and at most three issues,
 * each clipped; issues are dropped, then the message shortened, until it fits.
 */
function errorBody(code: string, message: string, issues?: string[]): ErrorBody {
  const error: ErrorBody['error'] = { code, message: clip(message, 160) }
  if (issues?.length) error.issues = issues.slice(0, 3).map((i) => clip(i, 80))
  const size = () => Buffer.byteLength(JSON.stringify({ error }))
  while (size() > MAX_ERROR_BODY_BYTES && error.issues?.length) error.issues.pop()
  if (error.issues?.length === 0) delete error.issues
  while (size() > MAX_ERROR_BODY_BYTES && error.message.length > 20) error.message = clip(error.message, error.message.length - 16)
  return { error }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`
}

/** Input quoted for a message: at most 40 characters of it. */
function quote(s: string): string {
  return JSON.stringify(clip(s, 40))
}

const json = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))) as JsonValue

/**
 * The service's HTTP API:
 *   POST /tasks               enqueue a task → 202 { taskId }
 *   GET  /tasks[?agent=]      recent tasks, each with its verdict from the disputes on its action
 *   GET  /tasks/:id           status, result, action id, trace commitments, tx hashes
 *   GET  /tasks/:id/events    progress and each trace step as server-sent events, resumable with
 *                             Last-Event-ID (taskEvents.ts)
 *   GET  /agents              every agent on the chain (hosted ones by name) with bond, account,
 *                             status (active | disputed | slashed) and slashed total
 *   GET  /agents/:id          any agent on the chain: bond and its history, account, policy,
 *                             disputes (with the action each is about), manifest and tasks if hosted
 *   GET  /agents/:id/headers  operator-signed batch headers (receipts for equivocation checks)
 *   GET  /actions/:id         the action's steps from DA, checked against the chain, with a verdict
 *   GET  /disputes            every dispute and slash, with the action each is about (decided verdicts
 *                             with the end of their escalation window)
 *   GET  /disputes/:id        one dispute: its verdicts, what it repaid the owner, its action
 *   GET  /forks               every escalation to a fork: redemptions, the fork-choice rule's pick, the outcome
 *   GET  /health              per agent: hosted (commit lag), standby or quarantined; 503 unless all is well
 *   GET  /                    the explorer page
 */
export function createServiceApp(o: ServiceAppOptions): Hono {
  const app = new Hono()
  const byKey = (key: string) => o.agents.find((a) => a.name === key || a.agentId === key)
  // settled disputes are read once: a list call reads only the open ones and new ids
  const disputeReader = new DisputeReader(o.client)

  // dispute → the action it is about; immutable once known, so cached
  const actionCache = new Map<string, string | null>()
  async function withActions<T extends DisputeInfo>(disputes: readonly T[]): Promise<Array<T & { actionId: string | null }>> {
    return Promise.all(
      disputes.map(async (d) => {
        const key = d.disputeId.toString()
        let actionId = actionCache.get(key)
        if (actionId === undefined) {
          // a step of a committed batch (not a whole batch, not a transaction)
          const stepLevel = STEP_KINDS.has(d.kind)
          actionId = stepLevel && o.actionOfStep ? ((await o.actionOfStep(d.agentId, d.sequence, d.stepIndex).catch(() => undefined)) ?? null) : null
          if (actionId !== null || !stepLevel) actionCache.set(key, actionId)
        }
        return { ...d, actionId }
      }),
    )
  }

  app.onError((err, c) => {
    if (storeUnreachable(err)) {
      return fail(c, 503, 'unavailable', 'The task store and queue (Redis) cannot be reached right now; the task may not be queued.', [
        'Send it again with the same actionId once Redis is back: an action id runs at most once.',
      ])
    }
    // a 500 is the server's bug, never a bad request: bad input is refused before it gets here
    return fail(c, 500, 'internal', (err as { shortMessage?: string }).shortMessage ?? err.message.split('\n')[0] ?? 'error')
  })
  app.notFound((c) => fail(c, 404, 'not_found', `No route ${c.req.method} ${clip(c.req.path, 60)}.`))

  app.get('/health', (c) => {
    const h = o.health?.() ?? serviceHealth(o.agents, undefined)
    return c.json(h, h.status === 'ok' ? 200 : 503)
  })
  app.get('/', (c) => c.html(explorerHtml()))

  type Enqueued = { taskId: string; status: TaskState['status']; created: boolean }
  /**
   * Checks every request first (any bad one refuses the whole list, nothing stored), then
   * creates the tasks (concurrently: one round trip to Redis for the lot) and adds the new
   * ones to their agents' queues, one bulk add per agent, in the order given.
   */
  async function enqueue(c: Context, requests: readonly TaskRequest[]): Promise<Enqueued[] | Response> {
    const planned: { agent: AgentRecord; queue: JobQueue<TaskJobData, TaskJobResult>; taskId: string; task: JsonValue }[] = []
    for (const r of requests) {
      const agent = byKey(r.agent)
      if (!agent) return fail(c, 404, 'unknown_agent', `No deployed agent ${quote(r.agent)}. Known: ${o.agents.map((a) => a.name).join(', ')}.`)
      const queue = o.queues.get(agent.agentId)
      if (!queue) return fail(c, 503, 'no_queue', `Agent ${agent.name} has no task queue in this service.`)
      const taskId = r.actionId ?? `${agent.agentId}-${randomBytes(6).toString('hex')}`
      if (!taskId.startsWith(`${agent.agentId}-`)) return fail(c, 400, 'bad_request', `actionId must start with "${agent.agentId}-" for agent ${agent.name}.`)
      planned.push({ agent, queue, taskId, task: r.task as JsonValue })
    }
    const now = Date.now()
    const stored = await Promise.all(
      planned.map((p) =>
        o.store.create(queuedTaskState({ taskId: p.taskId, agentId: p.agent.agentId, agentName: p.agent.name, task: p.task, at: now })),
      ),
    )
    // A queued task is (re-)added: adding is idempotent by id, and a task whose first POST
    // died between the store and the queue (Redis went away) would otherwise never run.
    const byQueue = new Map<(typeof planned)[number]['queue'], { id: string; data: TaskJobData; name: string }[]>()
    planned.forEach((p, i) => {
      const { state, created } = stored[i]!
      if (!created && state.status !== 'queued') return
      const jobs = byQueue.get(p.queue) ?? []
      jobs.push({ id: p.taskId, data: { taskId: p.taskId, task: state.task, queuedAt: state.createdAt }, name: 'task' })
      byQueue.set(p.queue, jobs)
    })
    await Promise.all([...byQueue].map(([queue, jobs]) => (jobs.length === 1 ? queue.add(jobs[0]!.id, jobs[0]!.data, { name: 'task' }) : queue.addBulk(jobs))))
    return planned.map((p, i) => ({ taskId: p.taskId, status: stored[i]!.state.status, created: stored[i]!.created }))
  }

  /** The JSON body of a task request, or the answer refusing it. */
  async function jsonBody(c: Context): Promise<{ body: unknown } | Response> {
    if (!(c.req.header('content-type') ?? '').includes('application/json')) {
      return fail(c, 415, 'unsupported_media_type', 'Send the task as JSON (Content-Type: application/json).')
    }
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return fail(c, 400, 'bad_json', 'The body is not valid JSON.')
    }
    // before zod, whose recursive JSON check would run out of stack on a deeply nested body
    if (jsonDepth(body) > MAX_TASK_DEPTH + 2) {
      return fail(c, 400, 'bad_request', `The task is nested deeper than ${MAX_TASK_DEPTH} levels.`)
    }
    return { body }
  }
  const links = (taskId: string) => ({ self: `/tasks/${taskId}`, events: `/tasks/${taskId}/events`, action: `/actions/${taskId}` })

  app.post(
    '/tasks',
    boundedBody(MAX_TASK_BYTES, (c) => fail(c, 413, 'too_large', `A task body may be at most ${MAX_TASK_BYTES} bytes.`)),
    async (c) => {
      const read = await jsonBody(c)
      if (read instanceof Response) return read
      if (jsonDepth(read.body) > MAX_TASK_DEPTH + 1) {
        return fail(c, 400, 'bad_request', `The task is nested deeper than ${MAX_TASK_DEPTH} levels.`)
      }
      const parsed = taskRequestSchema.safeParse(read.body)
      if (!parsed.success) {
        return fail(c, 400, 'bad_request', 'The task request is not valid.', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`))
      }
      const done = await enqueue(c, [parsed.data])
      if (done instanceof Response) return done
      const { taskId, status, created } = done[0]!
      return c.json({ taskId, status, created, links: links(taskId) }, created ? 202 : 200)
    },
  )

  // Many tasks in one request: one round trip to the store and one bulk add per agent's queue.
  app.post(
    '/tasks/bulk',
    boundedBody(MAX_BULK_TASK_BYTES, (c) => fail(c, 413, 'too_large', `A bulk task body may be at most ${MAX_BULK_TASK_BYTES} bytes.`)),
    async (c) => {
      const read = await jsonBody(c)
      if (read instanceof Response) return read
      const parsed = bulkTaskRequestSchema.safeParse(read.body)
      if (!parsed.success) {
        return fail(c, 400, 'bad_request', 'The bulk task request is not valid.', parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || 'body'}: ${i.message}`))
      }
      const done = await enqueue(c, parsed.data.tasks)
      if (done instanceof Response) return done
      return c.json({ tasks: done.map((t) => ({ ...t, links: links(t.taskId) })) }, done.some((t) => t.created) ? 202 : 200)
    },
  )

  app.get('/tasks', async (c) => {
    const agentKey = c.req.query('agent')
    const agent = agentKey ? byKey(agentKey) : undefined
    if (agentKey && !agent) return fail(c, 404, 'unknown_agent', `No deployed agent ${quote(agentKey)}.`)
    const [tasks, disputes] = await Promise.all([o.store.list({ agentId: agent?.agentId, limit: 200 }), disputeReader.list().then(withActions)])
    // a task's verdict: what the disputes on its action decided (a completed payment can be slashed later)
    return c.json({
      tasks: tasks.map((t) => {
        const mine = disputes.filter((d) => d.actionId === t.taskId)
        const verdict = mine.some((d) => d.status === 'Slashed') ? 'slashed' : mine.some((d) => d.status === 'Open') ? 'disputed' : mine.length ? 'cleared' : null
        return { ...view(t), verdict, disputes: mine.map((d) => ({ disputeId: d.disputeId.toString(), kind: d.kind, status: d.status })) }
      }),
    })
  })

  // A task id is its action id: one that cannot be is refused before the store is asked.
  const badTaskId = (c: Context) => fail(c, 400, 'bad_task_id', 'A task id is an action id: <agentId>-<12 lowercase hex>.')

  app.get('/tasks/:id', async (c) => {
    const id = c.req.param('id')
    if (!isActionId(id)) return badTaskId(c)
    const s = await o.store.get(id)
    return s ? c.json(view(s)) : fail(c, 404, 'unknown_task', `No task ${id}.`)
  })

  app.get('/tasks/:id/events', async (c) => {
    const id = c.req.param('id')
    if (!isActionId(id)) return badTaskId(c)
    const first = await o.store.get(id)
    if (!first) return fail(c, 404, 'unknown_task', `No task ${id}.`)
    return streamTaskEvents(c, o.store, id, first)
  })

  app.get('/agents', async (c) => {
    const [disputes, { ids, total }] = await Promise.all([disputeReader.list(), chainAgentIds(o.client)])
    // every agent on the chain, not only those this process hosts (those carry their name)
    const agents = await Promise.all(
      ids.map(async (id) => {
        const a = o.agents.find((r) => r.agentId === id.toString())
        const [bond, onChain, account] = await Promise.all([getBond(o.client, id), getAgent(o.client, id), getAccount(o.client, id)])
        const mine = disputes.filter((d) => d.agentId === id)
        const slashedEth = mine.reduce((sum, d) => (d.status === 'Slashed' ? sum + d.slashedEth : sum), 0n)
        // `disputed` while a dispute is open; `slashed` once any fault was punished
        const status = onChain.openDisputes > 0 ? 'disputed' : mine.some((d) => d.status === 'Slashed') ? 'slashed' : 'active'
        return {
          name: a?.name ?? null,
          agentId: id.toString(),
          hosted: a !== undefined,
          wallet: onChain.wallet,
          operator: onChain.operator,
          manifestHash: onChain.active.manifestHash,
          bond: json(bond),
          // the AgentAccount: funds, calls made and covered by committed batches, budget left today
          account: json({
            address: account.address,
            balance: account.balance,
            calls: account.callCount,
            covered: account.coveredCalls,
            budgetLeft: account.budgetLeft,
            dailyBudget: onChain.active.policy.dailyBudget ?? null,
          }),
          status,
          disputes: mine.length,
          slashedEth: slashedEth.toString(),
          openDisputes: onChain.openDisputes,
          activeVersion: onChain.activeVersion,
        }
      }),
    )
    return c.json({ agents, total: total.toString() })
  })

  app.get('/agents/:id', async (c) => {
    const key = c.req.param('id')
    const a = byKey(key)
    let id: bigint
    if (a) id = BigInt(a.agentId)
    else {
      // any agent on the chain, by its id: a key that cannot be one is refused before the chain is asked
      if (!/^[1-9][0-9]{0,77}$/.test(key) || BigInt(key) >= 2n ** 256n) return fail(c, 404, 'unknown_agent', `No agent ${quote(key)} on this chain.`)
      const { total } = await chainAgentIds(o.client)
      if (BigInt(key) > total) return fail(c, 404, 'unknown_agent', `No agent ${quote(key)} on this chain.`)
      id = BigInt(key)
    }
    const [bond, onChain, disputes, manifestBytes, history, account, tasks] = await Promise.all([
      getBond(o.client, id),
      getAgent(o.client, id),
      disputeReader.list({ agentId: id }),
      a ? o.da.get(a.manifestCommitment as `0x${string}`).catch(() => undefined) : undefined,
      bondHistory(o.client, id),
      getAccount(o.client, id),
      a ? o.store.list({ agentId: a.agentId, limit: 200 }) : [],
    ])
    return c.json({
      name: a?.name ?? null,
      agentId: id.toString(),
      hosted: a !== undefined,
      owner: onChain.owner,
      operator: onChain.operator,
      wallet: onChain.wallet,
      manifestHash: onChain.active.manifestHash,
      manifestCommitment: a?.manifestCommitment ?? null,
      manifest: manifestBytes ? parseCanonical(manifestBytes) : null,
      account: json({ address: account.address, balance: account.balance, calls: account.callCount, covered: account.coveredCalls, budgetLeft: account.budgetLeft }),
      policy: json(onChain.active.policy),
      activeVersion: onChain.activeVersion,
      pendingVersion: onChain.pendingVersion,
      openDisputes: onChain.openDisputes,
      bond: json(bond),
      /** the ETH bond after every deposit, withdrawal and slash */
      bondHistory: json(history),
      disputes: json(await withActions(disputes)),
      /** this process's tasks of the agent (hosted agents only) */
      tasks: tasks.map(view),
    })
  })

  app.get('/agents/:id/headers', async (c) => {
    const a = byKey(c.req.param('id'))
    if (!a) return fail(c, 404, 'unknown_agent', `No deployed agent ${quote(c.req.param('id'))}.`)
    return c.json({ headers: o.signedHeaders ? await o.signedHeaders(a.agentId) : [] })
  })

  app.get('/actions/:id', async (c) => {
    const id = c.req.param('id')
    // parsed with bounds (the agent id a uint256) before it can reach viem
    if (!isActionId(id)) return fail(c, 400, 'bad_action_id', 'An action id looks like <agentId>-<12 lowercase hex>, the agent id a uint256.')
    if (!o.verifyAction) return fail(c, 503, 'no_verifier', 'This service has no verifier configured.')
    try {
      return c.json(json(await o.verifyAction(id)))
    } catch (err) {
      const e = err as { name?: string; shortMessage?: string; message?: string }
      if (e.name === 'ActionNotFoundError') return fail(c, 404, 'unknown_action', e.shortMessage ?? 'not committed yet')
      if (e.name === 'InvalidActionIdError') return fail(c, 400, 'bad_action_id', 'An action id looks like <agentId>-<12 lowercase hex>, the agent id a uint256.')
      throw err
    }
  })

  app.get('/disputes', async (c) => c.json({ disputes: json(await withActions(await disputeReader.list())) }))

  app.get('/disputes/:id', async (c) => {
    const key = c.req.param('id')
    if (!/^[1-9][0-9]{0,77}$/.test(key)) return fail(c, 400, 'bad_dispute_id', 'A dispute id is a positive integer.')
    let d: Awaited<ReturnType<typeof disputeDetail>>
    try {
      d = await disputeDetail(o.client, BigInt(key))
    } catch (err) {
      if ((err as { name?: string }).name === 'ContractFunctionExecutionError' || /UnknownDispute/.test(String((err as Error).message))) {
        return fail(c, 404, 'unknown_dispute', `No dispute ${quote(key)} on this chain.`)
      }
      throw err
    }
    const [withAction] = await withActions([d])
    return c.json(json({ ...d, actionId: withAction?.actionId ?? null }))
  })

  app.get('/forks', async (c) => {
    const p = o.client.deployment.params
    return c.json({
      forks: json(await listForks(o.client)),
      rule: json({ escalationWindow: p.escalationWindow, forkPeriod: p.forkPeriod, forkBond: p.forkBond, forkChoiceBps: p.forkChoiceBps }),
    })
  })

  return app
}

/** How many arrays/objects deep a parsed JSON value goes (iterative: any depth is safe). */
function jsonDepth(value: unknown): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    const depth = d + 1
    if (depth > max) max = depth
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth])
  }
  return max
}

/** ioredis gave up on a command: Redis is down or unreachable. */
function storeUnreachable(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown; code?: unknown }
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    e?.code === 'ECONNREFUSED' ||
    (typeof e?.message === 'string' && /^(Connection is closed\.|Stream isn't writeable|connect ECONNREFUSED)/.test(e.message))
  )
}
