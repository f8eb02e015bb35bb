import { x402Client } from '@x402/core/client'
import { decodePaymentResponseHeader } from '@x402/core/http'
import { wrapFetchWithPayment } from '@x402/fetch'
import { getAddress, type Address, type Hex } from 'viem'
import { z } from 'zod'
import { defineTool, type ToolDefinition } from '../agent/defineTool.js'
import { TRANSFER_WITH_AUTHORIZATION_SELECTOR } from '../wallet/authorization.js'
import type { CallHandle } from '../wallet/handles.js'
import { createAccountPaymentSigner } from './accountSigner.js'
import { X402ProtocolError } from './errors.js'
import { recordedFetch } from './recordedFetch.js'
import { createReplayableExactScheme } from './replayableExactScheme.js'

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
  /** Characters of each response body kept (recorded in the trace, returned to the model). @defaultValue 8000 */
  maxBodyChars?: number | undefined
  /** @defaultValue globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined
}

const args = z.object({ url: z.string().url().describe('the http(s) URL of the resource to fetch; a 402 answer is paid automatically within the tool\'s limits') })

export type FetchPaidResult = {
  status: number
  body: string
  payment: { authorizationTx: Hex; amount: string; payTo: Address; settlementTx: string | null } | null
  /** What went wrong after the payment was authorized (the resource refused it, the authorization reverted…); null when nothing did. */
  error: { name: string; message: string } | null
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
 *
 * Replayable: every HTTP exchange and the clock are reads of the tool call, recorded in its
 * tool step (`ToolContext.read`), and the authorization's nonce comes from the action
 * (see replayableExactScheme.ts) — a verifier re-running the action feeds the recorded 402
 * and answers back and must arrive at the very authorization the wallet step records. Once
 * an authorization is sent the tool does not throw: a failure after it is the result's
 * `error`, with the payment, so the trace shows what was paid.
 */
export function x402FetchTool(p: X402FetchToolParameters): ToolDefinition<typeof args, X402Effect, FetchPaidResult> {
  const token = getAddress(p.token)
  const network = `eip155:${p.chainId}` as const
  const maxBody = p.maxBodyChars ?? 8_000
  if (!Number.isSafeInteger(maxBody) || maxBody < 0) throw new X402ProtocolError(`maxBodyChars must be a whole number of characters, got ${String(maxBody)}`)
  const effect: X402Effect = { kind: 'call', targets: [token], selectors: [TRANSFER_WITH_AUTHORIZATION_SELECTOR] }
  return defineTool({
    name: p.name ?? 'fetchPaid',
    description:
      p.description ??
      `Fetches a URL; if the server asks for an x402 payment, pays it from the agent's account in token ${token} (at most ${p.maxAmount} units) and fetches again.`,
    schema: args,
    effect,
    invoke: async ({ url }, { wallet, read, agentId, actionId, callIndex }) => {
      let payment: FetchPaidResult['payment'] = null
      const scheme = createReplayableExactScheme({
        signer: () =>
          createAccountPaymentSigner({
            handle: wallet as CallHandle,
            token,
            chainId: p.chainId,
            maxAmount: p.maxAmount,
            payTo: p.payTo,
            onSent: (tx, a) => {
              payment = { authorizationTx: tx.hash, amount: a.value.toString(), payTo: a.to, settlementTx: null }
            },
          }),
        clock: () => read('clock', () => Math.floor(Date.now() / 1000)),
        seed: { agentId, actionId, callIndex },
      })
      // x402's fetch wrapper rethrows a payload error as a plain Error: keep the original (a
      // policy refusal must stay a PolicyViolationError, which ends the action)
      let refusal: unknown
      const keeping = {
        ...scheme,
        createPaymentPayload: (...a: Parameters<typeof scheme.createPaymentPayload>) =>
          scheme.createPaymentPayload(...a).catch((err: unknown) => {
            refusal ??= err
            throw err
          }),
      }
      const client = x402Client.fromConfig({
        schemes: [{ network, client: keeping }],
        // x402's own spend control: only this token. The amount cap is the signer's, so that a
        // refusal is the typed X402PaymentRefusedError, before any authorization
        spendControls: { allowedAssets: [{ network, asset: token }] },
      })
      const paying = wrapFetchWithPayment(recordedFetch({ fetch: p.fetch ?? globalThis.fetch, read, maxBodyChars: maxBody }), client)
      let res: Response
      try {
        res = await paying(url)
      } catch (err) {
        const sent = payment as FetchPaidResult['payment']
        // before any authorization a failure is the tool's error (a refusal ends the action)
        if (!sent) throw refusal ?? err
        const e = err instanceof Error ? err : new Error(String(err))
        return { status: 0, body: '', payment: sent, error: { name: e.name, message: e.message.slice(0, 2_000) } }
      }
      const body = await res.text()
      const header = res.headers.get('PAYMENT-RESPONSE')
      const paid = payment as FetchPaidResult['payment']
      let error: FetchPaidResult['error'] = null
      if (paid && header) {
        try {
          paid.settlementTx = decodePaymentResponseHeader(header).transaction || null
        } catch {
          error = { name: 'X402ProtocolError', message: 'the server answered with an unreadable PAYMENT-RESPONSE header' }
        }
      }
      return { status: res.status, body, payment: paid, error }
    },
  })
}
