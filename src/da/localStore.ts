import { constants } from 'node:fs'
import { access, mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { type Hex, hexToBytes } from 'viem'
import { type BlobLocation, BlobLog } from './blobLog.js'
import { DurableDirs } from './blobWriter.js'
import { MAX_BLOB_BYTES, MAX_BLOB_LENGTH } from './blobSize.js'
import type { DAClient, DAHealth } from './client.js'
import {
  type Commitment,
  LOCAL_COMMITMENT_BYTES,
  LOCAL_COMMITMENT_VERSION,
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
  /** A segment file takes no more blobs once it holds this many bytes. @defaultValue {@link DEFAULT_SEGMENT_BYTES} (256 MiB) */
  segmentBytes?: number | undefined
}

/** Segment files of the local store are closed once they hold this many bytes (256 MiB). */
export const DEFAULT_SEGMENT_BYTES = 256 * 1024 * 1024

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

export type { BlobLocation }

/**
 * The embedded DA store: a log of segment files `<dir>/segments/*.seg` (see {@link BlobLog}),
 * blobs keyed by their commitment `0xc0 ‖ sha256(blob)`. A put appends one record (the blob
 * behind a header with its length and SHA-256) to a segment this store holds, and costs one
 * fdatasync (a directory fsync only when a segment is created or adopted); nothing is read
 * before a write; a blob stored already is not written again. Reads hash the blob and reject
 * a damaged copy. A kill -9 or crash leaves every acknowledged blob readable and never a wrong
 * one (a torn last record is left out, and cut off by the next writer of its segment).
 *
 * Blobs put by OP keccak256 commitment carry their keccak256 in the record's header (or, for a
 * blob stored already, in a header-only alias record).
 *
 * Stores written by earlier versions (one file per blob, `<dir>/<2 hex>/<commitment hex>`, and
 * keccak index files `<dir>/keccak/<2 hex>/<keccak hex>`) are read as they are: a blob not in
 * the log is looked up there. Nothing is moved; new blobs go to the log.
 */
export class LocalDAStore implements DAClient, KeccakDAStore, StreamingDAStore {
  readonly name: string
  readonly dir: string
  readonly maxBlobBytes: number
  readonly #log: BlobLog

  constructor(options: LocalDAStoreOptions) {
    this.dir = options.dir
    this.maxBlobBytes = options.maxBlobBytes ?? MAX_BLOB_BYTES
    this.name = `local store ${options.dir}`
    this.#log = new BlobLog({ root: join(this.dir, 'segments'), dirs: new DurableDirs(), segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES })
  }

  /** Where the log holds the blob a local commitment names (segment file, offset, length), or null. */
  locate(commitment: Commitment): Promise<BlobLocation | null> {
    return this.#log.locate(shaOf(commitment))
  }

  /** The file that held a blob in the earlier layout (one file per blob); read when the log lacks the blob. */
  legacyPathOf(commitment: Commitment): string {
    const hex = commitmentToHex(commitment).slice(2)
    return join(this.dir, hex.slice(2, 4), hex)
  }

  /** The earlier layout's index file for an OP keccak256 commitment (`0x00 ‖ keccak256`). */
  legacyKeccakIndexPathOf(commitment: Commitment): string {
    const hex = commitmentToHex(commitment).slice(4)
    return join(this.dir, 'keccak', hex.slice(0, 2), hex)
  }

  async put(blob: Uint8Array): Promise<Commitment> {
    if (blob.length > this.maxBlobBytes) throw new BlobTooLargeError({ size: blob.length, maxBytes: this.maxBlobBytes })
    return this.#log.put(blob, null)
  }

  /** A streamed put: the blob is hashed and written as its chunks come, never gathered in memory. */
  beginPut(): Promise<BlobUpload> {
    return this.#log.begin(this.maxBlobBytes)
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
    const blob = await this.#blob(commitment)
    if (!blob) throw new BlobNotFoundError({ commitment: commitmentToHex(commitment), where: this.name })
    return blob
  }

  async putKeccak(input: Commitment | Hex, blob: Uint8Array): Promise<void> {
    const commitment = parseCommitment(input, 'optimism_keccak256')
    const actual = keccakCommitment(blob)
    if (commitmentToHex(actual) !== commitmentToHex(commitment)) {
      throw new KeccakCommitmentMismatchError({ key: commitmentToHex(commitment.subarray(1)), actual: commitmentToHex(actual.subarray(1)) })
    }
    if (blob.length > this.maxBlobBytes) throw new BlobTooLargeError({ size: blob.length, maxBytes: this.maxBlobBytes })
    await this.#log.put(blob, actual.slice(1))
  }

  async getKeccak(input: Commitment | Hex): Promise<Uint8Array> {
    const commitment = parseCommitment(input, 'optimism_keccak256')
    const hex = commitmentToHex(commitment)
    const target = await this.#log.keccakTarget(hex.slice(4))
    const local = target ? hexToBytes(`0x${LOCAL_VERSION_HEX}${target}`) : await this.#readIndex(this.legacyKeccakIndexPathOf(commitment), commitment)
    if (!local) throw new BlobNotFoundError({ commitment: hex, where: this.name })
    const blob = await this.#blob(local)
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

  /** Closes the segments this store holds open (their locks go with them); later puts fail. */
  close(): Promise<void> {
    return this.#log.close()
  }

  /** The blob, checked: from the log, else from the earlier layout, else from what other writers appended since. */
  async #blob(commitment: Commitment): Promise<Uint8Array | null> {
    const sha = shaOf(commitment)
    return (await this.#log.read(commitment, sha, false)) ?? (await this.#read(this.legacyPathOf(commitment), commitment)) ?? (await this.#log.read(commitment, sha, true))
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

const LOCAL_VERSION_HEX = LOCAL_COMMITMENT_VERSION.toString(16).padStart(2, '0')

/** The SHA-256 (hex, no 0x) in a local commitment. */
function shaOf(commitment: Commitment): string {
  return commitmentToHex(commitment).slice(4)
}
