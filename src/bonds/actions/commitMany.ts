import type { Hash } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'
import type { CommitBatchParameters } from './commitBatch.js'

export type CommitManyReturnType = { hash: Hash; gasUsed: bigint; blockNumber: bigint }

/**
 * Commits several batches in one transaction (TraceLog.commitMany): of several agents that
 * share the caller as operator, or consecutive sequences of one agent, in order. Each is
 * checked as by {@link commitBatch}; one refused batch reverts them all. Unlike
 * `commitBatch`, a batch already committed is not recognised here: leave it out.
 */
export async function commitMany(client: CovenantClient, batches: readonly CommitBatchParameters[]): Promise<CommitManyReturnType> {
  const c = requireWallet(client, 'commitMany')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'TraceLog',
    address: c.deployment.contracts.traceLog,
    abi: traceLogAbi,
    functionName: 'commitMany',
    args: [
      batches.map((b) => ({
        agentId: b.agentId,
        sequence: b.sequence,
        merkleRoot: b.merkleRoot,
        daCommitment: b.daCommitment,
        stepCount: b.stepCount,
        setCoverage: b.callsCovered !== undefined,
        callsCovered: b.callsCovered ?? 0,
      })),
    ],
  })
  return { hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber }
}
