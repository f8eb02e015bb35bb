/**
 * Agents of the in-process fault scenarios: the fixture paying agent (the shipped ONNX
 * moderation classifier reads the memo, a `pay` tool pays through the policy-gated
 * wallet), with a short commit deadline so a DA or chain outage reaches it in seconds.
 */
import { parseEther } from 'viem'
import type { AgentDefinition } from '../../src/agent/index.js'
import { PAYEE, payingAgent } from '../fixtures/serviceAgents.js'

export { PAYEE }

export function quickPayingAgent(name: string, commitDeadline: number): AgentDefinition {
  return payingAgent(name, { commitDeadline, bond: parseEther('2') })
}

export const payTask = (i: number) => ({ memo: `invoice ${i}: GPU hours`, to: PAYEE, amountEth: `0.00${(i % 9) + 1}` })
