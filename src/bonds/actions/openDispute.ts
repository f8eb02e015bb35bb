import { zeroHash, type Hash, type Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { commitEvidence } from './evidence.js'
import { disputeKindIndex, type OpenableDisputeKind } from './disputeKinds.js'
import { NO_BATCH_RECORD, type BatchRecord } from './getBatch.js'
import { openedBatchRecord } from './openBatch.js'

export type OpenDisputeParameters = {
  kind: OpenableDisputeKind
  agentId: bigint
  /** Batch sequence (0 for UntracedAction). */
  sequence?: bigint | undefined
  /** Step index within the batch (0 for InvalidBatch and UntracedAction). */
  stepIndex?: number | undefined
  /** Transaction hash for UntracedAction; a claim hash for SubjectiveClaim; else zero. */
  subject?: Hex | undefined
  /**
   * What the faulty action moved (wei): on a slash at least this is taken and paid to the
   * agent's owner before any reward. Verifiers find the agent at fault only when it is no
   * more than the action moved, so claim exactly what the committed wallet steps (or the
   * untraced transaction) moved. @defaultValue 0
   */
  harm?: bigint | undefined
  /** The batch's record (its BatchCommitted event); read and checked against the chain when absent. Not used for UntracedAction. */
  record?: BatchRecord | undefined
}
export type OpenDisputeReturnType = { disputeId: bigint; bond: bigint; deadline: number; hash: Hash; gasUsed: bigint }

/** Opens a dispute the verifier quorum settles, posting the challenger bond (DataWithheld: {@link challengeData}). */
/** @see challengeData for DataWithheld */
export async function openDispute(client: CovenantClient, p: OpenDisputeParameters): Promise<OpenDisputeReturnType> {
  const c = requireWallet(client, 'openDispute')
  const address = c.deployment.contracts.disputeGame
  const kind = disputeKindIndex(p.kind)
  const args = [kind, p.agentId, p.sequence ?? 0n, p.stepIndex ?? 0, p.subject ?? zeroHash] as const
  const [key, bond, record] = await Promise.all([
    c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'targetKey', args }),
    c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'bondFor', args: [kind] }),
    p.kind === 'UntracedAction' ? NO_BATCH_RECORD : openedBatchRecord(c, p.agentId, p.sequence ?? 0n, p.record),
  ])
  const { salt, gasUsed: commitGas } = await commitEvidence(c, key)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address,
    abi: disputeGameAbi,
    functionName: 'openDispute',
    args: [kind, p.agentId, p.sequence ?? 0n, record, p.stepIndex ?? 0, p.subject ?? zeroHash, p.harm ?? 0n, salt],
    value: bond,
  })
  const opened = eventsOf(disputeGameAbi, receipt).find((e) => e.eventName === 'DisputeOpened')
  if (opened?.eventName !== 'DisputeOpened') throw new Error('DisputeOpened event missing from receipt')
  return { disputeId: opened.args.disputeId, bond, deadline: Number(opened.args.deadline), hash, gasUsed: commitGas + receipt.gasUsed }
}
