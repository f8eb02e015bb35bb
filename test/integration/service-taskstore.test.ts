import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { appendEvent, createTaskStore, type TaskState } from '../../src/service/taskStore.js'
import { deleteRedisPrefix, REDIS_URL } from '../fixtures/serviceStack.js'

// The task store on the real Redis, as the API and every worker process share it.
const PREFIX = `svc-store-${randomBytes(5).toString('hex')}`
const stores = [createTaskStore({ redisUrl: REDIS_URL, prefix: PREFIX }), createTaskStore({ redisUrl: REDIS_URL, prefix: PREFIX })]

afterAll(async () => {
  for (const s of stores) await s.close()
  await deleteRedisPrefix(PREFIX)
})

function task(taskId: string): TaskState {
  return {
    taskId,
    agentId: '1',
    agentName: 'a',
    status: 'queued',
    task: 'x',
    createdAt: Date.now(),
    updatedAt: Date.now(),
    attempts: 0,
    result: null,
    error: null,
    commitments: [],
    events: [],
  }
}

const commitment = (sequence: number) => ({ sequence, root: '0x01', daCommitment: '0x02', txHash: null })

describe('the Redis task store', () => {
  it('loses no update when one process updates a task from two places at once', async () => {
    const [store] = stores
    const id = `1-${randomBytes(6).toString('hex')}`
    await store!.create(task(id))
    // a worker finishing the task while its committer attaches a batch, on one connection
    await Promise.all([
      store!.update(id, (s) => appendEvent({ ...s, status: 'completed', result: { output: 'ok', txHashes: [], stepIndices: [0, 1] } }, 'completed')),
      store!.update(id, (s) => appendEvent({ ...s, commitments: [...s.commitments, commitment(0)] }, 'committed')),
    ])
    const s = await store!.get(id)
    expect(s).toMatchObject({ status: 'completed', commitments: [commitment(0)] })
    expect(s!.events.map((e) => e.message).sort()).toEqual(['committed', 'completed'])
  })

  it('loses no update under many concurrent updates from two processes', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.create(task(id))
    const n = 40
    await Promise.all(
      Array.from({ length: n }, (_, i) => stores[i % 2]!.update(id, (s) => appendEvent({ ...s, commitments: [...s.commitments, commitment(i)] }, `u${i}`))),
    )
    const s = await stores[1]!.get(id)
    expect(s!.commitments.map((c) => c.sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
  })

  it('publishes every update to subscribers in other processes', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    const seen: string[] = []
    const off = await stores[1]!.subscribe((e) => {
      if (e.taskId === id) seen.push(e.state.status)
    })
    await stores[0]!.create(task(id))
    await stores[0]!.update(id, (s) => ({ ...s, status: 'running' }))
    await stores[0]!.update(id, (s) => ({ ...s, status: 'completed' }))
    await expect.poll(() => seen).toEqual(['queued', 'running', 'completed'])
    off()
  })
})
