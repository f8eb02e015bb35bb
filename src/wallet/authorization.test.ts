import { encodeFunctionData, getAddress, hashDomain, hashTypedData, parseAbi, type Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { decodeAccountCall, encodeAccountCall } from './accountCall.js'
import {
  PERMIT_SELECTOR,
  TRANSFER_WITH_AUTHORIZATION_SELECTOR,
  authorizationDigest,
  decodeAuthorizationData,
  encodeAuthorizationData,
  type TransferAuthorization,
} from './authorization.js'

const ACCOUNT = getAddress('0x00000000000000000000000000000000000acc01')
const TOKEN = getAddress('0x0000000000000000000000000000000000007070')
const SHOP = getAddress('0x0000000000000000000000000000000000005409')
const transfer: TransferAuthorization = { token: TOKEN, to: SHOP, value: 5n, validAfter: 0n, validBefore: 1_700_000_300n, nonce: `0x${'ab'.repeat(32)}` }
const place = { stepIndex: 7, prevHash: `0x${'11'.repeat(32)}` as Hex, policyVersion: 1, nonce: 3 }

describe('token authorizations as wallet steps', () => {
  it('the selectors are EIP-3009 transferWithAuthorization and EIP-2612 permit', () => {
    expect(TRANSFER_WITH_AUTHORIZATION_SELECTOR).toBe('0xe3ee160e')
    expect(PERMIT_SELECTOR).toBe('0xd505accf')
  })

  it('encodes and decodes a transfer and a permit; the envelope becomes authorizeTransfer / authorizePermit and decodes back', () => {
    const data = encodeAuthorizationData(ACCOUNT, { kind: 'transfer', authorization: transfer })
    expect(decodeAuthorizationData(TOKEN, data)).toEqual({ kind: 'transfer', from: ACCOUNT, authorization: transfer })
    const envelope = encodeAccountCall({ to: TOKEN, value: 0n, data, ...place })
    expect(envelope.slice(0, 10)).not.toBe(encodeAccountCall({ to: TOKEN, value: 0n, data: '0x', ...place }).slice(0, 10))
    expect(decodeAccountCall(envelope, ACCOUNT)).toEqual({ to: TOKEN, value: 0n, data, ...place })
    expect(decodeAccountCall(envelope)).toBeUndefined()

    const permit = { token: TOKEN, spender: SHOP, value: 9n, nonce: 2n, deadline: 1_700_000_600n }
    const pdata = encodeAuthorizationData(ACCOUNT, { kind: 'permit', authorization: permit })
    expect(decodeAuthorizationData(TOKEN, pdata)).toEqual({ kind: 'permit', from: ACCOUNT, authorization: permit })
    expect(decodeAccountCall(encodeAccountCall({ to: TOKEN, value: 0n, data: pdata, ...place }), ACCOUNT)).toEqual({ to: TOKEN, value: 0n, data: pdata, ...place })
  })

  it('a real transferWithAuthorization / permit call (with its signature), other data, or native value stays an execute', () => {
    const abi = parseAbi([
      'function transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)',
      'function permit(address,address,uint256,uint256,uint8,bytes32,bytes32)',
    ])
    const real = encodeFunctionData({ abi, functionName: 'transferWithAuthorization', args: [ACCOUNT, SHOP, 5n, 0n, 1n, transfer.nonce, 27, transfer.nonce, transfer.nonce] })
    const realPermit = encodeFunctionData({ abi, functionName: 'permit', args: [ACCOUNT, SHOP, 5n, 1n, 27, transfer.nonce, transfer.nonce] })
    for (const data of [real, realPermit, '0x' as Hex, '0xa9059cbb' as Hex]) {
      expect(decodeAuthorizationData(TOKEN, data)).toBeUndefined()
      expect(decodeAccountCall(encodeAccountCall({ to: TOKEN, value: 0n, data, ...place }))?.data).toBe(data)
    }
    const data = encodeAuthorizationData(ACCOUNT, { kind: 'transfer', authorization: transfer })
    expect(decodeAccountCall(encodeAccountCall({ to: TOKEN, value: 1n, data, ...place }))?.data).toBe(data)
  })

  it("the digest is EIP-712's for the token's domain", () => {
    const domain = { name: 'Covenant Test USD', version: '1', chainId: 31337n, verifyingContract: TOKEN } as const
    const expected = hashTypedData({
      domain,
      types: {
        TransferWithAuthorization: [
          { name: 'from', type: 'address' },
          { name: 'to', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'validAfter', type: 'uint256' },
          { name: 'validBefore', type: 'uint256' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'TransferWithAuthorization',
      message: { from: ACCOUNT, to: SHOP, value: 5n, validAfter: 0n, validBefore: transfer.validBefore, nonce: transfer.nonce },
    })
    const domainSeparator = hashDomain({
      domain,
      types: {
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
          { name: 'chainId', type: 'uint256' },
          { name: 'verifyingContract', type: 'address' },
        ],
      },
    })
    expect(authorizationDigest(domainSeparator, { kind: 'transfer', from: ACCOUNT, authorization: transfer })).toBe(expected)
  })
})
