import type { Hash, Hex } from 'viem'
import { agentRegistryAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { policySchema, policyToContract, type PolicyInput } from '../../wallet/policy.js'

/** Proposes a new manifest + policy; it can be activated after the agent's policy delay. */
export async function proposeUpdate(
  client: CovenantClient,
  p: { agentId: bigint; manifestHash: Hex; modelDigests?: readonly Hex[] | undefined; policy: PolicyInput },
): Promise<{ version: number; readyAt: number; hash: Hash }> {
  const c = requireWallet(client, 'proposeUpdate')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'AgentRegistry',
    address: c.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    functionName: 'proposeUpdate',
    args: [p.agentId, p.manifestHash, p.modelDigests ?? [], policyToContract(policySchema.parse(p.policy))],
  })
  const e = eventsOf(agentRegistryAbi, receipt).find((x) => x.eventName === 'UpdateProposed')
  if (e?.eventName !== 'UpdateProposed') throw new Error('UpdateProposed event missing from receipt')
  return { version: e.args.version, readyAt: Number(e.args.readyAt), hash }
}

/** Activates the pending update once its delay passed (only the agent's owner may). */
export async function activateUpdate(client: CovenantClient, p: { agentId: bigint }): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'activateUpdate')
  const { hash } = await writeAndWait(c, {
    contract: 'AgentRegistry',
    address: c.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    functionName: 'activateUpdate',
    args: [p.agentId],
  })
  return { hash }
}
