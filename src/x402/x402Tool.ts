import { x402Client } from '@x402/core/client'
import { decodePaymentResponseHeader } from '@x402/core/http'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { wrapFetchWithPayment } from '@x402/fetch'
import { getAddress, type Address, type Hex } from 'viem'
import { z } from 'zod'
import { defineTool, type ToolDefinition } from '../agent/defineTool.js'
import { TRANSFER_WITH_AUTHORIZATION_SELECTOR } from '../wallet/authorization.js'
import type { CallHandle } from '../wallet/handles.js'
import { createAccountPaymentSigner } from './accountSigner.js'
import { X402ProtocolError } from './errors.js'

export type X402FetchToolParameters = {
  /** @defaultValue 'fetchPaid' */
  name?: string | undefined
  /** What the model reads. */
  description?: string | undefined
  /** The EIP-3009 token the tool pays in (e.g. USDC); an allowed target of the agent's policy. */
  token: Address
  /** The chain of the token (x402 network `eip155:<chainId>`). */
  chainId: number
  /** The largest amount of one payment, in the token's smallest unit. */
  maxAmount: bigint
  /** The only recipients the tool pays; absent = whoever the policy allows. */
  payTo?: readonly Address[] | undefined
  /** Characters of the response body returned to the model. @defaultValue 8000 */
  maxBodyChars?: number | undefined
  /** @defaultValue globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined
}

const args = z.object({ url: z.string().url().describe('the http(s) URL of the resource to fetch; a 402 answer is paid automatically within the tool\'s limits') })

type FetchPaidResult = {
  status: number
  body: string
  payment: { authorizationTx: Hex; amount: string; payTo: Address; settlementTx: string | null } | null
}
type X402Effect = { kind: 'call'; targets: [Address]; selectors: [Hex] }

/**
 * An agent tool that fetches an HTTP resource and pays for it with x402 (v2, scheme "exact",
 * EIP-3009) from the agent's account. The payment goes the way every money move of the agent
 * goes: the tool's limits, then the policy (token and `transferWithAuthorization` selector,
 * recipient allowlisted), then a wallet step in the WAL, then `AgentAccount.authorizeTransfer`
 * on chain — and the header the server receives carries the account as `from` with an
 * ERC-1271 signature the token checks with the account. A payment outside the limits is
 * refused before any authorization.
 */
export function x402FetchTool(p: X402FetchToolParameters): ToolDefinition<typeof args, X402Effect, FetchPaidResult> {
  const token = getAddress(p.token)
  const network = `eip155:${p.chainId}` as const
  const maxBody = p.maxBodyChars ?? 8_000
  const effect: X402Effect = { kind: 'call', targets: [token], selectors: [TRANSFER_WITH_AUTHORIZATION_SELECTOR] }
  return defineTool({
    name: p.name ?? 'fetchPaid',
    description:
      p.description ??
      `Fetches a URL; if the server asks for an x402 payment, pays it from the agent's account in token ${token} (at most ${p.maxAmount} units) and fetches again.`,
    schema: args,
    effect,
    invoke: async ({ url }, { wallet }) => {
      let paid: FetchPaidResult['payment'] = null
      const signer = createAccountPaymentSigner({
        handle: wallet as CallHandle,
        token,
        chainId: p.chainId,
        maxAmount: p.maxAmount,
        payTo: p.payTo,
        onAuthorized: (tx, a) => {
          paid = { authorizationTx: tx.hash, amount: a.value.toString(), payTo: a.to, settlementTx: null }
        },
      })
      const client = x402Client.fromConfig({
        schemes: [{ network, client: new ExactEvmScheme(signer) }],
        // x402's own spend control: only this token. The amount cap is the signer's, so that a
        // refusal is the typed X402PaymentRefusedError, before any authorization
        spendControls: { allowedAssets: [{ network, asset: token }] },
      })
      const paying = wrapFetchWithPayment(p.fetch ?? globalThis.fetch, client)
      const res = await paying(url)
      const body = (await res.text()).slice(0, maxBody)
      const header = res.headers.get('PAYMENT-RESPONSE')
      const payment = paid as FetchPaidResult['payment']
      if (payment && header) {
        try {
          payment.settlementTx = decodePaymentResponseHeader(header).transaction || null
        } catch {
          throw new X402ProtocolError('the server answered with an unreadable PAYMENT-RESPONSE header')
        }
      }
      return { status: res.status, body, payment }
    },
  })
}
