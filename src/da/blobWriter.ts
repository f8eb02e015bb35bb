import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { syncDir } from '../fs/syncDir.js'
import { BlobTooLargeError } from './errors.js'
import { RECORD_HEADER_BYTES } from './segmentFormat.js'

/**
 * Appending records to a segment of the local DA store (format: segmentFormat.ts), with one
 * fdatasync per record (and, for a body streamed in past 2 MiB, early ones that start its
 * writeback: see {@link WRITEBACK_BYTES}).
 *
 * A {@link Segment} is held by one writer at a time: in this process by the store's pool, and
 * against every other process (and every other store instance) by a kernel lock on the file,
 * taken when the segment is created or adopted and dropped when it is closed (also on kill -9).
 * So appends to a segment are serial, and each record is made durable before the next one
 * starts: only a segment's last record can ever be torn.
 *
 * A {@link BlobWriter} writes a blob's body after the segment's end as its chunks come
 * (positional writes, issued at once, hashed as they go), then `commit` writes the header in
 * front of it, fdatasyncs once (data, header and the file's new size together) and moves the
 * segment's end past the record. A body that streams in (an upload) also has its writeback
 * started every {@link WRITEBACK_BYTES} written (see {@link BlobWriterOptions.writeback}). A
 * segment created by this writer has its directory entry made durable at its first commit (one
 * directory fsync per segment, not per blob). `discard` cuts the segment back to its end: what
 * was written past it was never a record (no header).
 */
/**
 * How much of a streamed body is written between two early datasyncs. Linux leaves dirty pages
 * alone for up to 30 s unless asked, so without these the whole body goes to the disk only at
 * the commit's fdatasync, after the last chunk has arrived and been hashed: 25-40 ms for 8 MiB
 * on the 2-core VM, none of it overlapped. Started every 2 MiB, the disk writes the body while
 * the rest is still arriving (bench/da-http.ts, 8 MiB, five runs alternated with the code
 * before: 255-318 MB/s, median 265, against 193-244, median 213). Bodies up to 2 MiB get none:
 * their one fdatasync is all they pay (1 MiB: the same figures before and after).
 */
const WRITEBACK_BYTES = 2 * 1024 * 1024

export type BlobWriterOptions = {
  /** The body's digest when the caller has it already (the body is then not hashed again). */
  sha256?: Uint8Array | undefined
  /**
   * The body streams in (more chunks are coming): every {@link WRITEBACK_BYTES} written, an
   * fdatasync of what is written so far starts in the background, so the disk is busy while the
   * chunks still arrive. Only a start: the record is durable at `commit` alone, which (like
   * `discard`) waits for these and fails if any failed — an fdatasync error is reported once,
   * so one left unread would let a later fdatasync of the same file report success over lost
   * pages. Off for a body written in one piece (nothing to overlap: it would add a sync).
   */
  writeback?: boolean | undefined
}

export class DurableDirs {
  readonly #known = new Set<string>()

  /** Creates `dir` (and parents) if needed; fsyncs the parent of every directory it created. */
  async ensure(dir: string): Promise<void> {
    if (this.#known.has(dir)) return
    const first = await mkdir(dir, { recursive: true })
    if (first !== undefined) {
      // every directory from `first` down to `dir` is new: its name lives in its parent
      const made: string[] = []
      for (let d = dir; d.length >= first.length; d = dirname(d)) {
        made.push(d)
        if (d === first) break
      }
      for (const d of made) await syncDir(dirname(d))
    }
    this.#known.add(dir)
  }
}

/** A segment file this process writes, open and locked. */
export class Segment {
  readonly name: string
  readonly path: string
  readonly fh: FileHandle
  /** Where the next record goes: every byte before it belongs to committed records. */
  end: number
  /** Whether the segment's directory entry is known to be durable. */
  named: boolean

  constructor(name: string, path: string, fh: FileHandle, end: number, named: boolean) {
    this.name = name
    this.path = path
    this.fh = fh
    this.end = end
    this.named = named
  }

  /** Closes the file, which drops the lock. */
  async close(): Promise<void> {
    await this.fh.close().catch(() => {})
  }
}

/** A record being appended to a segment: `write` the body's chunks, then `commit` or `discard`. */
export class BlobWriter {
  readonly #seg: Segment
  readonly #hash: ReturnType<typeof createHash> | null
  readonly #known: Uint8Array | null
  readonly #maxBytes: number
  readonly #writes: Promise<unknown>[] = []
  readonly #writeback: boolean
  /** The early datasyncs started (see {@link BlobWriterOptions.writeback}). */
  readonly #syncs: Promise<void>[] = []
  #syncedUpTo = 0
  #size = 0
  #done = false

  constructor(segment: Segment, maxBytes: number, options: BlobWriterOptions = {}) {
    this.#seg = segment
    this.#maxBytes = maxBytes
    this.#known = options.sha256 ?? null
    this.#hash = options.sha256 ? null : createHash('sha256')
    this.#writeback = options.writeback ?? false
  }

  get size(): number {
    return this.#size
  }

  /**
   * Hashes the chunk and starts writing it at its place in the record (it must not change
   * afterwards). Past `maxBytes` it throws {@link BlobTooLargeError}; then `discard`.
   */
  write(chunk: Uint8Array): void {
    if (this.#done) throw new Error('BlobWriter: write after the digest was taken')
    if (chunk.byteLength === 0) return
    if (this.#size + chunk.byteLength > this.#maxBytes) throw new BlobTooLargeError({ size: this.#size + chunk.byteLength, maxBytes: this.#maxBytes })
    this.#hash?.update(chunk)
    const write = this.#seg.fh.write(chunk, 0, chunk.byteLength, this.#seg.end + RECORD_HEADER_BYTES + this.#size)
    // a failed write is reported by settle; until then it must not be an unhandled rejection
    write.catch(() => {})
    this.#writes.push(write)
    this.#size += chunk.byteLength
    if (this.#writeback && this.#size - this.#syncedUpTo > WRITEBACK_BYTES) this.#startWriteback()
    // keep the list short for long bodies: settled writes need not be remembered
    if (this.#writes.length > 256) this.#compact()
  }

  /** The body's SHA-256 (ends writing). */
  digest(): Uint8Array {
    this.#done = true
    return this.#known ?? new Uint8Array(this.#hash!.digest())
  }

  /** Waits for the body's writes and early datasyncs; throws the first that failed. */
  async settle(): Promise<void> {
    await Promise.all(this.#writes)
    await Promise.all(this.#syncs)
  }

  /**
   * Writes the record's header in front of the (settled) body, fdatasyncs, fsyncs the
   * directory if the segment's name is not durable yet, and moves the segment's end past the
   * record. Returns the body's offset in the segment.
   */
  async commit(header: Buffer, segmentsDir: string): Promise<number> {
    const seg = this.#seg
    await this.settle()
    await seg.fh.write(header, 0, header.length, seg.end)
    await seg.fh.datasync()
    if (!seg.named) {
      await syncDir(segmentsDir)
      seg.named = true
    }
    const body = seg.end + RECORD_HEADER_BYTES
    seg.end = body + this.#size
    return body
  }

  /** Waits for the writes and cuts the segment back to its end (nothing of the record stays). */
  async discard(): Promise<void> {
    this.#done = true
    await Promise.allSettled(this.#writes)
    const syncs = await Promise.allSettled(this.#syncs)
    if (this.#size > 0) await this.#seg.fh.truncate(this.#seg.end)
    // the error was this datasync's to report: the segment's state is unknown (the caller retires it)
    const failed = syncs.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  /** Starts an fdatasync of the file once the writes issued so far have landed. */
  #startWriteback(): void {
    this.#syncedUpTo = this.#size
    const fh = this.#seg.fh
    const sync = Promise.all(this.#writes.slice()).then(() => fh.datasync())
    // reported by settle or discard; until then it must not be an unhandled rejection
    sync.catch(() => {})
    this.#syncs.push(sync)
  }

  #compact(): void {
    const all = Promise.all(this.#writes.splice(0))
    all.catch(() => {})
    this.#writes.push(all)
  }
}
