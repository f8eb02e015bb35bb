/**
 * Agents of the in-process fault scenarios: the fixture paying agent (the shipped ONNX
 * moderation classifier reads the memo, a `pay` tool pays through the policy-gated
 * wallet), with a short commit deadline so a DA or chain outage reaches it in seconds.
 */
import { getAddress, parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent, defineTool, type AgentDefinition } from '../../src/agent/index.js'
import { PAYEE, payTaskSchema } from '../fixtures/serviceAgents.js'

export { PAYEE }

export function quickPayingAgent(name: string, commitDeadline: number): AgentDefinition {
  const pay = defineTool({
    name: 'pay',
    description: 'Pay an amount in ETH to an address.',
    schema: z.object({
      to: z.string().regex(/^0x[0-9a-fA-F]{40}$/).describe('the payee'),
      amountEth: z.string().regex(/^\d+(\.\d{1,18})?$/).describe('the amount in ETH'),
    }),
    effect: { kind: 'pay', maxValuePerTx: parseEther('1') },
    invoke: async ({ to, amountEth }, { wallet }) => {
      const tx = await wallet.pay({ to: getAddress(to), value: parseEther(amountEth) })
      return { to: getAddress(to), paid: amountEth, hash: tx.hash }
    },
  })
  return defineAgent({
    name,
    instructions: 'Pay what each memo asks.',
    model: {
      kind: 'onnx',
      model: 'moderation',
      input: (task) => payTaskSchema.parse(task).memo,
      decide: (_output, task) => {
        const { to, amountEth } = payTaskSchema.parse(task)
        return [{ name: 'pay', args: { to, amountEth } }]
      },
    },
    tools: [pay],
    policy: { maxValuePerTx: parseEther('1'), dailyBudget: parseEther('100'), challengeWindow: 3_600, commitDeadline, allowedTargets: [PAYEE] },
    bond: { eth: parseEther('2') },
    replay: { mode: 'exact' },
  })
}

export const payTask = (i: number) => ({ memo: `invoice ${i}: GPU hours`, to: PAYEE, amountEth: `0.00${(i % 9) + 1}` })
