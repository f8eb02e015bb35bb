import { describe, expect, test } from 'vitest'
import { isFullyCommitted, withCommitmentEntries, type TaskCommitmentEntry } from './taskCommitments.js'
import { appendEvent, createTaskStore, queuedTaskState, type TaskState } from './taskStore.js'

const entry = (sequence: number, firstIndex: number, stepCount: number, at = 1_000 + sequence): TaskCommitmentEntry => ({
  at,
  commitment: { sequence, root: `0x${String(sequence).repeat(64).slice(0, 64)}`, daCommitment: '0x01', txHash: null, firstIndex, stepCount },
})
const completed = (stepIndices: number[]): TaskState => {
  const q = queuedTaskState({ taskId: 't', agentId: '1', agentName: 'a', task: 'x', at: 10 })
  return appendEvent({ ...q, status: 'completed', result: { output: 'ok', txHashes: [], stepIndices } }, 'completed', 20)
}

describe('committed batches merged into a task as it is read', () => {
  test('a finished task: each new batch added in sequence order, with its progress line numbered next; the last notes every step committed', () => {
    const s = completed([4, 5, 6])
    expect(s.lastSeq).toBe(2)
    const merged = withCommitmentEntries(s, [entry(8, 6, 10), entry(7, 0, 6)])
    expect(merged.commitments.map((c) => c.sequence)).toEqual([7, 8])
    expect(merged.events.slice(2)).toEqual([
      { at: 1_007, seq: 3, message: `steps committed in batch 7 (root ${entry(7, 0, 6).commitment.root.slice(0, 10)}…)` },
      { at: 1_008, seq: 4, message: `steps committed in batch 8 (root ${entry(8, 6, 10).commitment.root.slice(0, 10)}…); every step of the action is committed` },
    ])
    expect(merged).toMatchObject({ lastSeq: 4, updatedAt: 1_008 })
    expect(isFullyCommitted(merged)).toBe(true)
    // the same for every reader, whatever order the entries come in, and once only
    expect(withCommitmentEntries(s, [entry(7, 0, 6), entry(8, 6, 10), entry(7, 0, 6)])).toEqual(merged)
    expect(withCommitmentEntries(merged, [entry(7, 0, 6), entry(8, 6, 10)])).toBe(merged)
  })

  test('a task still running: the batches join its commitments, no progress line (its own next updates take those numbers)', () => {
    const q = queuedTaskState({ taskId: 't', agentId: '1', agentName: 'a', task: 'x', at: 10 })
    const running = appendEvent({ ...q, status: 'running' }, 'running', 15)
    const merged = withCommitmentEntries(running, [entry(3, 0, 2)])
    expect(merged.commitments.map((c) => c.sequence)).toEqual([3])
    expect(merged.events).toBe(running.events)
    expect(merged.lastSeq).toBe(running.lastSeq)
  })

  test('nothing new: the state itself', () => {
    const s = completed([0])
    expect(withCommitmentEntries(s, [])).toBe(s)
  })
})

describe('the in-memory task store records batches the same way', () => {
  test('merged on read, told to subscribers, unknown tasks left out; an update of the finished task keeps the line', async () => {
    const store = createTaskStore()
    const q = queuedTaskState({ taskId: 't1', agentId: '1', agentName: 'a', task: 'x', at: 10 })
    await store.create(q)
    await store.update('t1', (s) => appendEvent({ ...s, status: 'completed', result: { output: 'ok', txHashes: [], stepIndices: [0] } }, 'completed', 20))
    const told: (string | undefined)[] = []
    await store.subscribe((e) => void told.push(e.state === undefined ? e.taskId : undefined))
    await store.addCommitments([{ taskId: 't1', entry: entry(2, 0, 1) }, { taskId: 'nope', entry: entry(2, 0, 1) }])
    expect(told).toEqual(['t1'])
    expect(await store.get('nope')).toBeUndefined()
    const read = await store.get('t1')
    const line = read!.events.at(-1)!
    expect(line).toMatchObject({ seq: 3, message: expect.stringMatching(/^steps committed in batch 2 .*every step of the action is committed$/) })
    const after = await store.update('t1', (s) => appendEvent(s, 'again', 30))
    expect(after!.events.slice(-2)).toEqual([line, { at: 30, seq: 4, message: 'again' }])
    expect((await store.list())[0]!.events.filter((e) => e.message.startsWith('steps committed'))).toEqual([line])
    await store.close()
  })
})
