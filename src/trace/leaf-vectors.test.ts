import { readFileSync } from 'node:fs'
import type { Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import { leafHash, stepLeaf, walletPayloadHash } from './leaf.js'
import { merkleProof, merkleRoot, verifyMerkleProof } from './merkle.js'
import { walletStepSchema } from './schemas.js'

// test/vectors/leaf-vectors.json is written by scripts/leaf-vectors.mjs with viem alone and
// checked against the Solidity LeafEncoding library by contracts/test/LeafEncoding.t.sol:
// matching it here means src/trace hashes exactly as the contracts do.
type Vectors = {
  steps: { agentId: string; index: string; kind: number; prevHash: Hex; payloadHash: Hex; leaf: Hex }[]
  walletSteps: {
    agentId: string
    index: string
    prevHash: Hex
    chainId: string
    from: Hex
    to: Hex
    value: string
    data: Hex
    nonce: string
    policyVersion: number
    leaf: Hex
  }[]
  trees: { leaves: Hex[]; root: Hex; proofs: Hex[][] }[]
}
const vectors: Vectors = JSON.parse(
  readFileSync(new URL('../../test/vectors/leaf-vectors.json', import.meta.url), 'utf8'),
)

describe('leaf vectors shared with the contracts', () => {
  test('the file has every section', () => {
    expect(vectors.steps.length).toBeGreaterThan(0)
    expect(vectors.walletSteps.length).toBeGreaterThan(0)
    expect(vectors.trees.length).toBeGreaterThan(0)
  })

  test('step leaves from their parts (LeafEncoding.stepLeaf)', () => {
    for (const v of vectors.steps) {
      expect(leafHash({ agentId: BigInt(v.agentId), index: BigInt(v.index), kind: v.kind, prevHash: v.prevHash, payloadHash: v.payloadHash })).toBe(v.leaf)
    }
  })

  test('wallet step leaves (LeafEncoding.walletStepLeaf), over the full uint ranges', () => {
    for (const v of vectors.walletSteps) {
      const payloadHash = walletPayloadHash({ ...v, nonce: BigInt(v.nonce) })
      expect(leafHash({ agentId: v.agentId, index: BigInt(v.index), kind: 'wallet', prevHash: v.prevHash, payloadHash })).toBe(v.leaf)
    }
  })

  test('wallet steps that fit the trace schema hash to the same leaf through stepLeaf', () => {
    let checked = 0
    for (const v of vectors.walletSteps) {
      const candidate = {
        kind: 'wallet',
        agentId: v.agentId,
        index: Number(v.index),
        prevHash: v.prevHash,
        actionId: 'vector',
        timestamp: 0,
        chainId: v.chainId,
        from: v.from.toLowerCase(),
        to: v.to.toLowerCase(),
        value: v.value,
        data: v.data.toLowerCase(),
        nonce: Number(v.nonce),
        policyVersion: v.policyVersion,
      }
      if (!Number.isSafeInteger(candidate.index) || !Number.isSafeInteger(candidate.nonce)) continue
      const step = walletStepSchema.parse(candidate)
      expect(stepLeaf(step)).toBe(v.leaf)
      checked++
    }
    expect(checked).toBeGreaterThanOrEqual(3)
  })

  test('Merkle roots and proofs (OpenZeppelin MerkleProof)', () => {
    for (const t of vectors.trees) {
      expect(merkleRoot(t.leaves)).toBe(t.root)
      t.leaves.forEach((leaf, i) => {
        expect(merkleProof(t.leaves, i)).toEqual(t.proofs[i])
        expect(verifyMerkleProof(t.proofs[i]!, t.root, leaf)).toBe(true)
      })
    }
  })
})
