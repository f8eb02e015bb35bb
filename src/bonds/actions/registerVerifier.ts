import type { Address, Hash } from 'viem'
import { verifierRegistryAbi, workTokenAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'
import { InsufficientWorkTokenError } from '../errors.js'

/**
 * Stakes WorkToken (CVW) to become a verifier that can vote on disputes opened after this
 * block: approves the registry for the stake (when the allowance is short), then registers.
 * @defaultValue stake: the deployment's verifier minimum
 */
export async function registerVerifier(client: CovenantClient, p: { stake?: bigint | undefined } = {}): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'registerVerifier')
  const stake = p.stake ?? c.deployment.params.verifierMinStake
  const me = c.walletClient.account.address
  const { workToken, verifierRegistry } = c.deployment.contracts
  const [balance, allowance] = await Promise.all([
    c.publicClient.readContract({ address: workToken, abi: workTokenAbi, functionName: 'balanceOf', args: [me] }),
    c.publicClient.readContract({ address: workToken, abi: workTokenAbi, functionName: 'allowance', args: [me, verifierRegistry] }),
  ])
  if (balance < stake) throw new InsufficientWorkTokenError({ account: me, needed: stake, balance, purpose: 'stake as a verifier' })
  if (allowance < stake) {
    await writeAndWait(c, { contract: 'WorkToken', address: workToken, abi: workTokenAbi, functionName: 'approve', args: [verifierRegistry, stake] })
  }
  const { hash } = await writeAndWait(c, {
    contract: 'VerifierRegistry',
    address: verifierRegistry,
    abi: verifierRegistryAbi,
    functionName: 'register',
    args: [stake],
  })
  return { hash }
}

export async function getVerifierStake(client: CovenantClient, verifier: Address) {
  const v = await client.publicClient.readContract({
    address: client.deployment.contracts.verifierRegistry,
    abi: verifierRegistryAbi,
    functionName: 'verifier',
    args: [verifier],
  })
  return { stake: v.stake, registeredBlock: v.registeredBlock, exitRequestedAt: Number(v.exitRequestedAt) }
}

/** The transferable WorkToken (CVW) an account holds. */
export async function getWorkTokenBalance(client: CovenantClient, account: Address): Promise<bigint> {
  return client.publicClient.readContract({ address: client.deployment.contracts.workToken, abi: workTokenAbi, functionName: 'balanceOf', args: [account] })
}
