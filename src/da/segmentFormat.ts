import { crc32 } from 'node:zlib'

/**
 * The on-disk format of the local DA store's segments (`<dir>/segments/*.seg`): append-only
 * files of records, each a blob (or an OP keccak256 alias) behind a fixed header. Integers are
 * big-endian.
 *
 *   segment = magic record*
 *   magic   = "CVNTDAS" 0x01                          8 bytes: format version 1
 *   record  = header body[length]
 *   header  = "CDAR" kind:u8 flags:u8 0:u16 length:u32 sha256[32] keccak256[32] crc:u32   80 bytes
 *   kind    = 1 blob: body is the blob, sha256 its SHA-256 (its local commitment is 0xc0 ‖ sha256);
 *                     flags bit 0: keccak256 is the blob's keccak256 (put by OP keccak commitment)
 *             2 alias: no body (length 0); the blob whose SHA-256 is sha256 is also stored under
 *                     the OP keccak256 commitment 0x00 ‖ keccak256
 *   crc     = CRC-32 (zlib) of the 76 header bytes before it
 *
 * A writer writes a record's body first and its header last, then fdatasyncs once: until the
 * header is whole the record is not there (zeros, or a short file, fail the magic or the CRC).
 */

export const SEGMENT_MAGIC = Buffer.from([0x43, 0x56, 0x4e, 0x54, 0x44, 0x41, 0x53, 0x01]) // "CVNTDAS" v1
export const RECORD_HEADER_BYTES = 80
const RECORD_MAGIC = 0x43444152 // "CDAR"
const CRC_AT = RECORD_HEADER_BYTES - 4

export const RECORD_BLOB = 1
export const RECORD_KECCAK_ALIAS = 2
const FLAG_KECCAK = 1

export type RecordHeader =
  | { kind: typeof RECORD_BLOB; length: number; sha256: Uint8Array; keccak256: Uint8Array | null }
  | { kind: typeof RECORD_KECCAK_ALIAS; length: 0; sha256: Uint8Array; keccak256: Uint8Array }

export function encodeRecordHeader(h: RecordHeader): Buffer {
  const out = Buffer.alloc(RECORD_HEADER_BYTES)
  out.writeUInt32BE(RECORD_MAGIC, 0)
  out[4] = h.kind
  out[5] = h.kind === RECORD_BLOB && h.keccak256 ? FLAG_KECCAK : 0
  out.writeUInt32BE(h.length, 8)
  out.set(h.sha256, 12)
  if (h.keccak256) out.set(h.keccak256, 44)
  out.writeUInt32BE(crc32(out.subarray(0, CRC_AT)), CRC_AT)
  return out
}

/** The header in `buf` (80 bytes), or why it is not one. */
export function parseRecordHeader(buf: Buffer): { ok: true; header: RecordHeader } | { ok: false; reason: string } {
  if (buf.length < RECORD_HEADER_BYTES) return { ok: false, reason: 'the record header is cut short' }
  if (buf.readUInt32BE(0) !== RECORD_MAGIC) return { ok: false, reason: 'no record header' }
  if (crc32(buf.subarray(0, CRC_AT)) !== buf.readUInt32BE(CRC_AT)) return { ok: false, reason: 'the record header fails its checksum' }
  const kind = buf[4]
  const flags = buf[5]!
  const length = buf.readUInt32BE(8)
  const sha256 = Uint8Array.prototype.slice.call(buf, 12, 44)
  const keccak256 = Uint8Array.prototype.slice.call(buf, 44, 76)
  if (kind === RECORD_BLOB && (flags & ~FLAG_KECCAK) === 0) {
    return { ok: true, header: { kind, length, sha256, keccak256: flags & FLAG_KECCAK ? keccak256 : null } }
  }
  if (kind === RECORD_KECCAK_ALIAS && flags === 0 && length === 0) return { ok: true, header: { kind, length: 0, sha256, keccak256 } }
  return { ok: false, reason: `unknown record kind ${kind} (flags ${flags})` }
}
