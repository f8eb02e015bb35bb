import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { keccak256 } from 'viem'
import {
  type CommitmentMode,
  LOCAL_COMMITMENT_VERSION,
  MAX_COMMITMENT_BYTES,
  commitmentMatches,
  commitmentToHex,
  decodeCommitment,
  fromGenericCommitment,
  isLocalCommitment,
  keccakCommitment,
  localCommitment,
  localCommitmentOf,
  matchesLocalCommitment,
  parseCommitment,
  toGenericCommitment,
} from './commitment.js'
import { InvalidCommitmentError } from './errors.js'
import { realisticCert } from './_helpers.js'

const blob = new TextEncoder().encode('{"agentId":"1"}')

describe('local commitments', () => {
  test('are 0xc0 followed by the SHA-256 of the blob', () => {
    const c = localCommitment(blob)
    expect(commitmentToHex(c)).toBe(`0xc0${createHash('sha256').update(blob).digest('hex')}`)
    expect(isLocalCommitment(c)).toBe(true)
    expect(matchesLocalCommitment(c, blob)).toBe(true)
    expect(matchesLocalCommitment(c, new Uint8Array([1]))).toBe(false)
    expect(LOCAL_COMMITMENT_VERSION).toBe(0xc0)
  })
})

describe('parseCommitment', () => {
  test('accepts bytes and hex, with or without 0x, any case', () => {
    const c = localCommitment(blob)
    const hex = commitmentToHex(c)
    expect(parseCommitment(hex)).toEqual(c)
    expect(parseCommitment(hex.slice(2).toUpperCase())).toEqual(c)
    expect(parseCommitment(c)).toEqual(c)
    expect(parseCommitment(c)).not.toBe(c)
    expect(parseCommitment('0x0001ab')).toEqual(new Uint8Array([0, 1, 0xab]))
  })

  test.each([
    ['empty', '0x'],
    ['odd length', '0xc01'],
    ['not hex', '0xzz'],
    ['a short local commitment', `0xc0${'11'.repeat(31)}`],
    ['a long local commitment', `0xc0${'11'.repeat(33)}`],
    ['too long', `0x01${'00'.repeat(MAX_COMMITMENT_BYTES)}`],
    ['a number', 12 as never],
    ['null', null as never],
  ])('rejects %s', (_name, input) => {
    expect(() => parseCommitment(input)).toThrow(InvalidCommitmentError)
  })

  test('3,000 generated inputs in each OP form: the layout holds or InvalidCommitmentError', () => {
    for (const mode of ['optimism_generic', 'optimism_keccak256'] as const) {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.constantFrom(0x00, 0x01, 0xc0), (b, first) => {
          b[0] = first
          try {
            const c = parseCommitment(b, mode)
            if (mode === 'optimism_keccak256') expect([c[0], c.length]).toEqual([0x00, 33])
            else expect([c[0], c[1], c.length >= 4, c[2] !== 0xc0 || c.length === 35]).toEqual([0x01, 0x00, true, true])
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidCommitmentError)
          }
        }),
        { numRuns: 1500 },
      )
    }
  })

  test('the error explains the format', () => {
    expect(() => parseCommitment('0xc0')).toThrowErrorMatchingInlineSnapshot(`
      [InvalidCommitmentError: Invalid DA commitment: a local commitment (0xc0) is 33 bytes, this one 1.

      A commitment is the exact bytes put() returned (as 0x-hex or bytes): a version byte then the certificate or hash.
      Local-store commitments are 33 bytes: 0xc0 followed by the SHA-256 of the blob (OP generic form: 0x01 0x00 before it).
      Docs: src/da/README.md#commitments]
    `)
  })

  test('3,000 generated inputs: a commitment or an InvalidCommitmentError, input untouched', () => {
    const arbs = [
      fc.string({ maxLength: 100 }),
      fc.uint8Array({ maxLength: 80 }).map((b) => `0x${Buffer.from(b).toString('hex')}`),
      fc.anything(),
    ]
    for (const arb of arbs) {
      fc.assert(
        fc.property(arb, (input) => {
          try {
            const c = parseCommitment(input as string)
            expect(c.length).toBeGreaterThan(0)
            expect(c.length).toBeLessThanOrEqual(MAX_COMMITMENT_BYTES)
          } catch (err) {
            expect(err).toBeInstanceOf(BaseError)
            expect(err).toBeInstanceOf(InvalidCommitmentError)
          }
        }),
        { numRuns: 1000 },
      )
    }
  })
})

describe('real eigenda-proxy commitments', () => {
  const certs = { v0: realisticCert(0), v1: realisticCert(1), v2: realisticCert(2) }

  test('standard mode: EigenDA V1/V2/V3 certificates (version 0x00, 0x01, 0x02 then RLP) pass as they are', () => {
    for (const [name, cert] of Object.entries(certs)) {
      expect(cert.length, name).toBeGreaterThan(200)
      expect(cert[1], `${name} is an RLP list`).toBeGreaterThanOrEqual(0xf8)
      expect(parseCommitment(cert)).toEqual(cert)
      expect(parseCommitment(commitmentToHex(cert))).toEqual(cert)
      expect(localCommitmentOf(cert), name).toBeUndefined()
      expect(commitmentMatches(cert, 'standard', new Uint8Array(1))).toBeUndefined()
    }
  })

  test('OP generic mode: 0x01, da_layer 0x00 (EigenDA), then the versioned certificate', () => {
    for (const cert of Object.values(certs)) {
      const generic = toGenericCommitment(cert)
      expect(commitmentToHex(generic).slice(0, 8)).toBe(`0x0100${commitmentToHex(cert).slice(2, 4)}`)
      expect(parseCommitment(generic, 'optimism_generic')).toEqual(generic)
      expect(fromGenericCommitment(generic)).toEqual(cert)
      // as a standard commitment, 0x01 reads as an EigenDA V2 certificate: opaque, but accepted
      expect(parseCommitment(generic)).toEqual(generic)
    }
    const blob = new TextEncoder().encode('batch')
    const local = toGenericCommitment(localCommitment(blob))
    expect(commitmentToHex(local).slice(0, 8)).toBe('0x0100c0')
    expect(local.length).toBe(35)
    expect(localCommitmentOf(local)).toEqual(localCommitment(blob))
    expect(commitmentMatches(local, 'optimism_generic', blob)).toBe(true)
    expect(commitmentMatches(local, 'optimism_generic', new Uint8Array(1))).toBe(false)
  })

  test('OP keccak256 mode: 0x00 and the keccak256 of the blob', () => {
    const blob = new TextEncoder().encode('frame')
    const c = keccakCommitment(blob)
    expect(commitmentToHex(c)).toBe(`0x00${keccak256(blob).slice(2)}`)
    expect(commitmentToHex(keccakCommitment(new Uint8Array(0)))).toBe('0x00c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470')
    expect(parseCommitment(c, 'optimism_keccak256')).toEqual(c)
    expect(commitmentMatches(c, 'optimism_keccak256', blob)).toBe(true)
    expect(commitmentMatches(c, 'optimism_keccak256', new Uint8Array(1))).toBe(false)
  })

  test.each<[string, string | Uint8Array, CommitmentMode]>([
    ['a generic commitment for another DA layer', `0x010c00${'ab'.repeat(40)}`, 'optimism_generic'],
    ['a generic commitment without a certificate', '0x010000', 'optimism_generic'],
    ['a standard local commitment as generic', commitmentToHex(localCommitment(new Uint8Array(0))), 'optimism_generic'],
    ['a short generic local commitment', `0x0100c0${'11'.repeat(31)}`, 'optimism_generic'],
    ['a keccak commitment of 31 bytes', `0x00${'11'.repeat(31)}`, 'optimism_keccak256'],
    ['a generic commitment as keccak', `0x01${'11'.repeat(32)}`, 'optimism_keccak256'],
    ['an unknown mode', '0x0001', 'simple' as CommitmentMode],
  ])('rejects %s', (_name, input, mode) => {
    expect(() => parseCommitment(input, mode)).toThrow(InvalidCommitmentError)
  })

  test('decodeCommitment takes any layout, with the size checks', () => {
    expect(decodeCommitment('0xc001')).toEqual(new Uint8Array([0xc0, 1]))
    expect(() => decodeCommitment('0x')).toThrow(InvalidCommitmentError)
    expect(() => decodeCommitment(`0x${'00'.repeat(MAX_COMMITMENT_BYTES + 1)}`)).toThrow(InvalidCommitmentError)
  })
})
