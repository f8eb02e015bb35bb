import { describe, expect, test } from 'vitest'
import { getAddress } from 'viem'
import { readRegistrationDataURI, registrationDataURI, registrationFile, REGISTRATION_TYPE } from './registrationFile.js'

const params = {
  name: 'treasury',
  description: 'pays invoices',
  chainId: 31337,
  identityRegistry: '0x00000000000000000000000000000000000000a1',
  erc8004AgentId: 4n,
  covenant: {
    agentRegistry: '0x00000000000000000000000000000000000000b2',
    agentId: 7n,
    account: '0x00000000000000000000000000000000000000c3',
    manifestHash: `0x${'ab'.repeat(32)}`,
    manifestCommitment: `0xc0${'cd'.repeat(32)}`,
  },
} as const

describe('the ERC-8004 registration file', () => {
  test('has the fields the standard requires, and names the manifest on DA, the agent and its account', () => {
    const f = registrationFile(params)
    expect(f.type).toBe(REGISTRATION_TYPE)
    expect(f.name).toBe('treasury')
    expect(f.registrations).toEqual([{ agentId: 4, agentRegistry: `eip155:31337:${getAddress(params.identityRegistry)}` }])
    expect(f.supportedTrust).toEqual(['crypto-economic'])
    expect(f.services).toEqual([
      { name: 'covenant-manifest', endpoint: `covenant-da:0xc0${'cd'.repeat(32)}`, version: '1', manifestHash: `0x${'ab'.repeat(32)}` },
      { name: 'covenant-agent', endpoint: `eip155:31337:${getAddress(params.covenant.agentRegistry)}`, agentId: '7' },
      { name: 'agentWallet', endpoint: `eip155:31337:${getAddress(params.covenant.account)}` },
    ])
  })

  test('round trips through a base64 data: URI', () => {
    const uri = registrationDataURI(registrationFile(params))
    expect(uri.startsWith('data:application/json;base64,')).toBe(true)
    expect(readRegistrationDataURI(uri)).toEqual(JSON.parse(JSON.stringify(registrationFile(params))))
  })

  test('anything else is refused with a typed error', () => {
    const b64 = (v: unknown) => `data:application/json;base64,${Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64')}`
    expect(() => readRegistrationDataURI('ipfs://Qm')).toThrow(expect.objectContaining({ name: 'InvalidRegistrationFileError' }))
    expect(() => readRegistrationDataURI(b64('{not json'))).toThrow(/does not hold JSON/)
    expect(() => readRegistrationDataURI(b64({ type: 'something-else', name: 'x', description: '' }))).toThrow(/not hold an ERC-8004 registration file/)
    expect(() => readRegistrationDataURI(b64({ type: REGISTRATION_TYPE, name: 1, description: '' }))).toThrow(/not hold an ERC-8004 registration file/)
  })
})
