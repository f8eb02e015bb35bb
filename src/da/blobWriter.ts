import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { syncDir } from '../fs/syncDir.js'
import { BlobTooLargeError } from './errors.js'
import { RECORD_HEADER_BYTES } from './segmentFormat.js'

/**
 * Appending records to a segment of the local DA store (format: segmentFormat.ts), with one
 * fdatasync per record.
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
 * segment's end past the record. A segment created by this writer has its directory entry made
 * durable at its first commit (one directory fsync per segment, not per blob). `discard` cuts
 * the segment back to its end: what was written past it was never a record (no header).
 */
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
  #size = 0
  #done = false

  /** `sha256`: the body's digest when the caller has it already (the body is then not hashed again). */
  constructor(segment: Segment, maxBytes: number, sha256?: Uint8Array) {
    this.#seg = segment
    this.#maxBytes = maxBytes
    this.#known = sha256 ?? null
    this.#hash = sha256 ? null : createHash('sha256')
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
    // keep the list short for long bodies: settled writes need not be remembered
    if (this.#writes.length > 256) this.#compact()
  }

  /** The body's SHA-256 (ends writing). */
  digest(): Uint8Array {
    this.#done = true
    return this.#known ?? new Uint8Array(this.#hash!.digest())
  }

  /** Waits for the body's writes; throws the first that failed. */
  async settle(): Promise<void> {
    await Promise.all(this.#writes)
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
    if (this.#size > 0) await this.#seg.fh.truncate(this.#seg.end)
  }

  #compact(): void {
    const all = Promise.all(this.#writes.splice(0))
    all.catch(() => {})
    this.#writes.push(all)
  }
}
