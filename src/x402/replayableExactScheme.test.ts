import type { PaymentRequirements } from '@x402/core/types'
import type { ClientEvmSigner } from '@x402/evm'
import { getAddress, keccak256, toHex, type Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import type { JsonValue } from '../trace/schemas.js'
import { recordedFetch } from './recordedFetch.js'
import { createReplayableExactScheme, paymentNonce } from './replayableExactScheme.js'

const ACCOUNT = getAddress('0x00000000000000000000000000000000000acc01')
const TOKEN = getAddress('0x0165878a594ca255338adfa4d48449f69242eb8f')
const SHOP = getAddress('0x0000000000000000000000000000000000005409')
const requirements = (o: Partial<PaymentRequirements> = {}): PaymentRequirements => ({
  scheme: 'exact',
  network: 'eip155:31337',
  asset: TOKEN,
  amount: '2000',
  payTo: SHOP,
  maxTimeoutSeconds: 300,
  extra: { name: 'Covenant Test USD', version: '1' },
  ...o,
})

/** A signer that records what it was asked to sign. */
function recordingSigner() {
  const signed: Array<Parameters<ClientEvmSigner['signTypedData']>[0]> = []
  const signer: ClientEvmSigner = {
    address: ACCOUNT,
    signTypedData: async (t) => {
      signed.push(t)
      return '0x' as Hex
    },
  }
  return { signer, signed }
}

describe('the replayable exact scheme', () => {
  test('the same action, call and clock give the same authorization: nonce from the action, window from the recorded clock', async () => {
    const build = async () => {
      const { signer, signed } = recordingSigner()
      const scheme = createReplayableExactScheme({ signer: () => signer, clock: async () => 1_700_000_000, seed: { agentId: '7', actionId: '7-00000000abcd', callIndex: 2 } })
      const payload = await scheme.createPaymentPayload(2, requirements())
      return { payload, signed }
    }
    const a = await build()
    const b = await build()
    expect(a.payload).toEqual(b.payload)
    expect(a.payload).toEqual({
      x402Version: 2,
      payload: {
        authorization: { from: ACCOUNT, to: SHOP, value: '2000', validAfter: '0', validBefore: String(1_700_000_300), nonce: paymentNonce({ agentId: '7', actionId: '7-00000000abcd', callIndex: 2, payment: 0 }) },
        signature: '0x',
      },
    })
    expect(a.signed[0]).toMatchObject({ primaryType: 'TransferWithAuthorization', domain: { name: 'Covenant Test USD', version: '1', chainId: 31337, verifyingContract: TOKEN } })
  })

  test('nonces differ by agent, action, call and payment', () => {
    const base = { agentId: '7', actionId: '7-00000000abcd', callIndex: 0, payment: 0 }
    const all = [base, { ...base, agentId: '8' }, { ...base, actionId: '7-00000000abce' }, { ...base, callIndex: 1 }, { ...base, payment: 1 }].map(paymentNonce)
    expect(new Set(all).size).toBe(5)
    for (const n of all) expect(n).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('a window longer than the account accepts is cut to a day less a minute; a second payment of the call gets the next nonce', async () => {
    const { signer } = recordingSigner()
    const scheme = createReplayableExactScheme({ signer: () => signer, clock: async () => 1_000, seed: { agentId: '7', actionId: 'a', callIndex: 0 } })
    const first = await scheme.createPaymentPayload(2, requirements({ maxTimeoutSeconds: 7 * 86_400 }))
    const second = await scheme.createPaymentPayload(2, requirements())
    const auth = (p: typeof first) => (p.payload as { authorization: { validBefore: string; nonce: string } }).authorization
    expect(auth(first).validBefore).toBe(String(1_000 + 86_400 - 60))
    expect(auth(second).nonce).toBe(paymentNonce({ agentId: '7', actionId: 'a', callIndex: 0, payment: 1 }))
  })

  test('Permit2, a missing EIP-712 domain or another network are refused before anything is signed', async () => {
    const { signer, signed } = recordingSigner()
    const scheme = createReplayableExactScheme({ signer: () => signer, clock: async () => 1_000, seed: { agentId: '7', actionId: 'a', callIndex: 0 } })
    await expect(scheme.createPaymentPayload(2, requirements({ extra: { name: 'x', version: '1', assetTransferMethod: 'permit2' } }))).rejects.toThrow(/EIP-3009 authorizations only/)
    await expect(scheme.createPaymentPayload(2, requirements({ extra: {} }))).rejects.toThrow(/no EIP-712 domain/)
    await expect(scheme.createPaymentPayload(2, requirements({ network: 'solana:mainnet' as never }))).rejects.toThrow(/not eip155/)
    expect(signed).toEqual([])
  })
})

describe('recordedFetch', () => {
  /** A tool context's `read` that records live, or answers from `replay` without fetching. */
  function reads(replay?: JsonValue[]) {
    const recorded: JsonValue[] = []
    const read = async <T extends JsonValue>(_label: string, fetch: () => T | Promise<T>): Promise<T> => {
      const v = replay ? (replay[recorded.length] as T) : await fetch()
      recorded.push(v)
      return v
    }
    return { read, recorded }
  }

  test('live: the exchange is recorded (status, x402 headers, body cut to maxBodyChars) and the answer is built from the record; replay: the same answer, no fetch', async () => {
    let fetched = 0
    const world = (async () => {
      fetched++
      return new Response('a very long body', { status: 402, headers: { 'PAYMENT-REQUIRED': 'abc', 'Set-Cookie': 'secret=1', 'Content-Type': 'text/plain' } })
    }) as typeof fetch
    const live = reads()
    const res = await recordedFetch({ fetch: world, read: live.read, maxBodyChars: 6 })('http://127.0.0.1:1/r')
    expect([res.status, res.headers.get('payment-required'), res.headers.get('set-cookie'), await res.text()]).toEqual([402, 'abc', null, 'a very'])
    expect(live.recorded).toEqual([
      { request: { method: 'GET', url: 'http://127.0.0.1:1/r', paid: false }, response: { status: 402, headers: { 'content-type': 'text/plain', 'payment-required': 'abc' }, body: 'a very' } },
    ])
    const replay = reads(live.recorded)
    const again = await recordedFetch({ fetch: world, read: replay.read, maxBodyChars: 6 })('http://127.0.0.1:1/r')
    expect([again.status, again.headers.get('payment-required'), await again.text()]).toEqual([402, 'abc', 'a very'])
    expect(fetched).toBe(1)
  })

  test('a recorded exchange for another request is refused', async () => {
    const forged = { request: { method: 'GET', url: 'http://127.0.0.1:1/other', paid: false }, response: { status: 200, headers: {}, body: keccak256(toHex('x')) } }
    const replay = reads([forged])
    await expect(recordedFetch({ fetch: fetch, read: replay.read, maxBodyChars: 100 })('http://127.0.0.1:1/r')).rejects.toThrow(/the recorded HTTP exchange is for GET http:\/\/127.0.0.1:1\/other, the tool asks GET http:\/\/127.0.0.1:1\/r/)
  })
})
