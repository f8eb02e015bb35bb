import { type Hex, encodeAbiParameters, keccak256, toBytes } from 'viem'
import { describe, expect, test } from 'vitest'
import { canonicalBytes } from './canonical.js'
import {
  STEP_TYPEHASH,
  WALLET_TX_TYPEHASH,
  ZERO_HASH,
  leafHash,
  stepLeaf,
  stepPayload,
  stepPayloadHash,
  walletPayloadHash,
} from './leaf.js'
import { STEP_KINDS, type Step, type WalletStep } from './schemas.js'
import { sampleSteps } from './_fixtures.js'

// An independent abi.encode of static words: 32-byte big-endian each.
const word = (v: bigint | number | string) =>
  (typeof v === 'string' && v.startsWith('0x') ? v.slice(2) : BigInt(v).toString(16)).padStart(64, '0')
const manualKeccak = (...words: (bigint | number | string)[]) => keccak256(`0x${words.map(word).join('')}` as Hex)

describe('type hashes', () => {
  test('are the Solidity constants', () => {
    expect(STEP_TYPEHASH).toBe(
      keccak256(toBytes('CovenantStep(uint256 agentId,uint64 index,uint8 kind,bytes32 prevHash,bytes32 payloadHash)')),
    )
    expect([STEP_TYPEHASH, WALLET_TX_TYPEHASH, ZERO_HASH]).toMatchInlineSnapshot(`
      [
        "0xad4ac987733fb05d5c96ed2a07b641c9c8fb5d717a9fb89af299fc37cea810cc",
        "0xfaefa1ff20820776ff649d7bbbc095c6345ff52eda183da9d63ae553960a743b",
        "0x0000000000000000000000000000000000000000000000000000000000000000",
      ]
    `)
    expect(STEP_KINDS).toEqual({ input: 0, inference: 1, tool: 2, wallet: 3, output: 4 })
  })
})

describe('payload', () => {
  test('of a non-wallet step is everything but agentId, index, kind and prevHash', () => {
    const steps = sampleSteps(6)
    const keys = steps.filter((s) => s.kind !== 'wallet').map((s) => Object.keys(stepPayload(s)).sort().join(','))
    expect(keys).toEqual([
      'actionId,task,timestamp',
      'actionId,record,timestamp',
      'actionId,args,outcome,timestamp,tool',
      'actionId,args,outcome,timestamp,tool',
      'actionId,result,timestamp',
    ])
    for (const s of steps.filter((s) => s.kind !== 'wallet')) {
      expect(stepPayloadHash(s)).toBe(keccak256(canonicalBytes(stepPayload(s))))
    }
  })

  test('of a wallet step is the WALLET_TX_TYPEHASH tuple', () => {
    const w = sampleSteps(5)[4] as WalletStep
    const withData: WalletStep = { ...w, data: '0xa9059cbb0000', nonce: 2 ** 53 - 1, policyVersion: 2 ** 32 - 1, value: (2n ** 256n - 1n).toString() }
    for (const s of [w, withData]) {
      const expected = manualKeccak(
        WALLET_TX_TYPEHASH,
        BigInt(s.chainId),
        s.from,
        s.to,
        BigInt(s.value),
        keccak256(s.data),
        s.nonce,
        s.policyVersion,
      )
      expect(walletPayloadHash(s)).toBe(expected)
      expect(stepPayloadHash(s)).toBe(expected)
    }
  })

  test('a wallet leaf does not bind actionId or timestamp (the Solidity payload has no room for them)', () => {
    const w = sampleSteps(5)[4] as WalletStep
    expect(stepLeaf({ ...w, actionId: 'other', timestamp: 0 })).toBe(stepLeaf(w))
  })
})

describe('leaf', () => {
  test('is keccak256(abi.encode(STEP_TYPEHASH, agentId, index, kind, prevHash, payloadHash))', () => {
    for (const s of sampleSteps(12)) {
      expect(stepLeaf(s)).toBe(
        manualKeccak(STEP_TYPEHASH, BigInt(s.agentId), s.index, STEP_KINDS[s.kind], s.prevHash, stepPayloadHash(s)),
      )
    }
    expect(
      leafHash({ agentId: 2n ** 256n - 1n, index: 2n ** 64n - 1n, kind: 4, prevHash: ZERO_HASH, payloadHash: ZERO_HASH }),
    ).toBe(manualKeccak(STEP_TYPEHASH, 2n ** 256n - 1n, 2n ** 64n - 1n, 4, ZERO_HASH, ZERO_HASH))
  })

  test('equals viem abi.encode of the six words, and refuses values outside their uint types', () => {
    for (const s of sampleSteps(6)) {
      const viaViem = keccak256(
        encodeAbiParameters(
          [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'uint64' }, { type: 'uint8' }, { type: 'bytes32' }, { type: 'bytes32' }],
          [STEP_TYPEHASH, BigInt(s.agentId), BigInt(s.index), STEP_KINDS[s.kind], s.prevHash, stepPayloadHash(s)],
        ),
      )
      expect(stepLeaf(s)).toBe(viaViem)
    }
    const parts = { agentId: 1n, index: 0, kind: 0, prevHash: ZERO_HASH, payloadHash: ZERO_HASH }
    expect(() => leafHash({ ...parts, index: 2n ** 64n })).toThrow(/index 18446744073709551616 does not fit in uint64/)
    expect(() => leafHash({ ...parts, kind: 256 })).toThrow(/uint8/)
    expect(() => leafHash({ ...parts, agentId: -1n })).toThrow(/uint256/)
    expect(() => leafHash({ ...parts, prevHash: '0x12' })).toThrow(/prevHash is not a 32-byte hex string/)
  })

  test('changes with every chain field and every payload field', () => {
    const [input] = sampleSteps(1) as [Extract<Step, { kind: 'input' }>]
    const base = stepLeaf(input)
    const variants: Step[] = [
      { ...input, agentId: '43' },
      { ...input, index: 1 },
      { ...input, prevHash: `0x${'01'.repeat(32)}` },
      { ...input, actionId: 'task-2' },
      { ...input, timestamp: input.timestamp + 1 },
      { ...input, task: { prompt: 'pay bob' } },
      { ...input, kind: 'output', result: input.task } as never,
    ]
    const leaves = new Set(variants.map(stepLeaf))
    expect(leaves.size).toBe(variants.length)
    expect(leaves.has(base)).toBe(false)
  })
})
