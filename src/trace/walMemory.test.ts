// The WAL keeps the uncommitted steps it wrote (bytes and leaves) for the committer. These
// tests hold it to what the disk says: the batch built from memory is byte for byte the
// batch built by decoding, validating and hashing the steps again; steps past the memory
// limit are read back from disk and checked; and a log damaged on disk is still refused when
// it is opened (validation at the trust boundary, the disk, still happens).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { batchRoot, encodeBatch, encodeEncodedBatch } from './batch.js'
import { encodeCheckedStep } from './builtStep.js'
import { canonicalize, canonicalStepTexts } from './canonical.js'
import { linkStep } from './chain.js'
import { WalCorruptedError } from './errors.js'
import { stepLeaf, stepPayload } from './leaf.js'
import type { JsonValue, StepBody } from './schemas.js'
import { AGENT_ID, sampleBodies, T0 } from './_fixtures.js'
import { TraceWal, walPaths } from './wal.js'

let dir: string
const open: TraceWal[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-walmem-'))
})
afterEach(async () => {
  for (const wal of open.splice(0)) await wal.close()
  await rm(dir, { recursive: true, force: true })
})
async function openWal(memoryBytes?: number): Promise<TraceWal> {
  const wal = await TraceWal.open({ dir, agentId: AGENT_ID, memoryBytes })
  open.push(wal)
  return wal
}

// without "__proto__" keys: a step holding one is refused (validation would turn it into a
// prototype), as the explicit test below shows, so it has no bytes to compare
const json: fc.Arbitrary<JsonValue> = fc
  .jsonValue({ maxDepth: 4 })
  .map((v) => JSON.parse(JSON.stringify(v), (k, x: unknown) => (k === '__proto__' ? undefined : x)) as JsonValue)
const body: fc.Arbitrary<StepBody> = fc.oneof(
  fc.record({ kind: fc.constant('input' as const), actionId: fc.string({ minLength: 1, maxLength: 20 }), timestamp: fc.nat(), task: json }),
  fc.record({ kind: fc.constant('output' as const), actionId: fc.string({ minLength: 1, maxLength: 20 }), timestamp: fc.nat(), result: json }),
  fc.record({
    kind: fc.constant('tool' as const),
    actionId: fc.string({ minLength: 1, maxLength: 20 }),
    timestamp: fc.nat(),
    tool: fc.string({ minLength: 1, maxLength: 30 }),
    args: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), json, { maxKeys: 4 }),
    outcome: fc.constant({ status: 'ok' as const, result: 'done' }),
  }),
  fc.constantFrom(...sampleBodies()),
)

describe('encodeCheckedStep', () => {
  test('gives the canonical bytes and the leaf that encoding and hashing the step again give', () => {
    fc.assert(
      fc.property(body, fc.nat(1000), (b, index) => {
        const step = linkStep({ agentId: AGENT_ID, nextIndex: index, prevHash: `0x${'ab'.repeat(32)}` }, b)
        const e = encodeCheckedStep(step)
        expect(new TextDecoder().decode(e.bytes)).toBe(canonicalize(step))
        expect(canonicalStepTexts(step).payloadText).toBe(canonicalize(stepPayload(step)))
        expect(e.leaf).toBe(stepLeaf(step))
      }),
      { numRuns: 300 },
    )
  })

  test('still refuses what the schema refuses, and fields validation would drop', () => {
    const ok = linkStep({ agentId: AGENT_ID, nextIndex: 0, prevHash: `0x${'00'.repeat(32)}` }, { kind: 'input', actionId: 'a', timestamp: T0, task: 1 })
    expect(() => encodeCheckedStep({ ...ok, actionId: 'x'.repeat(257) })).toThrow(/actionId/)
    expect(() => encodeCheckedStep({ ...ok, timestamp: 1.5 })).toThrow()
    expect(() => encodeCheckedStep({ ...ok, extra: true } as never)).toThrow()
    expect(() => encodeCheckedStep({ ...ok, task: JSON.parse('{"__proto__": ""}') as JsonValue } as never)).toThrow(/dropped/)
    const record = { ...sampleBodies()[1]! } as Extract<StepBody, { kind: 'inference' }>
    const inference = linkStep({ agentId: AGENT_ID, nextIndex: 1, prevHash: `0x${'00'.repeat(32)}` }, { ...record, record: { ...record.record, unknownField: 1 } as never })
    expect(() => encodeCheckedStep(inference)).toThrow(/dropped/)
  })
})

describe('the committer reuses what append computed', () => {
  test('blob and root from the WAL memory equal encodeBatch and batchRoot of the same steps, before and after a reopen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 12 }), fc.nat(5), fc.nat(3), async (bodies, from, sequence) => {
        await rm(dir, { recursive: true, force: true })
        const wal = await openWal()
        const steps = []
        for (const b of bodies) steps.push((await wal.appendNext(b, { durable: false })).step)
        const start = Math.min(from, steps.length - 1)
        const fresh = { version: 1 as const, agentId: AGENT_ID, sequence, steps: steps.slice(start) }
        const fromMemory = encodeEncodedBatch(AGENT_ID, sequence, await wal.encodedFrom(start))
        expect(Buffer.from(fromMemory.blob).equals(Buffer.from(encodeBatch(fresh)))).toBe(true)
        expect(fromMemory.root).toBe(batchRoot(fresh))
        await wal.close()
        open.splice(0)
        // recovered from disk after a restart: recomputed by the scan, the same again
        const again = await openWal()
        const recovered = encodeEncodedBatch(AGENT_ID, sequence, await again.encodedFrom(start))
        expect(Buffer.from(recovered.blob).equals(Buffer.from(fromMemory.blob))).toBe(true)
        expect(recovered.root).toBe(fromMemory.root)
        await again.close()
        open.splice(0)
      }),
      { numRuns: 40 },
    )
  })

  test('the memory holds at most its cap, counted to the byte, as steps pile up past it and across a reopen', async () => {
    const cap = 8_000
    const wal = await openWal(cap)
    const sum = async (from: number) => (await wal.encodedFrom(from)).reduce((n, e) => n + e.bytes.length, 0)
    const bodies = sampleBodies('pile')
    let peak = 0
    for (let i = 0; i < 600; i++) {
      await wal.appendNext(bodies[i % bodies.length]!, { durable: false })
      const use = wal.memoryUse
      peak = Math.max(peak, use.bytes)
      expect(use.bytes).toBeLessThanOrEqual(cap)
      expect(use.from + use.steps).toBe(i + 1) // the newest steps, up to the head
    }
    // the count is the bytes actually held (it once drifted below them, and the memory grew past its cap)
    const use = wal.memoryUse
    expect(use.bytes).toBe(await sum(use.from))
    expect(peak).toBeGreaterThan(cap * 0.75)
    // a reopen keeps the same bound (nothing committed: the whole backlog is scanned in)
    await wal.close()
    open.splice(0)
    const again = await openWal(cap)
    const after = again.memoryUse
    expect(after.bytes).toBeLessThanOrEqual(cap)
    expect(after.from + after.steps).toBe(600)
    expect(after.bytes).toBe((await again.encodedFrom(after.from)).reduce((n, e) => n + e.bytes.length, 0))
  })

  test('steps past the memory limit are read back from disk, checked, and give the same batch', async () => {
    const wal = await openWal(600) // a few steps' worth
    const steps = []
    for (let a = 0; a < 4; a++) for (const b of sampleBodies(`task-${a}`)) steps.push((await wal.appendNext(b, { durable: false })).step)
    const got = await wal.encodedFrom(0)
    expect(got.map((e) => e.step)).toEqual(steps)
    const fresh = { version: 1 as const, agentId: AGENT_ID, sequence: 0, steps }
    expect(encodeEncodedBatch(AGENT_ID, 0, got).root).toBe(batchRoot(fresh))
    // a step changed on disk behind the WAL's back is refused, not committed
    const path = walPaths(dir, AGENT_ID).log
    const bytes = await readFile(path)
    const at = bytes.indexOf(Buffer.from('"task-0"'))
    bytes.write('"task-X"', at)
    await writeFile(path, bytes)
    await expect(wal.encodedFrom(0)).rejects.toBeInstanceOf(WalCorruptedError)
  })

  test('a log damaged on disk is refused when it is opened: recovery validates what it reads', async () => {
    const wal = await openWal()
    for (const b of sampleBodies()) await wal.appendNext(b)
    await wal.close()
    open.splice(0)
    const path = walPaths(dir, AGENT_ID).log
    const good = await readFile(path)
    // 1. a byte flipped inside an early record (the checksum catches it; valid records follow)
    const flipped = Buffer.from(good)
    flipped[20] = flipped[20]! ^ 0x20
    await writeFile(path, flipped)
    await expect(TraceWal.open({ dir, agentId: AGENT_ID })).rejects.toBeInstanceOf(WalCorruptedError)
    // 2. a record rewritten with a good checksum but content the schema refuses
    const { encodeWalRecord } = await import('./wal.js')
    const bad = Buffer.concat([good, encodeWalRecord(Buffer.from(JSON.stringify({ kind: 'input', agentId: AGENT_ID, index: 5, junk: true })))])
    await writeFile(path, bad)
    await expect(TraceWal.open({ dir, agentId: AGENT_ID })).rejects.toBeInstanceOf(WalCorruptedError)
    // 3. the good log opens, and its memory matches it
    await writeFile(path, good)
    const reopened = await openWal()
    expect((await reopened.encodedFrom(0)).map((e) => e.leaf)).toEqual((await reopened.readAll()).leaves)
  })
})
