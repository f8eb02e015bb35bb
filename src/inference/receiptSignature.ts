import { invert as invertMod } from '@noble/curves/abstract/modular'
import { secp256k1 } from '@noble/curves/secp256k1'
import { type Address, type Hex, bytesToHex, concatBytes, hexToBytes, keccak256, recoverAddress, toBytes } from 'viem'
import { publicKeyToAddress } from 'viem/accounts'
import { keccak256Bytes } from '../trace/keccak.js'

/**
 * The signer of a receipt, fast. `recoverTypedDataAddress` costs ~3 ms of pure-JS elliptic
 * curve work per receipt (it multiplies a point nobody has seen before). A container signs
 * every receipt with one key, so the second time a signer is seen its public key is kept
 * with precomputed multiples, and a receipt that claims that signer is checked by one
 * double multiplication over two precomputed points instead.
 *
 * The check is exactly recovery's answer, not plain ECDSA verification: with
 * R' = (h·s⁻¹)·G + (r·s⁻¹)·P, recovery of (r, s, v) gives P if and only if R'.x = r and the
 * parity of R'.y is v's (recovery rebuilds R from r and v, and Q = r⁻¹(s·R − h·G) equals P
 * exactly when R = R'). A signature with the parity flipped, which recovers to another key
 * (as `ecrecover` on chain would), is refused here too. receiptSignature.test.ts compares the
 * two on valid, flipped and random signatures.
 *
 * Both multiplications are variable time (everything in a verification is public) over
 * precomputed tables: G's and the signer key's, each with its image under secp256k1's
 * endomorphism φ(x, y) = (βx, y) = λ·(x, y). A scalar k is split into k₁ + k₂·λ with k₁, k₂
 * of ~128 bits (noble's `splitScalar`), and k·P = k₁·P + k₂·φ(P): ~34 table additions in all,
 * ~0.2 ms, where noble's constant-time `multiply` takes ~0.4 ms and recovery ~3 ms. The split
 * is not optional: noble 1.9.1's `multiplyUnsafe` over a table sizes its windows for such
 * half-length scalars and gives wrong points for full-length ones (50 of 50 random scalars
 * on G). That made every check here fail and fall back to recovery without anyone noticing;
 * receiptSignature.test.ts now checks that the fast path itself accepts (`signedByKey`) and
 * that the table multiplication equals noble's `multiply`, not only that answers agree.
 *
 * The digest is EIP-712's, assembled from the fixed domain separator and type hash (the
 * same bytes viem's hashTypedData gives, also tested), hashed with keccak over bytes (src/trace/keccak.ts, no hex
 * round trips). The container signs the same digest (receipt.ts `signReceipt`).
 */

const Point = secp256k1.ProjectivePoint
const N = secp256k1.CURVE.n

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

type KnownKey = { point: InstanceType<typeof Point>; tables: Tabled | undefined }

/** A point and its endomorphism image, both with precomputed tables (see the module comment). */
export type Tabled = { p: InstanceType<typeof Point>; phi: InstanceType<typeof Point> }
const ENDO = secp256k1.CURVE.endo as { beta: bigint; splitScalar(k: bigint): { k1neg: boolean; k1: bigint; k2neg: boolean; k2: bigint } }

/** Builds the tables of a point (~30 ms, once per signer). Exported for tests. */
export function tabled(P: InstanceType<typeof Point>): Tabled {
  const p = Point.fromAffine(P.toAffine())
  const phi = new Point(secp256k1.CURVE.Fp.mul(p.px, ENDO.beta), p.py, p.pz)
  secp256k1.utils.precompute(8, p)
  secp256k1.utils.precompute(8, phi)
  return { p, phi }
}

let baseTables: Tabled | undefined

/** k·P over P's tables, variable time (public scalars only). Exported for tests. */
export function mulTabled(t: Tabled, k: bigint): InstanceType<typeof Point> {
  const { k1neg, k1, k2neg, k2 } = ENDO.splitScalar(mod(k))
  let a = k1 === 0n ? Point.ZERO : t.p.multiplyUnsafe(k1)
  let b = k2 === 0n ? Point.ZERO : t.phi.multiplyUnsafe(k2)
  if (k1neg) a = a.negate()
  if (k2neg) b = b.negate()
  return a.add(b)
}

/** Signers seen, by lowercase address; at most {@link MAX_KNOWN} (a container has one key; a few restarts make a few). */
const known = new Map<string, KnownKey>()
const MAX_KNOWN = 16

/**
 * The address that signed `digest` with `signature` (65 bytes, v 0/1/27/28), or undefined
 * when the signature is malformed or recovers to no key. When the claimed signer's key is
 * known, answers without recovery: `claimed` if the signature is its, else (the rare path)
 * the full recovery's answer.
 */
export async function receiptSigner(digest: Hex, signature: Hex, claimed: Address): Promise<Address | undefined> {
  const key = known.get(claimed.toLowerCase())
  if (key?.tables && signedByKey(digest, signature, key.tables)) return claimed
  let recovered: Address
  try {
    recovered = await recoverAddress({ hash: digest, signature })
  } catch {
    return undefined
  }
  if (recovered.toLowerCase() === claimed.toLowerCase()) remember(digest, signature, recovered, key)
  return recovered
}

/** Keeps a signer's public key: recovered the first time it is seen, precomputed the second (a key used once is not worth the tables). */
function remember(digest: Hex, signature: Hex, address: Address, key: KnownKey | undefined): void {
  const id = address.toLowerCase()
  if (key) {
    key.tables ??= tabled(key.point)
    return
  }
  const sig = parse(signature)
  if (!sig) return
  const point = new secp256k1.Signature(sig.r, sig.s).addRecoveryBit(sig.v).recoverPublicKey(digest.slice(2))
  if (publicKeyToAddress(bytesToHex(point.toRawBytes(false))).toLowerCase() !== id) return
  if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value as string)
  known.set(id, { point, tables: undefined })
}

function parse(signature: Hex): { r: bigint; s: bigint; v: 0 | 1 } | undefined {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return undefined
  const r = BigInt(`0x${signature.slice(2, 66)}`)
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  const vv = Number.parseInt(signature.slice(130), 16)
  const v = vv === 0 || vv === 27 ? 0 : vv === 1 || vv === 28 ? 1 : undefined
  if (v === undefined || r < 1n || r >= N || s < 1n || s >= N) return undefined
  return { r, s, v }
}

function mod(a: bigint): bigint {
  const m = a % N
  return m >= 0n ? m : m + N
}

/** Whether recovering (r, s, v) over `digest` gives the tabled key `P` (see the module comment). Exported for tests. */
export function signedByKey(digest: Hex, signature: Hex, P: Tabled): boolean {
  const sig = parse(signature)
  if (!sig) return false
  const h = mod(BigInt(digest))
  const sInv = invert(sig.s)
  baseTables ??= tabled(Point.BASE)
  const R = mulTabled(baseTables, h * sInv).add(mulTabled(P, sig.r * sInv))
  if (R.equals(Point.ZERO)) return false
  const { x, y } = R.toAffine()
  return x === sig.r && Number(y & 1n) === sig.v
}

/** s⁻¹ mod n (s ≠ 0). */
function invert(s: bigint): bigint {
  return invertMod(s, N)
}
