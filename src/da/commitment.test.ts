import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import {
  LOCAL_COMMITMENT_VERSION,
  MAX_COMMITMENT_BYTES,
  commitmentToHex,
  isLocalCommitment,
  localCommitment,
  matchesLocalCommitment,
  parseCommitment,
} from './commitment.js'
import { InvalidCommitmentError } from './errors.js'

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

  test('the error explains the format', () => {
    expect(() => parseCommitment('0xc0')).toThrowErrorMatchingInlineSnapshot(`
      [InvalidCommitmentError: Invalid DA commitment: a local commitment (0xc0) is 33 bytes, this one 1.

      A commitment is the exact bytes put() returned (as 0x-hex or bytes): a version byte then the certificate or hash.
      Local-store commitments are 33 bytes: 0xc0 followed by the SHA-256 of the blob.
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
