import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type Service } from '../../src/service/service.js'
import { startLocalStack, type LocalStack, onStack } from '../../src/service/stack.js'
import type { DeployedAgent } from '../../src/service/worker.js'
import { readWalFile, walPaths } from '../../src/trace/wal.js'
import type { Step } from '../../src/trace/schemas.js'
import { PAYEE } from '../fixtures/serviceAgents.js'
import {
  deleteRedisPrefix,
  deployFixtureAgents,
  finished,
  getTask,
  postTask,
  REDIS_URL,
  spawnWorker,
  until,
  type TaskView,
  type WorkerProcess,
} from '../fixtures/serviceStack.js'

// The service on BullMQ and the real Redis: the HTTP API in this process (worker: false),
// the workers in `covenant worker` processes. One process at a time holds an agent's WAL,
// so work spreads over processes by agent; the other workers listed for an agent stand by
// and take it over when its host dies.
//
//   w1: svc-mod-1, svc-pay      (hosts both)
//   w2: svc-mod-2, svc-mod-1    (hosts svc-mod-2, stands by for svc-mod-1)
//   w3: svc-pay, svc-mod-2      (stands by for both)
const PREFIX = `svc-workers-${randomBytes(5).toString('hex')}`

let dataDir: string
let stack: LocalStack
let service: Service
let agents: Map<string, DeployedAgent>
const workers: WorkerProcess[] = []
let w1: WorkerProcess
let w2: WorkerProcess
let w3: WorkerProcess
/** every task this suite posted, by agent name */
const posted = new Map<string, string[]>()

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-svc-workers-'))
  stack = await startLocalStack({ dataDir, announce: false })
  const deployed = await deployFixtureAgents(stack, ['svc-mod-1', 'svc-mod-2', 'svc-pay'])
  agents = new Map(deployed.map((d) => [d.agent.name, d]))
  service = await startService({
    agents: deployed,
    ...onStack(stack),
    redisUrl: REDIS_URL,
    prefix: PREFIX,
    worker: false,
    port: 0,
  })
  // started one after the other, so who hosts what is known
  for (const [name, list] of [
    ['w1', ['svc-mod-1', 'svc-pay']],
    ['w2', ['svc-mod-2', 'svc-mod-1']],
    ['w3', ['svc-pay', 'svc-mod-2']],
  ] as const) {
    workers.push(await spawnWorker({ name, stack, agents: list, prefix: PREFIX }))
  }
  ;[w1, w2, w3] = workers as [WorkerProcess, WorkerProcess, WorkerProcess]
})

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
  await Promise.all(workers.map((w) => w.exited))
  for (const q of service?.queues.values() ?? []) await q.obliterate().catch(() => {})
  await service?.close()
  await deleteRedisPrefix(PREFIX)
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const post = async (agent: string, task: unknown) => {
  const id = await postTask(service.url, { agent, task })
  posted.set(agent, [...(posted.get(agent) ?? []), id])
  return id
}
const modTask = (i: number, holdMs?: number) => ({
  postId: `p-${i}`,
  text: i % 2 ? 'Congratulations! You won a free iPhone, send your bank password to claim' : 'Lovely turnout at the community garden today',
  ...(holdMs ? { holdMs } : {}),
})
/** the worker that ran (or last ran) a task, from its progress events */
const ranOn = (t: TaskView) => t.events.filter((e) => e.message.startsWith('running on ')).map((e) => e.message.split(' ')[2]!)
const walSteps = async (name: string): Promise<Step[]> => {
  const id = agents.get(name)!.record.agentId
  return (await readWalFile(walPaths(join(dataDir, 'wal'), id).log, id)).steps
}
const walletTxCount = (name: string) => stack.client.publicClient.getTransactionCount({ address: agents.get(name)!.record.wallet.address as `0x${string}` })

describe('BullMQ service workers in several processes', () => {
  it('spreads tasks over the worker processes, one agent per process, running at the same time', async () => {
    expect(w1.lines).toEqual(expect.arrayContaining([expect.stringMatching(/hosting agent svc-mod-1/), expect.stringMatching(/hosting agent svc-pay/)]))
    expect(w2.lines).toEqual(expect.arrayContaining([expect.stringMatching(/hosting agent svc-mod-2/), expect.stringMatching(/svc-mod-1 .*standing by/)]))
    expect(w3.lines.filter((l) => l.includes('hosting agent'))).toEqual([])

    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push(await post('svc-mod-1', modTask(i, 400)), await post('svc-mod-2', modTask(i, 400)))
    ids.push(await post('svc-pay', { memo: 'GPU hours for March', to: PAYEE, amountEth: '0.01' }))
    const done = await Promise.all(ids.map((id) => finished(service.url, id, { committed: true })))
    for (const t of done) expect(t.status, JSON.stringify(t.error)).toBe('completed')

    const byWorker = new Map<string, string[]>()
    for (const t of done) for (const w of new Set(ranOn(t))) byWorker.set(w, [...(byWorker.get(w) ?? []), t.agent])
    expect(new Set(byWorker.get(w1.id))).toEqual(new Set(['svc-mod-1', 'svc-pay']))
    expect(new Set(byWorker.get(w2.id))).toEqual(new Set(['svc-mod-2']))
    expect(byWorker.has(w3.id)).toBe(false)

    // the two agents' tasks ran at the same time, in two processes
    const span = (t: TaskView) => [t.events.find((e) => e.message.startsWith('running on'))!.at, t.events.find((e) => e.message.startsWith('completed'))!.at] as const
    const one = done.filter((t) => t.agent === 'svc-mod-1').map(span)
    const two = done.filter((t) => t.agent === 'svc-mod-2').map(span)
    expect(one.some(([a0, a1]) => two.some(([b0, b1]) => a0 < b1 && b0 < a1))).toBe(true)

    const pay = done.find((t) => t.agent === 'svc-pay')!
    expect(pay.txHashes).toHaveLength(1)
  })

  it('streams a task run in another process over SSE: completed, then every step committed', async () => {
    // held past a commit tick of the worker (2 s): part of the action is committed before it ends
    const id = await post('svc-mod-2', modTask(30, 2_500))
    const res = await fetch(`${service.url}/tasks/${id}/events`)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    let text = ''
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true })
      if (/event: end\ndata: .*\n\n/.test(text)) break
    }
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ type: m[1]!, data: JSON.parse(m[2]!) as TaskView & { committed: boolean } }))
    const statuses = events.filter((e) => e.type === 'status').map((e) => e.data.status)
    expect(statuses.at(-1)).toBe('completed')
    expect(statuses).toContain('running')
    const completed = events.find((e) => e.type === 'status' && e.data.status === 'completed')!.data
    expect(completed.committed).toBe(false) // its output step was not in a batch yet
    const end = events.at(-1)!
    expect(end.type).toBe('end')
    expect(end.data).toMatchObject({ status: 'completed', committed: true })
    // each trace step the worker process wrote reached this process through Redis, in the trace's order
    const steps = events.filter((e) => e.type === 'step').map((e) => e.data as unknown as { index: number; kind: string; actionId: string })
    expect(steps.map((st) => st.index)).toEqual(completed.stepIndices)
    expect(steps.every((st) => st.actionId === id)).toBe(true)
    expect(steps[0]?.kind).toBe('input')
    expect(steps.at(-1)?.kind).toBe('output')
    expect(events.filter((e) => e.type === 'progress').map((e) => (e.data as unknown as { message: string }).message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^running on /), expect.stringMatching(/^completed on /), expect.stringMatching(/every step of the action is committed$/)]),
    )
  })

  it('fails a task whose action failed once and for all: its trace is closed, so no retry runs it again', async () => {
    // the agent cannot read this task: the action opens, fails, and is closed with a failed output step
    const bad = await post('svc-mod-2', { postId: 'p-no-text' })
    const t = await finished(service.url, bad)
    expect(t).toMatchObject({ status: 'failed', attempts: 1, error: { name: 'ZodError', final: true } })
    const steps = (await walSteps('svc-mod-2')).filter((s) => s.actionId === bad)
    expect(steps.map((s) => s.kind)).toEqual(['input', 'output'])
  })

  it('bulk-posted tasks: one process runs two agents\' tasks at once, and one agent\'s actions stay whole and in queue order', async () => {
    // svc-mod-1 and svc-pay are both hosted by w1 (concurrency 1 per agent): their tasks run side
    // by side in that process; svc-mod-1's five run one after the other in the order posted
    const res = await fetch(`${service.url}/tasks/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        tasks: [
          ...[40, 41, 42, 43, 44].map((i) => ({ agent: 'svc-mod-1', task: modTask(i, 150) })),
          { agent: 'svc-pay', task: { memo: 'bulk: GPU hours', to: PAYEE, amountEth: '0.01', holdMs: 600 } },
        ],
      }),
    })
    expect(res.status).toBe(202)
    const ids = ((await res.json()) as { tasks: { taskId: string }[] }).tasks.map((t) => t.taskId)
    posted.set('svc-mod-1', [...(posted.get('svc-mod-1') ?? []), ...ids.slice(0, 5)])
    posted.set('svc-pay', [...(posted.get('svc-pay') ?? []), ids[5]!])
    const done = await Promise.all(ids.map((id) => finished(service.url, id)))
    for (const t of done) expect(t.status, JSON.stringify(t.error)).toBe('completed')
    for (const t of done) expect(ranOn(t)).toEqual([w1.id])
    // the payment ran while svc-mod-1's tasks were running, in the same process
    const span = (t: TaskView) => [t.events.find((e) => e.message.startsWith('running on'))!.at, t.events.find((e) => e.message.startsWith('completed'))!.at] as const
    const [p0, p1] = span(done[5]!)
    expect(done.slice(0, 5).map(span).some(([a0, a1]) => a0 < p1 && p0 < a1)).toBe(true)
    // svc-mod-1's trace: each action's steps together (no other action in between) and the
    // actions in the order they were posted
    const steps = (await walSteps('svc-mod-1')).filter((st) => ids.slice(0, 5).includes(st.actionId))
    const order = steps.map((st) => st.actionId).filter((a, i, all) => i === 0 || all[i - 1] !== a)
    expect(order).toEqual(ids.slice(0, 5))
    for (const id of ids.slice(0, 5)) {
      const mine = steps.filter((st) => st.actionId === id)
      expect(mine[0]!.kind).toBe('input')
      expect(mine.at(-1)!.kind).toBe('output')
    }
  })

  it('a worker SIGKILLed mid-task: stand-by workers take its agents over, stalled jobs are retried, nothing runs twice or is lost', async () => {
    const txBefore = await walletTxCount('svc-pay')
    const a = await post('svc-mod-1', modTask(10, 5_000)) // open when w1 dies
    const b = await post('svc-mod-1', modTask(11)) // still queued behind it
    const p = await post('svc-pay', { memo: 'storage for April', to: PAYEE, amountEth: '0.02', holdMs: 5_000 }) // paid, not finished

    // kill w1 once both actions are open in its hands: A inside its decision tool, P after its payment
    await until(async () => ((await walSteps('svc-mod-1')).some((s) => s.actionId === a && s.kind === 'inference') ? true : undefined), 'action A to reach its tool')
    await until(async () => ((await walletTxCount('svc-pay')) === txBefore + 1 ? true : undefined), 'the payment of P')
    // the worker buffers the 'running' state (TASK_STORE_FLUSH_MS, with the task's step events):
    // under load it lands after the steps this test watched
    // (and P's: its payment can be mined before its buffered 'running' state lands)
    const running = (id: string, what: string) => until(async () => ((await getTask(service.url, id)).status === 'running' ? true : undefined), what, 4_000)
    await Promise.all([running(a, "action A's running state"), running(p, "action P's running state")])
    const killedAt = Date.now()
    w1.child.kill('SIGKILL')
    expect(await w1.exited).toMatchObject({ signal: 'SIGKILL' })

    // the stand-bys take over (each listed the agent) within a few seconds: they try the
    // kernel lock every 500 ms, and opening the agent (WAL recovery, wallet recovery) is quick
    await w2.line(/hosting agent svc-mod-1/, 30_000)
    await w3.line(/hosting agent svc-pay/, 30_000)
    expect(Date.now() - killedAt).toBeLessThan(8_000)

    const [ta, tb, tp] = await Promise.all([a, b, p].map((id) => finished(service.url, id, { timeoutMs: 45_000 })))
    // B was waiting: the new host runs it
    expect(tb.status).toBe('completed')
    expect(ranOn(tb)).toEqual([w2.id])
    // A and P were open when w1 died: recovery closed them in the trace. A had signed
    // nothing, so its stalled job runs again under its id on the new host; P had paid, so
    // it is answered from the trace — never run twice
    expect(ta.status).toBe('completed')
    expect(ranOn(ta)).toEqual([w1.id, w2.id])
    expect(tp.status).toBe('failed')
    expect(tp.error).toMatchObject({ name: 'ActionInterruptedError', final: true })
    expect(ranOn(tp)).toEqual([w1.id, w3.id])
    // P's payment went out once, and the task shows it
    expect(await walletTxCount('svc-pay')).toBe(txBefore + 1)
    expect(tp.txHashes).toHaveLength(1)
    const payStep = (await walSteps('svc-pay')).find((s) => s.actionId === p && s.kind === 'wallet')
    expect(payStep).toBeDefined()

    // every task finished exactly once
    for (const q of service.queues.values()) expect(await q.counts()).toMatchObject({ waiting: 0, active: 0, delayed: 0 })
  })

  it('keeps every trace whole: every attempt closed by an output, re-runs only after an unsigned interruption, every posted task in it once', async () => {
    for (const name of ['svc-mod-1', 'svc-mod-2', 'svc-pay']) {
      const steps = await walSteps(name)
      const count = new Map<string, { input: number; output: number; interrupted: number; wallet: number }>()
      for (const s of steps) {
        const c = count.get(s.actionId) ?? { input: 0, output: 0, interrupted: 0, wallet: 0 }
        if (s.kind === 'input') c.input++
        if (s.kind === 'wallet') c.wallet++
        if (s.kind === 'output') {
          c.output++
          if ((s.result as { status?: string }).status === 'interrupted') c.interrupted++
        }
        count.set(s.actionId, c)
      }
      expect([...count.keys()].sort(), name).toEqual([...(posted.get(name) ?? [])].sort())
      for (const [id, c] of count) {
        // each attempt is closed; every attempt before the last was interrupted
        expect(c.output, `${name} ${id}`).toBe(c.input)
        expect(c.interrupted, `${name} ${id}`).toBeGreaterThanOrEqual(c.input - 1)
        expect(c.wallet, `${name} ${id}`).toBeLessThanOrEqual(1)
      }
    }
    // one transaction per paying action, never two
    const pays = (await walSteps('svc-pay')).filter((s) => s.kind === 'wallet')
    expect(pays).toHaveLength(posted.get('svc-pay')!.length)
    expect(await walletTxCount('svc-pay')).toBe(pays.length)
  })

  it('answers malformed bodies with 4xx and enqueues nothing', async () => {
    const counts = async () => {
      const all = await Promise.all([...service.queues.values()].map((q) => q.counts()))
      return { jobs: all.reduce((n, c) => n + c.waiting + c.active + c.delayed + c.completed + c.failed, 0), tasks: (await service.store.list({ limit: 1000 })).length }
    }
    const before = await counts()
    const send = (body: string, type = 'application/json') => fetch(`${service.url}/tasks`, { method: 'POST', headers: { 'content-type': type }, body })
    const other = agents.get('svc-mod-2')!.record.agentId
    const cases: Array<[Promise<Response>, number, string]> = [
      [send('{"agent":"svc-mod-1","task":'), 400, 'bad_json'],
      [send(''), 400, 'bad_json'],
      [send('[]'), 400, 'bad_request'],
      [send('null'), 400, 'bad_request'],
      [send(JSON.stringify({ agent: 'svc-mod-1' })), 400, 'bad_request'],
      [send(JSON.stringify({ agent: '', task: 'x' })), 400, 'bad_request'],
      [send(JSON.stringify({ agent: 7, task: 'x' })), 400, 'bad_request'],
      [send(JSON.stringify({ agent: 'svc-mod-1', task: 'x', priority: 1 })), 400, 'bad_request'],
      [send(JSON.stringify({ agent: 'svc-mod-1', task: 'x', actionId: '1-XYZ' })), 400, 'bad_request'],
      [send(JSON.stringify({ agent: 'svc-mod-1', task: 'x', actionId: `${other}-0123456789ab` })), 400, 'bad_request'],
      [send(JSON.stringify({ agent: 'nobody', task: 'x' })), 404, 'unknown_agent'],
      [send(JSON.stringify({ agent: 'svc-mod-1', task: 'x' }), 'text/plain'), 415, 'unsupported_media_type'],
      [send(JSON.stringify({ agent: 'svc-mod-1', task: 'y'.repeat(300_000) })), 413, 'too_large'],
    ]
    for (const [res, status, code] of cases) {
      const r = await res
      const body = (await r.json()) as { error: { code: string; message: string } }
      expect([r.status, body.error.code]).toEqual([status, code])
      expect(body.error.message.length).toBeGreaterThan(10)
    }
    expect(await counts()).toEqual(before)
  })

  it('SIGTERM drains: the running task finishes and its steps are committed before the worker exits; a stand-by takes over', async () => {
    const d = await post('svc-mod-2', modTask(20, 2_500))
    await until(async () => ((await walSteps('svc-mod-2')).some((s) => s.actionId === d && s.kind === 'inference') ? true : undefined), 'task D to start')
    w2.child.kill('SIGTERM')
    expect(await w2.exited).toEqual({ code: 0, signal: null })
    expect(w2.lines.some((l) => l.startsWith('draining'))).toBe(true)

    // as the worker exits, the task is complete and committed (nothing left for anyone else)
    const td = await getTask(service.url, d)
    expect(td.status).toBe('completed')
    expect(td.commitments.length).toBeGreaterThan(0)
    expect(ranOn(td)).toEqual([w2.id])
    const steps = (await walSteps('svc-mod-2')).filter((s) => s.actionId === d)
    expect(steps.map((s) => s.kind)).toEqual(['input', 'inference', 'tool', 'output'])
    // the batch holding its output step (committed by the drain) is among its commitments
    const id = agents.get('svc-mod-2')!.record.agentId
    const cursor = JSON.parse(readFileSync(walPaths(join(dataDir, 'wal'), id).cursor, 'utf8')) as { lastCommitted: { sequence: number; firstIndex: number; stepCount: number } }
    const output = steps.at(-1)!.index
    expect(cursor.lastCommitted.firstIndex + cursor.lastCommitted.stepCount).toBe(output + 1)
    expect(td.commitments.map((c) => c.sequence)).toContain(cursor.lastCommitted.sequence)

    // svc-mod-2 is hosted by w3 now, and serves the next task
    await w3.line(/hosting agent svc-mod-2/, 30_000)
    const e = await finished(service.url, await post('svc-mod-2', modTask(21)))
    expect(e.status).toBe('completed')
    expect(ranOn(e)).toEqual([w3.id])
  })
})
