// Receipts are signed and checked through libsecp256k1 (secp256k1.ts) and must answer
// exactly as viem does: the same digest as viem's hashTypedData, the same signature bytes as
// viem's sign, and the address viem's recovery gives — the claimed signer only for
// signatures that recover to it, never for a forged, altered or parity-flipped one.
import fc from 'fast-check'
import { hashTypedData, recoverAddress, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ephemeralContainerKey } from './containerKey.js'
import { RECEIPT_DOMAIN, RECEIPT_TYPES } from './receipt.js'
import { receiptDigest } from './receiptSignature.js'
import { recoverDigestSigner, secp256k1Backend, signDigest, useSecp256k1Backend } from './secp256k1.js'

const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex)
const fields = fc.record({
  measurement: hash,
  modelDigest: hash,
  requestHash: hash,
  responseHash: hash,
  outputHash: hash,
  issuedAt: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
})
const typed = (f: Parameters<typeof receiptDigest>[0]) => ({
  domain: RECEIPT_DOMAIN,
  types: RECEIPT_TYPES,
  primaryType: 'Receipt' as const,
  message: { ...f, issuedAt: BigInt(f.issuedAt) },
})

describe('receiptDigest', () => {
  test('equals viem hashTypedData for the receipt type on random fields', () => {
    fc.assert(fc.property(fields, (f) => receiptDigest(f) === hashTypedData(typed(f))), { numRuns: 200 })
  })
})

describe('the signer of a receipt (recoverDigestSigner over receiptDigest)', () => {
  const account = privateKeyToAccount(generatePrivateKey())
  const other = privateKeyToAccount(generatePrivateKey())

  test('answers as recovery does for good, altered and flipped signatures', async () => {
    await fc.assert(
      fc.asyncProperty(fields, fc.integer({ min: 0, max: 4 }), fc.nat(64), async (f, tamper, at) => {
        const digest = receiptDigest(f)
        let signature = await account.signTypedData(typed(f))
        if (tamper === 1) signature = flipParity(signature) // recovers to another key
        if (tamper === 2) signature = flipByte(signature, at % 64) // r or s changed
        if (tamper === 3) signature = await other.signTypedData(typed(f)) // someone else's
        const claimed = tamper === 4 ? other.address : account.address // a claim the signature does not back
        const expected = await recoverAddress({ hash: digest, signature }).catch(() => undefined)
        expect(recoverDigestSigner(digest, signature)).toBe(expected)
        // the claim is the caller's to compare: it is backed only when recovery gives it
        expect(recoverDigestSigner(digest, signature) === claimed).toBe(tamper === 0)
      }),
      { numRuns: 60 },
    )
  })

  test('a known signer with a parity-flipped signature is refused (recovery would give another address)', async () => {
    const f = { measurement: `0x${'11'.repeat(32)}`, modelDigest: `0x${'22'.repeat(32)}`, requestHash: `0x${'33'.repeat(32)}`, responseHash: `0x${'44'.repeat(32)}`, outputHash: `0x${'55'.repeat(32)}`, issuedAt: 7 } as const
    const signature = await account.signTypedData(typed(f))
    const digest = receiptDigest(f)
    expect(recoverDigestSigner(digest, signature)).toBe(account.address)
    const flipped = flipParity(signature)
    expect(recoverDigestSigner(digest, flipped)).not.toBe(account.address)
    expect(recoverDigestSigner(digest, `0x${'00'.repeat(65)}`)).toBeUndefined()
  })
})

test('the native addon answers where the secp256k1 package ships a prebuild for the platform', () => {
  const prebuilt = ['linux-x64', 'darwin-arm64', 'win32-x64'].includes(`${process.platform}-${process.arch}`)
  if (process.env['COVENANT_SECP256K1'] !== 'wasm') expect(secp256k1Backend()).toBe(prebuilt ? 'native' : 'wasm')
})

describe.each(['native', 'wasm'] as const)('libsecp256k1 (secp256k1.ts), %s build, against viem', (backend) => {
  const initial = secp256k1Backend()
  beforeAll(() => useSecp256k1Backend(backend))
  afterAll(() => useSecp256k1Backend(initial))
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => k.some((b) => b !== 0) && k[0]! < 0xff).map((k) => `0x${Buffer.from(k).toString('hex')}` as Hex)

  test('signDigest gives the very bytes of viem\'s sign (RFC 6979, low s, v 27/28), and the container key signs through it', async () => {
    await fc.assert(
      fc.asyncProperty(key, hash, async (pk, digest) => {
        expect(signDigest(pk, digest)).toBe(await privateKeyToAccount(pk).sign({ hash: digest }))
      }),
      { numRuns: 200 },
    )
    const { account } = ephemeralContainerKey()
    const digest = `0x${'ab'.repeat(32)}` as Hex
    expect(recoverDigestSigner(digest, await account.sign!({ hash: digest }))).toBe(account.address)
  })

  test('recoverDigestSigner gives viem\'s recoverAddress, or undefined where viem throws: good, flipped, altered (high s included), other v, random', async () => {
    const bytes65 = fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex)
    await fc.assert(
      fc.asyncProperty(key, hash, fc.integer({ min: 0, max: 6 }), fc.nat(64), bytes65, async (pk, digest, tamper, at, random) => {
        let signature = await privateKeyToAccount(pk).sign({ hash: digest })
        if (tamper === 1) signature = flipParity(signature)
        if (tamper === 2) signature = flipByte(signature, at % 64)
        if (tamper === 3) signature = highS(signature) // the same signature with s' = n − s and the parity flipped
        if (tamper === 4) signature = `${signature.slice(0, 130)}${['00', '01', '1d', 'ff'][at % 4]}` as Hex
        if (tamper === 5) signature = random
        if (tamper === 6) signature = `${signature.slice(0, 66)}${'ff'.repeat(32)}${signature.slice(130)}` as Hex // s ≥ n
        const expected = await recoverAddress({ hash: digest, signature }).catch(() => undefined)
        expect(recoverDigestSigner(digest, signature)).toBe(expected)
      }),
      { numRuns: 400 },
    )
  })
})

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${flipParity(signature).slice(130)}` as Hex
}

function flipParity(signature: Hex): Hex {
  const v = Number.parseInt(signature.slice(130), 16)
  const flipped = v === 27 ? 28 : v === 28 ? 27 : v ^ 1
  return `${signature.slice(0, 130)}${flipped.toString(16).padStart(2, '0')}` as Hex
}

function flipByte(signature: Hex, i: number): Hex {
  const bytes = Buffer.from(signature.slice(2), 'hex')
  bytes[i] = bytes[i]! ^ 0x01
  return `0x${bytes.toString('hex')}` as Hex
}
