import { createHash } from 'node:crypto'
import { type Hex, bytesToHex, hexToBytes, keccak256 } from 'viem'
import { InvalidCommitmentError } from './errors.js'

/**
 * DA commitments are opaque bytes: whatever `put()` returned, passed back to `get()` and
 * to `TraceLog.commit` (which stores their keccak256). eigenda-proxy writes them in one of
 * three forms, chosen by the route (its `commitment_mode`):
 *
 *   standard            `version ‖ cert`                  (`?commitment_mode=standard`)
 *   optimism_generic    `0x01 ‖ 0x00 ‖ version ‖ cert`    (OP alt-DA: generic type, da_layer EigenDA)
 *   optimism_keccak256  `0x00 ‖ keccak256(payload)`       (OP alt-DA: keccak type, the client's own hash)
 *
 * EigenDA's certificate versions are 0x00 (V1 blob info), 0x01 (V2 cert) and 0x02 (V3
 * cert). Covenant's local store uses the same layout with a version byte of its own, far
 * from EigenDA's: `0xc0 ‖ sha256(blob)`, 33 bytes (in the generic form `0x01 0x00 0xc0 ‖
 * sha256(blob)`, 35 bytes). No EigenDA client takes 0xc0 for one of its certificates (they
 * refuse versions they do not know), and whoever holds a local commitment checks a blob
 * against it without trusting the server that returned the blob.
 */
export const LOCAL_COMMITMENT_VERSION = 0xc0
export const LOCAL_COMMITMENT_BYTES = 33

export type CommitmentMode = 'standard' | 'optimism_generic' | 'optimism_keccak256'
export const COMMITMENT_MODES: readonly CommitmentMode[] = ['standard', 'optimism_generic', 'optimism_keccak256']
/** OP alt-DA commitment types (the first byte of an OP commitment). */
export const OP_KECCAK_COMMITMENT_TYPE = 0x00
export const OP_GENERIC_COMMITMENT_TYPE = 0x01
/** The da_layer byte of an OP generic commitment that names EigenDA. */
export const EIGENDA_DA_LAYER = 0x00
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

/** `0x01 ‖ 0x00 ‖ commitment`: a standard-mode commitment in the OP generic form eigenda-proxy answers. */
export function toGenericCommitment(standard: Commitment): Commitment {
  const out = new Uint8Array(standard.length + 2)
  out[0] = OP_GENERIC_COMMITMENT_TYPE
  out[1] = EIGENDA_DA_LAYER
  out.set(standard, 2)
  return out
}

/** The standard-mode commitment inside an OP generic one (checked with {@link parseCommitment}). */
export function fromGenericCommitment(generic: Commitment): Commitment {
  return parseCommitment(generic, 'optimism_generic').slice(2)
}

/** `0x00 ‖ keccak256(blob)`: the OP keccak256 commitment of a blob. */
export function keccakCommitment(blob: Uint8Array): Commitment {
  const out = new Uint8Array(33)
  out[0] = OP_KECCAK_COMMITMENT_TYPE
  out.set(hexToBytes(keccak256(blob)), 1)
  return out
}

/**
 * The local commitment (`0xc0 ‖ sha256`) a commitment names, in the standard or the OP
 * generic form; undefined for anything else (an EigenDA certificate, a keccak commitment).
 */
export function localCommitmentOf(commitment: Commitment): Commitment | undefined {
  if (isLocalCommitment(commitment)) return commitment
  if (
    commitment.length === LOCAL_COMMITMENT_BYTES + 2 &&
    commitment[0] === OP_GENERIC_COMMITMENT_TYPE &&
    commitment[1] === EIGENDA_DA_LAYER &&
    commitment[2] === LOCAL_COMMITMENT_VERSION
  ) {
    return commitment.slice(2)
  }
  return undefined
}

/**
 * Whether `blob` is what a commitment of `mode` names: `true` or `false` where the
 * commitment is a hash of the blob (a local commitment in either form, a keccak256
 * commitment), `undefined` where it is an EigenDA certificate, which only the proxy checks.
 */
export function commitmentMatches(commitment: Commitment, mode: CommitmentMode, blob: Uint8Array): boolean | undefined {
  if (mode === 'optimism_keccak256') return sameBytes(keccakCommitment(blob), commitment)
  const local = localCommitmentOf(commitment)
  return local ? matchesLocalCommitment(local, blob) : undefined
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

const HEX = /^(?:0x)?((?:[0-9a-fA-F]{2})*)$/

/**
 * A commitment from bytes or hex (with or without 0x, any case), checked: non-empty, at
 * most {@link MAX_COMMITMENT_BYTES}, and in the layout of `mode` (default standard):
 *
 * - standard: a version byte and the certificate; version 0xc0 (local) is exactly 33 bytes.
 *   EigenDA certificates (V1 0x00, V2 0x01, V3 0x02, and later versions) pass as they are.
 * - optimism_generic: 0x01, da_layer 0x00 (EigenDA; the only layer eigenda-proxy serves),
 *   a version byte and at least one certificate byte; a local one is exactly 35 bytes.
 * - optimism_keccak256: 0x00 and a 32-byte keccak256, 33 bytes.
 *
 * Returns a copy.
 */
export function parseCommitment(input: Uint8Array | string, mode: CommitmentMode = 'standard'): Commitment {
  const bytes = decodeCommitment(input)
  if (mode === 'optimism_keccak256') {
    if (bytes[0] !== OP_KECCAK_COMMITMENT_TYPE || bytes.length !== 33) {
      throw new InvalidCommitmentError({ reason: `an OP keccak256 commitment is 0x00 and a 32-byte hash (33 bytes); this one is ${bytes.length} bytes starting 0x${hexByte(bytes[0])}` })
    }
    return bytes
  }
  let versionAt = 0
  if (mode === 'optimism_generic') {
    if (bytes[0] !== OP_GENERIC_COMMITMENT_TYPE) {
      throw new InvalidCommitmentError({ reason: `an OP generic commitment starts 0x01, this one 0x${hexByte(bytes[0])}` })
    }
    if (bytes.length < 4) throw new InvalidCommitmentError({ reason: `an OP generic commitment is 0x01, a da_layer byte, a version byte and a certificate; this one is ${bytes.length} bytes` })
    if (bytes[1] !== EIGENDA_DA_LAYER) {
      throw new InvalidCommitmentError({ reason: `da_layer byte 0x${hexByte(bytes[1])} is not EigenDA (0x00)` })
    }
    versionAt = 2
  } else if (mode !== 'standard') {
    throw new InvalidCommitmentError({ reason: `unknown commitment mode ${JSON.stringify(String(mode)).slice(0, 40)}` })
  }
  if (bytes[versionAt] === LOCAL_COMMITMENT_VERSION && bytes.length !== LOCAL_COMMITMENT_BYTES + versionAt) {
    throw new InvalidCommitmentError({
      reason: `a local commitment (0xc0) is ${LOCAL_COMMITMENT_BYTES + versionAt} bytes${versionAt ? ' in the OP generic form' : ''}, this one ${bytes.length}`,
    })
  }
  return bytes
}

/**
 * Commitment bytes from bytes or hex (with or without 0x, any case): non-empty and at most
 * {@link MAX_COMMITMENT_BYTES}, in no particular layout. Returns a copy.
 */
export function decodeCommitment(input: Uint8Array | string): Commitment {
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
  return bytes
}

function hexByte(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0')
}

export function commitmentToHex(commitment: Commitment): Hex {
  return bytesToHex(commitment)
}
