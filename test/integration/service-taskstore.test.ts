import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { appendEvent, createTaskStore, queuedTaskState, type TaskState } from '../../src/service/taskStore.js'
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

  it('coalesces one process\'s updates of a task that pile up while one is written: every update applied, fewer writes', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    const writes: string[] = []
    const off = await stores[1]!.subscribe((e) => {
      if (e.taskId === id && e.state) writes.push(e.state.status)
    })
    await stores[0]!.create(task(id))
    const n = 30
    await Promise.all(Array.from({ length: n }, (_, i) => stores[0]!.update(id, (s) => appendEvent({ ...s, commitments: [...s.commitments, commitment(i)] }, `u${i}`))))
    const s = await stores[1]!.get(id)
    // in the order they were made
    expect(s!.commitments.map((c) => c.sequence)).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(s!.events.map((e) => e.message)).toEqual(Array.from({ length: n }, (_, i) => `u${i}`))
    // the create, then far fewer writes than updates (the first alone, the other 29 together)
    await expect.poll(() => writes.length).toBeGreaterThanOrEqual(2)
    expect(writes.length).toBeLessThan(n / 2)
    off()
  })

  it('a patch that throws fails its own update only; the others in the same write land', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.create(task(id))
    const results = await Promise.allSettled([
      stores[0]!.update(id, (s) => appendEvent(s, 'a')),
      stores[0]!.update(id, () => {
        throw new Error('bad patch')
      }),
      stores[0]!.update(id, (s) => appendEvent(s, 'b')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((await stores[1]!.get(id))!.events.map((e) => e.message)).toEqual(['a', 'b'])
  })

  it('an update made from a stale state (another process wrote meanwhile) is made again from the current one', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.create(task(id))
    await stores[0]!.update(id, (s) => appendEvent(s, 'first')) // store 0 now knows the state
    await stores[1]!.update(id, (s) => appendEvent(s, 'other process'))
    await stores[0]!.update(id, (s) => appendEvent(s, 'third'))
    expect((await stores[1]!.get(id))!.events.map((e) => e.message)).toEqual(['first', 'other process', 'third'])
  })

  it("updates a task it has not read from the state the caller expects (a worker's first write): no read; a wrong expectation costs a retry, never an update", async () => {
    const queued = (id: string) => queuedTaskState({ taskId: id, agentId: '1', agentName: 'a', task: { text: 'x', n: [1, 2] }, at: 1_700_000_000_000 })
    // right: the patch runs once, on the very object expected (nothing was read)
    const id = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.create(queued(id))
    const expected = queued(id)
    const seen: TaskState[] = []
    await stores[1]!.update(id, (s) => (seen.push(s), appendEvent({ ...s, status: 'running' }, 'running')), { expected })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toBe(expected)
    expect(await stores[0]!.get(id)).toMatchObject({ status: 'running', events: [{ message: 'queued' }, { message: 'running' }] })

    // wrong: another process wrote first; the update is made again from what the task holds
    const id2 = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.create(queued(id2))
    await stores[0]!.update(id2, (s) => appendEvent(s, 'cancel asked'))
    const seen2: TaskState[] = []
    await stores[1]!.update(id2, (s) => (seen2.push(s), appendEvent({ ...s, status: 'running' }, 'running')), { expected: queued(id2) })
    expect(seen2).toHaveLength(2)
    expect((await stores[0]!.get(id2))!.events.map((e) => e.message)).toEqual(['queued', 'cancel asked', 'running'])

    // a task that does not exist stays absent, whatever was expected
    const id3 = `1-${randomBytes(6).toString('hex')}`
    expect(await stores[1]!.update(id3, (s) => ({ ...s, status: 'running' }), { expected: queued(id3) })).toBeUndefined()
    expect(await stores[0]!.get(id3)).toBeUndefined()
  })

  it('updates of many tasks made at once (sent to Redis together): each is its own compare-and-set — written, made again from a changed state, or absent', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `${i}-${randomBytes(6).toString('hex')}`)
    for (const id of ids) await stores[0]!.create(task(id))
    // store 0 knows every task; then another process changes two of them
    await Promise.all(ids.map((id) => stores[0]!.update(id, (s) => appendEvent(s, 'seen'))))
    await stores[1]!.update(ids[7]!, (s) => appendEvent(s, 'other process'))
    await stores[1]!.update(ids[290]!, (s) => appendEvent(s, 'other process'))
    const missing = `gone-${randomBytes(6).toString('hex')}`
    const results = await Promise.all([...ids, missing].map((id) => stores[0]!.update(id, (s) => appendEvent({ ...s, status: 'completed' }, 'done'))))
    expect(results.at(-1)).toBeUndefined()
    expect(results.slice(0, -1).every((s) => s?.status === 'completed')).toBe(true)
    const read = await Promise.all(ids.map((id) => stores[1]!.get(id)))
    expect(read.map((s) => s!.events.map((e) => e.message).join(','))).toEqual(ids.map((_, i) => (i === 7 || i === 290 ? 'seen,other process,done' : 'seen,done')))
    expect(await stores[1]!.get(missing)).toBeUndefined()
  })

  it('creates of many tasks at once (sent to Redis together): each created once, listed and published; an existing one answered as it is', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `${i}-${randomBytes(6).toString('hex')}`)
    await stores[1]!.create(task(ids[5]!))
    await stores[1]!.update(ids[5]!, (s) => ({ ...s, status: 'running' }))
    const published = new Set<string>()
    const off = await stores[1]!.subscribe((e) => {
      if (ids.includes(e.taskId) && e.state?.status === 'queued') published.add(e.taskId)
    })
    const made = await Promise.all(ids.map((id) => stores[0]!.create(task(id))))
    expect(made.map((m) => m.created)).toEqual(ids.map((_, i) => i !== 5))
    expect(made[5]!.state.status).toBe('running')
    expect(made[6]!.state).toMatchObject({ taskId: ids[6], status: 'queued' })
    expect((await Promise.all(ids.map((id) => stores[1]!.get(id)))).map((s) => s?.taskId)).toEqual(ids)
    const listed = new Set((await stores[1]!.list({ limit: 1000 })).map((s) => s.taskId))
    expect(ids.every((id) => listed.has(id))).toBe(true)
    await expect.poll(() => published.size).toBe(299)
    off()
  })

  it('committed batches recorded beside tasks: one call for many, read merged on any process, told to subscribers; an update of the finished task keeps the lines readers saw', async () => {
    const ids = Array.from({ length: 3 }, () => `1-${randomBytes(6).toString('hex')}`)
    for (const id of ids) await stores[0]!.create(task(id))
    for (const id of ids.slice(0, 2)) {
      await stores[0]!.update(id, (s) => appendEvent({ ...s, status: 'completed', result: { output: 'ok', txHashes: [], stepIndices: [0, 1] } }, 'completed'))
    }
    const told: string[] = []
    const unsubscribe = await stores[1]!.subscribe((e) => {
      if (ids.includes(e.taskId) && e.state === undefined) told.push(e.taskId)
    })
    const batch = { sequence: 4, root: `0x${'ab'.repeat(32)}`, daCommitment: '0x02', txHash: null, firstIndex: 0, stepCount: 2 }
    const missing = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.addCommitments([...ids, missing].map((taskId) => ({ taskId, entry: { at: 5_000, commitment: batch } })))
    await expect.poll(() => told.sort()).toEqual([...ids].sort())
    unsubscribe()
    // a finished task: the batch and its line, numbered after the task's own
    const done = await stores[1]!.get(ids[0]!)
    expect(done!.commitments).toEqual([batch])
    expect(done!.events.at(-1)).toEqual({ at: 5_000, seq: done!.lastSeq, message: 'steps committed in batch 4 (root 0xabababab…); every step of the action is committed' })
    // a task not finished: the batch, no line
    const queued = await stores[1]!.get(ids[2]!)
    expect(queued!.commitments).toEqual([batch])
    expect(queued!.events.some((e) => e.message.startsWith('steps committed'))).toBe(false)
    // a task the store does not hold gets nothing (no key left behind)
    expect(await stores[1]!.get(missing)).toBeUndefined()
    // the finished task updated again (a re-run): made from what readers saw, its line kept under its number
    const seen = done!.events.at(-1)!
    const after = await stores[1]!.update(ids[0]!, (s) => appendEvent(s, 'looked at again'))
    expect(after!.events.slice(-2)).toEqual([seen, expect.objectContaining({ message: 'looked at again', seq: seen.seq! + 1 })])
    const reread = await stores[0]!.get(ids[0]!)
    expect(reread!.events.filter((e) => e.message.startsWith('steps committed'))).toEqual([seen])
    expect(reread!.commitments).toEqual([batch])
    // listed merged too
    const listed = await stores[0]!.list({ limit: 50 })
    expect(listed.find((t) => t.taskId === ids[1])!.commitments).toEqual([batch])
  })

  it('an entry beside a task that does not parse is left out of what readers see', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    await stores[0]!.create(task(id))
    const redis = new Redis(REDIS_URL)
    try {
      await redis.hset(`${PREFIX}:task:${id}:commits`, '1', 'not json', '2', JSON.stringify({ at: 1, commitment: { sequence: 'two' } }))
    } finally {
      redis.disconnect()
    }
    expect((await stores[1]!.get(id))!.commitments).toEqual([])
  })

  it('publishes every update to subscribers in other processes', async () => {
    const id = `1-${randomBytes(6).toString('hex')}`
    const seen: string[] = []
    const off = await stores[1]!.subscribe((e) => {
      if (e.taskId === id && e.state) seen.push(e.state.status)
    })
    await stores[0]!.create(task(id))
    await stores[0]!.update(id, (s) => ({ ...s, status: 'running' }))
    await stores[0]!.update(id, (s) => ({ ...s, status: 'completed' }))
    await expect.poll(() => seen).toEqual(['queued', 'running', 'completed'])
    off()
  })
})
