import type { Address } from 'viem'
import { forkManagerAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'
import { FORK_SIDES, type ForkSideName } from './forkSides.js'

export type ForkInfo = {
  forkId: bigint
  disputeId: bigint
  contester: Address
  /** ETH the contester posted */
  bond: bigint
  startedAt: number
  /** redemptions close and the fork can be resolved at this time (unix seconds) */
  endsAt: number
  /** what the contested verdict said */
  verdictAtFault: boolean
  /** 'None' while pending */
  canonical: ForkSideName
  /** what the fork-choice rule picks from the redemptions so far */
  leading: Exclude<ForkSideName, 'None'>
  redeemedStands: bigint
  redeemedOverturned: bigint
  lockedStands: bigint
  lockedOverturned: bigint
  slashedStake: bigint
}

export async function getFork(client: CovenantClient, forkId: bigint): Promise<ForkInfo> {
  const address = client.deployment.contracts.forkManager
  const [f, leading] = await Promise.all([
    client.publicClient.readContract({ address, abi: forkManagerAbi, functionName: 'fork', args: [forkId] }),
    client.publicClient.readContract({ address, abi: forkManagerAbi, functionName: 'leadingSide', args: [forkId] }),
  ])
  return {
    forkId,
    disputeId: f.disputeId,
    contester: f.contester,
    bond: f.bond,
    startedAt: Number(f.startedAt),
    endsAt: Number(f.endsAt),
    verdictAtFault: f.verdictAtFault,
    canonical: FORK_SIDES[f.canonical] ?? 'None',
    leading: leading === 2 ? 'Overturned' : 'Stands',
    redeemedStands: f.redeemedStands,
    redeemedOverturned: f.redeemedOverturned,
    lockedStands: f.lockedStands,
    lockedOverturned: f.lockedOverturned,
    slashedStake: f.slashedStake,
  }
}

/** Every fork, oldest first. */
export async function listForks(client: CovenantClient): Promise<ForkInfo[]> {
  const count = await client.publicClient.readContract({
    address: client.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'forkCount',
  })
  return Promise.all(Array.from({ length: Number(count) }, (_, i) => getFork(client, BigInt(i + 1))))
}

/** The fork of a contested dispute (0n when it was never contested). */
export async function forkOfDispute(client: CovenantClient, disputeId: bigint): Promise<bigint> {
  return client.publicClient.readContract({
    address: client.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'forkOfDispute',
    args: [disputeId],
  })
}

export type ForkCredits = { ethCredits: bigint; tokenCredits: bigint }
export type ForkPosition = ForkCredits & { side: ForkSideName; stakeRedeemed: bigint; tokensLocked: bigint }

/** What an account can claim from the ForkManager (a returned fork bond, rewards). */
export async function getForkPosition(client: CovenantClient, account: Address): Promise<ForkCredits>
/** The same, and what the account redeemed into one fork. */
export async function getForkPosition(client: CovenantClient, account: Address, forkId: bigint): Promise<ForkPosition>
export async function getForkPosition(client: CovenantClient, account: Address, forkId?: bigint): Promise<ForkCredits | ForkPosition> {
  const address = client.deployment.contracts.forkManager
  const pc = client.publicClient
  const [ethCredits, tokenCredits] = await Promise.all([
    pc.readContract({ address, abi: forkManagerAbi, functionName: 'ethCredits', args: [account] }),
    pc.readContract({ address, abi: forkManagerAbi, functionName: 'tokenCredits', args: [account] }),
  ])
  if (forkId === undefined) return { ethCredits, tokenCredits }
  const [side, stakeRedeemed, tokensLocked] = await Promise.all([
    pc.readContract({ address, abi: forkManagerAbi, functionName: 'sideOf', args: [forkId, account] }),
    pc.readContract({ address, abi: forkManagerAbi, functionName: 'stakeRedeemed', args: [forkId, account] }),
    pc.readContract({ address, abi: forkManagerAbi, functionName: 'tokensLocked', args: [forkId, account] }),
  ])
  return { ethCredits, tokenCredits, side: FORK_SIDES[side] ?? 'None', stakeRedeemed, tokensLocked }
}
