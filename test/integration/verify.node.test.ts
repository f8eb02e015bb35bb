import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toHex } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { commitBatch, registerAgent } from '../../src/bonds/index.js'
import { mine } from '../../src/bonds/devTime.js'
import { LocalDAStore } from '../../src/da/index.js'
import { batchRoot, encodeBatch, TraceChain, genesisHead, type Step } from '../../src/trace/index.js'
import { VerifierNode, type VerifierEvent } from '../../src/verify/index.js'
import { ETH, tempDir } from '../../src/verify/_testing.js'

// The node's cursor: it survives restarts, one process owns a data dir, and a reorg makes
// it rewind to the newest block it processed that is still on the chain.
let chain: TestChain
let da: LocalDAStore
let root: string
let agentId: bigint

beforeAll(async () => {
  chain = await startTestChain()
  root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  ;({ agentId } = await registerAgent(chain.as(1), {
    operator: chain.account(2).address,
    wallet: chain.account(3).address,
    manifestHash: toHex('node-test', { size: 32 }),
    policy: { maxValuePerTx: ETH('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [chain.account(8).address], allowedSelectors: [] },
  }))
})

afterAll(async () => {
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

/** Commits one batch holding `texts` as output steps, continuing `trace`. */
async function commitOutputs(trace: TraceChain, sequence: number, texts: string[]): Promise<Step[]> {
  const steps = texts.map((t, i) => trace.append({ kind: 'output', actionId: `${agentId}-${'0'.repeat(11)}${i}`, timestamp: i, result: t }).step)
  const batch = { version: 1 as const, agentId: agentId.toString(), sequence, steps }
  const commitment = toHex(await da.put(encodeBatch(batch)))
  await commitBatch(chain.as(2), { agentId, sequence: BigInt(sequence), merkleRoot: batchRoot(batch), daCommitment: commitment, stepCount: steps.length })
  return steps
}

function node(dir: string, events: VerifierEvent[]) {
  return new VerifierNode({ client: chain.reader, da, dataDir: join(root, dir), pollIntervalMs: 50, onEvent: (e) => events.push(e) })
}

describe('the cursor', () => {
  it('resumes where it stopped after a restart, and one process owns a data dir', async () => {
    const trace = new TraceChain(genesisHead(agentId.toString()))
    await commitOutputs(trace, 0, ['a', 'b'])
    const first: VerifierEvent[] = []
    const n1 = node('restart', first)
    await n1.runOnce()
    const cursor = n1.state?.cursor
    expect(first.filter((e) => e.type === 'batch').map((e) => e.type === 'batch' && e.sequence)).toEqual([0n])

    // a second process on the same dir is refused while the first holds it
    const other = node('restart', [])
    await expect(other.runOnce()).rejects.toMatchObject({ name: 'VerifierLockedError' })
    await n1.stop()

    await commitOutputs(trace, 1, ['c'])
    const second: VerifierEvent[] = []
    const n2 = node('restart', second)
    await n2.runOnce()
    await n2.stop()
    const started = second.find((e) => e.type === 'started')
    expect(started?.type === 'started' && started.fromBlock).toBe(BigInt(cursor?.block ?? 0) + 1n)
    // only the new batch: nothing before the cursor is processed twice
    expect(second.filter((e) => e.type === 'batch').map((e) => e.type === 'batch' && e.sequence)).toEqual([1n])
  })

  it('rewinds on a reorg and processes the blocks that replaced the old ones', async () => {
    const pc = chain.reader.publicClient
    const events: VerifierEvent[] = []
    const n = node('reorg', events)
    await n.runOnce() // catch up: batches 0 and 1 of the previous test
    // the agent's chain so far (the previous test committed batches 0 and 1)
    const real = new TraceChain(genesisHead(agentId.toString()))
    for (const [i, t] of ['a', 'b', 'c'].entries()) real.append({ kind: 'output', actionId: `${agentId}-${'0'.repeat(11)}${i === 2 ? 0 : i}`, timestamp: i === 2 ? 0 : i, result: t })

    const snapshot = (await pc.request({ method: 'evm_snapshot' as never, params: [] as never })) as string
    const fork = new TraceChain(real.head)
    await commitOutputs(fork, 2, ['on the chain that will be dropped'])
    await n.runOnce()
    const beforeReorg = n.state?.cursor
    expect(events.filter((e) => e.type === 'batch').length).toBe(3)

    // the chain drops those blocks and grows a longer branch with another batch 2
    await pc.request({ method: 'evm_revert' as never, params: [snapshot] as never })
    const branch = new TraceChain(real.head)
    await commitOutputs(branch, 2, ['on the chain that stays', 'and one more step'])
    await mine(pc)
    await mine(pc)
    expect((await pc.getBlock({ blockNumber: BigInt(beforeReorg?.block ?? 0) })).hash).not.toBe(beforeReorg?.hash)

    await n.runOnce()
    await n.stop()
    const reorg = events.find((e) => e.type === 'reorg')
    expect(reorg).toBeDefined()
    const batches = events.filter((e): e is Extract<VerifierEvent, { type: 'batch' }> => e.type === 'batch')
    // batch 2 seen twice: first the dropped one (1 step), then its replacement (2 steps)
    expect(batches.map((b) => [b.sequence, b.steps, b.status])).toEqual([
      [0n, 2, 'ok'],
      [1n, 1, 'ok'],
      [2n, 1, 'ok'],
      [2n, 2, 'ok'],
    ])
    const cursor = n.state?.cursor
    expect((await pc.getBlock({ blockNumber: BigInt(cursor?.block ?? 0) })).hash).toBe(cursor?.hash)
  })
})
