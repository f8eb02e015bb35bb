import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Hex } from 'viem'
import { type DAClient, type DAHealth, MAX_BLOB_BYTES } from './client.js'
import {
  type Commitment,
  commitmentToHex,
  isLocalCommitment,
  localCommitment,
  matchesLocalCommitment,
  parseCommitment,
} from './commitment.js'
import { BlobCorruptedError, BlobNotFoundError, BlobTooLargeError, InvalidCommitmentError } from './errors.js'

export type LocalDAStoreOptions = {
  /** Where blobs live, e.g. `.covenant/da`. Created on first put. */
  dir: string
  /** @defaultValue {@link MAX_BLOB_BYTES} (16 MiB) */
  maxBlobBytes?: number | undefined
}

/**
 * The embedded DA store: content-addressed files, `<dir>/<2 hex>/<commitment hex>`, where
 * the commitment is `0xc0 ‖ sha256(blob)`. Writes are atomic (temp file, fsync, rename,
 * fsync of the directory), so a crash leaves a blob whole or absent; reads recompute the
 * hash and reject a damaged file. Putting the same blob twice is a no-op.
 */
export class LocalDAStore implements DAClient {
  readonly name: string
  readonly dir: string
  readonly maxBlobBytes: number

  constructor(options: LocalDAStoreOptions) {
    this.dir = options.dir
    this.maxBlobBytes = options.maxBlobBytes ?? MAX_BLOB_BYTES
    this.name = `local store ${options.dir}`
  }

  /** The file holding the blob a local commitment names. */
  pathOf(commitment: Commitment): string {
    const hex = commitmentToHex(commitment).slice(2)
    return join(this.dir, hex.slice(2, 4), hex)
  }

  async put(blob: Uint8Array): Promise<Commitment> {
    if (blob.length > this.maxBlobBytes) throw new BlobTooLargeError({ size: blob.length, maxBytes: this.maxBlobBytes })
    const commitment = localCommitment(blob)
    const path = this.pathOf(commitment)
    const existing = await this.#read(path, commitment).catch(() => null)
    if (existing) return commitment
    await mkdir(dirname(path), { recursive: true })
    await writeAtomic(path, blob)
    return commitment
  }

  async get(input: Commitment | Hex): Promise<Uint8Array> {
    const commitment = parseCommitment(input)
    if (!isLocalCommitment(commitment)) {
      throw new InvalidCommitmentError({
        reason: `version byte 0x${commitment[0]?.toString(16).padStart(2, '0')} is not a local-store commitment (0xc0); read it through an EigenDAProxyClient`,
      })
    }
    const blob = await this.#read(this.pathOf(commitment), commitment)
    if (!blob) throw new BlobNotFoundError({ commitment: commitmentToHex(commitment), where: this.name })
    return blob
  }

  async health(): Promise<DAHealth> {
    try {
      await mkdir(this.dir, { recursive: true })
      await access(this.dir, constants.W_OK | constants.R_OK)
      return { ok: true, detail: `${this.dir} is readable and writable` }
    } catch (err) {
      return { ok: false, detail: `${this.dir}: ${(err as Error).message}` }
    }
  }

  /** The verified blob at `path`, or null if there is none. */
  async #read(path: string, commitment: Commitment): Promise<Uint8Array | null> {
    let fh: Awaited<ReturnType<typeof open>>
    try {
      fh = await open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    const hex = commitmentToHex(commitment)
    try {
      const { size } = await fh.stat()
      if (size > this.maxBlobBytes) {
        throw new BlobCorruptedError({ commitment: hex, where: path, reason: `the file is ${size} bytes, more than any blob` })
      }
      const blob = new Uint8Array(size)
      let read = 0
      while (read < size) {
        const { bytesRead } = await fh.read(blob, read, size - read, read)
        if (bytesRead === 0) break
        read += bytesRead
      }
      if (read !== size || !matchesLocalCommitment(commitment, blob)) {
        throw new BlobCorruptedError({ commitment: hex, where: path, reason: 'its SHA-256 does not match the commitment' })
      }
      return blob
    } finally {
      await fh.close()
    }
  }
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`
  const fh = await open(tmp, 'wx', 0o644)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } catch (err) {
    await fh.close()
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  await rename(tmp, path)
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
