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

/** What an account can claim from the ForkManager, and what it redeemed into one fork. */
export async function getForkPosition(client: CovenantClient, account: Address, forkId?: bigint | undefined) {
  const address = client.deployment.contracts.forkManager
  const read = <T>(functionName: string, args: readonly unknown[]) =>
    client.publicClient.readContract({ address, abi: forkManagerAbi, functionName, args } as never) as Promise<T>
  const [ethCredits, tokenCredits] = await Promise.all([read<bigint>('ethCredits', [account]), read<bigint>('tokenCredits', [account])])
  if (forkId === undefined) return { ethCredits, tokenCredits }
  const [side, stakeRedeemed, tokensLocked] = await Promise.all([
    read<number>('sideOf', [forkId, account]),
    read<bigint>('stakeRedeemed', [forkId, account]),
    read<bigint>('tokensLocked', [forkId, account]),
  ])
  return { ethCredits, tokenCredits, side: FORK_SIDES[side] ?? 'None', stakeRedeemed, tokensLocked }
}
