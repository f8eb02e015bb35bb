import type { Hash } from 'viem'
import { forkManagerAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'

export type ContestVerdictReturnType = { forkId: bigint; bond: bigint; verdictAtFault: boolean; endsAt: number; hash: Hash; gasUsed: bigint }

/**
 * Contests a decided quorum verdict within its escalation window, posting the fork bond
 * (ETH; returned only if the fork overturns the verdict, burned otherwise). Starts a fork
 * of the staked work token that is open for redemption until `endsAt`.
 */
export async function contestVerdict(client: CovenantClient, p: { disputeId: bigint }): Promise<ContestVerdictReturnType> {
  const c = requireWallet(client, 'contestVerdict')
  const address = c.deployment.contracts.forkManager
  const bond = await c.publicClient.readContract({ address, abi: forkManagerAbi, functionName: 'forkBond' })
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ForkManager',
    address,
    abi: forkManagerAbi,
    functionName: 'contest',
    args: [p.disputeId],
    value: bond,
  })
  const started = eventsOf(forkManagerAbi, receipt).find((e) => e.eventName === 'ForkStarted')
  if (started?.eventName !== 'ForkStarted') throw new Error('ForkStarted event missing from receipt')
  const a = started.args
  return { forkId: a.forkId, bond: a.bond, verdictAtFault: a.verdictAtFault, endsAt: Number(a.endsAt), hash, gasUsed: receipt.gasUsed }
}
