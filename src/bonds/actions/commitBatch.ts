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
  /**
   * The agent account's calls [0, callsCovered) have their wallet steps in this batch or an
   * earlier one (TraceLog.commitCovering). Absent: coverage stays where it is (TraceLog.commit).
   */
  callsCovered?: number | undefined
}
/** `written` is false when this exact batch was already committed (a safe retry). */
export type CommitBatchReturnType = { hash: Hash; written: boolean; gasUsed: bigint; blockNumber: bigint }

/** Commits a trace batch to TraceLog from the agent's operator account. */
export async function commitBatch(client: CovenantClient, p: CommitBatchParameters): Promise<CommitBatchReturnType> {
  const c = requireWallet(client, 'commitBatch')
  const { hash, receipt, result } =
    p.callsCovered === undefined
      ? await writeAndWait(c, {
          contract: 'TraceLog',
          address: c.deployment.contracts.traceLog,
          abi: traceLogAbi,
          functionName: 'commit',
          args: [p.agentId, p.sequence, p.merkleRoot, p.daCommitment, p.stepCount],
        })
      : await writeAndWait(c, {
          contract: 'TraceLog',
          address: c.deployment.contracts.traceLog,
          abi: traceLogAbi,
          functionName: 'commitCovering',
          args: [p.agentId, p.sequence, p.merkleRoot, p.daCommitment, p.stepCount, p.callsCovered],
        })
  return { hash, written: result === true, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber }
}

/**
 * Declares more of the agent account's calls covered without a new batch (TraceLog.cover):
 * for calls executed after the batch holding their wallet steps was committed.
 */
export async function coverCalls(client: CovenantClient, p: { agentId: bigint; callsCovered: number }): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'coverCalls')
  const { hash } = await writeAndWait(c, {
    contract: 'TraceLog',
    address: c.deployment.contracts.traceLog,
    abi: traceLogAbi,
    functionName: 'cover',
    args: [p.agentId, p.callsCovered],
  })
  return { hash }
}
