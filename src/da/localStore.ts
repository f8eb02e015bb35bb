import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type Hex, bytesToHex } from 'viem'
import { MAX_BLOB_BYTES, MAX_BLOB_LENGTH } from './blobSize.js'
import type { DAClient, DAHealth } from './client.js'
import {
  type Commitment,
  LOCAL_COMMITMENT_BYTES,
  commitmentToHex,
  isLocalCommitment,
  keccakCommitment,
  localCommitment,
  localCommitmentOf,
  matchesLocalCommitment,
  parseCommitment,
} from './commitment.js'
import { BlobCorruptedError, BlobNotFoundError, BlobTooLargeError, InvalidCommitmentError, KeccakCommitmentMismatchError } from './errors.js'

export type LocalDAStoreOptions = {
  /** Where blobs live, e.g. `.covenant/da`. Created on first put. */
  dir: string
  /** Largest blob put takes. @defaultValue {@link MAX_BLOB_BYTES} (16,252,897: what a 16 MiB EigenDA blob holds) */
  maxBlobBytes?: number | undefined
}

/** A store that also keeps blobs by their OP keccak256 commitment (eigenda-proxy keeps them in S3). */
export interface KeccakDAStore {
  /** Stores `blob` under `0x00 ‖ keccak256(blob)`; a `commitment` that is not that is {@link KeccakCommitmentMismatchError}. */
  putKeccak(commitment: Commitment | Hex, blob: Uint8Array): Promise<void>
  /** The blob stored under an OP keccak256 commitment, checked against it. */
  getKeccak(commitment: Commitment | Hex): Promise<Uint8Array>
}

/**
 * The embedded DA store: content-addressed files, `<dir>/<2 hex>/<commitment hex>`, where
 * the commitment is `0xc0 ‖ sha256(blob)`. Writes are atomic (temp file, fsync, rename,
 * fsync of the directory), so a crash leaves a blob whole or absent; reads recompute the
 * hash and reject a damaged file. Putting the same blob twice is a no-op.
 *
 * Blobs put by OP keccak256 commitment are stored the same way, and an index file
 * `<dir>/keccak/<2 hex>/<keccak hex>` holds the local commitment of each, written (atomically)
 * after the blob: a crash leaves no index or one that names a whole blob.
 */
export class LocalDAStore implements DAClient, KeccakDAStore {
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

  /** The index file for an OP keccak256 commitment (`0x00 ‖ keccak256`). */
  keccakIndexPathOf(commitment: Commitment): string {
    const hex = commitmentToHex(commitment).slice(4)
    return join(this.dir, 'keccak', hex.slice(0, 2), hex)
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

  /** Takes a local commitment in the standard (`0xc0 ‖ sha256`) or the OP generic form (`0x01 0x00 0xc0 ‖ sha256`). */
  async get(input: Commitment | Hex): Promise<Uint8Array> {
    const parsed = parseCommitment(input)
    const commitment = localCommitmentOf(parsed)
    if (!commitment) {
      throw new InvalidCommitmentError({
        reason: `${commitmentToHex(parsed).slice(0, 8)}… is not a local-store commitment (0xc0 ‖ sha256, or 0x0100c0 ‖ sha256); read it through an EigenDAProxyClient`,
      })
    }
    const blob = await this.#read(this.pathOf(commitment), commitment)
    if (!blob) throw new BlobNotFoundError({ commitment: commitmentToHex(commitment), where: this.name })
    return blob
  }

  async putKeccak(input: Commitment | Hex, blob: Uint8Array): Promise<void> {
    const commitment = parseCommitment(input, 'optimism_keccak256')
    const actual = keccakCommitment(blob)
    if (commitmentToHex(actual) !== commitmentToHex(commitment)) {
      throw new KeccakCommitmentMismatchError({ key: commitmentToHex(commitment.subarray(1)), actual: commitmentToHex(actual.subarray(1)) })
    }
    const local = await this.put(blob)
    const path = this.keccakIndexPathOf(commitment)
    const indexed = await this.#readIndex(path, commitment).catch(() => undefined)
    if (indexed && bytesToHex(indexed) === bytesToHex(local)) return
    await mkdir(dirname(path), { recursive: true })
    await writeAtomic(path, local)
  }

  async getKeccak(input: Commitment | Hex): Promise<Uint8Array> {
    const commitment = parseCommitment(input, 'optimism_keccak256')
    const hex = commitmentToHex(commitment)
    const local = await this.#readIndex(this.keccakIndexPathOf(commitment), commitment)
    if (!local) throw new BlobNotFoundError({ commitment: hex, where: this.name })
    const blob = await this.#read(this.pathOf(local), local)
    if (!blob) throw new BlobNotFoundError({ commitment: hex, where: this.name })
    if (commitmentToHex(keccakCommitment(blob)) !== hex) {
      throw new BlobCorruptedError({ commitment: hex, where: this.name, reason: 'its keccak256 does not match the commitment' })
    }
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

  /** The local commitment an index file holds, or null if there is none. */
  async #readIndex(path: string, commitment: Commitment): Promise<Commitment | null> {
    let fh: Awaited<ReturnType<typeof open>>
    try {
      fh = await open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    // read one byte more than an index holds, so a longer file shows as damaged without reading it all
    const bytes = new Uint8Array(LOCAL_COMMITMENT_BYTES + 1)
    let read = 0
    try {
      for (;;) {
        const { bytesRead } = await fh.read(bytes, read, bytes.length - read, read)
        if (bytesRead === 0 || (read += bytesRead) === bytes.length) break
      }
    } finally {
      await fh.close()
    }
    if (read !== LOCAL_COMMITMENT_BYTES || !isLocalCommitment(bytes.subarray(0, read))) {
      throw new BlobCorruptedError({ commitment: commitmentToHex(commitment), where: path, reason: 'the keccak index file does not hold a local commitment' })
    }
    return bytes.slice(0, LOCAL_COMMITMENT_BYTES)
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
      // blobs put before the limit moved from the payload to the encoded blob may be up to 16 MiB
      if (size > Math.max(this.maxBlobBytes, MAX_BLOB_LENGTH)) {
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
