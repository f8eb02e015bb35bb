import { parseEventLogs, type Hash, type Hex } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { ReceiptEventMissingError } from '../errors.js'
import { writeAndWait } from '../internal/write.js'
import type { CommitBatchParameters } from './commitBatch.js'

export type CommitManyReturnType = { hash: Hash; gasUsed: bigint; blockNumber: bigint }
export type CommitBundleReturnType = CommitManyReturnType & {
  /** The hash TraceLog keeps for the bundle, and its leaves (one per batch, in order). */
  bundle: Hex
  leaves: readonly Hex[]
}

/** `TraceLog.commitMany` / `commitBundle` with the batches as its `Commit` structs. */
function send(client: CovenantClient, functionName: 'commitMany' | 'commitBundle', batches: readonly CommitBatchParameters[]) {
  const c = requireWallet(client, functionName)
  return writeAndWait(c, { contract: 'TraceLog', address: c.deployment.contracts.traceLog, abi: traceLogAbi, functionName, args: [entries(batches)] })
}

function entries(batches: readonly CommitBatchParameters[]) {
  return batches.map((b) => ({
    agentId: b.agentId,
    sequence: b.sequence,
    merkleRoot: b.merkleRoot,
    daCommitment: b.daCommitment,
    stepCount: b.stepCount,
    setCoverage: b.callsCovered !== undefined,
    callsCovered: b.callsCovered ?? 0,
  }))
}

/**
 * Commits several batches in one transaction (TraceLog.commitMany): of several agents that
 * share the caller as operator, or consecutive sequences of one agent, in order. Each is
 * checked as by {@link commitBatch}; one refused batch reverts them all. Unlike
 * `commitBatch`, a batch already committed is not recognised here: leave it out.
 */
export async function commitMany(client: CovenantClient, batches: readonly CommitBatchParameters[]): Promise<CommitManyReturnType> {
  const { hash, receipt } = await send(client, 'commitMany', batches)
  return { hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber }
}

/**
 * Commits several batches as one bundle (TraceLog.commitBundle): checked and counted as by
 * {@link commitMany}, but the chain stores one slot for the bundle instead of one per batch
 * — the cheapest way to commit many agents' batches. A bundled batch's record is written to
 * its own slot only when a dispute needs it (`openBatch`; the dispute actions do it).
 * At most 256 batches (`MAX_BUNDLE_BATCHES`).
 */
export async function commitBundle(client: CovenantClient, batches: readonly CommitBatchParameters[]): Promise<CommitBundleReturnType> {
  const { hash, receipt } = await send(client, 'commitBundle', batches)
  const [ev] = parseEventLogs({ abi: traceLogAbi, eventName: 'BundleCommitted', logs: receipt.logs, strict: true })
  if (!ev) throw new ReceiptEventMissingError('TraceLog.commitBundle', 'BundleCommitted', hash)
  return { hash, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber, bundle: ev.args.bundle, leaves: ev.args.leaves }
}
