import fc from 'fast-check'
import { type Hex, concat, keccak256 } from 'viem'
import { describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MerkleInputError } from './errors.js'
import { MAX_PROOF_LENGTH, buildMerkleTree, merkleProof, merkleRoot, processMerkleProof, verifyMerkleProof } from './merkle.js'

const leafAt = (i: number): Hex => keccak256(`0x${i.toString(16).padStart(64, '0')}`)
const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafAt(i))
const sortedPair = (a: Hex, b: Hex) => (BigInt(a) <= BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a])))

// A reference written the other way round: recursive halving on the largest power of two
// would differ, so this one follows the level-by-level rule literally.
function referenceRoot(level: Hex[]): Hex {
  if (level.length === 1) return level[0] as Hex
  const next: Hex[] = []
  for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? sortedPair(level[i]!, level[i + 1]!) : level[i]!)
  return referenceRoot(next)
}

describe('merkleRoot', () => {
  test('one leaf is its own root; pairs are sorted; an odd node is promoted', () => {
    const [a, b, c] = leaves(3) as [Hex, Hex, Hex]
    expect(merkleRoot([a])).toBe(a)
    expect(merkleRoot([a, b])).toBe(sortedPair(a, b))
    expect(merkleRoot([b, a])).toBe(sortedPair(a, b))
    expect(merkleRoot([a, b, c])).toBe(sortedPair(sortedPair(a, b), c))
    for (let n = 1; n <= 70; n++) expect(merkleRoot(leaves(n))).toBe(referenceRoot(leaves(n)))
  })

  test('accepts mixed-case hex and rejects non-hashes and empty trees', () => {
    const [a, b] = leaves(2) as [Hex, Hex]
    expect(merkleRoot([a.toUpperCase().replace('0X', '0x') as Hex, b])).toBe(merkleRoot([a, b]))
    expect(() => merkleRoot([])).toThrow(MerkleInputError)
    expect(() => merkleRoot(['0x1234'])).toThrowErrorMatchingInlineSnapshot(`
      [MerkleInputError: Invalid Merkle input: leaf 0 is not a 32-byte hex string ("0x1234").

      Leaves, roots and proof nodes are 0x-prefixed 32-byte hex strings (lowercase or not).
      Docs: src/trace/README.md#merkle-tree]
    `)
  })
})

describe('merkleProof / verifyMerkleProof', () => {
  test('every leaf of trees of 1..40 leaves proves against the root; nothing else does', () => {
    for (let n = 1; n <= 40; n++) {
      const ls = leaves(n)
      const root = merkleRoot(ls)
      const tree = buildMerkleTree(ls)
      expect(tree.root).toBe(root)
      ls.forEach((leaf, i) => {
        const proof = merkleProof(ls, i)
        expect(tree.proof(i)).toEqual(proof)
        expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)))
        expect(processMerkleProof(proof, leaf)).toBe(root)
        expect(verifyMerkleProof(proof, root, leaf)).toBe(true)
        expect(verifyMerkleProof(proof, root, leafAt(n + 1))).toBe(false)
        if (proof.length > 0) {
          expect(verifyMerkleProof(proof.slice(1), root, leaf)).toBe(false)
          expect(verifyMerkleProof([...proof].reverse(), root, leaf)).toBe(proof.length === 1 || proof[0] === proof.at(-1))
        }
      })
    }
  })

  test('rejects out-of-range indices', () => {
    expect(() => merkleProof(leaves(3), 3)).toThrow(MerkleInputError)
    expect(() => merkleProof(leaves(3), -1)).toThrow(MerkleInputError)
    expect(() => merkleProof(leaves(3), 0.5)).toThrow(MerkleInputError)
  })

  test('3,000 malformed or random proofs: a boolean or a MerkleInputError, never anything else', () => {
    const ls = leaves(9)
    const root = merkleRoot(ls)
    const hashLike = fc.oneof(
      fc.constantFrom(...ls),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex),
      fc.string().map((s) => s as Hex),
      fc.constant('0x' as Hex),
      fc.anything() as fc.Arbitrary<Hex>,
    )
    const runs = [
      fc.tuple(fc.array(hashLike, { maxLength: 8 }), hashLike, hashLike),
      fc.tuple(fc.array(hashLike, { maxLength: MAX_PROOF_LENGTH + 3 }), fc.constant(root), fc.constantFrom(...ls)),
      fc.tuple(fc.anything() as fc.Arbitrary<Hex[]>, fc.constant(root), fc.constantFrom(...ls)),
    ]
    for (const arb of runs) {
      fc.assert(
        fc.property(arb, ([proof, r, leaf]) => {
          try {
            expect(typeof verifyMerkleProof(proof, r, leaf)).toBe('boolean')
          } catch (err) {
            expect(err).toBeInstanceOf(BaseError)
            expect(err).toBeInstanceOf(MerkleInputError)
          }
        }),
        { numRuns: 1000 },
      )
    }
  })
})
