import type { Address, Hash } from 'viem'
import {
  ContractRevertError,
  finalizeDispute,
  forkManagerAbi,
  forkOfDispute,
  getFork,
  redeemFork,
  resolveFork,
  type CovenantClient,
  type ForkSide,
  type ForkSideName,
} from '../bonds/index.js'

/** What a verifier node does with a verdict after the quorum decided it. */
export type EscalationEvent =
  | { type: 'decided'; disputeId: bigint; agentAtFault: boolean; finalizesAt: number }
  | { type: 'finalized'; disputeId: bigint; hash: Hash }
  | { type: 'contested'; disputeId: bigint; forkId: bigint; verdictAtFault: boolean; endsAt: number }
  | { type: 'redeemed'; disputeId: bigint; forkId: bigint; side: ForkSide; stake: bigint }
  | { type: 'fork-resolved'; disputeId: bigint; forkId: bigint; canonical: ForkSideName; agentAtFault: boolean; slashedStake: bigint }

export type EscalationView = {
  disputeId: bigint
  status: 'Decided' | 'Contested'
  /** the decided verdict: more stake voted "at fault" than not */
  agentAtFault: boolean
  finalizesAt: number
}

export type EscalationContext = {
  client: CovenantClient
  /** the node can send transactions */
  canAct: boolean
  /** the node's account, when it has one */
  me: Address | undefined
  /** this node's own verdict on the dispute, if it reached one */
  myVerdict: boolean | undefined
  /** redeem this node's stake into the child its own verdict supports */
  redeem: boolean
  now: number
}

const settledElsewhere = new Set(['NotDecided', 'ForkResolvedAlready', 'AlreadyRedeemed', 'OtherSideChosen', 'ForkOver'])

/**
 * One pass over a decided or contested dispute:
 *   - decided, window over: finalize it (anyone may; the node does, so an honest verdict
 *     settles without anyone watching);
 *   - contested, fork open: redeem this node's stake into the child its own replay supports
 *     (Stands when it agrees with the contested verdict, Overturned when not);
 *   - contested, fork period over: resolve the fork, which settles the dispute.
 * A call that lost a race to another node (already finalized, already resolved) is not an error.
 */
export async function followEscalation(ctx: EscalationContext, d: EscalationView): Promise<EscalationEvent[]> {
  const out: EscalationEvent[] = []
  if (d.status === 'Decided') {
    out.push({ type: 'decided', disputeId: d.disputeId, agentAtFault: d.agentAtFault, finalizesAt: d.finalizesAt })
    if (ctx.canAct && ctx.now > d.finalizesAt) {
      const r = await quiet(finalizeDispute(ctx.client, { disputeId: d.disputeId }))
      if (r) out.push({ type: 'finalized', disputeId: d.disputeId, hash: r.hash })
    }
    return out
  }
  const forkId = await forkOfDispute(ctx.client, d.disputeId)
  if (forkId === 0n) return out
  const fork = await getFork(ctx.client, forkId)
  out.push({ type: 'contested', disputeId: d.disputeId, forkId, verdictAtFault: fork.verdictAtFault, endsAt: fork.endsAt })
  if (!ctx.canAct) return out
  if (ctx.now < fork.endsAt) {
    if (!ctx.redeem || ctx.myVerdict === undefined || !ctx.me) return out
    const side: ForkSide = ctx.myVerdict === fork.verdictAtFault ? 'Stands' : 'Overturned'
    const [balance, redeemed] = await Promise.all([
      ctx.client.publicClient.readContract({
        address: ctx.client.deployment.contracts.forkManager,
        abi: forkManagerAbi,
        functionName: 'balanceIn',
        args: [forkId, side === 'Stands' ? 1 : 2, ctx.me],
      }),
      ctx.client.publicClient.readContract({
        address: ctx.client.deployment.contracts.forkManager,
        abi: forkManagerAbi,
        functionName: 'stakeRedeemed',
        args: [forkId, ctx.me],
      }),
    ])
    if (balance === 0n || redeemed !== 0n) return out
    const r = await quiet(redeemFork(ctx.client, { forkId, side, stake: true }))
    if (r) out.push({ type: 'redeemed', disputeId: d.disputeId, forkId, side, stake: r.stakeRedeemed })
    return out
  }
  const r = await quiet(resolveFork(ctx.client, { forkId }))
  if (r) {
    out.push({ type: 'fork-resolved', disputeId: d.disputeId, forkId, canonical: r.canonical, agentAtFault: r.agentAtFault, slashedStake: r.slashedStake })
  }
  return out
}

async function quiet<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p
  } catch (err) {
    if (err instanceof ContractRevertError && settledElsewhere.has(err.errorName)) return undefined
    throw err
  }
}
