import { keccak256, type Hash, type Hex } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'
import { ContractRevertError } from '../errors.js'
import { getBatch } from './getBatch.js'

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
/**
 * `written` is false when this exact batch was already committed (a safe retry): then `hash`
 * and `blockNumber` are those of the commit that wrote it, and `gasUsed` is what the refused
 * nothing counted for the refused re-send (0).
 */
export type CommitBatchReturnType = { hash: Hash; written: boolean; gasUsed: bigint; blockNumber: bigint }

/**
 * Commits a trace batch to TraceLog from the agent's operator account. TraceLog keeps only the
 * hash of each batch's record and refuses any re-send of a taken sequence (`SequenceTaken`);
 * a re-send of the content already committed (a committer retrying after a crash) is
 * recognised here, from the batch's BatchCommitted event, and returns `written: false`.
 */
export async function commitBatch(client: CovenantClient, p: CommitBatchParameters): Promise<CommitBatchReturnType> {
  const c = requireWallet(client, 'commitBatch')
  try {
    const { hash, receipt } =
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
    return { hash, written: true, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber }
  } catch (err) {
    if (!(err instanceof ContractRevertError) || err.errorName !== 'SequenceTaken') throw err
    const existing = await getBatch(c, p.agentId, p.sequence)
    if (
      !existing ||
      existing.merkleRoot.toLowerCase() !== p.merkleRoot.toLowerCase() ||
      existing.daCommitmentHash !== keccak256(p.daCommitment) ||
      existing.stepCount !== p.stepCount ||
      (p.callsCovered !== undefined && existing.callsCovered !== p.callsCovered)
    ) {
      throw err
    }
    return { hash: existing.transactionHash, written: false, gasUsed: 0n, blockNumber: existing.blockNumber }
  }
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
