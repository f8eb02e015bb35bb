import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toHex, zeroHash } from 'viem'
import { registerTestAgent, startTestChain, type TestChain } from '../../test/fixtures/chain.js'
import { LocalDAStore } from '../da/localStore.js'
import { TraceWal, batchRoot, decodeBatch } from '../trace/index.js'
import { commitBatch, coverCalls } from './actions/commitBatch.js'
import { getBatch } from './actions/getBatch.js'
import { traceLogAbi } from './generated/abis.js'
import { CommitBundler } from './bundler.js'
import { Committer } from './committer.js'

let chain: TestChain
let tmp: string
/** The agents' one DA store (closed at the end: it holds its open segment's file). */
let da: LocalDAStore

beforeAll(async () => {
  chain = await startTestChain()
  tmp = mkdtempSync(join(tmpdir(), 'covenant-bundler-'))
  da = new LocalDAStore({ dir: join(tmp, 'da') })
})
afterAll(async () => {
  await chain?.stop()
  await da?.close()
  rmSync(tmp, { recursive: true, force: true })
})

const newAgent = () => registerTestAgent(chain)

/** An agent with `steps` steps in its WAL and a committer sending through `bundler`. */
async function agentWithSteps(name: string, steps: number, bundler: CommitBundler) {
  const agentId = await newAgent()
  const wal = await TraceWal.open({ dir: join(tmp, name), agentId: agentId.toString() })
  for (let i = 0; i < steps; i++) await wal.appendNext({ kind: 'output', actionId: `${name}-${i}`, timestamp: i, result: i })
  const committer = new Committer({ wal, da, client: chain.as(2), agentId, bundler })
  return { agentId, wal, committer }
}

const slotOf = (agentId: bigint, sequence: bigint) =>
  chain.reader.publicClient.readContract({ address: chain.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'batchHash', args: [agentId, sequence] })

describe('CommitBundler', () => {
  it("one operator's committers flushing together share one bundle transaction; each batch is readable and its blob verifies", async () => {
    const bundler = new CommitBundler({ client: chain.as(2), windowMs: 5_000 })
    const agents = []
    for (const [i, n] of ['a', 'b', 'c'].entries()) agents.push(await agentWithSteps(`wal-share-${n}`, i + 2, bundler))
    // all three attached and waiting: the bundle goes out at once, not after the 5 s window
    const started = Date.now()
    const flushed = await Promise.all(agents.map((a) => a.committer.flush()))
    expect(Date.now() - started).toBeLessThan(5_000)
    const txs = new Set(flushed.map((f) => f[0]!.txHash))
    expect(txs.size).toBe(1)
    const receipt = await chain.reader.publicClient.getTransactionReceipt({ hash: [...txs][0]! })
    for (const [i, a] of agents.entries()) {
      expect(flushed[i]!.map((b) => [b.sequence, b.stepCount, b.written])).toEqual([[0, i + 2, true]])
      expect(flushed[i]![0]!.gasUsed).toBe(receipt.gasUsed / 3n) // its share
      const onChain = await getBatch(chain.reader, a.agentId, 0n)
      expect(onChain).toMatchObject({ opened: false, transactionHash: receipt.transactionHash })
      expect(await slotOf(a.agentId, 0n)).toBe(zeroHash) // the bundle's one slot holds it
      const blob = decodeBatch(await da.get(flushed[i]![0]!.daCommitment))
      expect(batchRoot(blob)).toBe(onChain!.merkleRoot)
      expect(await a.wal.readCursor()).toMatchObject({ nextIndex: i + 2, nextSequence: 1, pending: null })
      await a.committer.stop()
      await a.wal.close()
    }
  })

  it('a lone batch is a plain commit; a batch after a detached committer does not wait for it', async () => {
    const bundler = new CommitBundler({ client: chain.as(2), windowMs: 60_000 })
    const a = await agentWithSteps('wal-lone-a', 2, bundler)
    const b = await agentWithSteps('wal-lone-b', 2, bundler)
    await b.committer.stop() // detached: a's batch is the only one coming
    const [batch] = await a.committer.flush()
    expect(await slotOf(a.agentId, 0n)).not.toBe(zeroHash) // its own slot: a plain commit
    expect(batch!.written).toBe(true)
    await a.committer.stop()
    await a.wal.close()
    await b.wal.close()
  })

  it("one agent's refused batch does not hold back the others: the bundle is retried batch by batch, each gets its own answer", async () => {
    const bundler = new CommitBundler({ client: chain.as(2), windowMs: 5_000 })
    const [good, bad, resent] = [await newAgent(), await newAgent(), await newAgent()]
    const batch = (agentId: bigint, tag: string) => ({ agentId, sequence: 0n, merkleRoot: toHex(tag, { size: 32 }), daCommitment: toHex(tag), stepCount: 2 })
    // the bad agent's sequence 0 holds another batch; the re-sent one is already on chain as is
    await commitBatch(chain.as(2), batch(bad, 'other'))
    const first = await commitBatch(chain.as(2), batch(resent, 'resent'))
    const detach = [bundler.attach(), bundler.attach(), bundler.attach()]
    const [g, b, r] = await Promise.allSettled([bundler.commit(batch(good, 'good')), bundler.commit(batch(bad, 'bad')), bundler.commit(batch(resent, 'resent'))])
    expect(g).toMatchObject({ status: 'fulfilled', value: { written: true } })
    expect(await getBatch(chain.reader, good, 0n)).toMatchObject({ opened: true, merkleRoot: toHex('good', { size: 32 }) })
    expect(b).toMatchObject({ status: 'rejected', reason: { name: 'ContractRevertError', errorName: 'SequenceTaken' } })
    expect(r).toMatchObject({ status: 'fulfilled', value: { written: false, hash: first.hash } })
    for (const d of detach) d()
  })

  it("the operator's other transactions (cover) go in line with the bundles: no nonce race between them", async () => {
    const bundler = new CommitBundler({ client: chain.as(2), windowMs: 5_000 })
    const [a, b, c] = [await newAgent(), await newAgent(), await newAgent()]
    const batch = (agentId: bigint, tag: string) => ({ agentId, sequence: 0n, merkleRoot: toHex(tag, { size: 32 }), daCommitment: toHex(tag), stepCount: 1 })
    await commitBatch(chain.as(2), batch(c, 'c'))
    const detach = [bundler.attach(), bundler.attach()]
    const results = await Promise.all([
      bundler.commit(batch(a, 'a')),
      bundler.serial(() => coverCalls(chain.as(2), { agentId: c, callsCovered: 0 })),
      bundler.commit(batch(b, 'b')),
    ])
    expect(results[0].hash).toBe(results[2].hash) // one bundle
    expect(results[1].hash).not.toBe(results[0].hash)
    for (const d of detach) d()
  })

  it('refuses a committer of another operator, and bad options', async () => {
    const bundler = new CommitBundler({ client: chain.as(2) })
    const wal = await TraceWal.open({ dir: join(tmp, 'wal-other-op'), agentId: '1' })
    expect(() => new Committer({ wal, da, client: chain.as(5), agentId: 1n, bundler })).toThrow(/give each operator its own CommitBundler/)
    await wal.close()
    expect(() => new CommitBundler({ client: chain.as(2), maxBatches: 257 })).toThrow(/1 to 256/)
    expect(() => new CommitBundler({ client: chain.as(2), windowMs: -1 })).toThrow(/windowMs/)
  })
})
