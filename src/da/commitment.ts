import { createHash } from 'node:crypto'
import { type Hex, bytesToHex } from 'viem'
import { InvalidCommitmentError } from './errors.js'

/**
 * DA commitments are opaque bytes: whatever `put()` returned, passed back to `get()` and
 * to `TraceLog.commit` (which stores their keccak256). In eigenda-proxy's standard
 * commitment mode the first byte is a version (0x00 EigenDA V1 cert, 0x01 V2, …) and the
 * rest the certificate.
 *
 * The local store's commitment uses the same layout with a version byte far from
 * EigenDA's: `0xc0 ‖ sha256(blob)`, 33 bytes. Whoever holds one can check a blob against
 * it without trusting the server that returned the blob.
 */
export const LOCAL_COMMITMENT_VERSION = 0xc0
export const LOCAL_COMMITMENT_BYTES = 33
/** TraceLog rejects longer commitments (`MAX_DA_COMMITMENT_BYTES`). */
export const MAX_COMMITMENT_BYTES = 8192

export type Commitment = Uint8Array

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest())
}

export function localCommitment(blob: Uint8Array): Commitment {
  const out = new Uint8Array(LOCAL_COMMITMENT_BYTES)
  out[0] = LOCAL_COMMITMENT_VERSION
  out.set(sha256(blob), 1)
  return out
}

export function isLocalCommitment(commitment: Commitment): boolean {
  return commitment.length === LOCAL_COMMITMENT_BYTES && commitment[0] === LOCAL_COMMITMENT_VERSION
}

/** Whether `blob` is the blob a local commitment names. */
export function matchesLocalCommitment(commitment: Commitment, blob: Uint8Array): boolean {
  if (!isLocalCommitment(commitment)) return false
  const digest = sha256(blob)
  for (let i = 0; i < 32; i++) if (digest[i] !== commitment[i + 1]) return false
  return true
}

const HEX = /^(?:0x)?((?:[0-9a-fA-F]{2})*)$/

/**
 * A commitment from bytes or hex (with or without 0x, any case), checked: non-empty, at
 * most {@link MAX_COMMITMENT_BYTES}, and, when its version byte says local, exactly 33
 * bytes. Returns a copy.
 */
export function parseCommitment(input: Uint8Array | string): Commitment {
  let bytes: Uint8Array
  if (input instanceof Uint8Array) {
    bytes = Uint8Array.from(input)
  } else if (typeof input === 'string') {
    if (input.length > 2 + 2 * MAX_COMMITMENT_BYTES) {
      throw new InvalidCommitmentError({ reason: `longer than ${MAX_COMMITMENT_BYTES} bytes` })
    }
    const m = HEX.exec(input)
    if (!m) throw new InvalidCommitmentError({ reason: 'not hex of whole bytes' })
    bytes = new Uint8Array(Buffer.from(m[1] as string, 'hex'))
  } else {
    throw new InvalidCommitmentError({ reason: `expected bytes or a hex string, got ${input === null ? 'null' : typeof input}` })
  }
  if (bytes.length === 0) throw new InvalidCommitmentError({ reason: 'empty' })
  if (bytes.length > MAX_COMMITMENT_BYTES) throw new InvalidCommitmentError({ reason: `longer than ${MAX_COMMITMENT_BYTES} bytes` })
  if (bytes[0] === LOCAL_COMMITMENT_VERSION && bytes.length !== LOCAL_COMMITMENT_BYTES) {
    throw new InvalidCommitmentError({ reason: `a local commitment (0xc0) is ${LOCAL_COMMITMENT_BYTES} bytes, this one ${bytes.length}` })
  }
  return bytes
}

export function commitmentToHex(commitment: Commitment): Hex {
  return bytesToHex(commitment)
}
