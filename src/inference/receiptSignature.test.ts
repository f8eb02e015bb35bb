// The fast receipt signer check gives exactly what recovery gives: the same digest as
// viem's hashTypedData, the claimed signer only for signatures that recover to it (first,
// second and later sightings), and never for a forged, altered or parity-flipped one.
import fc from 'fast-check'
import { secp256k1 } from '@noble/curves/secp256k1'
import { hashTypedData, recoverAddress, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { RECEIPT_DOMAIN, RECEIPT_TYPES } from './receipt.js'
import { mulTabled, receiptDigest, receiptSigner, signedByKey, tabled } from './receiptSignature.js'

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

describe('receiptSigner', () => {
  const account = privateKeyToAccount(generatePrivateKey())
  const other = privateKeyToAccount(generatePrivateKey())

  test('answers as recovery does, before and after the key is known, for good, altered and flipped signatures', async () => {
    await fc.assert(
      fc.asyncProperty(fields, fc.integer({ min: 0, max: 4 }), fc.nat(64), async (f, tamper, at) => {
        const digest = receiptDigest(f)
        let signature = await account.signTypedData(typed(f))
        if (tamper === 1) signature = flipParity(signature) // recovers to another key
        if (tamper === 2) signature = flipByte(signature, at % 64) // r or s changed
        if (tamper === 3) signature = await other.signTypedData(typed(f)) // someone else's
        const claimed = tamper === 4 ? other.address : account.address // a claim the signature does not back
        const expected = await recoverAddress({ hash: digest, signature }).catch(() => undefined)
        // the first sightings recover; later ones take the precomputed path: all must agree
        for (let i = 0; i < 3; i++) expect(await receiptSigner(digest, signature, claimed)).toBe(expected)
      }),
      { numRuns: 60 },
    )
  })

  test('a known signer with a parity-flipped signature is refused (recovery would give another address)', async () => {
    const f = { measurement: `0x${'11'.repeat(32)}`, modelDigest: `0x${'22'.repeat(32)}`, requestHash: `0x${'33'.repeat(32)}`, responseHash: `0x${'44'.repeat(32)}`, outputHash: `0x${'55'.repeat(32)}`, issuedAt: 7 } as const
    const signature = await account.signTypedData(typed(f))
    const digest = receiptDigest(f)
    for (let i = 0; i < 3; i++) expect(await receiptSigner(digest, signature, account.address)).toBe(account.address)
    const flipped = flipParity(signature)
    expect(await receiptSigner(digest, flipped, account.address)).not.toBe(account.address)
    expect(await receiptSigner(digest, `0x${'00'.repeat(65)}`, account.address)).toBeUndefined()
  })
})

describe('signedByKey (the fast path itself, with and without the key\'s table)', () => {
  // receiptSigner falls back to recovery when the fast path says no, so agreement alone
  // cannot show the fast path works: it once refused every signature (a noble table bug) and
  // every receipt paid for full recovery. Here the fast path must accept on its own.
  test('accepts the key\'s signatures and refuses flipped, altered and other keys\' ones', async () => {
    const pk = generatePrivateKey()
    const account = privateKeyToAccount(pk)
    const other = privateKeyToAccount(generatePrivateKey())
    const key = tabled(secp256k1.ProjectivePoint.fromPrivateKey(pk.slice(2)))
    await fc.assert(
      fc.asyncProperty(fields, fc.nat(64), async (f, at) => {
        const digest = receiptDigest(f)
        const good = await account.signTypedData(typed(f))
        expect(signedByKey(digest, good, key)).toBe(true)
        expect(signedByKey(digest, flipParity(good), key)).toBe(false)
        expect(signedByKey(digest, flipByte(good, at % 64), key)).toBe(false)
        expect(signedByKey(digest, await other.signTypedData(typed(f)), key)).toBe(false)
      }),
      { numRuns: 40 },
    )
  })

  test('the table multiplication equals noble\'s constant-time multiply on G and on a key, for full-length and edge scalars', () => {
    const Point = secp256k1.ProjectivePoint
    const N = secp256k1.CURVE.n
    const key = Point.fromPrivateKey(generatePrivateKey().slice(2))
    const tables = [
      [Point.BASE, tabled(Point.BASE)],
      [key, tabled(key)],
    ] as const
    const scalar = fc.oneof(fc.bigInt({ min: 1n, max: N - 1n }), fc.constantFrom(1n, 2n, N - 1n, N - 2n, 2n ** 128n, 2n ** 255n % N))
    fc.assert(
      fc.property(scalar, (k) => {
        for (const [P, t] of tables) expect(mulTabled(t, k).equals(P.multiply(k))).toBe(true)
      }),
      { numRuns: 200 },
    )
    for (const [, t] of tables) expect(mulTabled(t, 0n).equals(Point.ZERO)).toBe(true)
  })
})

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
