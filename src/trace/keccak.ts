import { createKeccak, type IHasher } from 'hash-wasm'
import { type Hex, hexToBytes, keccak256 as viemKeccak256 } from 'viem'

/**
 * keccak256 on hash-wasm's WebAssembly Keccak: the same function as viem's `keccak256`
 * (Ethereum's pre-NIST padding; `keccak.test.ts` checks them against each other) at
 * several times its speed, which matters for multi-megabyte steps and 1,024-leaf trees.
 *
 * The hasher is compiled asynchronously when this module loads and then used synchronously
 * (JavaScript's single thread means no two calls interleave). Until it is ready — the
 * first milliseconds — and wherever WebAssembly is unavailable, viem's JavaScript keccak
 * answers, with the same result. No top-level await: the package's CommonJS build
 * (`require('covenant')`) cannot have one.
 */
let hasher: IHasher | undefined

/** Settles once the WebAssembly hasher is in use (or known to be unavailable). */
export const keccakReady: Promise<void> = createKeccak(256).then(
  (h) => {
    hasher = h
  },
  () => {},
)

/** Which implementation answers now: `wasm` once the hasher is ready, `js` (viem's) before or without it. */
export function keccakBackend(): 'wasm' | 'js' {
  return hasher ? 'wasm' : 'js'
}

export function keccak256Bytes(data: Uint8Array): Uint8Array {
  if (!hasher) return viemKeccak256(data, 'bytes')
  hasher.init()
  hasher.update(data)
  return hasher.digest('binary')
}

export function keccak256Hex(data: Uint8Array | Hex): Hex {
  const digest = keccak256Bytes(typeof data === 'string' ? hexToBytes(data) : data)
  return `0x${Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')}`
}
