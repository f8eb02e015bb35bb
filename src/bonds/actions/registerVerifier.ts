import type { Hash } from 'viem'
import { verifierRegistryAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'

/** Stakes ETH to become a verifier that can vote on disputes opened after this block. */
export async function registerVerifier(client: CovenantClient, p: { stake?: bigint | undefined } = {}): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'registerVerifier')
  const { hash } = await writeAndWait(c, {
    contract: 'VerifierRegistry',
    address: c.deployment.contracts.verifierRegistry,
    abi: verifierRegistryAbi,
    functionName: 'register',
    args: [],
    value: p.stake ?? c.deployment.params.verifierMinStake,
  })
  return { hash }
}

export async function getVerifierStake(client: CovenantClient, verifier: Hash | `0x${string}`) {
  const v = await client.publicClient.readContract({
    address: client.deployment.contracts.verifierRegistry,
    abi: verifierRegistryAbi,
    functionName: 'verifier',
    args: [verifier],
  })
  return { stake: v.stake, registeredBlock: v.registeredBlock, exitRequestedAt: Number(v.exitRequestedAt) }
}
