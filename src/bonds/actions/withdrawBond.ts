import type { Hash } from 'viem'
import { bondVaultAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'

/** Asks for part of the bond back; it stays slashable until {@link withdrawBond}. */
export async function requestWithdraw(
  client: CovenantClient,
  p: { agentId: bigint; eth?: bigint | undefined; token?: bigint | undefined },
): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'requestWithdraw')
  const { hash } = await writeAndWait(c, {
    contract: 'BondVault',
    address: c.deployment.contracts.bondVault,
    abi: bondVaultAbi,
    functionName: 'requestWithdraw',
    args: [p.agentId, p.eth ?? 0n, p.token ?? 0n],
  })
  return { hash }
}

/** Withdraws the pending amount once the unbonding delay and all dispute windows passed. */
export async function withdrawBond(client: CovenantClient, p: { agentId: bigint }): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'withdrawBond')
  const { hash } = await writeAndWait(c, {
    contract: 'BondVault',
    address: c.deployment.contracts.bondVault,
    abi: bondVaultAbi,
    functionName: 'withdraw',
    args: [p.agentId],
  })
  return { hash }
}

/** Pays out this account's credits (slash rewards, refunded or forfeited challenger bonds). */
export async function claimCredits(client: CovenantClient): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'claimCredits')
  const { hash } = await writeAndWait(c, {
    contract: 'BondVault',
    address: c.deployment.contracts.bondVault,
    abi: bondVaultAbi,
    functionName: 'claim',
    args: [],
  })
  return { hash }
}
