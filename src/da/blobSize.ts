import { InvalidDAOptionError } from './errors.js'

/**
 * How large a blob may be. eigenda-proxy does not limit the payload a client sends; it
 * limits the *encoded* blob EigenDA stores (`--eigenda.max-blob-length`, default 16 MiB).
 * The encoding puts a 32-byte header first, then the payload in 31-byte pieces, each
 * written as a 32-byte field element behind a zero byte (so every element stays below the
 * BN254 modulus); EigenDA V2 then rounds the element count up to a power of two. A payload
 * of n bytes therefore takes `nextPowerOfTwo(1 + ceil(n / 31)) × 32` bytes, and the largest
 * payload a 16 MiB blob holds is `(2^19 − 1) × 31` = 16,252,897 bytes. EigenDA V1's codec
 * does not round (`32 + n + ceil(n / 31)`), which gives the same limit for any power-of-two
 * maximum and a larger one otherwise, so the V2 rule is the one that holds on both.
 */

/** eigenda-proxy's default `max-blob-length`: the largest encoded blob, 16 MiB. */
export const MAX_BLOB_LENGTH = 16 * 1024 * 1024
/** eigenda-proxy reads at most 32 MiB of a request body (`http.MaxBytesReader`); more is a 400. */
export const MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024

const BYTES_PER_SYMBOL = 32
const PAYLOAD_BYTES_PER_SYMBOL = 31
const HEADER_SYMBOLS = 1

function nextPowerOfTwo(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}

/** The size of the blob EigenDA stores for a payload of `payloadBytes` (V2 encoding, power-of-two length). */
export function encodedBlobLength(payloadBytes: number): number {
  if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0) {
    throw new InvalidDAOptionError({ option: 'payloadBytes', reason: 'must be a non-negative integer' })
  }
  const symbols = HEADER_SYMBOLS + Math.ceil(payloadBytes / PAYLOAD_BYTES_PER_SYMBOL)
  return nextPowerOfTwo(symbols) * BYTES_PER_SYMBOL
}

/**
 * The largest payload whose encoded blob fits `maxBlobLength` bytes: what to pass as
 * `maxBlobBytes` for a proxy started with another `--eigenda.max-blob-length`.
 */
export function maxPayloadBytes(maxBlobLength: number): number {
  if (!Number.isSafeInteger(maxBlobLength) || maxBlobLength < BYTES_PER_SYMBOL) {
    throw new InvalidDAOptionError({ option: 'maxBlobLength', reason: `must be an integer of at least ${BYTES_PER_SYMBOL} bytes (one field element)` })
  }
  let symbols = nextPowerOfTwo(Math.floor(maxBlobLength / BYTES_PER_SYMBOL))
  if (symbols * BYTES_PER_SYMBOL > maxBlobLength) symbols /= 2
  return (symbols - HEADER_SYMBOLS) * PAYLOAD_BYTES_PER_SYMBOL
}

/**
 * The largest payload `put` takes: 16,252,897 bytes, the most a 16 MiB EigenDA blob holds.
 * The same limit holds everywhere a size is checked (LocalDAStore, the DA server,
 * EigenDAProxyClient before it sends), so a blob the local store takes is one a real
 * eigenda-proxy takes too.
 */
export const MAX_BLOB_BYTES = maxPayloadBytes(MAX_BLOB_LENGTH)
