import { encodeAbiParameters, type Hex, hexToBytes, toBytes, zeroHash } from 'viem'
import { canonicalBytes, STEP_CHAIN_FIELDS } from './canonical.js'
import { InvalidStepError } from './errors.js'
import { keccak256Hex as keccak256 } from './keccak.js'
import { STEP_KINDS, type Step, type StepKind, type WalletStep } from './schemas.js'

/**
 * Step leaves, exactly as `contracts/src/LeafEncoding.sol` defines them (that file is the
 * definition; `leaf-vectors.test.ts` checks this one against vectors made from it):
 *
 *   leaf        = keccak256(abi.encode(STEP_TYPEHASH, uint256 agentId, uint64 index, uint8 kind,
 *                                      bytes32 prevHash, bytes32 payloadHash))
 *   STEP_TYPEHASH      = keccak256("CovenantStep(uint256 agentId,uint64 index,uint8 kind,bytes32 prevHash,bytes32 payloadHash)")
 *   kind        = input 0, inference 1, tool 2, wallet 3, output 4
 *   prevHash    = leaf of the agent's previous step; bytes32(0) for its step 0
 *
 *   payloadHash (wallet) = keccak256(abi.encode(WALLET_TX_TYPEHASH, uint256 chainId, address from,
 *                          address to, uint256 value, bytes32 keccak256(data), uint64 nonce,
 *                          uint32 policyVersion))
 *   WALLET_TX_TYPEHASH = keccak256("CovenantWalletTx(uint256 chainId,address from,address to,uint256 value,bytes32 dataHash,uint64 nonce,uint32 policyVersion)")
 *
 *   payloadHash (input, inference, tool, output) = keccak256(canonicalBytes(payload)) where
 *   payload is the step object without its four chain fields `agentId`, `index`, `kind`
 *   and `prevHash` — i.e. `actionId`, `timestamp` and the kind's own fields:
 *     input:     { actionId, task, timestamp }
 *     inference: { actionId, record, timestamp }
 *     tool:      { actionId, args, outcome, timestamp, tool }
 *     output:    { actionId, result, timestamp }
 *   (canonical.ts: sorted keys, no whitespace, UTF-8). The chain fields are left out because
 *   the leaf binds them itself; `kind` is bound by the leaf's `kind` byte.
 *
 * A wallet step's `actionId` and `timestamp` are NOT bound by its leaf: the Solidity payload
 * has no room for them, so the chain can prove what was sent, not which action sent it. A
 * verifier reads them as the runtime's claim only; the step's position in the hash chain
 * (prevHash) is what ties it to the steps around it.
 */
export const STEP_TYPEHASH: Hex = keccak256(
  toBytes('CovenantStep(uint256 agentId,uint64 index,uint8 kind,bytes32 prevHash,bytes32 payloadHash)'),
)
export const WALLET_TX_TYPEHASH: Hex = keccak256(
  toBytes(
    'CovenantWalletTx(uint256 chainId,address from,address to,uint256 value,bytes32 dataHash,uint64 nonce,uint32 policyVersion)',
  ),
)
/** `prevHash` of an agent's first step. */
export const ZERO_HASH: Hex = zeroHash


const walletTxParams = [
  { type: 'bytes32' },
  { type: 'uint256' },
  { type: 'address' },
  { type: 'address' },
  { type: 'uint256' },
  { type: 'bytes32' },
  { type: 'uint64' },
  { type: 'uint32' },
] as const

/** The part of a non-wallet step that its payloadHash covers. */
export function stepPayload(step: Step): Record<string, unknown> {
  const payload: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(step)) if (!STEP_CHAIN_FIELDS.has(key)) payload[key] = value
  return payload
}

/** The fields of `CovenantWalletTx`; numbers may be bigints or decimal strings (the full uint ranges). */
export type WalletTxFields = {
  chainId: string | bigint
  from: Hex
  to: Hex
  value: string | bigint
  data: Hex
  nonce: number | string | bigint
  policyVersion: number
}

export function walletPayloadHash(step: WalletTxFields | WalletStep): Hex {
  return keccak256(
    encodeAbiParameters(walletTxParams, [
      WALLET_TX_TYPEHASH,
      BigInt(step.chainId),
      step.from,
      step.to,
      BigInt(step.value),
      keccak256(step.data),
      BigInt(step.nonce),
      step.policyVersion,
    ]),
  )
}

/** `payloadHash` of a valid step (e.g. one from decodeStep or built against the schema). */
export function stepPayloadHash(step: Step): Hex {
  if (step.kind === 'wallet') return walletPayloadHash(step)
  return keccak256(canonicalBytes(stepPayload(step)))
}

export type LeafParts = {
  agentId: string | bigint
  index: number | bigint
  kind: StepKind | number
  prevHash: Hex
  payloadHash: Hex
}

const HASH = /^0x[0-9a-fA-F]{64}$/
const leafWords = new Uint8Array(192)
leafWords.set(hexToBytes(STEP_TYPEHASH), 0)
/** The same bytes, for Buffer's hex writes (no intermediate arrays). */
const leafBuffer = Buffer.from(leafWords.buffer, leafWords.byteOffset, leafWords.byteLength)
/** The agentId word last written (an agent's steps all carry the same one). */
let lastAgentId: string | bigint | undefined

function putWord(offset: number, value: bigint, bits: number, what: string): void {
  if (value < 0n || value >= 1n << BigInt(bits)) {
    throw new InvalidStepError({ what: 'leaf', issues: [`${what} ${value} does not fit in uint${bits}`] })
  }
  leafBuffer.write(value.toString(16).padStart(64, '0'), offset, 32, 'hex')
}

/** A word holding a small non-negative integer (a safe integer, so below 2^53: it fits uint64 and uint8's check is the caller's). */
function putSmall(offset: number, value: number): void {
  leafWords.fill(0, offset, offset + 24)
  leafBuffer.writeUInt32BE(Math.floor(value / 2 ** 32), offset + 24)
  leafBuffer.writeUInt32BE(value >>> 0, offset + 28)
}

function putHash(offset: number, value: Hex, what: string): void {
  if (typeof value !== 'string' || !HASH.test(value)) {
    throw new InvalidStepError({ what: 'leaf', issues: [`${what} is not a 32-byte hex string`] })
  }
  leafBuffer.write(value.slice(2), offset, 32, 'hex')
}

/**
 * `LeafEncoding.stepLeaf`: the leaf from its five parts. abi.encode of six static words is
 * their 32-byte big-endian concatenation, written here directly (viem's encodeAbiParameters
 * gives the same bytes, see leaf.test.ts, at several times the cost).
 */
export function leafHash({ agentId, index, kind, prevHash, payloadHash }: LeafParts): Hex {
  if (agentId !== lastAgentId) {
    lastAgentId = undefined
    putWord(32, BigInt(agentId), 256, 'agentId')
    lastAgentId = agentId
  }
  if (typeof index === 'number' && Number.isSafeInteger(index) && index >= 0) putSmall(64, index)
  else putWord(64, BigInt(index), 64, 'index')
  const k = typeof kind === 'number' ? kind : STEP_KINDS[kind]
  if (Number.isInteger(k) && k >= 0 && k < 256) putSmall(96, k)
  else putWord(96, BigInt(k), 8, 'kind')
  putHash(128, prevHash, 'prevHash')
  putHash(160, payloadHash, 'payloadHash')
  return keccak256(leafWords)
}


/**
 * The Merkle leaf of a valid step whose payload's canonical text is already known
 * (canonicalStepTexts): the same value as {@link stepLeaf} without encoding the step again.
 */
export function stepLeafFromPayloadText(step: Step, payloadText: string): Hex {
  return leafHash({
    agentId: step.agentId,
    index: step.index,
    kind: step.kind,
    prevHash: step.prevHash,
    payloadHash: step.kind === 'wallet' ? walletPayloadHash(step) : keccak256(Buffer.from(payloadText, 'utf8')),
  })
}

/** The Merkle leaf of a valid step. */
export function stepLeaf(step: Step): Hex {
  return leafHash({
    agentId: step.agentId,
    index: step.index,
    kind: step.kind,
    prevHash: step.prevHash,
    payloadHash: stepPayloadHash(step),
  })
}
