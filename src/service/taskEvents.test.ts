import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TraceChain, genesisHead } from '../trace/chain.js'
import { sampleBodies, T0 } from '../trace/_fixtures.js'
import type { Step, StepBody } from '../trace/schemas.js'
import type { CovenantClient } from '../bonds/client.js'
import type { DAClient } from '../da/client.js'
import { createServiceApp } from './api.js'
import { createServiceClient, ServiceResponseError, type TaskStreamEvent } from './client.js'
import { stepEvent } from './stepSummary.js'
import { appendEvent, appendStep, createTaskStore, type TaskState, type TaskStore } from './taskStore.js'

const AGENT = '7'
const SECRET = 'sk-live-DO-NOT-LEAK'

let store: TaskStore
let server: ServerType
let url: string

beforeAll(async () => {
  store = createTaskStore()
  // the stream reads only the task store: the chain and DA are never asked
  const app = createServiceApp({ agents: [], queues: new Map(), store, client: {} as CovenantClient, da: {} as DAClient })
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((r) => server.close(r))
  await store.close()
})

let counter = 0
async function newTask(): Promise<TaskState> {
  const taskId = `${AGENT}-${(++counter).toString(16).padStart(12, '0')}`
  const now = Date.now()
  const state: TaskState = {
    taskId,
    agentId: AGENT,
    agentName: 'a',
    status: 'queued',
    task: { text: SECRET },
    createdAt: now,
    updatedAt: now,
    attempts: 0,
    result: null,
    error: null,
    commitments: [],
    events: [{ at: now, message: 'queued', seq: 1 }],
    steps: [],
    lastSeq: 1,
  }
  return (await store.create(state)).state
}

/** The action's steps, chained as a WAL would write them (their task is full of the secret). */
function actionSteps(actionId: string): Array<{ step: Step; leaf: `0x${string}` }> {
  const chain = new TraceChain(genesisHead(AGENT))
  return sampleBodies(actionId, T0).map((b) => {
    const body = (b.kind === 'tool' ? { ...b, args: { key: SECRET } } : b.kind === 'input' ? { ...b, task: { text: SECRET } } : b) as StepBody
    return chain.append(body)
  })
}

const addStep = (taskId: string, a: { step: Step; leaf: `0x${string}` }) => store.update(taskId, (s) => appendStep(s, (seq) => stepEvent(a.step, a.leaf, seq)))
const say = (taskId: string, m: string) => store.update(taskId, (s) => appendEvent(s, m))
const finish = (taskId: string, steps: readonly Step[]) =>
  store.update(taskId, (s) =>
    appendEvent(
      {
        ...s,
        status: 'completed',
        result: { output: 'ok', txHashes: [], stepIndices: steps.map((x) => x.index) },
        commitments: [{ sequence: 0, root: `0x${'11'.repeat(32)}`, daCommitment: '0x01', txHash: null, firstIndex: 0, stepCount: steps.length }],
      },
      'completed',
    ),
  )

/** Raw SSE blocks of one response, until `end` or `stop` says so. */
async function readRaw(res: Response, stop: (blocks: string[]) => boolean = () => false): Promise<string[]> {
  const blocks: string[] = []
  let buf = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true })
    let cut: number
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      blocks.push(buf.slice(0, cut))
      buf = buf.slice(cut + 2)
    }
    if (blocks.some((b) => b.startsWith('event: end')) || stop(blocks)) break
  }
  return blocks
}
const field = (block: string, name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1]

describe('a task stream: one event per trace step', () => {
  it('sends every step in trace order with its kind, index, action id, leaf and summary, numbered with the progress lines', async () => {
    const t = await newTask()
    const steps = actionSteps(t.taskId)
    await say(t.taskId, 'running')
    for (const s of steps) await addStep(t.taskId, s)
    await finish(t.taskId, steps.map((s) => s.step))
    const blocks = await readRaw(await fetch(`${url}/tasks/${t.taskId}/events`))
    const stepBlocks = blocks.filter((b) => field(b, 'event') === 'step').map((b) => JSON.parse(field(b, 'data')!) as Record<string, unknown>)
    expect(stepBlocks.map((s) => [s['index'], s['kind'], s['actionId'], s['leaf']])).toEqual(steps.map((s) => [s.step.index, s.step.kind, t.taskId, s.leaf]))
    expect(stepBlocks.map((s) => s['summary'])).toEqual([
      'task received',
      'model call: model 0xabababab… (onnx, 4 ms)',
      'tool call: lookupAddress → ok',
      'tool call: price → TimeoutError',
      'wallet: 0.000000001 ETH to 0x00000000000000000000000000000000000a11ce (nonce 0), policy v1',
      'output: done',
    ])
    // ids: one sequence over progress lines and steps, increasing; status/end carry none
    const ids = blocks.filter((b) => field(b, 'id') !== undefined).map((b) => Number(field(b, 'id')))
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(ids.length)
    expect(blocks.filter((b) => ['status', 'end'].includes(field(b, 'event')!)).every((b) => field(b, 'id') === undefined)).toBe(true)
    expect(field(blocks.at(-1)!, 'event')).toBe('end')
    // the secret is in the task and a tool's arguments: the step events never carry it
    expect(blocks.filter((b) => field(b, 'event') === 'step').join('\n')).not.toContain(SECRET)
  })

  it('a step written twice (a re-run job, a second process) is listed once', async () => {
    const t = await newTask()
    const [first] = actionSteps(t.taskId)
    await addStep(t.taskId, first!)
    await addStep(t.taskId, first!)
    expect((await store.get(t.taskId))!.steps).toHaveLength(1)
  })

  it('resumes after Last-Event-ID: a stream cut mid-task and reopened loses and repeats nothing', async () => {
    const t = await newTask()
    const steps = actionSteps(t.taskId)
    await say(t.taskId, 'running')
    await addStep(t.taskId, steps[0]!)
    await addStep(t.taskId, steps[1]!)
    // the first connection reads the first steps, then drops
    const controller = new AbortController()
    const firstRes = await fetch(`${url}/tasks/${t.taskId}/events`, { signal: controller.signal })
    const seen = await readRaw(firstRes, (b) => b.filter((x) => field(x, 'event') === 'step').length === 2)
    controller.abort()
    const lastId = seen.filter((b) => field(b, 'id') !== undefined).map((b) => field(b, 'id')!).at(-1)!
    // the agent goes on while nobody listens
    for (const s of steps.slice(2)) await addStep(t.taskId, s)
    await say(t.taskId, 'more progress')
    const resumed = readRaw(await fetch(`${url}/tasks/${t.taskId}/events`, { headers: { 'last-event-id': lastId } }))
    await finish(t.taskId, steps.map((s) => s.step))
    const rest = await resumed
    const numbered = [...seen, ...rest].filter((b) => field(b, 'id') !== undefined)
    const all = (await store.get(t.taskId))!
    // every progress line and step exactly once, in order
    expect(numbered.map((b) => Number(field(b, 'id')))).toEqual(Array.from({ length: all.lastSeq! }, (_, i) => i + 1))
    expect(numbered.filter((b) => field(b, 'event') === 'step').map((b) => (JSON.parse(field(b, 'data')!) as { index: number }).index)).toEqual(steps.map((s) => s.step.index))
    expect(field(rest.at(-1)!, 'event')).toBe('end')
  })
})

describe('the typed client follows a task stream', () => {
  it('yields validated events; reconnects with Last-Event-ID when the connection drops, losing and repeating nothing', async () => {
    const t = await newTask()
    const steps = actionSteps(t.taskId)
    for (const s of steps.slice(0, 3)) await addStep(t.taskId, s)
    // a network that cuts the first two connections after 200 bytes
    let cuts = 2
    const seenHeaders: Array<string | null> = []
    const flaky: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      seenHeaders.push(new Headers(init?.headers).get('last-event-id'))
      if (cuts-- <= 0 || !res.body) return res
      let sent = 0
      const reader = res.body.getReader()
      const body = new ReadableStream<Uint8Array>({
        async pull(ctrl) {
          const { value, done } = await reader.read()
          if (done) return ctrl.close()
          const room = 200 - sent
          if (value.length >= room) {
            ctrl.enqueue(value.subarray(0, room))
            await reader.cancel()
            ctrl.error(new TypeError('terminated'))
            return
          }
          sent += value.length
          ctrl.enqueue(value)
        },
      })
      return new Response(body, { status: res.status, headers: res.headers })
    }
    const svc = createServiceClient({ url, fetch: flaky })
    const got: TaskStreamEvent[] = []
    const follow = (async () => {
      for await (const e of svc.events(t.taskId, { reconnectDelayMs: 20 })) {
        got.push(e)
        if (e.type === 'step' && e.step.index === 2) {
          for (const s of steps.slice(3)) await addStep(t.taskId, s)
          await finish(t.taskId, steps.map((x) => x.step))
        }
      }
    })()
    await follow
    expect(seenHeaders.length).toBeGreaterThanOrEqual(3)
    expect(seenHeaders[0]).toBeNull()
    expect(seenHeaders.slice(1).every((h) => h !== null)).toBe(true)
    const stepEvents = got.flatMap((e) => (e.type === 'step' ? [e.step] : []))
    expect(stepEvents.map((s) => [s.index, s.kind, s.leaf])).toEqual(steps.map((s) => [s.step.index, s.step.kind, s.leaf]))
    const ids = got.flatMap((e) => (e.type === 'step' || e.type === 'progress' ? [e.id] : []))
    expect(ids).toEqual(Array.from({ length: (await store.get(t.taskId))!.lastSeq! }, (_, i) => i + 1))
    expect(got.at(-1)).toMatchObject({ type: 'end', task: { status: 'completed', committed: true } })
    expect((got.at(-1) as { task: { steps: unknown[] } }).task.steps).toHaveLength(steps.length)
  })

  it('wait() hands each step to onStep in order', async () => {
    const t = await newTask()
    const steps = actionSteps(t.taskId)
    for (const s of steps) await addStep(t.taskId, s)
    await finish(t.taskId, steps.map((s) => s.step))
    const seen: number[] = []
    const done = await createServiceClient({ url }).wait(t.taskId, { onStep: (s) => seen.push(s.index) })
    expect(done.status).toBe('completed')
    expect(seen).toEqual(steps.map((s) => s.step.index))
  })

  it('refuses a step event that is not one (a service that is not Covenant, or a newer one that broke the format)', async () => {
    const fake: typeof fetch = async () =>
      new Response('event: step\ndata: {"seq":1,"index":-1,"kind":"mystery"}\nid: 1\n\n', { headers: { 'content-type': 'text/event-stream' } })
    const it = createServiceClient({ url: 'http://covenant.invalid', fetch: fake }).events('7-000000000001', { reconnects: 0 })
    await expect(it.next()).rejects.toThrow(ServiceResponseError)
    await expect(
      createServiceClient({ url: 'http://covenant.invalid', fetch: fake })
        .events('7-000000000001')
        .next()
        .catch((e: Error) => e.message),
    ).resolves.toMatch(/a step event that is not a trace step \(index: .*\)/)
  })
})
