import type { Hash } from 'viem'
import { forkManagerAbi, workTokenAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'
import { InsufficientWorkTokenError } from '../errors.js'
import { forkSideIndex, type ForkSide } from './forkSides.js'

export type RedeemForkParameters = {
  forkId: bigint
  side: ForkSide
  /** Redeem this account's verifier stake (its balance in that child). @defaultValue true when it has stake */
  stake?: boolean | undefined
  /** WorkToken (CVW wei) to lock in that child as well: returned if it wins, burned if it loses. */
  tokens?: bigint | undefined
}
export type RedeemForkReturnType = { stakeRedeemed: bigint; tokensLocked: bigint; hashes: Hash[]; gasUsed: bigint }

/**
 * Redeems into one child of a pending fork: the account's verifier stake (never into a
 * child where its vote is slashed) and/or transferable WorkToken it locks there.
 */
export async function redeemFork(client: CovenantClient, p: RedeemForkParameters): Promise<RedeemForkReturnType> {
  const c = requireWallet(client, 'redeemFork')
  const address = c.deployment.contracts.forkManager
  const me = c.walletClient.account.address
  const side = forkSideIndex(p.side)
  const hashes: Hash[] = []
  let gasUsed = 0n
  let stakeRedeemed = 0n
  const [balanceIn, already] = await Promise.all([
    c.publicClient.readContract({ address, abi: forkManagerAbi, functionName: 'balanceIn', args: [p.forkId, side, me] }),
    c.publicClient.readContract({ address, abi: forkManagerAbi, functionName: 'stakeRedeemed', args: [p.forkId, me] }),
  ])
  const wantStake = p.stake ?? (balanceIn > 0n && already === 0n)
  if (wantStake) {
    const r = await writeAndWait(c, { contract: 'ForkManager', address, abi: forkManagerAbi, functionName: 'redeemStake', args: [p.forkId, side] })
    hashes.push(r.hash)
    gasUsed += r.receipt.gasUsed
    stakeRedeemed = balanceIn
  }
  const tokens = p.tokens ?? 0n
  if (tokens > 0n) {
    const workToken = c.deployment.contracts.workToken
    const [balance, allowance] = await Promise.all([
      c.publicClient.readContract({ address: workToken, abi: workTokenAbi, functionName: 'balanceOf', args: [me] }),
      c.publicClient.readContract({ address: workToken, abi: workTokenAbi, functionName: 'allowance', args: [me, address] }),
    ])
    if (balance < tokens) throw new InsufficientWorkTokenError({ account: me, needed: tokens, balance, purpose: 'redeem into the fork' })
    if (allowance < tokens) {
      const a = await writeAndWait(c, { contract: 'WorkToken', address: workToken, abi: workTokenAbi, functionName: 'approve', args: [address, tokens] })
      gasUsed += a.receipt.gasUsed
    }
    const r = await writeAndWait(c, { contract: 'ForkManager', address, abi: forkManagerAbi, functionName: 'redeemTokens', args: [p.forkId, side, tokens] })
    hashes.push(r.hash)
    gasUsed += r.receipt.gasUsed
  }
  return { stakeRedeemed, tokensLocked: tokens, hashes, gasUsed }
}

/** Takes back WorkToken this account locked in the child that became canonical. */
export async function reclaimFork(client: CovenantClient, p: { forkId: bigint }): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'reclaimFork')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ForkManager',
    address: c.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'reclaim',
    args: [p.forkId],
  })
  return { hash, gasUsed: receipt.gasUsed }
}

/** Pays out this account's ForkManager credits: a returned fork bond, fork and proof rewards. */
export async function claimForkCredits(client: CovenantClient): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'claimForkCredits')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ForkManager',
    address: c.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'claim',
    args: [],
  })
  return { hash, gasUsed: receipt.gasUsed }
}
