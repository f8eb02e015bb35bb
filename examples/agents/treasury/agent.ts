/**
 * treasury — pays invoices. An LLM (the shipped covenant-chat model behind the local
 * inference container, or any OpenAI-compatible endpoint) reads each invoice and calls
 * `pay_invoice`; the wallet pays only allowlisted vendors, at most 1 ETH a payment and
 * 2 ETH a day, and records every payment in the trace before signing it.
 */
import { getAddress, parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent, defineTool } from '../../../src/agent/index.js'
import { ethAmountSchema } from '../../../src/wallet/index.js'

/** The vendors the treasury may pay (the policy's allowlist). */
export const VENDORS = {
  'Northwind Ltd': getAddress('0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'),
  'Contoso GmbH': getAddress('0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359'),
  'Fabrikam Inc': getAddress('0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb'),
} as const

export const payInvoice = defineTool({
  name: 'pay_invoice',
  description: 'Pay an invoice in ETH to the address printed on it.',
  schema: z.object({
    invoiceId: z.string().min(1).max(64).describe('the invoice number, e.g. INV-2041'),
    to: z.string().regex(/^0x[0-9a-fA-F]{40}$/).describe('the address to pay, exactly as printed on the invoice'),
    // positive, plain decimal, at most 18 decimals: "-1", "0", "1e3" and "abc" never reach the wallet
    amountEth: ethAmountSchema.describe('the amount in ETH, e.g. "0.25"'),
  }),
  effect: { kind: 'pay', maxValuePerTx: parseEther('1') },
  invoke: async ({ invoiceId, to, amountEth }, { wallet }) => {
    const tx = await wallet.pay({ to: getAddress(to), value: parseEther(amountEth) })
    return { invoiceId, paid: amountEth, to: getAddress(to), hash: tx.hash }
  },
})

export default defineAgent({
  name: 'treasury',
  instructions: 'You pay invoices. For each invoice, call pay_invoice with its id, the address printed on it and the amount in ETH.',
  model: { kind: 'chat', model: 'covenant-chat' },
  tools: [payInvoice],
  policy: {
    maxValuePerTx: parseEther('1'),
    dailyBudget: parseEther('2'),
    challengeWindow: 3_600,
    commitDeadline: 600,
    allowedTargets: Object.values(VENDORS),
  },
  bond: { eth: parseEther('10') },
  replay: { mode: 'exact' },
})
