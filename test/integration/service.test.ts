import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withAccount } from '../../src/bonds/client.js'
import { createModerationClassifier } from '../../src/inference/moderation.js'
import { deployAgent, DEV_FUNDING } from '../../src/service/deployAgent.js'
import { startService, type Service } from '../../src/service/service.js'
import { startLocalStack, type LocalStack, onStack } from '../../src/service/stack.js'
import moderation from '../../examples/agents/moderation/agent.js'
import { createServiceClient, type TaskStreamEvent } from '../../src/service/client.js'
import { stepLeaf } from '../../src/trace/leaf.js'
import { stepSchema } from '../../src/trace/schemas.js'

const PASSWORD = 'test-password'
let stack: LocalStack
let service: Service
let dataDir: string

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-service-'))
  stack = await startLocalStack({ dataDir, announce: false })
  const owner = withAccount(stack.client, stack.accounts[1]!)
  const { record } = await deployAgent({ owner, da: stack.da, dataDir, agent: moderation, password: PASSWORD, scrypt: { N: 1024 }, fund: DEV_FUNDING })
  const classifier = await createModerationClassifier()
  service = await startService({
    agents: [{ agent: moderation, record }],
    ...onStack(stack),
    port: 0,
    password: PASSWORD,
    inference: { chat: () => undefined, onnx: async () => classifier },
    commitIntervalMs: 200,
  })
})

afterAll(async () => {
  await service?.close()
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${service.url}/tasks`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })

async function until<T>(fn: () => Promise<T | undefined>, what: string, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('the service API on the in-process queue', () => {
  it('runs a task end to end: queued → completed → committed', async () => {
    const res = await post({ agent: 'moderation', task: { postId: 'p1', text: 'Congratulations! You won a free iPhone, send your bank password to claim' } })
    expect(res.status).toBe(202)
    const { taskId } = (await res.json()) as { taskId: string }
    expect(taskId).toMatch(/^\d+-[0-9a-f]{12}$/)
    const done = await until(async () => {
      const t = (await (await fetch(`${service.url}/tasks/${taskId}`)).json()) as { status: string; commitments: unknown[]; result: unknown }
      return t.status === 'completed' && t.commitments.length > 0 ? t : undefined
    }, 'the task to complete and commit')
    // the classifier's label decided the tool call: a scam post is taken down
    expect(JSON.stringify(done.result)).toContain('"action":"remove"')
  })

  it("streams each of the task's trace steps in order, as committed: kind, index, action id and leaf", async () => {
    const svc = createServiceClient({ url: service.url })
    const { taskId } = await svc.submit({ agent: 'moderation', task: { postId: 'p-sse', text: 'Limited offer!!! Click here to claim your prize, send your password' } })
    const events: TaskStreamEvent[] = []
    for await (const e of svc.events(taskId)) events.push(e)
    const end = events.at(-1)
    expect(end).toMatchObject({ type: 'end', task: { status: 'completed', committed: true } })
    const streamed = events.flatMap((e) => (e.type === 'step' ? [e.step] : []))
    // the committed trace, read back from DA and checked against the chain
    const committed = (await svc.action(taskId)).steps.map((s) => stepSchema.parse(s['step']))
    expect(committed.length).toBeGreaterThanOrEqual(3)
    expect(streamed.map((s) => [s.index, s.kind, s.actionId, s.leaf])).toEqual(committed.map((s) => [s.index, s.kind, taskId, stepLeaf(s)]))
    expect(streamed[0]!.summary).toBe('task received')
    expect(streamed.some((s) => s.kind === 'inference' && s.summary.startsWith('model call: '))).toBe(true)
    expect(streamed.at(-1)!.summary).toBe('output: ok')
    // each step came before the status that followed it, and the steps are the task's own
    expect(events.findIndex((e) => e.type === 'step')).toBeLessThan(events.findIndex((e) => e.type === 'status' && e.task.status === 'completed'))
    expect(end?.type === 'end' && end.task.stepIndices).toEqual(streamed.map((s) => s.index))
  })

  it('answers a repeated action id from the first run and enqueues nothing new', async () => {
    const actionId = `${(await (await fetch(`${service.url}/agents`)).json() as { agents: Array<{ agentId: string }> }).agents[0]!.agentId}-00000000abcd`
    const first = await post({ agent: 'moderation', task: { postId: 'p2', text: 'hello neighbours, the bake sale is on Sunday' }, actionId })
    expect(first.status).toBe(202)
    const again = await post({ agent: 'moderation', task: { postId: 'p2', text: 'hello neighbours, the bake sale is on Sunday' }, actionId })
    expect(again.status).toBe(200)
    expect(((await again.json()) as { created: boolean }).created).toBe(false)
  })

  it('rejects bad requests with 4xx and a clear message, enqueuing nothing', async () => {
    const before = await service.queues.values().next().value!.counts()
    const cases: Array<[Response, number, string]> = [
      [await post('{not json'), 400, 'bad_json'],
      [await post({ agent: 'moderation' }), 400, 'bad_request'],
      [await post({ agent: 'nobody', task: 'x' }), 404, 'unknown_agent'],
      [await post({ agent: 'moderation', task: 'x', extra: 1 }), 400, 'bad_request'],
      [await post({ agent: 'moderation', task: 'x', actionId: 'nope' }), 400, 'bad_request'],
      [await post({ agent: 'moderation', task: 'x' }, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
      [await post({ agent: 'moderation', task: 'x'.repeat(300_000) }, { 'content-type': 'application/json', connection: 'close' }), 413, 'too_large'],
    ]
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe(code)
      expect(body.error.message.length).toBeGreaterThan(5)
    }
    const after = await service.queues.values().next().value!.counts()
    expect(after.waiting + after.active + after.completed + after.failed).toBe(before.waiting + before.active + before.completed + before.failed)
  })

  it('serves agents with bond, the explorer page and unknown routes as 404', async () => {
    const { agents } = (await (await fetch(`${service.url}/agents`)).json()) as { agents: Array<{ name: string; bond: { eth: string } }> }
    expect(agents[0]).toMatchObject({ name: 'moderation', bond: { eth: '2000000000000000000' } })
    const page = await fetch(`${service.url}/`)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(await page.text()).toContain('Covenant explorer')
    expect((await fetch(`${service.url}/nope`)).status).toBe(404)
  })
})
