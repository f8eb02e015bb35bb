/**
 * The service's HTTP API (createServiceApp, in-process through app.request) against
 * generated bad input: malformed JSON, wrong types, huge and deeply nested values, unknown
 * fields, bad action ids (huge agent ids past uint256 included), wrong content types, unknown
 * routes. Every answer is a 4xx (never a 5xx) with a short JSON error body (at most
 * MAX_ERROR_BODY_BYTES: nothing echoed at length); nothing is enqueued and the task store is
 * unchanged.
 */
import fc from 'fast-check'
import { encodeAbiParameters } from 'viem'
import { describe, expect, test } from 'vitest'
import { createServiceApp, MAX_ERROR_BODY_BYTES, MAX_TASK_BYTES, MAX_TASK_DEPTH } from '../../src/service/api.js'
import type { AgentRecord } from '../../src/service/agentRecord.js'
import { createTaskStore } from '../../src/service/taskStore.js'
import type { TaskJobData, TaskJobResult } from '../../src/service/worker.js'
import type { JobQueue } from '../../src/verify/queue.js'

const RUNS = 1_000

const agents = [
  { name: 'alpha', agentId: '7' },
  { name: 'beta', agentId: '12' },
] as unknown as AgentRecord[]

/** A queue that only counts what reaches it. */
function countingQueue(name: string) {
  const added: string[] = []
  const q = {
    name,
    kind: 'in-process',
    add: async (id: string) => void added.push(id),
    addBulk: async (jobs: ReadonlyArray<{ id: string }>) => void added.push(...jobs.map((j) => j.id)),
    wait: async () => {
      throw new Error('not used')
    },
    run: async () => {
      throw new Error('not used')
    },
    process: async () => ({ close: async () => {} }),
    counts: async () => ({ waiting: added.length, active: 0, delayed: 0, completed: 0, failed: 0 }),
    close: async () => {},
    obliterate: async () => {},
  } as unknown as JobQueue<TaskJobData, TaskJobResult>
  return { q, added }
}

/** A decimal uint256 agent id: `GET /agents/:id` asks the chain whether it exists. */
function isAgentIdOnChain(s: string): boolean {
  return /^[1-9][0-9]{0,77}$/.test(s) && BigInt(s) < 2n ** 256n
}

const untouchable = new Proxy({}, { get: () => { throw new Error('the API touched the chain or DA for a bad request') } })

function setup() {
  const queues = [countingQueue('tasks-7'), countingQueue('tasks-12')]
  const store = createTaskStore()
  const app = createServiceApp({
    agents,
    queues: new Map([
      ['7', queues[0]!.q],
      ['12', queues[1]!.q],
    ]),
    store,
    client: untouchable as never,
    da: untouchable as never,
    verifyAction: async (actionId: string) => {
      // as the real verifier does: the agent id goes to viem, which refuses what is not a uint256 (a 500 if it got here)
      encodeAbiParameters([{ type: 'uint256' }], [BigInt(actionId.split('-')[0]!)])
      throw Object.assign(new Error('not committed'), { name: 'ActionNotFoundError', shortMessage: 'not committed yet' })
    },
  })
  const enqueued = () => queues.reduce((n, x) => n + x.added.length, 0)
  return { app, store, enqueued, queues }
}

async function expectJsonError(res: Response, allowed: number[]): Promise<{ code: string; message: string }> {
  const text = await res.text()
  expect(allowed, `${res.status}: ${text.slice(0, 300)}`).toContain(res.status)
  expect(res.status).toBeLessThan(500)
  expect(Buffer.byteLength(text), text.slice(0, 400)).toBeLessThanOrEqual(MAX_ERROR_BODY_BYTES)
  expect(res.headers.get('content-type') ?? '').toMatch(/application\/json/)
  const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
  expect(typeof body.error?.code).toBe('string')
  expect(typeof body.error?.message).toBe('string')
  expect((body.error!.message as string).length).toBeGreaterThan(5)
  return body.error as { code: string; message: string }
}

// ------------------------------------------------------------------ generators of bad bodies

const json = fc.jsonValue({ maxDepth: 3 })
const UINT256_MAX = 2n ** 256n - 1n
const hex12 = fc.stringMatching(/^[0-9a-f]{12}$/)
/** Action ids whose agent id is a decimal past uint256: 78 digits over 2^256 − 1, or far longer. */
const hugeActionId = fc.oneof(
  fc.tuple(fc.bigInt({ min: UINT256_MAX + 1n, max: 10n ** 78n - 1n }), hex12).map(([n, h]) => `${n}-${h}`),
  fc.tuple(fc.integer({ min: 79, max: 20_000 }), fc.integer({ min: 1, max: 9 }), hex12).map(([digits, d, h]) => `${d}${'0'.repeat(digits - 1)}-${h}`),
  fc.constantFrom(`${UINT256_MAX + 1n}-0123456789ab`, `${'9'.repeat(78)}-0123456789ab`, `${2n ** 512n}-0123456789ab`),
)
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(json, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), json, { maxKeys: 3 }))
const badActionId = fc.oneof(
  fc.string({ maxLength: 40 }).filter((s) => !/^(0|[1-9][0-9]{0,77})-[0-9a-f]{12}$/.test(s)),
  fc.stringMatching(/^[0-9]{1,3}-[0-9a-f]{12}$/).filter((s) => !s.startsWith('7-') && !s.startsWith('12-')), // another agent's id space
  fc.constantFrom('7-0123456789AB', '7-0123456789a', '07-0123456789ab', '-7-0123456789ab', '7-0123456789abc', '7_0123456789ab'),
  hugeActionId,
  notAString,
)
const unknownKey = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !['agent', 'task', 'actionId'].includes(k))

/** A body (string) and the content type to send it with; every one of them is wrong somehow. */
const badRequest: fc.Arbitrary<{ body: string; type: string; why: string }> = fc.oneof(
  // not JSON at all, or cut short
  fc.string({ maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s)
      return false
    } catch {
      return true
    }
  }).map((body) => ({ body, type: 'application/json', why: 'not JSON' })),
  fc.record({ agent: fc.constantFrom('alpha', 'beta', '7'), task: json }).map((v) => {
    const text = JSON.stringify(v)
    return { body: text.slice(0, Math.max(1, text.length - 1 - (text.length % 7))), type: 'application/json', why: 'truncated' }
  }),
  // JSON, but not an object
  fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(json, { maxLength: 4 })).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'not an object' })),
  // wrong types and missing fields
  fc.record({ agent: notAString, task: json }).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'agent not a string' })),
  fc.record({ agent: fc.constantFrom('alpha', 'beta') }).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'no task' })),
  fc.record({ task: json }).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'no agent' })),
  fc.record({ agent: fc.constantFrom('', 'x'.repeat(129)), task: json }).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'agent empty or too long' })),
  fc.record({ agent: fc.string({ minLength: 1, maxLength: 128 }).filter((a) => !['alpha', 'beta', '7', '12'].includes(a)), task: json }).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'unknown agent' })),
  fc.record({ agent: fc.constantFrom('alpha', 'beta'), task: json, actionId: badActionId }).map((v) => ({ body: JSON.stringify(v), type: 'application/json', why: 'bad actionId' })),
  fc.record({ agent: fc.constantFrom('alpha', 'beta'), task: json, extra: fc.tuple(unknownKey, json) }).map(({ extra, ...v }) => ({ body: JSON.stringify({ ...v, [extra[0]]: extra[1] }), type: 'application/json', why: 'unknown field' })),
  fc.constantFrom('__proto__', 'constructor', 'prototype').map((k) => ({ body: `{"agent":"alpha","task":"x","${k}":{"polluted":true}}`, type: 'application/json', why: 'prototype keys' })),
  // huge: over the body limit, numbers JSON cannot hold, nesting deeper than a trace step may hold
  fc.integer({ min: 1, max: 3 }).map((k) => ({ body: JSON.stringify({ agent: 'alpha', task: 'y'.repeat(MAX_TASK_BYTES * k) }), type: 'application/json', why: 'too large' })),
  fc.constantFrom('1e309', '-1e309', '1e400').map((n) => ({ body: `{"agent":"alpha","task":${n}}`, type: 'application/json', why: 'infinite number' })),
  // written as text: building and stringifying such values would test this file's stack, not the API's
  fc.tuple(fc.integer({ min: MAX_TASK_DEPTH + 1, max: 100_000 }), fc.boolean()).map(([d, objects]) => ({
    body: `{"agent":"alpha","task":${objects ? '{"k":'.repeat(d) : '['.repeat(d)}0${(objects ? '}' : ']').repeat(d)}}`,
    type: 'application/json',
    why: `nested ${d} deep`,
  })),
  // a good body, sent as something else
  fc.constantFrom('text/plain', '', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml').map((type) => ({ body: JSON.stringify({ agent: 'alpha', task: 'hello' }), type, why: `content-type "${type}"` })),
)

describe('service HTTP API: bad input', () => {
  test(`${RUNS} generated bad POST /tasks bodies: 4xx with a JSON error, nothing enqueued, the store unchanged`, async () => {
    const { app, store, enqueued } = setup()
    const seen = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(badRequest, async ({ body, type, why }) => {
        const headers: Record<string, string> = type ? { 'content-type': type } : {}
        const res = await app.request('/tasks', { method: 'POST', headers, body })
        const err = await expectJsonError(res, [400, 404, 413, 415])
        seen.set(`${res.status} ${err.code}`, (seen.get(`${res.status} ${err.code}`) ?? 0) + 1)
        expect(enqueued(), why).toBe(0)
        expect(await store.list({ limit: 10 }), why).toEqual([])
      }),
      { numRuns: RUNS },
    )
    // the answers cover every kind of refusal
    expect([...seen.keys()].sort()).toEqual(expect.arrayContaining(['400 bad_json', '400 bad_request', '404 unknown_agent', '413 too_large', '415 unsupported_media_type']))
    // and the API still works
    const ok = await app.request('/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'alpha', task: 'hello' }) })
    expect(ok.status).toBe(202)
    expect(enqueued()).toBe(1)
  })

  test(`${RUNS} generated bad POST /tasks/bulk bodies (a bad task among good ones, or a bad list): 4xx, nothing enqueued; a good list is queued in order`, async () => {
    const { app, store, enqueued, queues } = setup()
    const good = { agent: 'alpha', task: 'hello' }
    const badList = fc.oneof(
      // one bad task request anywhere in a list of good ones refuses the whole list
      fc.tuple(badRequest.filter((b) => b.type === 'application/json' && b.why !== 'too large' && !b.why.startsWith('nested') && b.why !== 'not JSON' && b.why !== 'truncated' && b.why !== 'infinite number' && b.why !== 'prototype keys'), fc.integer({ min: 0, max: 3 })).map(([b, at]) => {
          const tasks: unknown[] = [good, good, good]
          tasks.splice(at, 0, JSON.parse(b.body))
          return { body: JSON.stringify({ tasks }), why: `bulk with ${b.why}` }
        }),
      fc.constantFrom({ body: '{"tasks":[]}', why: 'empty list' }, { body: '{"tasks":{}}', why: 'not a list' }, { body: '{}', why: 'no tasks' }, { body: JSON.stringify({ tasks: Array.from({ length: 1001 }, () => good) }), why: 'over 1,000 tasks' }),
    )
    await fc.assert(
      fc.asyncProperty(badList, async ({ body, why }) => {
        const res = await app.request('/tasks/bulk', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        await expectJsonError(res, [400, 404, 413])
        expect(enqueued(), why).toBe(0)
        expect(await store.list({ limit: 10 }), why).toEqual([])
      }),
      { numRuns: Math.min(RUNS, 300) },
    )
    const res = await app.request('/tasks/bulk', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks: [good, { agent: 'beta', task: 'b' }, { agent: 'alpha', task: 'second' }, { agent: 'alpha', task: 'third' }] }),
    })
    expect(res.status).toBe(202)
    const { tasks } = (await res.json()) as { tasks: { taskId: string; created: boolean }[] }
    expect(tasks).toHaveLength(4)
    expect(tasks.every((t) => t.created)).toBe(true)
    // each agent's tasks reach its queue in the order listed
    expect(queues[0]!.added).toEqual([tasks[0]!.taskId, tasks[2]!.taskId, tasks[3]!.taskId])
    expect(queues[1]!.added).toEqual([tasks[1]!.taskId])
    expect((await store.list({ limit: 10 })).map((t) => t.task).sort()).toEqual(['b', 'hello', 'second', 'third'])
  })

  test(`${RUNS} generated bad reads (task ids, agent keys, action ids, routes, methods): 4xx with a JSON error, nothing created`, async () => {
    const { app, store, enqueued } = setup()
    const segment = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.stringMatching(/^[0-9]{1,4}-[0-9a-f]{12}$/),
      fc.constantFrom('..', '%2e%2e', '%00', 'x'.repeat(2_000), '7-0123456789ab', '__proto__', 'constructor'),
      hugeActionId,
      fc.bigInt({ min: UINT256_MAX - 10n, max: 10n ** 200n }).map(String),
    )
      // "." and ".." are resolved by URL parsing before any route sees them
      .map((s) => encodeURIComponent(s).replace(/^\.{1,2}$/, 'dots') || 'x')
    const read = fc.oneof(
      segment.map((s) => ({ method: 'GET', path: `/tasks/${s}`, allowed: [400, 404] })),
      segment.map((s) => ({ method: 'GET', path: `/tasks/${s}/events`, allowed: [400, 404] })),
      segment.filter((s) => !['alpha', 'beta', '7', '12'].includes(decodeURIComponent(s))).map((s) => ({ method: 'GET', path: `/tasks?agent=${s}`, allowed: [404] })),
      // (an agent id within uint256 is a real lookup of any agent on the chain: not a bad read)
      segment.filter((s) => !['alpha', 'beta', '7', '12'].includes(decodeURIComponent(s)) && !isAgentIdOnChain(decodeURIComponent(s))).map((s) => ({ method: 'GET', path: `/agents/${s}`, allowed: [404] })),
      segment.filter((s) => !['alpha', 'beta', '7', '12'].includes(decodeURIComponent(s))).map((s) => ({ method: 'GET', path: `/agents/${s}/headers`, allowed: [404] })),
      segment.map((s) => ({ method: 'GET', path: `/actions/${s}`, allowed: [400, 404] })),
      hugeActionId.map((s) => ({ method: 'GET', path: `/actions/${s}`, allowed: [400] })),
      hugeActionId.map((s) => ({ method: 'GET', path: `/tasks/${s}`, allowed: [400] })),
      fc.tuple(fc.constantFrom('PUT', 'DELETE', 'PATCH'), fc.constantFrom('/tasks', '/agents', '/disputes', '/actions/7-0123456789ab')).map(([method, path]) => ({ method, path, allowed: [404] })),
      fc.stringMatching(/^\/[a-z0-9/_-]{1,30}$/).filter((p) => !/^\/(tasks|agents|actions|disputes|health)(\/|$)|^\/$/.test(p)).map((path) => ({ method: 'GET', path, allowed: [404] })),
      fc.integer({ min: 1_000, max: 12_000 }).map((n) => ({ method: 'GET', path: `/${'u'.repeat(n)}`, allowed: [404] })),
    )
    await fc.assert(
      fc.asyncProperty(read, async ({ method, path, allowed }) => {
        const res = await app.request(path, { method })
        await expectJsonError(res, allowed)
        expect(enqueued()).toBe(0)
        expect(await store.list({ limit: 10 })).toEqual([])
      }),
      { numRuns: RUNS },
    )
  })

  test('GET /actions/<a number past uint256>-<hex> is a 400 before it reaches viem (it was a 500 with viem\'s message)', async () => {
    const { app } = setup()
    for (const id of [`${UINT256_MAX + 1n}-0123456789ab`, `${'9'.repeat(78)}-0123456789ab`, `${'1'.repeat(5_000)}-0123456789ab`]) {
      const res = await app.request(`/actions/${id}`)
      const err = await expectJsonError(res, [400])
      expect(err.code).toBe('bad_action_id')
      expect(JSON.stringify(err)).not.toContain('999999999999')
    }
    // the largest agent id still reaches the verifier (which finds nothing there)
    await expectJsonError(await app.request(`/actions/${UINT256_MAX}-0123456789ab`), [404])
  })
})
