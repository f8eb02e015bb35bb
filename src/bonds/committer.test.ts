import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerTestAgent, startTestChain, type TestChain } from '../../test/fixtures/chain.js'
import { bundleChild, type ChildBundle } from '../../test/fixtures/childBundle.js'
import { LocalDAStore } from '../da/localStore.js'
import { TraceWal, batchRoot, decodeBatch } from '../trace/index.js'
import { getBatch, getNextSequence } from './actions/getBatch.js'
import { serializeDeployment } from './deployment.js'
import { Committer } from './committer.js'

let chain: TestChain
let tmp: string

beforeAll(async () => {
  chain = await startTestChain()
  tmp = mkdtempSync(join(tmpdir(), 'covenant-committer-'))
})
afterAll(async () => {
  await chain?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

const newAgent = () => registerTestAgent(chain)

describe('Committer', () => {
  it('moves every WAL step into gapless batches whose blobs verify against the chain', async () => {
    const agentId = await newAgent()
    const wal = await TraceWal.open({ dir: join(tmp, 'wal-a'), agentId: agentId.toString() })
    const da = new LocalDAStore({ dir: join(tmp, 'da') })
    for (let i = 0; i < 10; i++) await wal.appendNext({ kind: 'output', actionId: `x-${i}`, timestamp: i, result: i })
    const committer = new Committer({ wal, da, client: chain.as(2), agentId, maxSteps: 4 })
    const batches = await committer.flush()
    expect(batches.map((b) => [b.sequence, b.firstIndex, b.stepCount])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
      [2, 8, 2],
    ])
    expect(await committer.flush()).toEqual([]) // nothing new: nothing sent
    for (const b of batches) {
      const onChain = await getBatch(chain.reader, agentId, BigInt(b.sequence))
      const blob = decodeBatch(await da.get(b.daCommitment))
      expect(onChain?.merkleRoot).toBe(batchRoot(blob))
      expect(onChain?.firstIndex).toBe(BigInt(b.firstIndex))
    }
    const cursor = await wal.readCursor()
    expect(cursor).toMatchObject({ nextIndex: 10, nextSequence: 3, pending: null })
    await wal.close()
    await da.close()
  })

  it('flush() commits every step written before the call, even while a flush that started earlier is still running', async () => {
    // the race that let an honest agent's wallet step be committed after its deadline: the
    // timer's flush starts, the agent writes a step, the operator flushes — and got the
    // running flush (which commits only what was written before *it* started)
    const agentId = await newAgent()
    const wal = await TraceWal.open({ dir: join(tmp, 'wal-race'), agentId: agentId.toString() })
    const da = new LocalDAStore({ dir: join(tmp, 'da') })
    await wal.appendNext({ kind: 'output', actionId: 'early', timestamp: 1, result: 1 })
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let puts = 0
    const committer = new Committer({ wal, da, client: chain.as(2), agentId, hooks: { afterPut: () => (++puts === 1 ? held : undefined) } })
    const first = committer.flush() // the timer's flush: holds step 0 only
    while (puts === 0) await new Promise((r) => setTimeout(r, 5))
    await wal.appendNext({ kind: 'output', actionId: 'late', timestamp: 2, result: 2 })
    const second = committer.flush() // the operator's: must cover step 1 too
    const third = committer.flush() // a caller meanwhile shares the follow-up run
    expect(third).toBe(second)
    release()
    expect((await first).map((b) => [b.firstIndex, b.stepCount])).toEqual([[0, 1]])
    expect((await second).map((b) => [b.firstIndex, b.stepCount])).toEqual([
      [0, 1],
      [1, 1],
    ])
    expect(await wal.readCursor()).toMatchObject({ nextIndex: 2, nextSequence: 2, pending: null })
    // with nothing new written, a call during a running flush shares it
    const again = committer.flush()
    expect(committer.flush()).toBe(again)
    expect(await again).toEqual([])
    await wal.close()
    await da.close()
  })

  it('refuses to commit as anyone but the operator', async () => {
    const agentId = await newAgent()
    const wal = await TraceWal.open({ dir: join(tmp, 'wal-b'), agentId: agentId.toString() })
    await wal.appendNext({ kind: 'output', actionId: 'x', timestamp: 1, result: 1 })
    const da = new LocalDAStore({ dir: join(tmp, 'da') })
    const committer = new Committer({ wal, da, client: chain.as(5), agentId })
    await expect(committer.flush()).rejects.toMatchObject({ name: 'ContractRevertError', errorName: 'NotOperator' })
    expect((await wal.readCursor()).nextIndex).toBe(0)
    await wal.close()
    await da.close()
  })

  describe('survives SIGKILL at every point without losing or duplicating a batch', () => {
    let child: ChildBundle
    beforeAll(async () => {
      child = await bundleChild(resolve('test/fixtures/committerChild.ts'))
    })
    afterAll(() => child?.dispose())
    for (const crashAt of ['afterAppend', 'afterPut', 'afterPending', 'afterCommit']) {
      it(crashAt, async () => {
        const agentId = await newAgent()
        const dirs = { walDir: join(tmp, `wal-${crashAt}`), daDir: join(tmp, 'da') }
        const run = (crash: string) =>
          spawnSync(process.execPath, [child.path], {
            encoding: 'utf8',
            timeout: 60_000,
            env: {
              ...process.env,
              CHILD_CONFIG: JSON.stringify({
                rpcUrl: chain.anvil.rpcUrl,
                deployment: serializeDeployment(chain.deployment),
                agentId: agentId.toString(),
                ...dirs,
                operatorIndex: 2,
                steps: 8,
                crashAt: crash,
                crashSeq: 1,
              }),
            },
          })
        const crashed = run(crashAt)
        expect(crashed.signal).toBe('SIGKILL')
        const resumed = run('never')
        expect(resumed.status, resumed.stderr).toBe(0)

        // 8 steps in batches of 3: exactly sequences 0, 1, 2 on chain, covering 0..7 once.
        expect(await getNextSequence(chain.reader, agentId)).toBe(3n)
        const wal = await TraceWal.open({ dir: dirs.walDir, agentId: agentId.toString() })
        const { steps } = await wal.readAll()
        expect(steps).toHaveLength(8)
        const da = new LocalDAStore({ dir: dirs.daDir })
        const covered: number[] = []
        for (let seq = 0n; seq < 3n; seq++) {
          const b = await getBatch(chain.reader, agentId, seq)
          const blob = decodeBatch(await da.get(await blobOf(wal, seq)))
          expect(batchRoot(blob)).toBe(b?.merkleRoot)
          covered.push(...blob.steps.map((s) => s.index))
        }
        expect(covered).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
        expect(await wal.readCursor()).toMatchObject({ nextIndex: 8, nextSequence: 3, pending: null })
        await wal.close()
        await da.close()
      })
    }
  })
})

/** The DA commitment of a committed batch, from the chain's BatchCommitted log. */
async function blobOf(wal: TraceWal, sequence: bigint) {
  const { traceLogAbi } = await import('./generated/abis.js')
  const logs = await chain.reader.publicClient.getContractEvents({
    address: chain.deployment.contracts.traceLog,
    abi: traceLogAbi,
    eventName: 'BatchCommitted',
    args: { agentId: BigInt(wal.agentId), sequence },
    fromBlock: 0n,
  })
  expect(logs).toHaveLength(1)
  return logs[0]!.args.daCommitment!
}
