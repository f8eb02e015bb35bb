import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type Commitment, LOCAL_COMMITMENT_BYTES, LOCAL_COMMITMENT_VERSION } from './commitment.js'
import { BlobTooLargeError } from './errors.js'

/**
 * Durable, atomic file writes for the local DA store, with the fewest syncs the promises allow.
 *
 * A blob is written to a temporary file in the store's root (`.tmp-<pid>-<random>`, never a
 * name a reader looks up), hashed as it is written, made durable with one `fdatasync`, then
 * renamed to its content address and the directory that gained the name is fsynced. So:
 * - acknowledged ⇒ on disk: the data (fdatasync) and the name (directory fsync) both are;
 * - a kill -9 or a crash at any point leaves the blob whole under its key, or absent (at worst
 *   a stray temporary file, which no read ever opens);
 * - nothing is read before it is written: the name is the hash, so a blob already stored holds
 *   the same bytes, and the rename replaces it atomically (which also repairs a damaged copy).
 *   Checking first would cost a read on every put to save a write on a repeat, and trace
 *   batches are never repeats (each carries its own hash chain);
 * - a directory created for a name is made durable once (its parent is fsynced), then
 *   remembered: no mkdir on later puts.
 *
 * Chunks are written where they belong (positional writes, issued as they arrive): the body
 * is never gathered into one buffer and copied.
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

  forget(dir: string): void {
    this.#known.delete(dir)
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** A blob being written: `write` chunks, then `commit` (durable under its address) or `abort`. */
export class BlobWriter {
  readonly #fh: FileHandle
  readonly #tmp: string
  readonly #hash = createHash('sha256')
  readonly #maxBytes: number
  readonly #writes: Promise<unknown>[] = []
  #size = 0
  #done = false

  private constructor(fh: FileHandle, tmp: string, maxBytes: number) {
    this.#fh = fh
    this.#tmp = tmp
    this.#maxBytes = maxBytes
  }

  static async open(root: string, dirs: DurableDirs, maxBytes: number): Promise<BlobWriter> {
    await dirs.ensure(root)
    const tmp = join(root, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`)
    return new BlobWriter(await open(tmp, 'wx', 0o644), tmp, maxBytes)
  }

  get size(): number {
    return this.#size
  }

  /**
   * Hashes the chunk and starts writing it at its offset (it must not change afterwards).
   * Past `maxBytes` it throws {@link BlobTooLargeError}; call `abort`.
   */
  write(chunk: Uint8Array): void {
    if (this.#done) throw new Error('BlobWriter: write after commit or abort')
    if (chunk.byteLength === 0) return
    if (this.#size + chunk.byteLength > this.#maxBytes) throw new BlobTooLargeError({ size: this.#size + chunk.byteLength, maxBytes: this.#maxBytes })
    this.#hash.update(chunk)
    const write = this.#fh.write(chunk, 0, chunk.byteLength, this.#size)
    // a failed write is reported by commit; until then it must not be an unhandled rejection
    write.catch(() => {})
    this.#writes.push(write)
    this.#size += chunk.byteLength
    // keep the list short for long bodies: settled writes need not be remembered
    if (this.#writes.length > 256) this.#compact()
  }

  /** The local commitment `0xc0 ‖ sha256` of what was written (ends writing). */
  digest(): Commitment {
    if (this.#done) throw new Error('BlobWriter: digest after commit or abort')
    this.#done = true
    const out = new Uint8Array(LOCAL_COMMITMENT_BYTES)
    out[0] = LOCAL_COMMITMENT_VERSION
    out.set(this.#hash.digest(), 1)
    return out
  }

  /** Waits for the writes, fdatasyncs, renames to `path` and fsyncs its directory. */
  async commit(path: string, dirs: DurableDirs): Promise<void> {
    try {
      await Promise.all(this.#writes)
      await this.#fh.datasync()
    } catch (err) {
      await this.#discard()
      throw err
    }
    await this.#fh.close()
    try {
      await dirs.ensure(dirname(path))
      await rename(this.#tmp, path)
    } catch (err) {
      dirs.forget(dirname(path))
      await unlink(this.#tmp).catch(() => {})
      throw err
    }
    await syncDir(dirname(path))
  }

  /** Drops the temporary file. */
  async abort(): Promise<void> {
    this.#done = true
    await this.#discard()
  }

  async #discard(): Promise<void> {
    await Promise.allSettled(this.#writes)
    await this.#fh.close().catch(() => {})
    await unlink(this.#tmp).catch(() => {})
  }

  #compact(): void {
    const all = Promise.all(this.#writes.splice(0))
    all.catch(() => {})
    this.#writes.push(all)
  }
}
