import type { Address, Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'
import { DISPUTE_KINDS, DISPUTE_STATUSES, type DisputeKind, type DisputeStatus } from './disputeKinds.js'

export type DisputeInfo = {
  disputeId: bigint
  kind: DisputeKind
  status: DisputeStatus
  agentId: bigint
  sequence: bigint
  stepIndex: number
  subject: Hex
  challenger: Address
  bond: bigint
  openedAt: number
  deadline: number
  stakeSnapshot: bigint
  forStake: bigint
  againstStake: bigint
  slashedEth: bigint
  slashedToken: bigint
  /** What the challenger says the faulty action moved (wei), repaid to the owner first on a slash. */
  harm: bigint
  /** End of the escalation window once the verdict is decided (unix seconds; 0 before). */
  finalizesAt: number
}

export async function getDispute(client: CovenantClient, disputeId: bigint): Promise<DisputeInfo> {
  const d = await client.publicClient.readContract({
    address: client.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'dispute',
    args: [disputeId],
  })
  return {
    disputeId,
    kind: DISPUTE_KINDS[d.kind] ?? 'PolicyBreach',
    status: DISPUTE_STATUSES[d.status] ?? 'None',
    agentId: d.agentId,
    sequence: d.sequence,
    stepIndex: d.stepIndex,
    subject: d.subject,
    challenger: d.challenger,
    bond: d.bond,
    openedAt: Number(d.openedAt),
    deadline: Number(d.deadline),
    stakeSnapshot: d.stakeSnapshot,
    forStake: d.forStake,
    againstStake: d.againstStake,
    slashedEth: d.slashedEth,
    slashedToken: d.slashedToken,
    harm: d.harm,
    finalizesAt: Number(d.finalizesAt),
  }
}

/** All disputes, newest last (reads each by id; fine for explorers and CLIs). */
export async function listDisputes(client: CovenantClient, filter: { agentId?: bigint | undefined } = {}): Promise<DisputeInfo[]> {
  const count = await client.publicClient.readContract({
    address: client.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'disputeCount',
  })
  const all = await Promise.all(Array.from({ length: Number(count) }, (_, i) => getDispute(client, BigInt(i + 1))))
  return filter.agentId === undefined ? all : all.filter((d) => d.agentId === filter.agentId)
}
