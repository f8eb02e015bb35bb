import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { TraceWal, batchRoot, decodeBatch, encodeBatch, merkleProof, splitIntoBatches, stepLeaf, verifyChain, verifyMerkleProof } from '../trace/index.js'
import { sampleBodies } from '../trace/_fixtures.js'
import { EigenDAProxyClient } from './eigendaProxyClient.js'
import { LocalDAStore } from './localStore.js'
import { type DAServer, startDAServer } from './server.js'

// Downstream of src/trace: steps from the WAL, batched, put on DA over HTTP, fetched back,
// decoded and proven against their root, as a verifier would.
let dir: string
let store: LocalDAStore
let server: DAServer
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-batch-'))
  store = new LocalDAStore({ dir: join(dir, 'da') })
  server = await startDAServer({ store, port: 0 })
})
afterAll(async () => {
  await server?.close()
  // the server leaves its store to its owner: closed here, its open segment's file handle is
  // not left to the garbage collector (which made Node warn "Closing file descriptor …")
  await store?.close()
  await rm(dir, { recursive: true, force: true })
})

test('WAL → batches → DA → decode → Merkle proofs, resuming through the committed cursor', async () => {
  const wal = await TraceWal.open({ dir: join(dir, 'wal'), agentId: '5' })
  for (let a = 0; a < 5; a++) for (const body of sampleBodies(`task-${a}`)) await wal.appendNext(body)
  const { steps } = await wal.readAll()
  const da = new EigenDAProxyClient({ url: server.url, retries: 0 })

  const groups = splitIntoBatches(steps, 6_000)
  const published: { commitment: `0x${string}`; root: `0x${string}` }[] = []
  expect(groups.length).toBeGreaterThanOrEqual(2)
  for (const [sequence, group] of groups.entries()) {
    const cursor = await wal.readCursor()
    expect(cursor.nextIndex).toBe(group[0]!.index)
    const batch = { version: 1 as const, agentId: '5', sequence, steps: group }
    const root = batchRoot(batch)
    const commitment = await da.put(encodeBatch(batch, { maxBytes: 6_000 }))
    const ref = { sequence, firstIndex: group[0]!.index, stepCount: group.length, root, daCommitment: `0x${Buffer.from(commitment).toString('hex')}` as const }
    await wal.writeCursor({ ...cursor, pending: ref })
    published.push({ commitment: ref.daCommitment, root })
    await wal.writeCursor({ ...cursor, nextIndex: ref.firstIndex + ref.stepCount, nextSequence: sequence + 1, lastCommitted: ref, pending: null })
  }
  await wal.close()

  // a verifier: fetch each batch by its commitment and check it continues the chain
  const reopened = await TraceWal.open({ dir: join(dir, 'wal'), agentId: '5' })
  const cursor = await reopened.readCursor()
  expect(cursor.nextIndex).toBe(steps.length)
  expect(cursor.lastCommitted?.daCommitment).toBe(published.at(-1)?.commitment)
  let head = { agentId: '5', nextIndex: 0, prevHash: steps[0]!.prevHash }
  for (const { commitment, root } of published) {
    const batch = decodeBatch(await da.get(commitment), { start: head })
    expect(batchRoot(batch)).toBe(root)
    const leaves = batch.steps.map(stepLeaf)
    leaves.forEach((leaf, i) => expect(verifyMerkleProof(merkleProof(leaves, i), root, leaf)).toBe(true))
    head = verifyChain(batch.steps, { start: head }).head
  }
  expect(head.nextIndex).toBe(steps.length)
  await reopened.close()
})
