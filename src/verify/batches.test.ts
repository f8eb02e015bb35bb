import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { toHex, type Hex } from 'viem'
import { LocalDAStore } from '../da/index.js'
import { batchRoot, encodeBatch, merkleRoot, verifyChain, type Batch } from '../trace/index.js'
import { sampleSteps } from '../trace/_fixtures.js'
import { checkBatchBlob, fetchAndCheckBatch, type BatchEvent } from './batches.js'

const steps = sampleSteps(8, '42')
const first: Batch = { version: 1, agentId: '42', sequence: 0, steps: steps.slice(0, 4) }
const second: Batch = { version: 1, agentId: '42', sequence: 1, steps: steps.slice(4) }
const head0 = verifyChain(first.steps).head

function event(b: Batch, over: Partial<BatchEvent> = {}): BatchEvent {
  return {
    agentId: BigInt(b.agentId),
    sequence: BigInt(b.sequence),
    merkleRoot: batchRoot(b),
    daCommitment: '0x00',
    firstIndex: BigInt(b.steps[0]?.index ?? 0),
    stepCount: b.steps.length,
    committedAt: 1,
    blockNumber: 1n,
    blockHash: '0x',
    transactionHash: '0x',
    ...over,
  }
}

describe('checkBatchBlob', () => {
  it('accepts the committed batch and continues the previous head', () => {
    const r = checkBatchBlob(encodeBatch(second), event(second), head0)
    expect(r.status).toBe('ok')
    if (r.status === 'ok') expect(r.head.nextIndex).toBe(8)
  })

  it.each([
    ['bytes that are not a batch', new TextEncoder().encode('{"not":"a batch"}'), event(first), /not a valid trace batch/],
    ['another agent', encodeBatch(first), event(first, { agentId: 7n }), /agent 42's steps, not agent 7's/],
    ['another sequence', encodeBatch(first), event(first, { sequence: 3n }), /sequence 0, the chain 3/],
    ['another step count', encodeBatch(first), event(first, { stepCount: 5 }), /4 steps, the chain committed 5/],
    ['another first index', encodeBatch(second), event(second, { firstIndex: 5n }), /starts at step 4, the chain at 5/],
    ['another root', encodeBatch(first), event(first, { merkleRoot: `0x${'11'.repeat(32)}` }), /Merkle root is 0x/],
  ] as const)('calls %s invalid', (_what, blob, ev, reason) => {
    const r = checkBatchBlob(blob, ev)
    expect(r.status).toBe('invalid')
    expect(r.status === 'invalid' && r.reason).toMatch(reason)
  })

  it('calls a batch that does not continue the previous one invalid', () => {
    const other = sampleSteps(8, '42').map((s, i) => (i === 4 ? s : s))
    const forkHead = { ...head0, prevHash: `0x${'22'.repeat(32)}` as Hex }
    const r = checkBatchBlob(encodeBatch({ ...second, steps: other.slice(4) }), event(second), forkHead)
    expect(r.status).toBe('invalid')
    expect(r.status === 'invalid' && r.reason).toMatch(/chain broken at step 4/i)
  })

  it('agrees with merkleRoot over the leaves', () => {
    const r = checkBatchBlob(encodeBatch(first), event(first))
    expect(r.status === 'ok' && merkleRoot(r.leaves)).toBe(batchRoot(first))
  })
})

describe('fetchAndCheckBatch', () => {
  it('says unavailable for a blob the store does not have, invalid for a commitment that names none', async () => {
    const da = new LocalDAStore({ dir: await mkdtemp(join(tmpdir(), 'verify-batches-')) })
    const commitment = toHex(await da.put(encodeBatch(first)))
    expect((await fetchAndCheckBatch(da, event(first, { daCommitment: commitment }))).status).toBe('ok')
    const missing = `0xc0${'ab'.repeat(32)}` as Hex
    const gone = await fetchAndCheckBatch(da, event(first, { daCommitment: missing }))
    expect(gone).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/^BlobNotFoundError/) })
    const garbage = await fetchAndCheckBatch(da, event(first, { daCommitment: '0xc001' }))
    expect(garbage.status).toBe('invalid')
    await da.close()
  })
})
