import { type FileHandle, mkdtemp, open as openFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { WalAppendError } from './errors.js'
import type { StepBody } from './schemas.js'
import { AGENT_ID, T0 } from './_fixtures.js'
import { TraceWal, type WalAppendResult } from './wal.js'

// Group commit: writes are serial, fdatasyncs are shared. The file handle's methods are
// instrumented (on FileHandle's prototype) to see which datasync covers which write.

let dir: string
const opened: TraceWal[] = []
let proto: FileHandle
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-wal-gc-'))
  const fh = await openFile(join(dir, 'probe'), 'w')
  proto = Object.getPrototypeOf(fh) as FileHandle
  await fh.close()
})
afterEach(async () => {
  vi.restoreAllMocks()
  for (const wal of opened.splice(0)) await wal.close().catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

async function openWal(): Promise<TraceWal> {
  const wal = await TraceWal.open({ dir, agentId: AGENT_ID })
  opened.push(wal)
  return wal
}

const body = (i: number, actionId = `a-${i % 3}`): StepBody => ({ kind: 'output', actionId, timestamp: T0 + i, result: { i } })

/** A clock of events: each datasync's start (with how many records were written then) and end. */
type Log = { t: number; what: 'sync-start'; id: number; written: number } | { t: number; what: 'sync-end'; id: number }

/**
 * Instruments FileHandle.datasync: each call is logged with how many steps the WAL had
 * written when it started (records are written synchronously, so the head is exact), and
 * waits for `syncDelay` before the real datasync.
 */
function instrument(syncDelay: () => Promise<void> = async () => {}, wal?: () => TraceWal) {
  const log: Log[] = []
  let t = 0
  let syncs = 0
  const datasync = proto.datasync
  const sync = vi.spyOn(proto, 'datasync').mockImplementation(async function (this: FileHandle) {
    const id = ++syncs
    log.push({ t: ++t, what: 'sync-start', id, written: wal?.().head.nextIndex ?? -1 })
    await syncDelay()
    await datasync.call(this)
    log.push({ t: ++t, what: 'sync-end', id })
  })
  return { log, sync, now: () => ++t }
}

describe('group commit', () => {
  test('appends written while a datasync runs share the next one: 1 + 10 concurrent durable appends, 2 datasyncs', async () => {
    const wal = await openWal()
    const releases: (() => void)[] = []
    const { sync } = instrument(() => new Promise<void>((resolve) => releases.push(resolve)))
    const done: number[] = []
    const record = (r: WalAppendResult) => void done.push(r.step.index)
    const first = wal.appendNext(body(0)).then(record)
    // the first datasync starts (and is held) with step 0 written
    await vi.waitFor(() => expect(releases.length).toBe(1))
    const rest = Array.from({ length: 10 }, (_, i) => wal.appendNext(body(i + 1)).then(record))
    await vi.waitFor(() => expect(wal.head.nextIndex).toBe(11))
    releases.shift()!()
    await first
    // the ten written during the first datasync wait for a second one, started after their writes
    await vi.waitFor(() => expect(releases.length).toBe(1))
    expect(done).toEqual([0])
    releases.shift()!()
    await Promise.all(rest)
    expect(sync).toHaveBeenCalledTimes(2)
    expect(done).toEqual(Array.from({ length: 11 }, (_, i) => i))
  })

  test('property: every durable append returns only after a datasync that started after its write ended; returns and listeners in index order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ durable: fc.boolean(), gap: fc.nat(2) }), { minLength: 1, maxLength: 24 }),
        fc.array(fc.nat(3), { minLength: 1, maxLength: 8 }),
        async (plan, delays) => {
          const sub = join(dir, `p-${Math.random().toString(36).slice(2)}`)
          const wal = await TraceWal.open({ dir: sub, agentId: AGENT_ID })
          let d = 0
          const { log, sync, now } = instrument(
            () => new Promise((resolve) => setTimeout(resolve, delays[d++ % delays.length])),
            () => wal,
          )
          const seen: number[] = []
          wal.onAppend((a) => seen.push(a.step.index))
          const returned: { r: WalAppendResult; t: number; durable: boolean }[] = []
          try {
            const appends: Promise<void>[] = []
            for (const [i, p] of plan.entries()) {
              for (let g = 0; g < p.gap; g++) await new Promise((resolve) => setImmediate(resolve))
              appends.push(
                wal.appendNext(body(i), { durable: p.durable }).then((r) => {
                  returned.push({ r, t: now(), durable: p.durable })
                }),
              )
            }
            await Promise.all(appends)
            expect(returned.map((x) => x.r.step.index)).toEqual(plan.map((_, i) => i))
            expect(seen).toEqual(plan.map((_, i) => i))
            for (const x of returned) {
              if (!x.durable) continue
              // a datasync that started with this step already written, and ended before it returned
              const covering = log.filter((e): e is Extract<Log, { what: 'sync-start' }> => e.what === 'sync-start' && e.written > x.r.step.index).some((s) => {
                const end = log.find((e) => e.what === 'sync-end' && e.id === s.id)
                return end !== undefined && end.t < x.t
              })
              expect(covering, `step ${x.r.step.index} returned without a datasync covering it`).toBe(true)
            }
            // shared: never more datasyncs than durable appends
            expect(sync.mock.calls.length).toBeLessThanOrEqual(plan.filter((p) => p.durable).length)
          } finally {
            vi.restoreAllMocks()
            await wal.close()
          }
          const reopened = await TraceWal.open({ dir: sub, agentId: AGENT_ID })
          try {
            expect((await reopened.readAll()).steps.length).toBe(plan.length)
          } finally {
            await reopened.close()
          }
        },
      ),
      { numRuns: 40 },
    )
  })

  test('a failed datasync fails every append waiting for it and every later one; reopening recovers', async () => {
    const wal = await openWal()
    await wal.appendNext(body(0))
    const releases: (() => void)[] = []
    const datasync = vi.spyOn(proto, 'datasync').mockImplementation(
      () =>
        new Promise<void>((_, reject) => {
          releases.push(() => reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })))
        }),
    )
    const seen: number[] = []
    wal.onAppend((a) => seen.push(a.step.index))
    const waiting = [wal.appendNext(body(1)), wal.appendNext(body(2), { durable: false }), wal.appendNext(body(3))].map((p) => p.then(() => 'ok', (e: unknown) => e))
    await vi.waitFor(() => expect(datasync).toHaveBeenCalled())
    releases.shift()!()
    const outcomes = await Promise.all(waiting)
    for (const o of outcomes) expect(o).toBeInstanceOf(WalAppendError)
    expect(seen).toEqual([]) // no listener saw a step that did not become durable in order
    const later = await wal.appendNext(body(4)).then(() => 'ok', (e: unknown) => e)
    expect(later).toBeInstanceOf(WalAppendError)
    expect((later as WalAppendError).message).toMatch(/reopen the WAL/)
    await expect(wal.sync()).rejects.toBeInstanceOf(WalAppendError)
    vi.restoreAllMocks()
    await wal.close()
    opened.splice(opened.indexOf(wal), 1)
    // what reached the disk decides: here the page cache held the records, so they are back
    const again = await openWal()
    const { steps } = await again.readAll()
    expect(steps.map((s) => s.index).slice(0, 1)).toEqual([0])
    await again.appendNext(body(steps.length))
    expect(again.head.nextIndex).toBe(steps.length + 1)
  })

  test('sync() is covered like an append; readers see only acknowledged steps', async () => {
    const wal = await openWal()
    await wal.appendNext(body(0), { durable: false })
    const releases: (() => void)[] = []
    const datasync = proto.datasync
    let calls = 0
    vi.spyOn(proto, 'datasync').mockImplementation(async function (this: FileHandle) {
      // the first datasync is held; later ones pass
      if (calls++ === 0) await new Promise<void>((resolve) => releases.push(resolve))
      await datasync.call(this)
    })
    const durable = wal.appendNext(body(1))
    const synced = wal.sync()
    await vi.waitFor(() => expect(releases.length).toBe(1))
    // step 1 is written but not yet durable: the committer's reader does not see it
    expect(wal.head.nextIndex).toBe(2)
    expect((await wal.encodedFrom(0)).map((e) => e.step.index)).toEqual([0])
    expect((await wal.readFrom(0)).steps.map((s) => s.index)).toEqual([0])
    releases.shift()!()
    await durable
    await synced
    expect((await wal.encodedFrom(0)).map((e) => e.step.index)).toEqual([0, 1])
  })
})
