import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { getAddress, keccak256, stringToBytes } from 'viem'
import {
  actionURI,
  daURI,
  disputeURI,
  parseActionURI,
  parseDaURI,
  parseDisputeURI,
  parseValidationRequestURI,
  requestHashOf,
  validationRequestURI,
} from './uris.js'

const V = '0x00000000000000000000000000000000000000aB'

describe('covenant: URIs', () => {
  test('a request names the action and the validator; its hash is keccak256 of the URI', () => {
    const uri = validationRequestURI('3-0123456789ab', V)
    expect(uri).toBe('covenant:action/3-0123456789ab?validator=0x00000000000000000000000000000000000000ab')
    expect(requestHashOf(uri)).toBe(keccak256(stringToBytes(uri)))
    expect(parseValidationRequestURI(uri)).toEqual({ actionId: '3-0123456789ab', validator: getAddress(V) })
    // two validators, two requests
    expect(requestHashOf(validationRequestURI('3-0123456789ab', '0x00000000000000000000000000000000000000ac'))).not.toBe(requestHashOf(uri))
  })

  test('round trips for any action id of unreserved characters', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._~-]{1,128}$/), fc.integer({ min: 1 }), (id, n) => {
        expect(parseValidationRequestURI(validationRequestURI(id, V))?.actionId).toBe(id)
        expect(parseActionURI(actionURI(id))).toBe(id)
        expect(parseDisputeURI(disputeURI(BigInt(n)))).toBe(BigInt(n))
      }),
    )
  })

  test('anything else is not a request (and is never answered)', () => {
    for (const bad of [
      '',
      'covenant:action/3-0123456789ab',
      'covenant:action/3-0123456789ab?validator=0x00000000000000000000000000000000000000AB', // not lowercase
      'covenant:action/3-0123456789ab?validator=0xab',
      'covenant:action/a b?validator=0x00000000000000000000000000000000000000ab',
      'covenant:action/../x?validator=0x00000000000000000000000000000000000000ab',
      `covenant:action/${'x'.repeat(129)}?validator=0x00000000000000000000000000000000000000ab`,
      'ipfs://Qm?validator=0x00000000000000000000000000000000000000ab',
      'covenant:action/3-0123456789ab?validator=0x00000000000000000000000000000000000000ab&x=1',
    ]) {
      expect(parseValidationRequestURI(bad)).toBeUndefined()
    }
    expect(parseDisputeURI('covenant:dispute/0')).toBeUndefined()
    expect(parseDisputeURI('covenant:dispute/01')).toBeUndefined()
    expect(parseValidationRequestURI(42 as unknown as string)).toBeUndefined()
  })

  test('builders refuse what they cannot write', () => {
    expect(() => validationRequestURI('a b', V)).toThrow(/is not an action id for a URI/)
    expect(() => actionURI('')).toThrow(/is not an action id/)
    expect(() => disputeURI(0n)).toThrow(/is not a dispute id/)
    expect(() => daURI('0x')).toThrow(/is not a DA commitment/)
    expect(() => daURI('0xabc')).toThrow(/is not a DA commitment/)
  })

  test('a DA URI names a commitment', () => {
    expect(daURI('0xC0AB')).toBe('covenant-da:0xc0ab')
    expect(parseDaURI('covenant-da:0xc0ab')).toBe('0xc0ab')
    expect(parseDaURI('covenant-da:c0ab')).toBeUndefined()
  })
})
