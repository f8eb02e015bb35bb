import type { Hash, Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { assertEquivocationInput } from '../internal/assertEvidence.js'
import { commitEvidence } from './evidence.js'
import type { BatchHeader } from './batchHeader.js'
import { NO_BATCH_RECORD, type BatchRecord } from './getBatch.js'
import { openedBatchRecord } from './openBatch.js'

export type ProveEquivocationParameters = {
  a: BatchHeader
  sigA: Hex
  b: BatchHeader
  /** Omit when `b` is the batch committed on chain for that sequence. */
  sigB?: Hex | undefined
  /**
   * Without `sigB`: the committed batch's record (its BatchCommitted event); read and
   * checked against the chain when absent. Not used with two signatures.
   */
  committed?: BatchRecord | undefined
}
export type ProveEquivocationReturnType = { disputeId: bigint; slashedEth: bigint; slashedToken: bigint; hash: Hash; gasUsed: bigint }

/** Proves the operator signed two different batches for one sequence; slashes at once. */
export async function proveEquivocation(client: CovenantClient, p: ProveEquivocationParameters): Promise<ProveEquivocationReturnType> {
  assertEquivocationInput(p)
  const c = requireWallet(client, 'proveEquivocation')
  const address = c.deployment.contracts.disputeGame
  const [evidence, committed] = await Promise.all([
    c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'equivocationEvidence', args: [p.a, p.b] }),
    p.sigB !== undefined && p.sigB !== '0x' ? NO_BATCH_RECORD : openedBatchRecord(c, p.b.agentId, p.b.sequence, p.committed),
  ])
  const { salt, gasUsed: commitGas } = await commitEvidence(c, evidence)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address,
    abi: disputeGameAbi,
    functionName: 'proveEquivocation',
    args: [p.a, p.sigA, p.b, p.sigB ?? '0x', committed, salt],
  })
  const resolved = eventsOf(disputeGameAbi, receipt).find((e) => e.eventName === 'DisputeResolved')
  if (resolved?.eventName !== 'DisputeResolved') throw new Error('DisputeResolved event missing from receipt')
  return {
    disputeId: resolved.args.disputeId,
    slashedEth: resolved.args.slashedEth,
    slashedToken: resolved.args.slashedToken,
    hash,
    gasUsed: commitGas + receipt.gasUsed,
  }
}
