import fc from 'fast-check'
import { bytesToHex, keccak256 } from 'viem'
import { expect, test } from 'vitest'
import { keccak256Bytes, keccak256Hex, keccakBackend, keccakReady } from './keccak.js'

test('the WebAssembly hasher takes over once compiled (no top-level await: JavaScript answers until then)', async () => {
  await keccakReady
  expect(keccakBackend()).toBe('wasm')
})

test('equals viem keccak256 on 1,000 random inputs and at block boundaries', async () => {
  await keccakReady
  expect(keccakBackend()).toBe('wasm')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
      expect(keccak256Hex(data)).toBe(keccak256(data))
      expect(bytesToHex(keccak256Bytes(data))).toBe(keccak256(data))
    }),
    { numRuns: 1000 },
  )
  for (const n of [0, 1, 135, 136, 137, 271, 272, 1 << 20]) {
    const data = new Uint8Array(n).map((_, i) => i * 7)
    expect(keccak256Hex(data)).toBe(keccak256(data))
    expect(keccak256Hex(bytesToHex(data))).toBe(keccak256(data))
  }
})
