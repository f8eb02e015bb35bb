import type { Hash, Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { assertPolicyBreachInput } from '../internal/assertEvidence.js'
import { commitEvidence } from './evidence.js'
import type { BatchRecord } from './getBatch.js'
import type { WalletStepTuple } from './walletStep.js'
import { BREACHES, type Breach } from '../../wallet/policy.js'
import { openedBatchRecord } from './openBatch.js'

export type ProvePolicyBreachParameters = {
  step: WalletStepTuple
  sequence: bigint
  proof: readonly Hex[]
  /** The batch's record (its BatchCommitted event); read and checked against the chain when absent. */
  record?: BatchRecord | undefined
}
export type ProvePolicyBreachReturnType = {
  disputeId: bigint
  breach: Breach
  slashedEth: bigint
  slashedToken: bigint
  hash: Hash
  /** gas of the commit plus the reveal */
  gasUsed: bigint
}

/**
 * Proves on chain that a committed wallet step breaks the agent's policy: commit, then
 * reveal in the next block. The bond is slashed in the same transaction.
 */
export async function provePolicyBreach(client: CovenantClient, p: ProvePolicyBreachParameters): Promise<ProvePolicyBreachReturnType> {
  assertPolicyBreachInput(p)
  const c = requireWallet(client, 'provePolicyBreach')
  const address = c.deployment.contracts.disputeGame
  const [evidence, record] = await Promise.all([
    c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'policyBreachEvidence', args: [p.step, p.sequence] }),
    openedBatchRecord(c, p.step.agentId, p.sequence, p.record),
  ])
  const { salt, gasUsed: commitGas } = await commitEvidence(c, evidence)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address,
    abi: disputeGameAbi,
    functionName: 'provePolicyBreach',
    args: [p.step, p.sequence, record, p.proof, salt],
  })
  const events = eventsOf(disputeGameAbi, receipt)
  const proven = events.find((e) => e.eventName === 'PolicyBreachProven')
  const resolved = events.find((e) => e.eventName === 'DisputeResolved')
  if (proven?.eventName !== 'PolicyBreachProven' || resolved?.eventName !== 'DisputeResolved') {
    throw new Error('PolicyBreachProven event missing from receipt')
  }
  return {
    disputeId: proven.args.disputeId,
    breach: BREACHES[proven.args.breach] ?? 'None',
    slashedEth: resolved.args.slashedEth,
    slashedToken: resolved.args.slashedToken,
    hash,
    gasUsed: commitGas + receipt.gasUsed,
  }
}
