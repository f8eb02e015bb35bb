#!/usr/bin/env node
// Writes test/vectors/leaf-vectors.json: trace-step leaves, wallet-step leaves and Merkle
// trees with proofs, computed with viem alone so they are independent of both the Solidity
// `LeafEncoding` library and `src/trace/`. contracts/test/LeafEncoding.t.sol and the
// TypeScript tests hash the same vectors and must agree with this file.
//
//   node scripts/leaf-vectors.mjs           write the file
//   node scripts/leaf-vectors.mjs --check   exit 1 if the file differs from what this computes
//
// Numbers that may exceed 2^53 (agentId, index, chainId, value, nonce) are decimal strings.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { concat, encodeAbiParameters, keccak256, toHex, stringToHex, getAddress } from 'viem'

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../test/vectors/leaf-vectors.json')

const STEP_TYPEHASH = keccak256(
  stringToHex('CovenantStep(uint256 agentId,uint64 index,uint8 kind,bytes32 prevHash,bytes32 payloadHash)'),
)
const WALLET_TX_TYPEHASH = keccak256(
  stringToHex(
    'CovenantWalletTx(uint256 chainId,address from,address to,uint256 value,bytes32 dataHash,uint64 nonce,uint32 policyVersion)',
  ),
)
const KIND = { input: 0, inference: 1, tool: 2, wallet: 3, output: 4 }
const ZERO = `0x${'00'.repeat(32)}`
const U64_MAX = 2n ** 64n - 1n
const U256_MAX = 2n ** 256n - 1n
const tag = (s) => keccak256(stringToHex(s))

function stepLeaf({ agentId, index, kind, prevHash, payloadHash }) {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'uint64' },
        { type: 'uint8' },
        { type: 'bytes32' },
        { type: 'bytes32' },
      ],
      [STEP_TYPEHASH, agentId, index, kind, prevHash, payloadHash],
    ),
  )
}

function walletPayloadHash({ chainId, from, to, value, data, nonce, policyVersion }) {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'address' },
        { type: 'address' },
        { type: 'uint256' },
        { type: 'bytes32' },
        { type: 'uint64' },
        { type: 'uint32' },
      ],
      [WALLET_TX_TYPEHASH, chainId, from, to, value, keccak256(data), nonce, policyVersion],
    ),
  )
}

function walletStepLeaf(s) {
  return stepLeaf({ ...s, kind: KIND.wallet, payloadHash: walletPayloadHash(s) })
}

// Merkle tree: leaves in index order, commutative (sorted-pair) keccak256 nodes, an odd
// node at the end of a level promoted unhashed. Proofs verify with OpenZeppelin MerkleProof.
const hashPair = (a, b) => (BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a])))

function levels(leaves) {
  const all = [leaves]
  while (all.at(-1).length > 1) {
    const l = all.at(-1)
    const next = []
    for (let i = 0; i < l.length; i += 2) next.push(i + 1 < l.length ? hashPair(l[i], l[i + 1]) : l[i])
    all.push(next)
  }
  return all
}

function tree(leaves) {
  const ls = levels(leaves)
  const proofs = leaves.map((_, leafIndex) => {
    const proof = []
    let i = leafIndex
    for (const level of ls.slice(0, -1)) {
      const sibling = i ^ 1
      if (sibling < level.length) proof.push(level[sibling])
      i >>= 1
    }
    return proof
  })
  return { leaves, root: ls.at(-1)[0], proofs }
}

// ---------------------------------------------------------------- vectors

const steps = [
  { agentId: 1n, index: 0n, kind: KIND.input, prevHash: ZERO, payloadHash: tag('input: pay the invoice') },
  { agentId: 1n, index: 1n, kind: KIND.inference, prevHash: tag('p1'), payloadHash: tag('inference') },
  { agentId: 1n, index: 2n, kind: KIND.tool, prevHash: tag('p2'), payloadHash: tag('tool: lookup') },
  { agentId: 1n, index: 3n, kind: KIND.wallet, prevHash: tag('p3'), payloadHash: tag('wallet payload') },
  { agentId: 1n, index: 4n, kind: KIND.output, prevHash: tag('p4'), payloadHash: ZERO },
  { agentId: 2n ** 53n + 1n, index: 2n ** 32n, kind: KIND.inference, prevHash: tag('big'), payloadHash: tag('x') },
  { agentId: U256_MAX, index: U64_MAX, kind: KIND.output, prevHash: `0x${'ff'.repeat(32)}`, payloadHash: `0x${'ff'.repeat(32)}` },
  { agentId: 0n, index: 0n, kind: KIND.tool, prevHash: ZERO, payloadHash: ZERO },
]

const wallet = getAddress('0x3a11e70000000000000000000000000000000000')
const shop = getAddress('0x0000000000000000000000000000000000005409')
const dex = getAddress('0x0000000000000000000000000000000000000de1')
const transferData = concat([
  '0xa9059cbb',
  encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [shop, 10n ** 18n]),
])

const walletSteps = [
  { agentId: 1n, index: 3n, prevHash: tag('p3'), chainId: 31337n, from: wallet, to: shop, value: 5n * 10n ** 17n, data: '0x', nonce: 0n, policyVersion: 1 },
  { agentId: 1n, index: 7n, prevHash: tag('p7'), chainId: 1n, from: wallet, to: dex, value: 0n, data: transferData, nonce: 1n, policyVersion: 1 },
  { agentId: 1n, index: 8n, prevHash: tag('p8'), chainId: 8453n, from: wallet, to: dex, value: 0n, data: '0xa9059c', nonce: 2n, policyVersion: 2 },
  { agentId: 9007199254740993n, index: 2n ** 40n, prevHash: ZERO, chainId: 2n ** 64n + 5n, from: shop, to: wallet, value: U256_MAX, data: toHex(new Uint8Array(100).map((_, i) => i)), nonce: U64_MAX, policyVersion: 2 ** 32 - 1 },
  { agentId: 3n, index: 0n, prevHash: ZERO, chainId: 31337n, from: wallet, to: '0x0000000000000000000000000000000000000000', value: 1n, data: '0x00', nonce: 0n, policyVersion: 0 },
]

const stepLeaves = steps.map(stepLeaf)
const walletLeaves = walletSteps.map(walletStepLeaf)
const pool = [...stepLeaves, ...walletLeaves]
const trees = [1, 2, 3, 4, 5, 7, 8, 13].map((n) =>
  tree(Array.from({ length: n }, (_, i) => (i < pool.length ? pool[(i * 5 + n) % pool.length] : tag(`leaf-${n}-${i}`)))),
)
// a tree whose leaves are not distinct would make proofs ambiguous: keep them distinct
for (const t of trees) if (new Set(t.leaves).size !== t.leaves.length) throw new Error('duplicate leaves in a tree')

const str = (n) => n.toString()
const json = {
  steps: steps.map((s, i) => ({
    agentId: str(s.agentId),
    index: str(s.index),
    kind: s.kind,
    prevHash: s.prevHash,
    payloadHash: s.payloadHash,
    leaf: stepLeaves[i],
  })),
  walletSteps: walletSteps.map((s, i) => ({
    agentId: str(s.agentId),
    index: str(s.index),
    prevHash: s.prevHash,
    chainId: str(s.chainId),
    from: s.from,
    to: s.to,
    value: str(s.value),
    data: s.data,
    nonce: str(s.nonce),
    policyVersion: s.policyVersion,
    leaf: walletLeaves[i],
  })),
  trees,
}

const text = `${JSON.stringify(json, null, 2)}\n`
if (process.argv.includes('--check')) {
  const current = readFileSync(out, 'utf8')
  if (current !== text) {
    process.stderr.write(`${out} is out of date: run node scripts/leaf-vectors.mjs\n`)
    process.exit(1)
  }
} else {
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, text)
  process.stdout.write(`wrote ${out}: ${steps.length} steps, ${walletSteps.length} wallet steps, ${trees.length} trees\n`)
}
