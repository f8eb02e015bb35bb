import { type Hex, bytesToHex, concatBytes, hexToBytes, keccak256, toBytes } from 'viem'
import { keccak256Bytes } from '../trace/keccak.js'

/**
 * The digest a receipt is signed over.
 *
 * The digest is EIP-712's, assembled from the fixed domain separator and type hash (the
 * same bytes viem's hashTypedData gives, tested), hashed with keccak over bytes
 * (src/trace/keccak.ts, no hex round trips). The container signs it (receipt.ts
 * `signReceipt`); its signer is what recovery gives (secp256k1.ts `recoverDigestSigner`,
 * libsecp256k1: ~0.05 ms a receipt for any key through the native addon, ~0.21 ms through
 * WebAssembly, where viem's `recoverTypedDataAddress` takes ~3 ms and the precomputed tables
 * this module once kept per known signer ~0.45 ms). Recovery,
 * not plain ECDSA verification: a signature with its parity flipped recovers to another key,
 * as `ecrecover` on chain would, and is refused for the claimed one.
 */

const RECEIPT_TYPE = 'Receipt(bytes32 measurement,bytes32 modelDigest,bytes32 requestHash,bytes32 responseHash,bytes32 outputHash,uint64 issuedAt)'
const TYPE_HASH = hexToBytes(keccak256(toBytes(RECEIPT_TYPE)))
const DOMAIN_SEPARATOR = hexToBytes(
  keccak256(
    concatBytes([
      hexToBytes(keccak256(toBytes('EIP712Domain(string name,string version)'))),
      hexToBytes(keccak256(toBytes('Covenant Inference Receipt'))),
      hexToBytes(keccak256(toBytes('1'))),
    ]),
  ),
)
const PREFIX = new Uint8Array([0x19, 0x01])

export type ReceiptDigestFields = {
  measurement: Hex
  modelDigest: Hex
  requestHash: Hex
  responseHash: Hex
  outputHash: Hex
  issuedAt: number | bigint
}

/** The EIP-712 digest of a receipt (= viem's hashTypedData with RECEIPT_DOMAIN / RECEIPT_TYPES). */
export function receiptDigest(f: ReceiptDigestFields): Hex {
  return bytesToHex(receiptDigestBytes(f))
}

const HASH32 = /^0x[0-9a-fA-F]{64}$/

/** {@link receiptDigest} as 32 bytes. */
export function receiptDigestBytes(f: ReceiptDigestFields): Uint8Array {
  const issued = BigInt(f.issuedAt)
  if (issued < 0n || issued >= 1n << 64n) throw new RangeError('issuedAt does not fit in uint64')
  const struct = new Uint8Array(7 * 32)
  struct.set(TYPE_HASH, 0)
  const hashes = [f.measurement, f.modelDigest, f.requestHash, f.responseHash, f.outputHash]
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i]!
    if (!HASH32.test(h)) throw new RangeError('receipt hashes are 32 bytes')
    struct.set(Buffer.from(h.slice(2), 'hex'), 32 * (i + 1))
  }
  struct.set(Buffer.from(issued.toString(16).padStart(64, '0'), 'hex'), 6 * 32)
  const message = new Uint8Array(2 + 32 + 32)
  message.set(PREFIX, 0)
  message.set(DOMAIN_SEPARATOR, 2)
  message.set(keccak256Bytes(struct), 34)
  return keccak256Bytes(message)
}
