import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { MerkleInputError } from './errors.js'
import { keccak256Bytes } from './keccak.js'

/**
 * The batch Merkle tree, as OpenZeppelin's `MerkleProof.verify` checks it:
 *
 * - leaves in index order (not sorted), one per step;
 * - a node is keccak256 of its two children sorted as uint256 (smaller first), so a proof
 *   is just the list of siblings, no left/right bits;
 * - each level pairs nodes (0,1), (2,3), …; an odd last node is promoted to the next level
 *   unchanged;
 * - one leaf: the root is the leaf and the proof is empty.
 */

/** A tree over 2^53 leaves has fewer levels than this; longer "proofs" are rejected. */
export const MAX_PROOF_LENGTH = 64

const HASH = /^0x[0-9a-fA-F]{64}$/

function toHash(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !HASH.test(value)) {
    throw new MerkleInputError(`${what} is not a 32-byte hex string (${describe(value)})`)
  }
  return hexToBytes(value as Hex)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 70 ? `${value.slice(0, 70)}…` : JSON.stringify(value)
  return typeof value
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return 0
}

const pair = new Uint8Array(64)
function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (compare(a, b) <= 0) {
    pair.set(a, 0)
    pair.set(b, 32)
  } else {
    pair.set(b, 0)
    pair.set(a, 32)
  }
  return keccak256Bytes(pair)
}

function nextLevel(level: Uint8Array[]): Uint8Array[] {
  const next: Uint8Array[] = []
  for (let i = 0; i + 1 < level.length; i += 2) next.push(hashPair(level[i] as Uint8Array, level[i + 1] as Uint8Array))
  if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array)
  return next
}

function toLeaves(leaves: readonly Hex[]): Uint8Array[] {
  if (!Array.isArray(leaves)) throw new MerkleInputError('leaves must be an array')
  if (leaves.length === 0) throw new MerkleInputError('a tree needs at least one leaf (TraceLog rejects empty batches)')
  return leaves.map((leaf, i) => toHash(leaf, `leaf ${i}`))
}

export function merkleRoot(leaves: readonly Hex[]): Hex {
  let level = toLeaves(leaves)
  while (level.length > 1) level = nextLevel(level)
  return bytesToHex(level[0] as Uint8Array)
}

/** A built tree: its root and a proof for any leaf without rebuilding (for many proofs of one batch). */
export type MerkleTree = {
  root: Hex
  size: number
  proof(index: number): Hex[]
}

export function buildMerkleTree(leaves: readonly Hex[]): MerkleTree {
  const levels = [toLeaves(leaves)]
  while ((levels.at(-1) as Uint8Array[]).length > 1) levels.push(nextLevel(levels.at(-1) as Uint8Array[]))
  const size = (levels[0] as Uint8Array[]).length
  return {
    root: bytesToHex((levels.at(-1) as Uint8Array[])[0] as Uint8Array),
    size,
    proof(index: number): Hex[] {
      if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
        throw new MerkleInputError(`leaf index ${String(index)} is outside 0..${size - 1}`)
      }
      const proof: Hex[] = []
      let i = index
      for (const level of levels.slice(0, -1)) {
        const sibling = i ^ 1
        if (sibling < level.length) proof.push(bytesToHex(level[sibling] as Uint8Array))
        i >>= 1
      }
      return proof
    },
  }
}

/** The sibling hashes from leaf `index` up to the root, for `MerkleProof.verify`. */
export function merkleProof(leaves: readonly Hex[], index: number): Hex[] {
  return buildMerkleTree(leaves).proof(index)
}

/** The root a proof leads to from `leaf` (`MerkleProof.processProof`). */
export function processMerkleProof(proof: readonly Hex[], leaf: Hex): Hex {
  if (!Array.isArray(proof)) throw new MerkleInputError('the proof must be an array of hashes')
  if (proof.length > MAX_PROOF_LENGTH) {
    throw new MerkleInputError(`the proof has ${proof.length} nodes, more than ${MAX_PROOF_LENGTH}`)
  }
  let node = toHash(leaf, 'the leaf')
  for (const [i, sibling] of proof.entries()) node = hashPair(node, toHash(sibling, `proof node ${i}`))
  return bytesToHex(node)
}

/**
 * `MerkleProof.verify(proof, root, leaf)`. Returns false for a proof that does not lead to
 * `root`; throws {@link MerkleInputError} for inputs that are not hashes at all.
 */
export function verifyMerkleProof(proof: readonly Hex[], root: Hex, leaf: Hex): boolean {
  const expected = toHash(root, 'the root')
  return compare(hexToBytes(processMerkleProof(proof, leaf)), expected) === 0
}
