import { maxUint256, type Address, type Hex } from 'viem'
import { agentRegistryAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'
import type { Policy } from '../../wallet/policy.js'

export type AgentVersion = {
  version: number
  manifestHash: Hex
  modelDigests: readonly Hex[]
  policy: Policy
  readyAt: number
  activeFrom: number
  activeUntil: number
}

export type GetAgentReturnType = {
  agentId: bigint
  owner: Address
  operator: Address
  /** the account's first signer key */
  wallet: Address
  /** the AgentAccount holding the agent's funds (bound to the agent for life) */
  account: Address
  registeredAt: number
  policyDelay: number
  activeVersion: number
  pendingVersion: number
  openDisputes: number
  active: AgentVersion
}

export async function getAgentVersion(client: CovenantClient, agentId: bigint, version: number): Promise<AgentVersion> {
  const v = await client.publicClient.readContract({
    address: client.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    functionName: 'version',
    args: [agentId, version],
  })
  return {
    version,
    manifestHash: v.manifestHash,
    modelDigests: v.modelDigests,
    policy: {
      maxValuePerTx: v.maxValuePerTx,
      challengeWindow: Number(v.challengeWindow),
      commitDeadline: Number(v.commitDeadline),
      allowedTargets: [...v.allowedTargets],
      allowedSelectors: [...v.allowedSelectors],
      // the chain stores "no limit" as the largest uint256
      ...(v.dailyBudget === maxUint256 ? {} : { dailyBudget: v.dailyBudget }),
    },
    readyAt: Number(v.readyAt),
    activeFrom: Number(v.activeFrom),
    activeUntil: Number(v.activeUntil),
  }
}

/** The agent's identity and its active manifest + policy version. */
export async function getAgent(client: CovenantClient, agentId: bigint): Promise<GetAgentReturnType> {
  const a = await client.publicClient.readContract({
    address: client.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    functionName: 'agent',
    args: [agentId],
  })
  return {
    agentId,
    owner: a.owner,
    operator: a.operator,
    wallet: a.wallet,
    account: a.account,
    registeredAt: Number(a.registeredAt),
    policyDelay: Number(a.policyDelay),
    activeVersion: a.activeVersion,
    pendingVersion: a.pendingVersion,
    openDisputes: a.openDisputes,
    active: await getAgentVersion(client, agentId, a.activeVersion),
  }
}
