import type { Hash } from 'viem'
import { forkManagerAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { FORK_SIDES, type ForkSideName } from './forkSides.js'

export type ResolveForkReturnType = {
  canonical: ForkSideName
  agentAtFault: boolean
  slashedStake: bigint
  /** verifiers whose stake the canonical child removed */
  slashedVerifiers: `0x${string}`[]
  hash: Hash
  gasUsed: bigint
}

/**
 * Resolves a fork whose period is over (anyone may): the canonical child's slashes are
 * applied, and the contested dispute is settled as it says.
 */
export async function resolveFork(client: CovenantClient, p: { forkId: bigint }): Promise<ResolveForkReturnType> {
  const c = requireWallet(client, 'resolveFork')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ForkManager',
    address: c.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'resolve',
    args: [p.forkId],
  })
  const events = eventsOf(forkManagerAbi, receipt)
  const resolved = events.find((e) => e.eventName === 'ForkResolved')
  if (resolved?.eventName !== 'ForkResolved') throw new Error('ForkResolved event missing from receipt')
  const slashedVerifiers = events.flatMap((e) => (e.eventName === 'VerifierSlashed' ? [e.args.verifier] : []))
  return {
    canonical: FORK_SIDES[resolved.args.canonical] ?? 'None',
    agentAtFault: resolved.args.agentAtFault,
    slashedStake: resolved.args.slashedStake,
    slashedVerifiers,
    hash,
    gasUsed: receipt.gasUsed,
  }
}
