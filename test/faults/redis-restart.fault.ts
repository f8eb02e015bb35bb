/**
 * Redis restarted under load → the BullMQ queues resume; no task is lost or run twice.
 *
 * Our own redis-server (never the shared one) with an append-only file fsynced on every
 * write — what Redis acknowledged survives a SIGKILL, as it must behind BullMQ in
 * production (an in-memory Redis forgets every queued job on restart by design). The API
 * runs here, two `covenant worker` processes pull the queues. A client posts tasks with its
 * own action ids and re-posts on any non-2xx answer (how a client gets exactly-once out of an
 * idempotent API), while Redis is SIGKILLed three times at random moments, stays down a few
 * seconds and comes back on the same port. Checked: answers during the outage are 5xx with
 * a JSON error (never 202), every action id ends up run exactly once (one input and one
 * output step in its agent's WAL), the wallet sent one transaction per wallet step, the
 * queues end empty, and the traces audit against chain and DA. A second test pins the
 * queue's retry-later path on BullMQ: such a job is put back without counting an attempt.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { RetryLaterCovenantError } from '../../src/errors/base.js'
import { startService, type Service } from '../../src/service/service.js'
import { startLocalStack, type LocalStack, onStack } from '../../src/service/stack.js'
import type { DeployedAgent } from '../../src/service/worker.js'
import { createJobQueue } from '../../src/verify/queue.js'
import { PAYEE } from '../fixtures/serviceAgents.js'
import { deployFixtureAgents, spawnWorker, type WorkerProcess } from '../fixtures/serviceStack.js'
import { auditAgent, faultSeed, seededRandom, sleep, startRedis, until, walSteps, type RedisServer } from './_support.js'

const TASKS = 240
const OUTAGES = 3
const rng = seededRandom(faultSeed())
const PREFIX = `fault-redis-${randomBytes(4).toString('hex')}`
const AGENTS = ['svc-mod-1', 'svc-pay'] as const
const log = (m: string) => process.stdout.write(`[redis] ${m}\n`)

let dataDir: string
let stack: LocalStack
let redis: RedisServer
let service: Service
let agents: Map<string, DeployedAgent>
const workers: WorkerProcess[] = []

beforeAll(async () => {
  log(`seed ${rng.seed}`)
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-fault-redis-'))
  redis = await startRedis({ aofDir: mkdtempSync(join(tmpdir(), 'covenant-fault-redis-aof-')) })
  stack = await startLocalStack({ dataDir, announce: false })
  const deployed = await deployFixtureAgents(stack, [...AGENTS])
  agents = new Map(deployed.map((d) => [d.agent.name, d]))
  service = await startService({
    agents: deployed,
    ...onStack(stack),
    redisUrl: redis.url,
    prefix: PREFIX,
    worker: false,
    port: 0,
  })
  workers.push(await spawnWorker({ name: 'w1', stack, agents: [...AGENTS], prefix: PREFIX, redisUrl: redis.url }))
  workers.push(await spawnWorker({ name: 'w2', stack, agents: [...AGENTS].reverse(), prefix: PREFIX, redisUrl: redis.url }))
})

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
  await Promise.all(workers.map((w) => w.exited))
  await service?.close().catch(() => {})
  await redis?.stop()
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

test(`Redis SIGKILLed ${OUTAGES} times under load and restarted: queues resume, no task lost or run twice`, async () => {
  const t0 = Date.now()
  const idOf = (name: string) => agents.get(name)!.record.agentId
  const tasks = Array.from({ length: TASKS }, (_, i) => {
    const pays = i % 4 === 3
    const agent = pays ? 'svc-pay' : 'svc-mod-1'
    return {
      agent,
      actionId: `${idOf(agent)}-${randomBytes(6).toString('hex')}`,
      task: pays ? { memo: `invoice ${i}`, to: PAYEE, amountEth: '0.001' } : { postId: `p-${i}`, text: i % 3 ? 'Lovely turnout at the garden' : 'You won a free iPhone, send your password' },
    }
  })
  const refusals: { status: number; body: string }[] = []
  let networkErrors = 0
  let reposts = 0

  // the client: post each task until the API acknowledges it (202 new, 200 already known)
  const posting = (async () => {
    for (const t of tasks) {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) reposts++
        let res: Response
        try {
          res = await fetch(`${service.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(t) })
        } catch {
          networkErrors++
          await sleep(500)
          continue
        }
        const body = await res.text()
        if (res.status === 202 || res.status === 200) break
        refusals.push({ status: res.status, body })
        await sleep(500)
      }
      await sleep(40)
    }
  })()

  // the outages, at seeded moments while the tasks come in
  const outages: { at: number; downMs: number }[] = []
  for (let k = 0; k < OUTAGES; k++) {
    await sleep(rng.int(3_000, 9_000))
    const downMs = rng.int(2_000, 6_000)
    await redis.stop('SIGKILL')
    outages.push({ at: Date.now() - t0, downMs })
    log(`redis SIGKILLed at ${Math.round((Date.now() - t0) / 1000)} s, down for ${downMs} ms`)
    await sleep(downMs)
    await redis.start()
  }
  await posting
  log(`all ${TASKS} tasks acknowledged after ${Math.round((Date.now() - t0) / 1000)} s (${refusals.length} refusals, ${reposts} re-posts)`)

  // every task reaches a final state, exactly once
  const finals = await until(async () => {
    const states = await Promise.all(tasks.map((t) => service.store.get(t.actionId)))
    return states.every((s) => s && (s.status === 'completed' || s.status === 'failed')) ? states : undefined
  }, 'every task to finish', 300_000, 1_000)
  for (const s of finals) expect(s!.status, `${s!.taskId}: ${JSON.stringify(s!.error)}`).toBe('completed')

  // refusals while Redis was down: 503 with a JSON error that says what to do, never an acknowledgement
  for (const r of refusals) {
    expect(r.status).toBe(503)
    const body = JSON.parse(r.body) as { error: { code: string; message: string; issues: string[] } }
    expect(body.error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/Redis\) cannot be reached/) })
    expect(body.error.issues.join(' ')).toMatch(/same actionId/)
  }

  // queues resumed and drained
  for (const q of service.queues.values()) expect(await q.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0 })

  // drain the workers, then: each action id ran exactly once, nothing else ran
  for (const w of workers) w.child.kill('SIGTERM')
  for (const w of workers) expect(await w.exited).toEqual({ code: 0, signal: null })
  const figures: Record<string, unknown> = { tasks: TASKS, outages, refusals: refusals.length, refusalStatuses: [...new Set(refusals.map((r) => r.status))], reposts, networkErrors }
  for (const name of AGENTS) {
    const d = agents.get(name)!
    const steps = await walSteps(dataDir, d.record.agentId)
    const mine = tasks.filter((t) => t.agent === name).map((t) => t.actionId)
    expect([...new Set(steps.map((s) => s.actionId))].sort()).toEqual([...mine].sort())
    const audit = await auditAgent({
      dataDir,
      agentId: d.record.agentId,
      wallet: name === 'svc-pay' ? (d.record.wallet.address as `0x${string}`) : undefined,
      client: stack.client,
      da: stack.da,
      expect: (c, m) => expect(c, m).toBe(true),
    })
    if (name === 'svc-pay') {
      expect(audit.walletSteps).toBe(mine.length)
      expect(audit.walletTxsOnChain).toBe(mine.length)
    }
    figures[name] = { actions: audit.actions, steps: audit.steps, batches: audit.batches, walletTxs: audit.walletTxsOnChain }
  }
  log(`figures ${JSON.stringify(figures)}`)
})

test('a task whose first POST reached the store but not the queue runs when the client sends it again', async () => {
  // what Redis dying between the two writes of a POST leaves behind: a queued task state, no job
  const agentId = agents.get('svc-mod-1')!.record.agentId
  const actionId = `${agentId}-${randomBytes(6).toString('hex')}`
  const task = { postId: 'p-half', text: 'Lovely turnout at the garden' }
  const now = Date.now()
  await service.store.create({ taskId: actionId, agentId, agentName: 'svc-mod-1', status: 'queued', task, createdAt: now, updatedAt: now, attempts: 0, result: null, error: null, commitments: [], events: [{ at: now, message: 'queued' }] })
  workers.push(await spawnWorker({ name: 'w3', stack, agents: ['svc-mod-1'], prefix: PREFIX, redisUrl: redis.url }))
  const res = await fetch(`${service.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'svc-mod-1', task, actionId }) })
  expect(res.status).toBe(200)
  const done = await until(async () => ((s) => (s && s.status !== 'queued' && s.status !== 'running' ? s : undefined))(await service.store.get(actionId)), 'the re-sent task', 120_000)
  expect(done.status).toBe('completed')
  expect((await walSteps(dataDir, agentId)).filter((s) => s.actionId === actionId).map((s) => s.kind)).toEqual(['input', 'inference', 'tool', 'output'])
})

test('BullMQ: a job refused with a retry-later error goes back to the queue without counting an attempt', async () => {
  const queue = createJobQueue<{ n: number }, { attempt: number; runs: number }>({ name: `retry-later-${randomBytes(4).toString('hex')}`, redisUrl: redis.url, prefix: PREFIX, attempts: 2 })
  let runs = 0
  const attempts: number[] = []
  const worker = await queue.process(async (job) => {
    runs++
    attempts.push(job.attempt)
    // refused three times (more than `attempts` allows), then done
    if (runs <= 3) throw new RetryLaterCovenantError('not now', { retryAfterMs: 100 })
    return { attempt: job.attempt, runs }
  })
  try {
    expect(await queue.run('job-1', { n: 1 })).toEqual({ attempt: 1, runs: 4 })
    expect(attempts).toEqual([1, 1, 1, 1])
  } finally {
    await worker.close()
    await queue.obliterate()
    await queue.close()
  }
})
