import { isAddress, isHex, type Hex } from 'viem'
import { InvalidEvidenceError } from '../errors.js'
import type { BatchHeader } from '../actions/batchHeader.js'
import type { WalletStepTuple } from '../actions/walletStep.js'

/** Deepest Merkle proof accepted: a batch of 2^64 steps is already far past any blob. */
export const MAX_PROOF_LENGTH = 64

function uint(what: string, v: unknown, bits: number): void {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << BigInt(bits)) throw new InvalidEvidenceError(what, `expected a uint${bits} (bigint), got ${show(v)}`)
}
function uintNumber(what: string, v: unknown, bits: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= 2 ** bits) throw new InvalidEvidenceError(what, `expected a uint${bits} (number), got ${show(v)}`)
}
function bytes32(what: string, v: unknown): void {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw new InvalidEvidenceError(what, `expected 32 bytes as 0x-hex, got ${show(v)}`)
}
function address(what: string, v: unknown): void {
  if (typeof v !== 'string' || !isAddress(v, { strict: false })) throw new InvalidEvidenceError(what, `expected an address, got ${show(v)}`)
}
function bytes(what: string, v: unknown, exactLength?: number): void {
  if (typeof v !== 'string' || !isHex(v, { strict: true }) || v.length % 2 !== 0) throw new InvalidEvidenceError(what, `expected 0x-hex bytes, got ${show(v)}`)
  if (exactLength !== undefined && (v.length - 2) / 2 !== exactLength) throw new InvalidEvidenceError(what, `expected ${exactLength} bytes, got ${(v.length - 2) / 2}`)
}
function record(what: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidEvidenceError(what, `expected an object, got ${show(v)}`)
  return v as Record<string, unknown>
}
function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'string') return v.length > 80 ? `"${v.slice(0, 80)}…" (${v.length} characters)` : JSON.stringify(v)
  if (Array.isArray(v)) return `an array of ${v.length}`
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v)
}

/** A wallet step, sequence and Merkle proof as `DisputeGame.provePolicyBreach` takes them. */
export function assertPolicyBreachInput(p: { step: WalletStepTuple; sequence: bigint; proof: readonly Hex[] }): void {
  const input = record('policy breach evidence', p)
  const s = record('wallet step', input.step)
  uint('step.agentId', s.agentId, 256)
  uint('step.index', s.index, 64)
  bytes32('step.prevHash', s.prevHash)
  uint('step.chainId', s.chainId, 256)
  address('step.from', s.from)
  address('step.to', s.to)
  uint('step.value', s.value, 256)
  bytes('step.data', s.data)
  uint('step.nonce', s.nonce, 64)
  uintNumber('step.policyVersion', s.policyVersion, 32)
  uint('sequence', input.sequence, 64)
  if (!Array.isArray(input.proof)) throw new InvalidEvidenceError('proof', `expected an array of 32-byte hashes, got ${show(input.proof)}`)
  if (input.proof.length > MAX_PROOF_LENGTH) throw new InvalidEvidenceError('proof', `${input.proof.length} hashes, at most ${MAX_PROOF_LENGTH}`)
  input.proof.forEach((h, i) => bytes32(`proof[${i}]`, h))
}

function header(what: string, v: unknown): BatchHeader {
  const h = record(what, v)
  uint(`${what}.agentId`, h.agentId, 256)
  uint(`${what}.sequence`, h.sequence, 64)
  bytes32(`${what}.merkleRoot`, h.merkleRoot)
  bytes32(`${what}.daCommitmentHash`, h.daCommitmentHash)
  uintNumber(`${what}.stepCount`, h.stepCount, 32)
  return h as unknown as BatchHeader
}

/** Two operator-signed headers as `DisputeGame.proveEquivocation` takes them, and that they can be an equivocation. */
export function assertEquivocationInput(p: { a: BatchHeader; sigA: Hex; b: BatchHeader; sigB?: Hex | undefined }): void {
  const input = record('equivocation evidence', p)
  const a = header('a', input.a)
  const b = header('b', input.b)
  bytes('sigA', input.sigA, 65)
  if (input.sigB !== undefined && input.sigB !== '0x') bytes('sigB', input.sigB, 65)
  if (a.agentId !== b.agentId || a.sequence !== b.sequence) {
    throw new InvalidEvidenceError('equivocation evidence', 'the two headers must name the same agent and sequence')
  }
  if (a.merkleRoot.toLowerCase() === b.merkleRoot.toLowerCase() && a.daCommitmentHash.toLowerCase() === b.daCommitmentHash.toLowerCase() && a.stepCount === b.stepCount) {
    throw new InvalidEvidenceError('equivocation evidence', 'the two headers are the same batch')
  }
}
