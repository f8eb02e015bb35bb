import type { Hash, Hex } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'

export type CommitBatchParameters = {
  agentId: bigint
  sequence: bigint
  merkleRoot: Hex
  daCommitment: Hex
  stepCount: number
}
/** `written` is false when this exact batch was already committed (a safe retry). */
export type CommitBatchReturnType = { hash: Hash; written: boolean; gasUsed: bigint; blockNumber: bigint }

/** Commits a trace batch to TraceLog from the agent's operator account. */
export async function commitBatch(client: CovenantClient, p: CommitBatchParameters): Promise<CommitBatchReturnType> {
  const c = requireWallet(client, 'commitBatch')
  const { hash, receipt, result } = await writeAndWait(c, {
    contract: 'TraceLog',
    address: c.deployment.contracts.traceLog,
    abi: traceLogAbi,
    functionName: 'commit',
    args: [p.agentId, p.sequence, p.merkleRoot, p.daCommitment, p.stepCount],
  })
  return { hash, written: result === true, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber }
}
