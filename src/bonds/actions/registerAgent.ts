import type { Address, Hash, Hex } from 'viem'
import { agentRegistryAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { policySchema, policyToContract, type PolicyInput } from '../../wallet/policy.js'

export type RegisterAgentParameters = {
  operator: Address
  wallet: Address
  manifestHash: Hex
  modelDigests?: readonly Hex[] | undefined
  policy: PolicyInput
  /**
   * Seconds before a later policy/manifest update may take effect: at least the challenge
   * window (the registry refuses less). @defaultValue the larger of the protocol minimum and the challenge window
   */
  policyDelay?: number | undefined
}
export type RegisterAgentReturnType = { agentId: bigint; hash: Hash; gasUsed: bigint }

/** Registers an agent; the caller becomes its owner. */
export async function registerAgent(client: CovenantClient, p: RegisterAgentParameters): Promise<RegisterAgentReturnType> {
  const c = requireWallet(client, 'registerAgent')
  const policy = policySchema.parse(p.policy)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'AgentRegistry',
    address: c.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    functionName: 'register',
    args: [
      p.operator,
      p.wallet,
      p.manifestHash,
      p.modelDigests ?? [],
      policyToContract(policy),
      BigInt(p.policyDelay ?? Math.max(c.deployment.params.minPolicyDelay, policy.challengeWindow)),
    ],
  })
  const event = eventsOf(agentRegistryAbi, receipt).find((e) => e.eventName === 'AgentRegistered')
  if (!event || event.eventName !== 'AgentRegistered') throw new Error('AgentRegistered event missing from receipt')
  return { agentId: event.args.agentId, hash, gasUsed: receipt.gasUsed }
}
