import { constants } from 'node:fs'
import { access, mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { BlobWriter, DurableDirs } from './blobWriter.js'
import { MAX_BLOB_BYTES, MAX_BLOB_LENGTH } from './blobSize.js'
import type { DAClient, DAHealth } from './client.js'
import {
  type Commitment,
  LOCAL_COMMITMENT_BYTES,
  commitmentToHex,
  isLocalCommitment,
  keccakCommitment,
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

/** A blob put as it arrives (an HTTP body): `write` each chunk, then `finish` or `abort`. */
export interface BlobUpload {
  /** Bytes written so far. */
  readonly size: number
  /** Takes a chunk (kept until `finish`: do not change it); past the store's limit it throws {@link BlobTooLargeError}. */
  write(chunk: Uint8Array): void
  /** Makes the blob durable under its commitment and returns the commitment. */
  finish(): Promise<Commitment>
  /** Drops what was written. */
  abort(): Promise<void>
}

/** A store that takes a blob in chunks, hashing and writing them as they come. */
export interface StreamingDAStore {
  beginPut(): Promise<BlobUpload>
}

/**
 * The embedded DA store: content-addressed files, `<dir>/<2 hex>/<commitment hex>`, where
 * the commitment is `0xc0 ‖ sha256(blob)`. Writes are atomic and durable with one fdatasync
 * of the data and one fsync of the directory that gains the name (see {@link BlobWriter}),
 * so a crash leaves a blob whole or absent; nothing is read before a write; reads recompute
 * the hash and reject a damaged file. Putting the same blob twice stores it once.
 *
 * Blobs put by OP keccak256 commitment are stored the same way, and an index file
 * `<dir>/keccak/<2 hex>/<keccak hex>` holds the local commitment of each, written (atomically)
 * after the blob: a crash leaves no index or one that names a whole blob.
 */
export class LocalDAStore implements DAClient, KeccakDAStore, StreamingDAStore {
  readonly name: string
  readonly dir: string
  readonly maxBlobBytes: number
  readonly #dirs = new DurableDirs()

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
    const upload = await this.beginPut()
    upload.write(blob)
    return upload.finish()
  }

  /** A streamed put: the blob is hashed and written as its chunks come, never gathered in memory. */
  async beginPut(): Promise<BlobUpload> {
    const writer = await BlobWriter.open(this.dir, this.#dirs, this.maxBlobBytes)
    const store = this
    return {
      get size() {
        return writer.size
      },
      write: (chunk) => writer.write(chunk),
      async finish() {
        const commitment = writer.digest()
        await writer.commit(store.pathOf(commitment), store.#dirs)
        return commitment
      },
      abort: () => writer.abort(),
    }
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
    // the index is 33 bytes: writing it again costs less than reading it first would on a new key
    const writer = await BlobWriter.open(this.dir, this.#dirs, LOCAL_COMMITMENT_BYTES)
    writer.write(local)
    writer.digest()
    await writer.commit(this.keccakIndexPathOf(commitment), this.#dirs)
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
