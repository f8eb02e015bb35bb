import { createRequire } from 'node:module'
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import * as ecc from 'tiny-secp256k1'
import { keccak256Bytes } from '../trace/keccak.js'

/**
 * ECDSA over secp256k1 on a 32-byte digest, through libsecp256k1: what receipts and the
 * wallet's transactions need, several times faster than the pure-JS curve code viem uses.
 * libsecp256k1 comes in two builds, the same C library either way:
 *
 * - `native`: the `secp256k1` package's prebuilt Node addon (linux-x64, darwin-arm64,
 *   win32-x64). On the 2-core Xeon VM: signing 36 µs, recovery 49 µs.
 * - `wasm`: compiled to WebAssembly (`tiny-secp256k1`): signing 96 µs, recovery 208 µs
 *   (viem: 303 µs a transaction signed; recovery ~3 ms).
 *
 * The addon is loaded on first use, and where it cannot load — no prebuild for the
 * platform, or addons forbidden (the verifier's replay sandbox runs under Node's permission
 * model) — WebAssembly answers. `COVENANT_SECP256K1=wasm` forces WebAssembly.
 *
 * Both answer exactly as viem does, which receiptSignature.test.ts checks on random keys and
 * digests for each build: {@link signDigest} gives the very bytes of viem's `sign` (RFC 6979
 * nonces, low s, v 27/28), and {@link recoverDigestSigner} the address viem's
 * `recoverAddress` gives, or undefined where viem throws.
 */

type Lib = {
  sign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recoveryId: number }
  /** The uncompressed public key (65 bytes), or null / a throw when there is none. */
  recover(digest: Uint8Array, signature: Uint8Array, recoveryId: 0 | 1): Uint8Array | null
}

const wasm: Lib = {
  sign: (digest, privateKey) => ecc.signRecoverable(digest, privateKey),
  recover: (digest, signature, recoveryId) => ecc.recover(digest, signature, recoveryId, false),
}

/** The `secp256k1` package's binding (its `bindings` entry: the addon, never its pure-JS fallback). */
type Binding = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number }
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array
}

function loadNative(): Lib | null {
  if (process.env['COVENANT_SECP256K1'] === 'wasm') return null
  let binding: Binding
  try {
    binding = createRequire(import.meta.url)('secp256k1/bindings') as Binding
  } catch {
    return null
  }
  return {
    sign: (digest, privateKey) => {
      const { signature, recid } = binding.ecdsaSign(digest, privateKey)
      return { signature, recoveryId: recid }
    },
    recover: (digest, signature, recoveryId) => binding.ecdsaRecover(signature, recoveryId, digest, false),
  }
}

let lib: Lib | undefined

function current(): Lib {
  lib ??= loadNative() ?? wasm
  return lib
}

/** Which build answers: `native` (the addon) or `wasm`. */
export function secp256k1Backend(): 'native' | 'wasm' {
  return current() === wasm ? 'wasm' : 'native'
}

/** For tests: answer with this build from now on (`native` throws where the addon cannot load). */
export function useSecp256k1Backend(backend: 'native' | 'wasm'): void {
  if (backend === 'wasm') {
    lib = wasm
    return
  }
  const native = loadNative()
  if (!native) throw new Error('the secp256k1 native addon cannot be loaded here')
  lib = native
}

/** The 65-byte signature (r ‖ s ‖ v, v 27/28) of `digest` by `privateKey`. */
export function signDigest(privateKey: Hex, digest: Hex): Hex {
  const { signature, recoveryId } = current().sign(hexToBytes(digest), hexToBytes(privateKey))
  const out = new Uint8Array(65)
  out.set(signature, 0)
  out[64] = 27 + recoveryId
  return bytesToHex(out)
}

/**
 * The address whose key signed `digest` (recovery, as `ecrecover` does), or undefined when the
 * signature is not 65 bytes with v 0, 1, 27 or 28, or recovers to no key.
 */
export function recoverDigestSigner(digest: Hex, signature: Hex): Address | undefined {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature) || !/^0x[0-9a-fA-F]{64}$/.test(digest)) return undefined
  const v = Number.parseInt(signature.slice(130), 16)
  const recoveryId = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined
  if (recoveryId === undefined) return undefined
  let key: Uint8Array | null
  try {
    key = current().recover(hexToBytes(digest), hexToBytes(signature).subarray(0, 64), recoveryId)
  } catch {
    return undefined // r or s out of range, or r not the x of a point
  }
  if (!key) return undefined
  return getAddress(bytesToHex(keccak256Bytes(key.subarray(1)).subarray(12)))
}
