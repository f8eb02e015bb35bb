import type { Hash } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'
import { getBatch, NO_BATCH_RECORD, type BatchRecord, type CommittedBatch } from './getBatch.js'

export type OpenBatchReturnType = { hash: Hash; gasUsed: bigint } | undefined

/**
 * Writes a bundled batch's record hash to its own TraceLog slot (`TraceLog.openBatch`),
 * proven by its bundle's leaves, so that DisputeGame and `isFinal` can take the record.
 * Anyone may send it; it does nothing (undefined) for a batch already open.
 */
export async function openBatch(client: CovenantClient, batch: CommittedBatch): Promise<OpenBatchReturnType> {
  if (batch.opened || !batch.bundle) return undefined
  const c = requireWallet(client, 'openBatch')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'TraceLog',
    address: c.deployment.contracts.traceLog,
    abi: traceLogAbi,
    functionName: 'openBatch',
    args: [batch.agentId, batch.sequence, batch.record, batch.bundle.leaves, BigInt(batch.bundle.index)],
  })
  return { hash, gasUsed: receipt.gasUsed }
}

/**
 * The record a dispute action sends for (agentId, sequence): `given` when the caller passed
 * one, else the committed batch's; either way a bundled batch is opened first, so the chain
 * judges the record and not the missing slot. {@link NO_BATCH_RECORD} when nothing is
 * committed there (the chain then answers `UnknownBatch`).
 */
export async function openedBatchRecord(client: CovenantClient, agentId: bigint, sequence: bigint, given?: BatchRecord | undefined): Promise<BatchRecord> {
  const batch = await getBatch(client, agentId, sequence)
  if (!batch) return given ?? NO_BATCH_RECORD
  await openBatch(client, batch)
  return given ?? batch.record
}
