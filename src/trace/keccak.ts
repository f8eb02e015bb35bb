import { createKeccak } from 'hash-wasm'
import { type Hex, bytesToHex, hexToBytes } from 'viem'

/**
 * keccak256 on hash-wasm's WebAssembly Keccak: the same function as viem's `keccak256`
 * (Ethereum's pre-NIST padding; `keccak.test.ts` checks them against each other) at
 * several times its speed, which matters for multi-megabyte steps and 1,024-leaf trees.
 * The hasher is created once (asynchronously, at module load) and then used synchronously;
 * JavaScript's single thread means no two calls interleave.
 */
const hasher = await createKeccak(256)

export function keccak256Bytes(data: Uint8Array): Uint8Array {
  hasher.init()
  hasher.update(data)
  return hasher.digest('binary')
}

export function keccak256Hex(data: Uint8Array | Hex): Hex {
  return bytesToHex(keccak256Bytes(typeof data === 'string' ? hexToBytes(data) : data))
}
