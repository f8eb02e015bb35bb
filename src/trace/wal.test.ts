import { spawnSync } from 'node:child_process'
import { appendFile, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { encodeStep } from './canonical.js'
import { linkStep, verifyChain } from './chain.js'
import { InvalidStepError, WalAppendError, WalCorruptedError, WalCursorError, type WalTornTail } from './errors.js'
import type { Step } from './schemas.js'
import { AGENT_ID, hash, sampleBodies, sampleSteps } from './_fixtures.js'
import { type CommittedCursor, TraceWal, encodeStepRecord, encodeWalRecord, initialCursor, readWalFile, walPaths } from './wal.js'

let dir: string
const open: TraceWal[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-wal-'))
})
afterEach(async () => {
  for (const wal of open.splice(0)) await wal.close()
  await rm(dir, { recursive: true, force: true })
})

async function openWal(onWarning?: (w: WalTornTail) => void): Promise<TraceWal> {
  const wal = await TraceWal.open({ dir, agentId: AGENT_ID, onWarning })
  open.push(wal)
  return wal
}
async function closeAll() {
  for (const wal of open.splice(0)) await wal.close()
}
const logPath = () => walPaths(dir, AGENT_ID).log

async function withSteps(n: number): Promise<{ steps: Step[]; offsets: number[] }> {
  const wal = await openWal()
  const offsets: number[] = []
  const steps = sampleSteps(n)
  for (const s of steps) offsets.push((await wal.append(s)).offset)
  await closeAll()
  return { steps, offsets }
}

function acceptable(step: unknown, head: { agentId: string; nextIndex: number; prevHash: string }): boolean {
  try {
    encodeStep(step as Step)
  } catch {
    return false
  }
  const s = step as Step
  return s.agentId === head.agentId && s.index === head.nextIndex && s.prevHash === head.prevHash
}

function caught(fn: () => Promise<unknown>): Promise<unknown> {
  return fn().then(
    () => {
      throw new Error('expected an error')
    },
    (err: unknown) => err,
  )
}

describe('append and read', () => {
  test('readFrom(i) returns exactly the steps from i on, chained, without reading the rest', async () => {
    const wal = await openWal()
    const results = []
    for (const body of sampleBodies()) results.push(await wal.appendNext(body))
    for (const i of [0, 1, 3, results.length - 1, results.length, results.length + 5]) {
      const { steps, leaves } = await wal.readFrom(i)
      expect(steps).toEqual(results.slice(i).map((r) => r.step))
      expect(leaves).toEqual(results.slice(i).map((r) => r.leaf))
    }
    await expect(wal.readFrom(-1)).rejects.toBeInstanceOf(WalAppendError)
    await closeAll()
    const again = await openWal()
    expect((await again.readFrom(2)).steps).toEqual(results.slice(2).map((r) => r.step))
  })

  test('readFrom(i, end) stops before end; walletStepsFrom lists the wallet steps with their leaves, as appended and after a reopen', async () => {
    const wal = await openWal()
    const results = []
    for (const body of [...sampleBodies('task-1'), ...sampleBodies('task-2')]) results.push(await wal.appendNext(body))
    expect((await wal.readFrom(2, 5)).steps).toEqual(results.slice(2, 5).map((r) => r.step))
    expect((await wal.readFrom(2, 2)).steps).toEqual([])
    expect((await wal.readFrom(3, 10_000)).steps).toEqual(results.slice(3).map((r) => r.step))
    await expect(wal.readFrom(3, 2)).rejects.toBeInstanceOf(WalAppendError)
    const wallet = results.filter((r) => r.step.kind === 'wallet').map((r) => ({ index: r.step.index, leaf: r.leaf }))
    expect(wallet.length).toBeGreaterThan(1)
    expect(wal.walletStepsFrom(0)).toEqual({ steps: wallet, end: results.length })
    expect(wal.walletStepsFrom(wallet[0]!.index + 1)).toEqual({ steps: wallet.slice(1), end: results.length })
    await closeAll()
    const again = await openWal()
    expect(again.walletStepsFrom(0)).toEqual({ steps: wallet, end: results.length })
    expect(again.leavesFrom(0)).toEqual(results.map((r) => r.leaf))
  })

  test('keepScan: readAll answers from what open() read until the first append or releaseScan, then reads the file again', async () => {
    const { steps } = await withSteps(5)
    const wal = await TraceWal.open({ dir, agentId: AGENT_ID, keepScan: true })
    open.push(wal)
    const first = await wal.readAll()
    expect(first.steps).toEqual(steps)
    expect(first.torn).toBeNull()
    // shared, not read again
    expect((await wal.readAll()).steps).toBe(first.steps)
    // an append lets it go: the next readAll reads the file, the new step with the others
    const added = await wal.appendNext(sampleBodies('task-9')[0]!)
    const after = await wal.readAll()
    expect(after.steps).not.toBe(first.steps)
    expect(after.steps).toEqual([...steps, added.step])
    expect((await wal.readAll()).steps).not.toBe(after.steps)
    await closeAll()

    // released by hand, or never kept: every readAll reads the file
    const released = await TraceWal.open({ dir, agentId: AGENT_ID, keepScan: true })
    open.push(released)
    released.releaseScan()
    const a = await released.readAll()
    expect(a.steps).toEqual(after.steps)
    expect((await released.readAll()).steps).not.toBe(a.steps)
    await closeAll()
    const plain = await openWal()
    expect((await plain.readAll()).steps).not.toBe((await plain.readAll()).steps)
  })

  test('durable: false writes without syncing: readable at once, kept on close and reopen, synced by the next durable append', async () => {
    const wal = await openWal()
    const bodies = sampleBodies()
    const quick = await wal.appendNext(bodies[0]!, { durable: false })
    expect((await wal.readAll()).steps).toEqual([quick.step])
    const synced = await wal.appendNext(bodies[1]!)
    await wal.appendNext(bodies[2]!, { durable: false })
    await wal.sync()
    await closeAll()
    const again = await openWal()
    const { steps } = await again.readAll()
    expect(steps.slice(0, 2)).toEqual([quick.step, synced.step])
    expect(steps).toHaveLength(3)
  })

  test('steps survive close and reopen; the head continues the chain', async () => {
    const wal = await openWal()
    expect(wal.head).toMatchObject({ nextIndex: 0 })
    const results = []
    for (const body of sampleBodies()) results.push(await wal.appendNext(body))
    expect(results[0]?.offset).toBe(8)
    await closeAll()
    const again = await openWal()
    const { steps, leaves, torn } = await again.readAll()
    expect(torn).toBeNull()
    expect(again.recovered).toBeNull()
    expect(steps).toEqual(results.map((r) => r.step))
    expect(leaves).toEqual(results.map((r) => r.leaf))
    expect(again.head).toEqual(verifyChain(steps).head)
    const bytes = await readFile(logPath())
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('CVNTWAL\x02')
    expect(bytes.readUInt32BE(8)).toBe(encodeStep(steps[0]!).length)
  })

  test('concurrent appends are serialized into one gapless chain', async () => {
    const wal = await openWal()
    const bodies = Array.from({ length: 30 }, (_, i) => sampleBodies(`t${i}`)[i % 6]!)
    const results = await Promise.all(bodies.map((b) => wal.appendNext(b)))
    expect(results.map((r) => r.step.index)).toEqual(bodies.map((_, i) => i))
    const { steps } = await wal.readAll()
    expect(verifyChain(steps).head.nextIndex).toBe(30)
  })

  test('refused appends change nothing (1,000 generated bad steps)', async () => {
    const wal = await openWal()
    const [first, second] = sampleSteps(2) as [Step, Step]
    await wal.append(first)
    const before = await readFile(logPath())
    const head = wal.head
    expect(await caught(() => wal.append(first))).toBeInstanceOf(WalAppendError)
    expect(await caught(() => wal.append({ ...second, prevHash: hash(3) }))).toBeInstanceOf(WalAppendError)
    expect(await caught(() => wal.append({ ...second, agentId: '43' }))).toBeInstanceOf(WalAppendError)
    expect(await caught(() => wal.append({ ...second, actionId: '' }))).toBeInstanceOf(InvalidStepError)
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            kind: fc.constantFrom('input', 'tool', 'wallet', 'output', 'other'),
            index: fc.oneof(fc.constant(1), fc.integer()),
            prevHash: fc.oneof(fc.constant(head.prevHash), fc.string()),
            agentId: fc.oneof(fc.constant(AGENT_ID), fc.string()),
            actionId: fc.string(),
            timestamp: fc.oneof(fc.nat(), fc.double()),
            task: fc.anything(),
            extra: fc.anything(),
          },
          { requiredKeys: ['kind', 'index'] },
        ),
        async (step) => {
          // a generated step can happen to be valid and next in line: that one is not a bad step
          fc.pre(!acceptable(step, head))
          const err = await caught(() => wal.append(step as unknown as Step))
          expect(err).toBeInstanceOf(BaseError)
          expect(wal.head).toEqual(head)
        },
      ),
      { numRuns: 1000 },
    )
    expect(await readFile(logPath())).toEqual(before)
    expect((await wal.append(second)).step.index).toBe(1)
  })

  test('readWalFile reads without the lock', async () => {
    const wal = await openWal()
    for (const s of sampleSteps(3)) await wal.append(s)
    const scan = await readWalFile(logPath(), AGENT_ID)
    expect(scan.steps).toHaveLength(3)
    expect(scan.offsets[0]).toBe(8)
  })
})

describe('sidecars', () => {
  const note = (i: number) => new TextEncoder().encode(`{"gas":"${21000 + i}"}`)

  test('kept in the step\'s record, returned by readAll and readWalFile, never part of the step, its leaf or a batch', async () => {
    const wal = await openWal()
    const bodies = sampleBodies()
    for (const [i, body] of bodies.entries()) await wal.appendNext(body, i % 2 === 0 ? { sidecar: note(i) } : {})
    const encoded = await wal.encodedFrom(0)
    await closeAll()
    // the same steps written without sidecars: the same leaves and the same bytes for a batch
    const plain = await TraceWal.open({ dir: join(dir, 'plain'), agentId: AGENT_ID })
    for (const body of bodies) await plain.appendNext(body)
    const plainEncoded = await plain.encodedFrom(0)
    await plain.close()
    expect(encoded.map((e) => e.leaf)).toEqual(plainEncoded.map((e) => e.leaf))
    expect(encoded.map((e) => Buffer.from(e.bytes).toString())).toEqual(plainEncoded.map((e) => Buffer.from(e.bytes).toString()))

    const again = await openWal()
    const read = await again.readAll()
    expect(read.leaves).toEqual(plainEncoded.map((e) => e.leaf))
    expect([...read.sidecars.keys()]).toEqual(bodies.flatMap((_, i) => (i % 2 === 0 ? [i] : [])))
    for (const [i, bytes] of read.sidecars) expect(Buffer.from(bytes).toString()).toBe(Buffer.from(note(i)).toString())
    // recovered steps hand the committer the step's bytes alone, and so does a read from disk
    expect((await again.encodedFrom(0)).map((e) => Buffer.from(e.bytes).toString())).toEqual(plainEncoded.map((e) => Buffer.from(e.bytes).toString()))
    expect((await again.readFrom(1)).steps).toEqual(read.steps.slice(1))
    const scan = await readWalFile(logPath(), AGENT_ID)
    expect(scan.sidecars).toEqual(read.sidecars)
  })

  test('a sidecar with a 0x00 byte, or one that makes the record too large, is refused and changes nothing', async () => {
    const wal = await openWal()
    await wal.appendNext(sampleBodies()[0]!)
    const before = await readFile(logPath())
    expect(await caught(() => wal.appendNext(sampleBodies()[1]!, { sidecar: Uint8Array.from([0x7b, 0, 0x7d]) }))).toMatchObject({
      name: 'WalAppendError',
      message: expect.stringMatching(/a sidecar may not hold a 0x00 byte/),
    })
    expect(await caught(() => wal.appendNext(sampleBodies()[1]!, { sidecar: new Uint8Array(0xffffff).fill(0x61) }))).toMatchObject({
      name: 'WalAppendError',
      message: expect.stringMatching(/the step and its sidecar are \d+ bytes, more than 16777215/),
    })
    expect(await readFile(logPath())).toEqual(before)
    expect((await wal.appendNext(sampleBodies()[1]!, { sidecar: note(1) })).step.index).toBe(1)
  })

  test('a record torn inside its sidecar is a torn tail, cut off like any other', async () => {
    const wal = await openWal()
    await wal.appendNext(sampleBodies()[0]!)
    const end = (await readFile(logPath())).length
    await wal.appendNext(sampleBodies()[1]!, { sidecar: note(1) })
    await closeAll()
    const full = await readFile(logPath())
    await writeFile(logPath(), full.subarray(0, full.length - 3))
    const again = await openWal()
    expect(again.recovered).toMatchObject({ offset: end })
    expect((await again.readAll()).sidecars.size).toBe(0)
  })

  test('a version 1 file is read as it is and its header becomes version 2 when opened for writing', async () => {
    const steps = sampleSteps(3)
    await writeFile(logPath(), Buffer.concat([Buffer.from('CVNTWAL\x01', 'latin1'), ...steps.map((s) => encodeWalRecord(encodeStep(s)))]))
    expect((await readWalFile(logPath(), AGENT_ID)).steps).toEqual(steps)
    expect((await readFile(logPath())).subarray(0, 8).toString('latin1')).toBe('CVNTWAL\x01') // reading changes nothing
    const wal = await openWal()
    expect((await readFile(logPath())).subarray(0, 8).toString('latin1')).toBe('CVNTWAL\x02')
    expect((await wal.readAll()).steps).toEqual(steps)
    const fourth = linkStep(wal.head, sampleBodies()[3]!)
    await wal.append(fourth, { sidecar: note(3) })
    await closeAll()
    const read = await (await openWal()).readAll()
    expect(read.steps).toEqual([...steps, fourth])
    expect(Buffer.from(read.sidecars.get(3)!).toString()).toBe('{"gas":"21003"}')
  })

  test('a header of a later version says to upgrade Covenant', async () => {
    const steps = sampleSteps(1)
    await writeFile(logPath(), Buffer.concat([Buffer.from('CVNTWAL\x03', 'latin1'), encodeStepRecord(encodeStep(steps[0]!))]))
    expect(await caught(() => openWal())).toMatchObject({ name: 'WalCorruptedError', offset: 0, message: expect.stringMatching(/format version 3.*upgrade Covenant/s) })
  })
})

describe('append listeners', () => {
  test('onAppend sees each step after it is written, in order, with its leaf; a refused step is not seen', async () => {
    const wal = await openWal()
    const seen: Array<{ index: number; leaf: string; onDisk: number }> = []
    const stop = wal.onAppend(({ step, leaf }) => seen.push({ index: step.index, leaf, onDisk: wal.head.nextIndex }))
    // a listener that throws fails nothing: the step is on disk
    wal.onAppend(() => {
      throw new Error('observer bug')
    })
    const steps = sampleSteps(4)
    const leaves: string[] = []
    for (const s of steps.slice(0, 3)) leaves.push((await wal.append(s)).leaf)
    await expect(wal.append(steps[0]!)).rejects.toThrow(WalAppendError)
    stop()
    await wal.append(steps[3]!)
    expect(seen).toEqual(leaves.map((leaf, i) => ({ index: i, leaf, onDisk: i + 1 })))
    expect((await wal.readAll()).steps).toHaveLength(4)
  })
})

describe('recovery', () => {
  test('a final record torn at any byte is cut off and reported with its offset', async () => {
    const { steps, offsets } = await withSteps(4)
    const full = await readFile(logPath())
    const start = offsets[3]!
    for (let cut = start + 1; cut < full.length; cut++) {
      await writeFile(logPath(), full.subarray(0, cut))
      const warnings: WalTornTail[] = []
      const wal = await openWal((w) => warnings.push(w))
      expect(warnings).toEqual([wal.recovered])
      expect(wal.recovered).toMatchObject({ name: 'WalTornTailWarning', offset: start, bytes: cut - start })
      expect((await readFile(logPath())).length).toBe(start)
      expect((await wal.readAll()).steps).toEqual(steps.slice(0, 3))
      // the chain continues where the complete records end
      expect((await wal.append(steps[3]!)).offset).toBe(start)
      await closeAll()
    }
    expect(await readFile(logPath())).toEqual(full)
  })

  test('a zero-filled or garbage tail is cut off', async () => {
    const { offsets } = await withSteps(3)
    const end = (await readFile(logPath())).length
    await appendFile(logPath(), Buffer.alloc(4096))
    const wal = await openWal()
    expect(wal.recovered).toMatchObject({ offset: end, bytes: 4096, reason: 'impossible record length 0' })
    await closeAll()
    await appendFile(logPath(), Buffer.from('{"not":"a record"}'))
    expect((await openWal()).recovered).toMatchObject({ offset: end })
    expect(offsets).toHaveLength(3)
  })

  test('damage before the end is an error naming the offset, and changes nothing', async () => {
    const { offsets } = await withSteps(5)
    const full = await readFile(logPath())
    const damaged = Buffer.from(full)
    damaged[offsets[1]! + 20] ^= 0x01
    await writeFile(logPath(), damaged)
    const err = (await caught(() => openWal())) as WalCorruptedError
    expect(err).toBeInstanceOf(WalCorruptedError)
    expect(err.offset).toBe(offsets[1])
    expect(err.message.replace(dir, '<dir>')).toMatchInlineSnapshot(`
      "The trace WAL <dir>/agent-42.wal is corrupted at byte 242: checksum mismatch, and a valid record follows at byte 961.

      This is not a torn final write (those are cut off automatically): valid data follows the damaged record.
      Stop the agent, keep a copy of the file, and restore it from a backup or from the committed batches on DA.
      Do not delete the file: steps in it may not be committed yet.
      Docs: src/trace/README.md#write-ahead-log"
    `)
    expect(await readFile(logPath())).toEqual(damaged)
    // the lock was released: a later open (after repair) works
    await writeFile(logPath(), full)
    expect((await openWal()).head.nextIndex).toBe(5)
  })

  test('a damaged length field in the middle is not mistaken for a torn tail', async () => {
    const { offsets } = await withSteps(5)
    const damaged = await readFile(logPath())
    damaged.writeUInt32BE(0x00ffffff, offsets[2]!)
    await writeFile(logPath(), damaged)
    const err = (await caught(() => openWal())) as WalCorruptedError
    expect(err).toBeInstanceOf(WalCorruptedError)
    expect(err.offset).toBe(offsets[2])
  })

  test('a record that is not a step, or does not chain, is corruption', async () => {
    const { steps } = await withSteps(2)
    await appendFile(logPath(), encodeWalRecord(Buffer.from('{"hello":"world"}')))
    expect(await caught(() => openWal())).toBeInstanceOf(WalCorruptedError)
    const good = (await readFile(logPath())).subarray(0, -(8 + 17))
    const skipped = linkStep({ agentId: AGENT_ID, nextIndex: 3, prevHash: hash(1) }, sampleBodies()[0]!)
    await writeFile(logPath(), Buffer.concat([good, encodeWalRecord(encodeStep(skipped))]))
    const err = (await caught(() => openWal())) as WalCorruptedError
    expect(err.offset).toBe(good.length)
    expect(err.message).toMatch(/expected index 2, found 3/)
    expect(steps).toHaveLength(2)
  })

  test('a file with the wrong header is corruption at byte 0', async () => {
    await writeFile(logPath(), Buffer.from('NOTAWAL!'))
    expect(await caught(() => openWal())).toMatchObject({ name: 'WalCorruptedError', offset: 0 })
  })
})

describe('lock', () => {
  test('one writer at a time; a file left by a dead holder decides nothing', async () => {
    await openWal()
    expect(await caught(() => openWal())).toMatchObject({ name: 'WalLockedError', pid: process.pid })
    await closeAll()
    // whatever a dead (or no) process left in the file, no kernel lock is held: it opens
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
    for (const left of [`${dead}\n`, '', `${process.pid}\n`, 'garbage']) {
      await writeFile(walPaths(dir, AGENT_ID).lock, left)
      expect((await openWal()).head.nextIndex).toBe(0)
      await closeAll()
    }
    // the lock file stays (unlinking it would let two contenders lock two inodes)
    expect(await readdir(dir)).toContain('agent-42.lock')
  })

  test('a closed WAL refuses appends', async () => {
    const wal = await openWal()
    await wal.close()
    expect(await caught(() => wal.appendNext(sampleBodies()[0]!))).toBeInstanceOf(WalAppendError)
  })
})

describe('committed cursor', () => {
  const ref = (sequence: number, firstIndex: number, stepCount: number) => ({
    sequence,
    firstIndex,
    stepCount,
    root: hash(sequence + 1),
    daCommitment: '0xc0ffee' as const,
  })

  test('moves forward atomically and resumes after reopening', async () => {
    const wal = await openWal()
    for (const s of sampleSteps(10)) await wal.append(s)
    expect(await wal.readCursor()).toEqual(initialCursor(AGENT_ID))
    const pending: CommittedCursor = { ...initialCursor(AGENT_ID), pending: ref(0, 0, 6) }
    await wal.writeCursor(pending)
    await wal.writeCursor(pending) // idempotent
    const committed: CommittedCursor = { ...pending, nextIndex: 6, nextSequence: 1, lastCommitted: ref(0, 0, 6), pending: null }
    await wal.writeCursor(committed)
    await closeAll()
    expect(await (await openWal()).readCursor()).toEqual(committed)
    expect((await readdir(dir)).sort()).toEqual(['agent-42.cursor.json', 'agent-42.lock', 'agent-42.wal'])
  })

  test('refuses to move back, past the head, or inconsistently', async () => {
    const wal = await openWal()
    for (const s of sampleSteps(10)) await wal.append(s)
    const committed: CommittedCursor = { ...initialCursor(AGENT_ID), nextIndex: 6, nextSequence: 1, lastCommitted: ref(0, 0, 6) }
    await wal.writeCursor(committed)
    const bad: CommittedCursor[] = [
      initialCursor(AGENT_ID),
      { ...committed, nextIndex: 11, lastCommitted: ref(0, 0, 11) },
      { ...committed, pending: ref(1, 6, 5) },
      { ...committed, pending: ref(2, 6, 2) },
      { ...committed, lastCommitted: ref(0, 1, 6) },
      { ...committed, agentId: '43' },
      { ...committed, version: 2 } as never,
    ]
    for (const cursor of bad) expect(await caught(() => wal.writeCursor(cursor))).toBeInstanceOf(WalCursorError)
    expect(await wal.readCursor()).toEqual(committed)
  })

  test('a damaged cursor file is a clear error', async () => {
    const wal = await openWal()
    await writeFile(walPaths(dir, AGENT_ID).cursor, '{"version":1')
    expect(await caught(() => wal.readCursor())).toBeInstanceOf(WalCursorError)
    await truncate(walPaths(dir, AGENT_ID).cursor, 0)
    expect(await caught(() => wal.readCursor())).toBeInstanceOf(WalCursorError)
  })
})
