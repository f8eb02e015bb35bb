import type { Hex } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'

export type CommittedBatch = {
  agentId: bigint
  sequence: bigint
  merkleRoot: Hex
  daCommitmentHash: Hex
  firstIndex: bigint
  stepCount: number
  committedAt: number
  challengeWindow: number
}

/** The batch committed at a sequence, or undefined when there is none yet. */
export async function getBatch(client: CovenantClient, agentId: bigint, sequence: bigint): Promise<CommittedBatch | undefined> {
  const address = client.deployment.contracts.traceLog
  const committed = await client.publicClient.readContract({ address, abi: traceLogAbi, functionName: 'isCommitted', args: [agentId, sequence] })
  if (!committed) return undefined
  const b = await client.publicClient.readContract({ address, abi: traceLogAbi, functionName: 'batch', args: [agentId, sequence] })
  return {
    agentId,
    sequence,
    merkleRoot: b.merkleRoot,
    daCommitmentHash: b.daCommitmentHash,
    firstIndex: b.firstIndex,
    stepCount: b.stepCount,
    committedAt: Number(b.committedAt),
    challengeWindow: Number(b.challengeWindow),
  }
}

/** Next sequence the operator must commit. */
export async function getNextSequence(client: CovenantClient, agentId: bigint): Promise<bigint> {
  return client.publicClient.readContract({
    address: client.deployment.contracts.traceLog,
    abi: traceLogAbi,
    functionName: 'nextSequence',
    args: [agentId],
  })
}
