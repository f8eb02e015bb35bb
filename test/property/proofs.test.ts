/**
 * Malformed evidence given to provePolicyBreach / proveEquivocation is refused on the TS
 * side before anything is sent: both send a commit transaction first and reveal the proof
 * in the next block, so evidence the reveal cannot encode (or the contract must refuse)
 * would otherwise spend a transaction. The contract side of proofs is covered by forge.
 * Each run breaks one field of otherwise good evidence; the client's transport records
 * every request it gets, and must get none.
 */
import fc from 'fast-check'
import { createPublicClient, createWalletClient, custom, keccak256, toHex, type Hex, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { expect, test } from 'vitest'
import type { BatchHeader } from '../../src/bonds/actions/batchHeader.js'
import { proveEquivocation } from '../../src/bonds/actions/proveEquivocation.js'
import { provePolicyBreach } from '../../src/bonds/actions/provePolicyBreach.js'
import type { WalletStepTuple } from '../../src/bonds/actions/walletStep.js'
import { chainFor, type CovenantClient } from '../../src/bonds/client.js'
import type { CovenantDeployment } from '../../src/bonds/deployment.js'

const RUNS = 1_000
const requests: string[] = []
const transport = custom({
  async request({ method }: { method: string }) {
    requests.push(method)
    throw new Error('the test transport answers nothing')
  },
})
const chain = chainFor('http://127.0.0.1:1', 31337)
const addr = (n: number) => `0x${n.toString(16).padStart(40, '0')}` as `0x${string}`
const deployment = {
  chainId: 31337,
  contracts: { disputeGame: addr(1), traceLog: addr(2), agentRegistry: addr(3), bondVault: addr(4), verifierRegistry: addr(5), bondToken: addr(6) },
} as unknown as CovenantDeployment
const client: CovenantClient = {
  deployment,
  publicClient: createPublicClient({ chain, transport }) as PublicClient,
  walletClient: createWalletClient({ chain, transport, account: privateKeyToAccount(keccak256(toHex('proofs-test'))) }),
}

const h32 = (s: string) => keccak256(toHex(s))
const goodStep: WalletStepTuple = {
  agentId: 3n,
  index: 17n,
  prevHash: h32('prev'),
  chainId: 31337n,
  from: addr(0xaa),
  to: addr(0xbb),
  value: 10n ** 18n,
  data: '0x',
  nonce: 4n,
  policyVersion: 1,
}
const goodBreach = { step: goodStep, sequence: 2n, proof: [h32('p0'), h32('p1'), h32('p2')] as Hex[] }
const headerA: BatchHeader = { agentId: 3n, sequence: 2n, merkleRoot: h32('root-a'), daCommitmentHash: h32('da-a'), stepCount: 8 }
const headerB: BatchHeader = { ...headerA, merkleRoot: h32('root-b') }
const sig = `0x${'11'.repeat(65)}` as Hex
const goodEquivocation = { a: headerA, sigA: sig, b: headerB, sigB: sig }

// ------------------------------------------------------------------ bad values per Solidity type

const notBigint = fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 10 }), fc.constant(null), fc.constant(undefined), fc.constant(Number.NaN), fc.array(fc.integer(), { maxLength: 2 }))
const badUint = (bits: number) =>
  fc.oneof(
    fc.bigInt({ min: -(1n << 300n), max: -1n }),
    fc.bigInt({ min: 1n << BigInt(bits), max: (1n << BigInt(bits)) + (1n << 300n) }),
    notBigint,
  )
const badUintNumber = (bits: number) =>
  fc.oneof(fc.integer({ min: -(2 ** 31), max: -1 }), fc.double({ min: 0.1, max: 1e6, noInteger: true }), fc.constant(2 ** bits), fc.constant(Number.MAX_SAFE_INTEGER + 2), fc.bigInt({ min: 0n, max: 10n }), fc.string({ maxLength: 5 }), fc.constant(null))
const hexOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => `0x${Buffer.from(b).toString('hex')}`)
const badBytes32 = fc.oneof(
  fc.integer({ min: 0, max: 70 }).filter((n) => n !== 32).chain(hexOf),
  hexOf(32).map((h) => h.slice(2)), // no 0x
  hexOf(32).map((h) => `${h.slice(0, -1)}g`),
  hexOf(32).map((h) => `${h}0`),
  fc.string({ maxLength: 70 }),
  notBigint,
  fc.bigInt({ min: 0n, max: 1n << 255n }),
)
const badAddress = fc.oneof(
  fc.integer({ min: 0, max: 40 }).filter((n) => n !== 20).chain(hexOf),
  hexOf(20).map((h) => h.slice(2)),
  hexOf(20).map((h) => `${h.slice(0, -1)}z`),
  fc.string({ maxLength: 44 }),
  notBigint,
)
const badBytes = fc.oneof(fc.stringMatching(/^0x[0-9a-f]{1,9}$/).filter((h) => h.length % 2 === 1), fc.stringMatching(/^[0-9a-f]{2,10}$/), fc.constant('0xzz'), fc.string({ maxLength: 10 }).filter((s) => !/^0x([0-9a-fA-F]{2})*$/.test(s)), notBigint)
const badSig = fc.oneof(fc.integer({ min: 1, max: 130 }).filter((n) => n !== 65).chain(hexOf), badBytes)

const stepField: Record<keyof WalletStepTuple, fc.Arbitrary<unknown>> = {
  agentId: badUint(256),
  index: badUint(64),
  prevHash: badBytes32,
  chainId: badUint(256),
  from: badAddress,
  to: badAddress,
  value: badUint(256),
  data: badBytes,
  nonce: badUint(64),
  policyVersion: badUintNumber(32),
}

const badBreach = fc.oneof(
  fc.constantFrom(...(Object.keys(stepField) as (keyof WalletStepTuple)[])).chain((field) => stepField[field].map((v) => ({ why: `step.${field}`, input: { ...goodBreach, step: { ...goodStep, [field]: v } } }))),
  badUint(64).map((v) => ({ why: 'sequence', input: { ...goodBreach, sequence: v } })),
  fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.constant({})).map((v) => ({ why: 'step', input: { ...goodBreach, step: v } })),
  fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.constant({ 0: h32('x') })).map((v) => ({ why: 'proof', input: { ...goodBreach, proof: v } })),
  fc.tuple(fc.array(hexOf(32), { maxLength: 8 }), badBytes32, fc.array(hexOf(32), { maxLength: 8 })).map(([pre, bad, post]) => ({ why: 'proof element', input: { ...goodBreach, proof: [...pre, bad, ...post] } })),
  fc.integer({ min: 65, max: 300 }).map((n) => ({ why: 'proof length', input: { ...goodBreach, proof: Array.from({ length: n }, (_, i) => h32(`p${i}`)) } })),
)

const headerField: Record<keyof BatchHeader, fc.Arbitrary<unknown>> = {
  agentId: badUint(256),
  sequence: badUint(64),
  merkleRoot: badBytes32,
  daCommitmentHash: badBytes32,
  stepCount: badUintNumber(32),
}
const badEquivocation = fc.oneof(
  fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom(...(Object.keys(headerField) as (keyof BatchHeader)[]))).chain(([which, field]) =>
    headerField[field].map((v) => ({ why: `${which}.${field}`, input: { ...goodEquivocation, [which]: { ...goodEquivocation[which as 'a' | 'b'], [field]: v } } })),
  ),
  fc
    .tuple(fc.constantFrom('sigA', 'sigB'), badSig)
    .filter(([which, v]) => which === 'sigA' || (v !== undefined && v !== '0x')) // an absent or empty sigB is allowed: b is then the committed batch
    .map(([which, v]) => ({ why: which, input: { ...goodEquivocation, [which]: v } })),
  fc.oneof(fc.constant(null), fc.string(), fc.integer()).map((v) => ({ why: 'header', input: { ...goodEquivocation, b: v } })),
  // well-typed, but not an equivocation
  fc.bigInt({ min: 0n, max: 1000n }).filter((n) => n !== 3n).map((n) => ({ why: 'other agent', input: { ...goodEquivocation, b: { ...headerB, agentId: n } } })),
  fc.bigInt({ min: 0n, max: 1000n }).filter((n) => n !== 2n).map((n) => ({ why: 'other sequence', input: { ...goodEquivocation, b: { ...headerB, sequence: n } } })),
  fc.constantFrom('lower', 'same').map((how) => ({ why: 'the same batch', input: { ...goodEquivocation, b: how === 'same' ? { ...headerA } : { ...headerA, merkleRoot: headerA.merkleRoot.toUpperCase().replace('0X', '0x') as Hex } } })),
)

async function refused(p: Promise<unknown>, why: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: Error) => e,
  )
  expect(err, why).toBeDefined()
  expect(err!.name, `${why}: ${err!.message}`).toBe('InvalidEvidenceError')
  expect(err!.message).toMatch(/^Invalid .+\n\nNothing was sent\./)
}

test(`${RUNS} malformed policy-breach proofs: InvalidEvidenceError, no request reaches the node`, async () => {
  await fc.assert(
    fc.asyncProperty(badBreach, async ({ why, input }) => {
      requests.length = 0
      await refused(provePolicyBreach(client, input as never), why)
      expect(requests, why).toEqual([])
    }),
    { numRuns: RUNS },
  )
  // the good evidence passes the checks and goes to the node
  await expect(provePolicyBreach(client, goodBreach)).rejects.not.toMatchObject({ name: 'InvalidEvidenceError' })
  expect(requests.length).toBeGreaterThan(0)
  requests.length = 0
})

test(`${RUNS} malformed equivocation proofs: InvalidEvidenceError, no request reaches the node`, async () => {
  await fc.assert(
    fc.asyncProperty(badEquivocation, async ({ why, input }) => {
      requests.length = 0
      await refused(proveEquivocation(client, input as never), why)
      expect(requests, why).toEqual([])
    }),
    { numRuns: RUNS },
  )
  await expect(proveEquivocation(client, { ...goodEquivocation, sigB: undefined })).rejects.not.toMatchObject({ name: 'InvalidEvidenceError' })
  expect(requests.length).toBeGreaterThan(0)
  requests.length = 0
})
