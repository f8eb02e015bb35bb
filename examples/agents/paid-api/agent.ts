/**
 * paid-api — buys weather reports from a paid HTTP API with x402. The shipped ONNX
 * classifier (models/moderation) reads each request first: the agent pays only for requests
 * it rates `ok`, never for a scam or spam request. A payment is an EIP-3009 authorization of
 * the agent's account — under the policy (the dev token, the API's payee, the
 * `transferWithAuthorization` selector), a wallet step in the trace before it is signed —
 * and the whole HTTP exchange is recorded, so verifiers replay the action exactly.
 *
 * Runs on the embedded defaults (`npm run example:x402`): the local chain's test token is
 * the money, and a dev x402 server sells the reports.
 */
import { getAddress, parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent } from '../../../src/agent/index.js'
import { TRANSFER_WITH_AUTHORIZATION_SELECTOR } from '../../../src/wallet/index.js'
import { x402FetchTool } from '../../../src/x402/index.js'

/** The local chain's EIP-3009 test token ("Covenant Test USD", 18 decimals): where the embedded defaults deploy it. */
export const DEV_TOKEN = getAddress('0x0165878a594ca255338adfa4d48449f69242eb8f')
/** The anvil chain of the embedded defaults. */
export const DEV_CHAIN_ID = 31_337
/** Who the weather API is paid to (the only payee the policy allows). */
export const API_PAYEE = getAddress('0x00000000000000000000000000000000000a0111')
/** The most one report may cost. */
export const MAX_PRICE = parseEther('0.05')

export const buyReport = x402FetchTool({
  name: 'buy_report',
  description: 'Fetches a report from the weather API, paying its x402 price (at most 0.05 test USD) from the agent account.',
  token: DEV_TOKEN,
  chainId: DEV_CHAIN_ID,
  maxAmount: MAX_PRICE,
  payTo: [API_PAYEE],
  maxBodyChars: 2_000,
})

export const requestSchema = z.object({ text: z.string().min(1).max(4000), url: z.string().url() })
export type ReportRequest = z.infer<typeof requestSchema>

export default defineAgent({
  name: 'paid-api',
  instructions: 'Buy the weather report each request asks for, unless the request reads as spam, abuse or a scam.',
  model: {
    kind: 'onnx',
    model: 'moderation',
    input: (task) => requestSchema.parse(task).text,
    decide: (output, task) => ((output as { label: string }).label === 'ok' ? [{ name: 'buy_report', args: { url: requestSchema.parse(task).url } }] : []),
  },
  tools: [buyReport],
  policy: {
    // no ETH moves: it pays in the token, by authorization. The ETH budget (and the bond it
    // requires) does not count token authorizations — see the README's limits
    maxValuePerTx: 0n,
    dailyBudget: 0n,
    challengeWindow: 3_600,
    commitDeadline: 600,
    allowedTargets: [DEV_TOKEN, API_PAYEE],
    allowedSelectors: [TRANSFER_WITH_AUTHORIZATION_SELECTOR],
  },
  bond: { eth: parseEther('2') },
  replay: { mode: 'exact' },
})
