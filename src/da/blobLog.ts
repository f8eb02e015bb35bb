import { createHash, randomBytes } from 'node:crypto'
import { type FileHandle, open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { syncDir } from '../fs/syncDir.js'
import { BlobWriter, type DurableDirs, Segment } from './blobWriter.js'
import { type Commitment, LOCAL_COMMITMENT_BYTES, LOCAL_COMMITMENT_VERSION } from './commitment.js'
import { BlobCorruptedError } from './errors.js'
import {
  RECORD_BLOB,
  RECORD_HEADER_BYTES,
  RECORD_KECCAK_ALIAS,
  type RecordHeader,
  SEGMENT_MAGIC,
  encodeRecordHeader,
  parseRecordHeader,
} from './segmentFormat.js'

/** Where a blob's bytes are: `length` bytes at `offset` of the segment file `path`. */
export type BlobLocation = { path: string; offset: number; length: number }

/** A streamed append: chunks in, then the commitment once the record is durable. */
export interface LogUpload {
  readonly size: number
  write(chunk: Uint8Array): void
  finish(): Promise<Commitment>
  abort(): Promise<void>
}

type Entry = {
  /** The blob's SHA-256, hex. */
  sha: string
  segment: string
  offset: number
  length: number
  /** Written and fdatasynced by this log, or checked (hashed, synced) since: a repeat put need not write it again. */
  trusted: boolean
  /** A read found it does not hash to its key: a put writes a new copy. */
  damaged: boolean
}
type KeccakEntry = { sha: string; trusted: boolean }
/** A segment another writer holds (or held), read up to `validEnd`; `size` is the file's size then. */
type Seen = { validEnd: number; size: number; magic: boolean }

/** Idle segments kept open (and locked) for the next puts; more are closed, for others to adopt. */
const MAX_IDLE_SEGMENTS = 8

export type BlobLogOptions = {
  /** The segments directory (`<store>/segments`). */
  root: string
  dirs: DurableDirs
  /** A segment takes no more records once it holds this many bytes. */
  segmentBytes: number
}

/**
 * The local DA store's log: blobs appended to segment files (format in segmentFormat.ts), an
 * in-memory index SHA-256 → (segment, offset, length), and keccak256 → SHA-256 for OP
 * keccak commitments, built by reading the segments' record headers when first used and
 * brought up to date (the segments other writers appended to) when a lookup misses.
 *
 * Writers: a put takes an idle segment of this log, else adopts one nobody holds (a kernel
 * lock decides; the new holder checks its last record, cuts off a torn tail, and fdatasyncs
 * the file and fsyncs the directory once), else creates one. Each record is one fdatasync
 * (a streamed body past 2 MiB also starts its writeback early, see blobWriter.ts); a segment
 * is closed once it passes `segmentBytes` (so a directory fsync comes once per segment).
 * Concurrent puts each hold their own segment.
 *
 * Recovery: a segment is read record by record until a header that is missing, fails its
 * CRC or whose body passes the end of the file; the last record found is hashed too (it is
 * the only one that can be torn, see blobWriter.ts) and left out if it does not match. Reads
 * hash every blob they return.
 */
export class BlobLog {
  readonly root: string
  readonly segmentBytes: number
  readonly #dirs: DurableDirs
  readonly #index = new Map<string, Entry>()
  readonly #keccak = new Map<string, KeccakEntry>()
  readonly #seen = new Map<string, Seen>()
  readonly #own = new Set<string>()
  readonly #idle: Segment[] = []
  readonly #busy = new Set<Segment>()
  readonly #perBlob = new Map<string, Promise<unknown>>()
  #opened: Promise<void> | undefined
  #scanning: Promise<unknown> = Promise.resolve()
  /** The scan queued behind the running one, not started yet (callers join it). */
  #waitingScan: Promise<void> | null = null
  #closed = false

  constructor(options: BlobLogOptions) {
    this.root = options.root
    this.#dirs = options.dirs
    this.segmentBytes = options.segmentBytes
  }

  // ---------------------------------------------------------------------------------------
  // reads

  /** Where the blob with this SHA-256 (hex, no 0x) is, or null if the log does not hold it. */
  async locate(sha: string): Promise<BlobLocation | null> {
    const e = await this.#lookup(sha)
    return e ? { path: join(this.root, e.segment), offset: e.offset, length: e.length } : null
  }

  /** The blob (its SHA-256 checked), or null if the log does not hold it; a damaged copy is {@link BlobCorruptedError}. */
  async read(commitment: Commitment, sha: string, catchUp = true): Promise<Uint8Array | null> {
    await this.#open()
    const e = this.#index.get(sha) ?? (catchUp ? await this.#lookup(sha) : undefined)
    if (!e) return null
    const blob = await this.#readEntry(e)
    if (!blob) {
      e.damaged = true
      // another writer may have stored a fresh copy since (a scan puts it in place of this one)
      await this.#catchUp()
      const fresh = this.#index.get(sha)
      const good = fresh && fresh !== e ? await this.#readEntry(fresh) : null
      if (good) return good
      throw new BlobCorruptedError({
        commitment: `0x${Buffer.from(commitment).toString('hex')}`,
        where: `${join(this.root, e.segment)} at byte ${e.offset}`,
        reason: 'its SHA-256 does not match the commitment',
      })
    }
    return blob
  }

  /** The SHA-256 (hex) of the blob stored under a keccak256 (hex, no 0x), or null. */
  async keccakTarget(keccak: string): Promise<string | null> {
    await this.#open()
    let k = this.#keccak.get(keccak)
    if (!k) {
      await this.#catchUp()
      k = this.#keccak.get(keccak)
    }
    return k?.sha ?? null
  }

  // ---------------------------------------------------------------------------------------
  // writes

  /** Appends a blob (and, with `keccak256`, its keccak alias) unless it is stored already; durable on return. */
  async put(blob: Uint8Array, keccak256: Uint8Array | null): Promise<Commitment> {
    const sha = new Uint8Array(createHash('sha256').update(blob).digest())
    const hex = toHex(sha)
    await this.#open()
    return this.#onePerBlob(hex, async () => {
      const stored = await this.#stored(hex)
      if (stored && !keccak256) return commitmentOf(sha)
      if (stored && keccak256) {
        const k = this.#keccak.get(toHex(keccak256))
        if (k?.trusted && k.sha === hex) return commitmentOf(sha)
        await this.#append(null, { kind: RECORD_KECCAK_ALIAS, length: 0, sha256: sha, keccak256 }, 0)
        return commitmentOf(sha)
      }
      await this.#append(blob, { kind: RECORD_BLOB, length: blob.length, sha256: sha, keccak256 }, Number.POSITIVE_INFINITY)
      return commitmentOf(sha)
    })
  }

  /** A streamed put: the body is hashed and written into a segment as it comes. */
  async begin(maxBytes: number): Promise<LogUpload> {
    await this.#open()
    const seg = await this.#acquire()
    const writer = new BlobWriter(seg, maxBytes, { writeback: true })
    let ended = false
    const end = () => {
      if (ended) throw new Error('LogUpload: finish or abort after the upload ended')
      ended = true
    }
    return {
      get size() {
        return writer.size
      },
      write: (chunk) => writer.write(chunk),
      finish: async () => {
        end()
        try {
          await writer.settle()
        } catch (err) {
          await this.#drop(seg, writer, true)
          throw err
        }
        const sha = writer.digest()
        const hex = toHex(sha)
        return this.#onePerBlob(hex, async () => {
          let stored: boolean
          try {
            stored = await this.#stored(hex)
          } catch (err) {
            await this.#drop(seg, writer, false)
            throw err
          }
          if (stored) {
            await this.#drop(seg, writer, false)
            return commitmentOf(sha)
          }
          await this.#commit(seg, writer, { kind: RECORD_BLOB, length: writer.size, sha256: sha, keccak256: null })
          return commitmentOf(sha)
        })
      },
      abort: async () => {
        if (ended) return
        ended = true
        writer.digest()
        await this.#drop(seg, writer, false)
      },
    }
  }

  /** Closes the idle segments (dropping their locks); puts in flight close theirs when they end. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#idle.splice(0).map((s) => this.#letGo(s)))
  }

  // ---------------------------------------------------------------------------------------
  // internals

  async #append(body: Uint8Array | null, header: RecordHeader, maxBytes: number): Promise<void> {
    const seg = await this.#acquire()
    const writer = new BlobWriter(seg, maxBytes, { sha256: header.sha256 })
    if (body) writer.write(body)
    writer.digest()
    try {
      await writer.settle()
    } catch (err) {
      await this.#drop(seg, writer, true)
      throw err
    }
    await this.#commit(seg, writer, header)
  }

  /** Commits the record and indexes it; a failure retires the segment (its state is unknown). */
  async #commit(seg: Segment, writer: BlobWriter, header: RecordHeader): Promise<void> {
    let offset: number
    try {
      offset = await writer.commit(encodeRecordHeader(header), this.root)
    } catch (err) {
      await this.#retire(seg)
      throw err
    }
    this.#indexRecord(seg.name, offset, header, true)
    await this.#release(seg)
  }

  /** Drops an upload's bytes (cut back to the segment's end) and gives the segment back. */
  async #drop(seg: Segment, writer: BlobWriter, failed: boolean): Promise<void> {
    try {
      await writer.discard()
    } catch {
      failed = true
    }
    if (failed) await this.#retire(seg)
    else await this.#release(seg)
  }

  /** Runs `fn` once no other put of the same blob is between its check and its commit. */
  #onePerBlob<T>(hex: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#perBlob.get(hex) ?? Promise.resolve()
    const run = prev.then(fn)
    const tail = run.catch(() => {})
    this.#perBlob.set(hex, tail)
    void tail.then(() => {
      if (this.#perBlob.get(hex) === tail) this.#perBlob.delete(hex)
    })
    return run
  }

  /**
   * Whether the blob is stored durably and whole. A record this log wrote is (nothing read);
   * one another writer wrote is hashed and its segment fdatasynced (and its directory fsynced)
   * first — only a repeat put of a blob stored by someone else costs this.
   */
  async #stored(hex: string): Promise<boolean> {
    const e = this.#index.get(hex)
    if (!e || e.damaged) return false
    if (e.trusted) return true
    const blob = await this.#readEntry(e)
    if (!blob) {
      e.damaged = true
      return false
    }
    const fh = await open(join(this.root, e.segment), 'r')
    try {
      await fh.datasync()
    } finally {
      await fh.close()
    }
    await syncDir(this.root)
    e.trusted = true
    return true
  }

  /** The entry's bytes if they hash to its key, else null (also when the file is shorter). */
  async #readEntry(e: Entry): Promise<Uint8Array | null> {
    let fh: FileHandle
    try {
      fh = await open(join(this.root, e.segment), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    try {
      const blob = new Uint8Array(e.length)
      const read = await readFully(fh, blob, e.offset)
      if (read !== e.length) return null
      const sha = createHash('sha256').update(blob).digest('hex')
      return sha === e.sha ? blob : null
    } finally {
      await fh.close()
    }
  }

  async #lookup(sha: string): Promise<Entry | undefined> {
    await this.#open()
    const e = this.#index.get(sha)
    if (e) return e
    await this.#catchUp()
    return this.#index.get(sha)
  }

  #indexRecord(segment: string, offset: number, h: RecordHeader, trusted: boolean): void {
    const sha = toHex(h.sha256)
    if (h.kind === RECORD_BLOB) {
      const old = this.#index.get(sha)
      // this log's own write wins (a fresh copy of a damaged blob); else the first copy found
      if (!old || old.damaged || trusted) this.#index.set(sha, { sha, segment, offset, length: h.length, trusted, damaged: false })
    }
    if (h.keccak256) {
      const k = toHex(h.keccak256)
      const old = this.#keccak.get(k)
      if (!old || trusted) this.#keccak.set(k, { sha, trusted })
    }
  }

  #open(): Promise<void> {
    this.#opened ??= this.#catchUp()
    return this.#opened
  }

  /**
   * Reads what other writers appended since the last look (new segments, longer ones). Scans
   * run one at a time, and every caller that comes while one waits to start joins it: that
   * scan starts after the call, so it sees everything written before it. A flood of lookups
   * for commitments no one stored costs at most the scan running and the one waiting, not a
   * directory listing each.
   */
  #catchUp(): Promise<void> {
    if (this.#waitingScan) return this.#waitingScan
    const run = this.#scanning.then(() => {
      this.#waitingScan = null
      return this.#scanAll()
    })
    this.#waitingScan = run
    this.#scanning = run.catch(() => {})
    return run
  }

  async #scanAll(): Promise<void> {
    let names: string[]
    try {
      names = (await readdir(this.root)).filter((n) => n.endsWith('.seg')).sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    for (const name of names) {
      if (this.#own.has(name)) continue
      await this.#scanOne(name)
    }
  }

  /** Reads one segment's new records into the index (from where the last look stopped). */
  async #scanOne(name: string): Promise<void> {
    const path = join(this.root, name)
    const prev = this.#seen.get(name)
    // one stat for a segment that did not change (the common case when a lookup misses)
    if (prev && prev.size === (await stat(path).catch(() => null))?.size) return
    let fh: FileHandle
    try {
      fh = await open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    try {
      const { size } = await fh.stat()
      const from = prev?.magic ? prev.validEnd : 0
      const scan = await scanSegment(fh, from, size)
      for (const r of scan.records) this.#indexRecord(name, r.offset + RECORD_HEADER_BYTES, r.header, false)
      this.#seen.set(name, { validEnd: scan.validEnd, size, magic: scan.magic })
    } finally {
      await fh.close()
    }
  }

  async #acquire(): Promise<Segment> {
    if (this.#closed) throw new Error(`the DA store at ${this.root} was closed`)
    const idle = this.#idle.pop()
    if (idle) {
      this.#busy.add(idle)
      return idle
    }
    const seg = (await this.#adopt()) ?? (await this.#create())
    this.#busy.add(seg)
    return seg
  }

  /** Takes a segment no one holds that has room: cuts off its torn tail, makes it durable. */
  async #adopt(): Promise<Segment | null> {
    const candidates = [...this.#seen].filter(([name, s]) => s.magic && s.validEnd < this.segmentBytes && !this.#own.has(name)).map(([name]) => name)
    if (candidates.length === 0) return null
    const { tryLock } = await import('fs-native-extensions')
    for (const name of candidates) {
      const path = join(this.root, name)
      let fh: FileHandle
      try {
        fh = await open(path, 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      if (!tryLock(fh.fd)) {
        await fh.close()
        continue
      }
      try {
        // held: nobody else appends now; read what the last holder appended since the last look
        const run = this.#scanning.then(() => this.#scanOne(name))
        this.#scanning = run.catch(() => {})
        await run
        const seen = this.#seen.get(name)
        if (!seen?.magic || seen.validEnd >= this.segmentBytes) {
          await fh.close()
          continue
        }
        // the torn tail of a holder that died mid-put (it was never acknowledged)
        if ((await fh.stat()).size > seen.validEnd) await fh.truncate(seen.validEnd)
        // the last holder's records are durable before any of ours follows them, and so is the name
        await fh.datasync()
        await syncDir(this.root)
        this.#seen.delete(name)
        this.#own.add(name)
        return new Segment(name, path, fh, seen.validEnd, true)
      } catch (err) {
        await fh.close()
        throw err
      }
    }
    return null
  }

  async #create(): Promise<Segment> {
    await this.#dirs.ensure(this.root)
    const { tryLock } = await import('fs-native-extensions')
    for (;;) {
      const name = `${Date.now().toString(36).padStart(9, '0')}-${process.pid}-${randomBytes(4).toString('hex')}.seg`
      const path = join(this.root, name)
      const fh = await open(path, 'wx+', 0o644)
      if (!tryLock(fh.fd)) {
        await fh.close()
        continue
      }
      try {
        await fh.write(SEGMENT_MAGIC, 0, SEGMENT_MAGIC.length, 0)
      } catch (err) {
        await fh.close()
        throw err
      }
      this.#own.add(name)
      // its name becomes durable with its first record (blobWriter.ts)
      return new Segment(name, path, fh, SEGMENT_MAGIC.length, false)
    }
  }

  /** A segment whose put ended: back to the pool, or closed when full (or the log closed). */
  async #release(seg: Segment): Promise<void> {
    this.#busy.delete(seg)
    if (this.#closed || seg.end >= this.segmentBytes || this.#idle.length >= MAX_IDLE_SEGMENTS) await this.#letGo(seg)
    else this.#idle.push(seg)
  }

  /** A segment whose last write failed: never written by this log again; others may adopt it. */
  async #retire(seg: Segment): Promise<void> {
    this.#busy.delete(seg)
    await seg.close()
    this.#own.delete(seg.name)
    // a later look reads it again from its end as this log knew it
    this.#seen.set(seg.name, { validEnd: seg.end, size: -1, magic: true })
  }

  async #letGo(seg: Segment): Promise<void> {
    await seg.close()
    this.#own.delete(seg.name)
    this.#seen.set(seg.name, { validEnd: seg.end, size: seg.end, magic: true })
  }
}

type ScannedRecord = { offset: number; header: RecordHeader }

/**
 * The records of a segment from `from` (0: the file's start, magic included) to `size`:
 * every record with a whole, valid header and a body inside the file, up to the first that
 * is not; the last found is hashed, and dropped if it does not match (a torn record).
 * `validEnd` is where the records end (all after is a torn tail or a record being written).
 */
export async function scanSegment(fh: FileHandle, from: number, size: number): Promise<{ records: ScannedRecord[]; validEnd: number; magic: boolean }> {
  let at = from
  if (from === 0) {
    const magic = Buffer.alloc(SEGMENT_MAGIC.length)
    if ((await readFully(fh, magic, 0)) !== magic.length || !magic.equals(SEGMENT_MAGIC)) return { records: [], validEnd: 0, magic: false }
    at = SEGMENT_MAGIC.length
  }
  const records: ScannedRecord[] = []
  const buf = Buffer.alloc(RECORD_HEADER_BYTES)
  while (at + RECORD_HEADER_BYTES <= size) {
    if ((await readFully(fh, buf, at)) !== RECORD_HEADER_BYTES) break
    const parsed = parseRecordHeader(buf)
    if (!parsed.ok) break
    const end = at + RECORD_HEADER_BYTES + parsed.header.length
    if (end > size) break
    records.push({ offset: at, header: parsed.header })
    at = end
  }
  const last = records.at(-1)
  if (last && last.header.kind === RECORD_BLOB) {
    const body = new Uint8Array(last.header.length)
    const read = await readFully(fh, body, last.offset + RECORD_HEADER_BYTES)
    if (read !== body.length || !createHash('sha256').update(body).digest().equals(last.header.sha256)) {
      records.pop()
      at = last.offset
    }
  }
  return { records, validEnd: at, magic: true }
}

async function readFully(fh: FileHandle, into: Uint8Array, position: number): Promise<number> {
  let read = 0
  while (read < into.length) {
    const { bytesRead } = await fh.read(into, read, into.length - read, position + read)
    if (bytesRead === 0) break
    read += bytesRead
  }
  return read
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

function commitmentOf(sha: Uint8Array): Commitment {
  const out = new Uint8Array(LOCAL_COMMITMENT_BYTES)
  out[0] = LOCAL_COMMITMENT_VERSION
  out.set(sha, 1)
  return out
}
