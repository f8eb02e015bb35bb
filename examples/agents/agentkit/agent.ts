/**
 * agentkit — pays approved requests with Coinbase AgentKit's own `native_transfer` action,
 * through the agent's Covenant wallet. The shipped ONNX classifier reads each request; one it
 * calls `ok` is paid with AgentKit's WalletActionProvider, whose wallet provider is a
 * CovenantWalletProvider: the transfer is policy-checked, written to the trace before it is
 * signed and executed by the agent's AgentAccount. No key sits in AgentKit.
 */
import { AgentKit, walletActionProvider } from '@coinbase/agentkit'
import { getAddress, parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent } from '../../../src/agent/index.js'
import { agentKitTools, CovenantWalletProvider } from '../../../src/agentkit/index.js'

/** The payees the policy allows. */
export const PAYEES = {
  'Northwind Ltd': getAddress('0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'),
  'Contoso GmbH': getAddress('0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359'),
} as const

export const requestSchema = z.object({
  text: z.string().min(1).max(4000),
  to: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  amountEth: z.string().regex(/^\d+(\.\d{1,18})?$/),
})

/** Anvil's chain id: the example runs on the local chain. */
const walletProvider = new CovenantWalletProvider({ chainId: 31337 })
const agentKit = await AgentKit.from({ walletProvider, actionProviders: [walletActionProvider()] })

export default defineAgent({
  name: 'agentkit-payer',
  instructions: 'Classify each payment request; pay the ones the classifier calls ok with AgentKit native_transfer.',
  model: {
    kind: 'onnx',
    model: 'moderation',
    input: (task) => requestSchema.parse(task).text,
    decide: (output, task) => {
      const r = requestSchema.parse(task)
      if ((output as { label: string }).label !== 'ok') return []
      return [{ name: 'WalletActionProvider_native_transfer', args: { to: r.to, value: r.amountEth } }]
    },
  },
  // only native_transfer: the policy's allowlist and caps apply to it through the Covenant wallet
  tools: agentKitTools(agentKit, {
    include: ['WalletActionProvider_native_transfer'],
    effects: { WalletActionProvider_native_transfer: { kind: 'pay', maxValuePerTx: parseEther('1') } },
  }),
  policy: { maxValuePerTx: parseEther('1'), dailyBudget: parseEther('2'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: Object.values(PAYEES) },
  bond: { eth: parseEther('5') },
  replay: { mode: 'exact' },
})
