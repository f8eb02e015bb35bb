import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { MAX_BATCH_BYTES } from '../trace/batch.js'
import { MAX_BLOB_BYTES, MAX_BLOB_LENGTH, MAX_REQUEST_BODY_BYTES, encodedBlobLength, maxPayloadBytes } from './blobSize.js'
import { InvalidDAOptionError } from './errors.js'
import { bytesOf } from './_helpers.js'

/**
 * EigenDA's payload encodings, written out byte by byte (as the codecs in Layr-Labs/eigenda
 * build them) to check the size arithmetic against: a 32-byte header (0x00, the encoding
 * version, the payload length as a big-endian uint32, zeros), then each 31-byte piece of
 * the payload behind a zero byte.
 */
function encodeV2(payload: Uint8Array): Uint8Array {
  // PayloadEncodingVersion0: the last piece is zero-padded to 31 bytes, and the whole is
  // zero-padded to a power-of-two number of 32-byte symbols
  const pieces = Math.ceil(payload.length / 31)
  let symbols = 1
  while (symbols < 1 + pieces) symbols *= 2
  const out = new Uint8Array(symbols * 32)
  new DataView(out.buffer).setUint32(2, payload.length)
  for (let i = 0; i < pieces; i++) out.set(payload.subarray(i * 31, i * 31 + 31), 32 + i * 32 + 1)
  return out
}

function encodeV1(payload: Uint8Array): Uint8Array {
  // DefaultBlobCodec: no rounding; the last piece keeps its own length behind its zero byte
  const pieces = Math.ceil(payload.length / 31)
  const out = new Uint8Array(32 + payload.length + pieces)
  new DataView(out.buffer).setUint32(2, payload.length)
  for (let i = 0; i < pieces; i++) out.set(payload.subarray(i * 31, i * 31 + 31), 32 + i * 32 + 1)
  return out
}

describe('the encoded size EigenDA limits', () => {
  test('16 MiB holds 16,252,897 payload bytes; one more does not fit, under V2 or V1', () => {
    expect(MAX_BLOB_LENGTH).toBe(16 * 1024 * 1024)
    expect(MAX_REQUEST_BODY_BYTES).toBe(32 * 1024 * 1024)
    expect(MAX_BLOB_BYTES).toBe(16_252_897)
    expect(MAX_BLOB_BYTES).toBe((2 ** 19 - 1) * 31)
    expect(encodedBlobLength(MAX_BLOB_BYTES)).toBe(MAX_BLOB_LENGTH)
    expect(encodedBlobLength(MAX_BLOB_BYTES + 1)).toBe(2 * MAX_BLOB_LENGTH)
    expect(encodeV2(new Uint8Array(MAX_BLOB_BYTES)).length).toBe(MAX_BLOB_LENGTH)
    expect(encodeV2(new Uint8Array(MAX_BLOB_BYTES + 1)).length).toBeGreaterThan(MAX_BLOB_LENGTH)
    expect(encodeV1(new Uint8Array(MAX_BLOB_BYTES)).length).toBe(MAX_BLOB_LENGTH)
    expect(encodeV1(new Uint8Array(MAX_BLOB_BYTES + 1)).length).toBeGreaterThan(MAX_BLOB_LENGTH)
  })

  test('small payloads: the header alone, then whole symbols rounded to a power of two', () => {
    expect([0, 1, 31, 32, 62, 63, 93, 94, 217, 218].map(encodedBlobLength)).toEqual([32, 64, 64, 128, 128, 128, 128, 256, 256, 512])
  })

  test('agrees with the V2 encoding written out, for 500 generated payloads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), (n) => {
        expect(encodedBlobLength(n)).toBe(encodeV2(bytesOf(n, n + 1)).length)
      }),
      { numRuns: 500 },
    )
  })

  test('maxPayloadBytes(limit) is the largest payload whose encoded blob fits the limit, for any limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32, max: 2 ** 31 }), (limit) => {
        const max = maxPayloadBytes(limit)
        expect(encodedBlobLength(max)).toBeLessThanOrEqual(limit)
        expect(encodedBlobLength(max + 1)).toBeGreaterThan(limit)
      }),
      { numRuns: 2000 },
    )
    // for a power of two, V1's unrounded encoding gives the same limit
    for (let limit = 64; limit <= 2 ** 26; limit *= 2) {
      const max = maxPayloadBytes(limit)
      expect(encodeV1(new Uint8Array(max)).length).toBeLessThanOrEqual(limit)
      expect(encodeV1(new Uint8Array(max + 1)).length).toBeGreaterThan(limit)
    }
    expect(maxPayloadBytes(32)).toBe(0)
    expect(maxPayloadBytes(4 * 1024 * 1024)).toBe(4_063_201)
  })

  test('the trace batcher writes batches no larger than a DA blob takes', () => {
    expect(MAX_BATCH_BYTES).toBe(MAX_BLOB_BYTES)
  })

  test('nonsense sizes are a typed error', () => {
    for (const bad of [31, 0, -1, 1.5, Number.NaN, 2 ** 60]) expect(() => maxPayloadBytes(bad)).toThrow(InvalidDAOptionError)
    for (const bad of [-1, 0.5, Number.POSITIVE_INFINITY]) expect(() => encodedBlobLength(bad)).toThrow(InvalidDAOptionError)
    expect(() => maxPayloadBytes(31)).toThrowErrorMatchingInlineSnapshot(`
      [InvalidDAOptionError: maxBlobLength must be an integer of at least 32 bytes (one field element).
      Docs: src/da/README.md#limits]
    `)
  })
})
