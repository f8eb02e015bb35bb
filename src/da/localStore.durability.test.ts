import { spawn } from 'node:child_process'
import { type FileHandle, appendFile, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Hex } from 'viem'
import { afterEach, beforeEach, describe, expect, onTestFinished, test, vi } from 'vitest'
import { bundleChild } from '../../test/fixtures/childBundle.js'
import { localCommitment } from './commitment.js'
import { scanSegment } from './blobLog.js'
import { RECORD_BLOB, encodeRecordHeader } from './segmentFormat.js'
import { createHash } from 'node:crypto'
import { BlobNotFoundError, BlobTooLargeError } from './errors.js'
import { LocalDAStore } from './localStore.js'
import { bytesOf } from './_helpers.js'

// The store's promises, and what it costs to keep them: one fdatasync per put (a directory
// fsync only when a segment is created or adopted), nothing read before it is written, a blob
// stored already not written again; a blob whose put resolved survives a kill -9, a kill -9 at
// any moment leaves no wrong blob readable, and a torn record at a segment's end is left out
// (and cut off by the segment's next writer).

const CHILD = fileURLToPath(new URL('./localStore.crash-child.ts', import.meta.url))

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-dur-'))
})
afterEach(async () => {
  vi.restoreAllMocks()
  await rm(dir, { recursive: true, force: true })
})

const fsCjs = createRequire(import.meta.url)('node:fs') as { fsync: (fd: number, cb: (err: Error | null) => void) => void }
const realFsync = fsCjs.fsync
afterEach(() => {
  fsCjs.fsync = realFsync
  syncBuiltinESMExports()
})

/**
 * Counts the FileHandle calls a put makes (on the class behind fs/promises `open`, which node
 * does not export), and the fsyncs of a file descriptor (src/fs/syncDir.ts) as `sync`.
 */
async function countCalls() {
  const fh = await open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(fh) as Pick<FileHandle, 'datasync' | 'sync' | 'read'>
  await fh.close()
  await rm(join(dir, 'probe'))
  const counts = { datasync: 0, sync: 0, read: 0 }
  for (const name of ['datasync', 'sync', 'read'] as const) {
    const original = proto[name] as (...a: unknown[]) => Promise<unknown>
    vi.spyOn(proto, name).mockImplementation(function (this: FileHandle, ...a: unknown[]) {
      counts[name]++
      return original.apply(this, a)
    } as never)
  }
  fsCjs.fsync = (fd, cb) => {
    counts.sync++
    realFsync(fd, cb)
  }
  syncBuiltinESMExports()
  return counts
}

/** The segment files under `dir`, oldest first, with their sizes. */
async function segments(): Promise<{ path: string; size: number }[]> {
  const names = (await readdir(join(dir, 'segments')).catch(() => [] as string[])).sort()
  return Promise.all(names.map(async (n) => ({ path: join(dir, 'segments', n), size: (await stat(join(dir, 'segments', n))).size })))
}

/** A whole record (header and body) for `blob`, as a writer lays it out. */
function recordOf(blob: Uint8Array): Buffer {
  const sha256 = createHash('sha256').update(blob).digest()
  return Buffer.concat([encodeRecordHeader({ kind: RECORD_BLOB, length: blob.length, sha256, keccak256: null }), blob])
}

/** Byte equality of two large arrays (toEqual compares them element by element: seconds a MiB). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

async function notFound(p: Promise<unknown>): Promise<boolean> {
  return p.then(
    () => false,
    (e: unknown) => e instanceof BlobNotFoundError,
  )
}

describe('LocalDAStore durability', () => {
  test('a put costs one fdatasync and no directory fsync once its segment exists, and reads nothing; a repeat costs nothing', async () => {
    const store = new LocalDAStore({ dir })
    const counts = await countCalls()
    await store.put(bytesOf(10, 1))
    // the first put creates segments/ (its name made durable: an fsync of the store's directory)
    // and a segment in it (its name made durable: an fsync of segments/)
    expect(counts).toEqual({ datasync: 1, sync: 2, read: 0 })
    const first = bytesOf(300_000, 2)
    const c = await store.put(first)
    expect(counts).toEqual({ datasync: 2, sync: 2, read: 0 })
    for (let n = 0; n < 5; n++) await store.put(bytesOf(1000 + n, 10 + n))
    expect(counts).toEqual({ datasync: 7, sync: 2, read: 0 })
    // a streamed put: the same
    const upload = await store.beginPut()
    for (let at = 0; at < 50_000; at += 4096) upload.write(bytesOf(50_000, 20).slice(at, at + 4096))
    await upload.finish()
    expect(counts).toEqual({ datasync: 8, sync: 2, read: 0 })
    // a second put of the same bytes is not stored again: no write, no sync, no read
    const before = await segments()
    await store.put(first)
    const again = await store.beginPut()
    again.write(first)
    expect(await again.finish()).toEqual(c)
    expect(counts).toEqual({ datasync: 8, sync: 2, read: 0 })
    expect(await segments()).toEqual(before)
    expect(await store.get(c)).toEqual(first)
    await store.close()
  })

  test('a new instance adopts the segment the last one closed: one fdatasync and one directory fsync once, then one fdatasync per put', async () => {
    const a = new LocalDAStore({ dir })
    const kept = await a.put(bytesOf(1000, 1))
    await a.close()
    const b = new LocalDAStore({ dir })
    const counts = await countCalls()
    await b.put(bytesOf(1000, 2))
    expect(counts).toMatchObject({ datasync: 2, sync: 1 })
    await b.put(bytesOf(1000, 3))
    expect(counts).toMatchObject({ datasync: 3, sync: 1 })
    expect(await segments()).toHaveLength(1)
    expect(await b.get(kept)).toEqual(bytesOf(1000, 1))
    // two instances at once write two segments (a kernel lock on each), and read each other's blobs
    const c = new LocalDAStore({ dir })
    const fromC = await c.put(bytesOf(1000, 4))
    expect(await segments()).toHaveLength(2)
    expect(await b.get(fromC)).toEqual(bytesOf(1000, 4))
    expect(await c.get(localCommitment(bytesOf(1000, 3)))).toEqual(bytesOf(1000, 3))
    await Promise.all([b.close(), c.close()])
  })

  test('a streamed put is the same blob as a whole put, and an aborted one leaves nothing', async () => {
    const store = new LocalDAStore({ dir })
    const blob = bytesOf(200_000, 3)
    const upload = await store.beginPut()
    for (let at = 0; at < blob.length; at += 4096) upload.write(blob.slice(at, at + 4096))
    const c = await upload.finish()
    expect(c).toEqual(await store.put(blob))
    const before = await segments()
    const aborted = await store.beginPut()
    aborted.write(bytesOf(1000, 4))
    await aborted.abort()
    expect(await segments()).toEqual(before)
    expect(before).toHaveLength(1)
    expect(before[0]!.size).toBe(8 + 80 + 200_000)
    await store.close()
  })

  test('a streamed put past the limit throws at the chunk that passes it, and nothing is stored', async () => {
    const store = new LocalDAStore({ dir, maxBlobBytes: 10_000 })
    const upload = await store.beginPut()
    upload.write(bytesOf(6_000, 5))
    expect(() => upload.write(bytesOf(6_000, 6))).toThrow(BlobTooLargeError)
    await upload.abort()
    expect((await segments()).map((s) => s.size)).toEqual([8])
    await store.close()
  })

  test('a streamed body over 2 MiB starts its writeback every 2 MiB as it arrives; one written in one piece, or up to 2 MiB, starts none', async () => {
    const store = new LocalDAStore({ dir })
    const counts = await countCalls()
    const big = bytesOf(5 * 1024 * 1024 + 123, 7)
    const upload = await store.beginPut()
    const chunk = 64 * 1024
    for (let at = 0; at < 4.5 * 1024 * 1024; at += chunk) {
      upload.write(big.subarray(at, at + chunk))
      await new Promise((r) => setImmediate(r)) // the chunks come from a socket, not all at once
    }
    // before the body has all arrived: the first 4 MiB are on their way to the disk
    await vi.waitFor(() => expect(counts.datasync).toBe(2))
    for (let at = 4.5 * 1024 * 1024; at < big.length; at += chunk) upload.write(big.subarray(at, at + chunk))
    const c = await upload.finish()
    expect(counts.datasync).toBe(3) // and the commit's own
    expect(c).toEqual(localCommitment(big))
    expect(same(await store.get(c), big)).toBe(true)
    // the same size put whole, and a 2 MiB body streamed: the commit's fdatasync alone
    await store.put(bytesOf(5 * 1024 * 1024 + 123, 8))
    expect(counts.datasync).toBe(4)
    const two = bytesOf(2 * 1024 * 1024, 9)
    const small = await store.beginPut()
    for (let at = 0; at < two.length; at += chunk) small.write(two.subarray(at, at + chunk))
    await small.finish()
    expect(counts.datasync).toBe(5)
    await store.close()
    const other = new LocalDAStore({ dir })
    expect(same(await other.get(c), big)).toBe(true)
    await other.close()
  })

  test('an early writeback that fails fails the put (an fdatasync error is reported once: none is left unread), and the store goes on in a segment it trusts', async () => {
    const store = new LocalDAStore({ dir })
    const kept = await store.put(bytesOf(1_000, 1))
    const fh = await open(join(dir, 'probe'), 'w')
    const proto = Object.getPrototypeOf(fh) as Pick<FileHandle, 'datasync'>
    await fh.close()
    const datasync = proto.datasync
    let fail = 0
    let calls = 0
    vi.spyOn(proto, 'datasync').mockImplementation(function (this: FileHandle) {
      calls++
      if (fail > 0) {
        fail--
        return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }))
      }
      return datasync.call(this)
    })
    const big = bytesOf(3 * 1024 * 1024, 2)
    const upload = await store.beginPut()
    fail = 1 // the next fdatasync: the early one
    for (let at = 0; at < big.length; at += 64 * 1024) upload.write(big.subarray(at, at + 64 * 1024))
    await expect(upload.finish()).rejects.toThrow(/EIO/)
    expect(fail).toBe(0) // the early one failed (the commit's own comes only after it), the commit's would pass
    expect(await notFound(store.get(localCommitment(big)))).toBe(true)
    // an aborted upload whose early writeback failed: abort settles, nothing is stored
    const aborted = await store.beginPut()
    fail = 1
    for (let at = 0; at < big.length; at += 64 * 1024) aborted.write(big.subarray(at, at + 64 * 1024))
    await vi.waitFor(() => expect(fail).toBe(0))
    await aborted.abort()
    expect(await notFound(store.get(localCommitment(big)))).toBe(true)
    // the segment was let go, not reused as it stood: the next put adopts it afresh (its tail
    // cut back, an fdatasync before any record follows), and is whole
    calls = 0
    const again = await store.put(big)
    expect(calls).toBe(2)
    expect(same(await store.get(again), big)).toBe(true)
    await store.close()
    // a fresh instance reads the acknowledged blobs
    const other = new LocalDAStore({ dir })
    expect(await other.get(kept)).toEqual(bytesOf(1_000, 1))
    expect(same(await other.get(again), big)).toBe(true)
    await other.close()
  })

  test('a segment is closed once it holds segmentBytes; the next put opens another', async () => {
    const store = new LocalDAStore({ dir, segmentBytes: 3_000 })
    const cs = []
    for (let n = 0; n < 6; n++) cs.push(await store.put(bytesOf(1_000, 30 + n)))
    expect((await segments()).map((s) => s.size)).toEqual([8 + 3 * 1080, 8 + 3 * 1080])
    const other = new LocalDAStore({ dir })
    for (const [n, c] of cs.entries()) expect(await other.get(c)).toEqual(bytesOf(1_000, 30 + n))
    await Promise.all([store.close(), other.close()])
  })

  test('a torn record at a segment\'s end is left out, never read as a blob, and cut off by the next writer', async () => {
    const shapes: { name: string; tail: (rec: Buffer) => Buffer }[] = [
      { name: 'body cut short', tail: (rec) => rec.subarray(0, rec.length - 100) },
      { name: 'header cut short', tail: (rec) => rec.subarray(0, 50) },
      { name: 'whole length, body not written (zeros: a power cut)', tail: (rec) => Buffer.concat([rec.subarray(0, 80), Buffer.alloc(rec.length - 80)]) },
      { name: 'body written, header not (a kill -9 before the header)', tail: (rec) => Buffer.concat([Buffer.alloc(80), rec.subarray(80)]) },
      { name: 'one body byte wrong', tail: (rec) => Buffer.concat([rec.subarray(0, 500), Buffer.from([rec[500]! ^ 1]), rec.subarray(501)]) },
    ]
    for (const [i, shape] of shapes.entries()) {
      await rm(join(dir, 'segments'), { recursive: true, force: true })
      const a = new LocalDAStore({ dir })
      const kept = [await a.put(bytesOf(2_000, 40 + i)), await a.put(bytesOf(3_000, 50 + i))]
      await a.close()
      const [seg] = await segments()
      const torn = bytesOf(4_000, 60 + i)
      await appendFile(seg!.path, shape.tail(recordOf(torn)))
      const b = new LocalDAStore({ dir })
      expect(await b.get(kept[0]!), shape.name).toEqual(bytesOf(2_000, 40 + i))
      expect(await b.get(kept[1]!), shape.name).toEqual(bytesOf(3_000, 50 + i))
      expect(await notFound(b.get(localCommitment(torn))), shape.name).toBe(true)
      // the next put adopts the segment: the torn tail goes, the new record takes its place
      const next = await b.put(bytesOf(500, 70 + i))
      expect((await segments()).map((s) => s.size), shape.name).toEqual([seg!.size + 580])
      expect(await b.get(next)).toEqual(bytesOf(500, 70 + i))
      // and the torn blob, put for real, is stored whole
      expect(await b.get(await b.put(torn))).toEqual(torn)
      await b.close()
      const c = new LocalDAStore({ dir })
      for (const x of [kept[0]!, kept[1]!, next, localCommitment(torn)]) await c.get(x)
      await c.close()
    }
  })

  test('a segment whose creation was cut short (no whole magic) is skipped', async () => {
    const a = new LocalDAStore({ dir })
    const kept = await a.put(bytesOf(100, 1))
    await a.close()
    await appendFile(join(dir, 'segments', '0-1-deadbeef.seg'), Buffer.from('CVNT'))
    const b = new LocalDAStore({ dir })
    expect(await b.get(kept)).toEqual(bytesOf(100, 1))
    await b.put(bytesOf(100, 2))
    await b.close()
  })

  test('kill -9 while putting (two concurrent writers), 4 times: every acknowledged blob reads back, every record in the log is its blob', async () => {
    const acknowledged: Hex[] = []
    const bundle = await bundleChild(CHILD)
    onTestFinished(() => bundle.dispose())
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, [bundle.path, dir, '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      // kill once a few puts were acknowledged, at a moment that moves from round to round
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (out.split('\n').length > 3 + round) {
            clearInterval(t)
            setTimeout(resolve, 7 * round)
          }
        }, 5)
        child.once('exit', (code) => {
          clearInterval(t)
          reject(new Error(`the child exited with ${code}`))
        })
      })
      child.removeAllListeners('exit')
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await exited
      // a line is only complete (acknowledged) once its newline was printed
      acknowledged.push(...(out.split('\n').filter((l) => /^0x[0-9a-f]{66}$/.test(l)) as Hex[]))
    }
    const store = new LocalDAStore({ dir })
    expect(acknowledged.length).toBeGreaterThan(10)
    for (const c of acknowledged) expect((await store.get(c)).length).toBeGreaterThan(0)
    // every record the log holds is its whole blob (get recomputes its SHA-256)
    let records = 0
    for (const seg of await segments()) {
      const fh = await open(seg.path, 'r')
      const scan = await scanSegment(fh, 0, seg.size)
      await fh.close()
      for (const r of scan.records) {
        records++
        await store.get(`0xc0${Buffer.from(r.header.sha256).toString('hex')}` as Hex)
      }
    }
    expect(records).toBeGreaterThanOrEqual(new Set(acknowledged).size)
    // each child adopted segments the killed one held: they do not pile up (two writers, two segments)
    expect((await segments()).length).toBeLessThanOrEqual(4)
    await store.close()
  }, 120_000)
})
