import type { Hash } from 'viem'
import { verifierRegistryAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'

/**
 * Leaving the verifier set takes two transactions: `requestExitVerifier` starts the exit
 * delay (longer than any dispute lasts, so the stake still answers for every vote it can
 * still cast), then `exitVerifier` pays the whole stake back once it has passed.
 */
export async function requestExitVerifier(client: CovenantClient): Promise<{ hash: Hash; exitableAt: number }> {
  const c = requireWallet(client, 'requestExitVerifier')
  const { hash } = await writeAndWait(c, {
    contract: 'VerifierRegistry',
    address: c.deployment.contracts.verifierRegistry,
    abi: verifierRegistryAbi,
    functionName: 'requestExit',
    args: [],
  })
  return { hash, exitableAt: await verifierExitableAt(client, c.walletClient.account.address) }
}

export async function exitVerifier(client: CovenantClient): Promise<{ hash: Hash }> {
  const c = requireWallet(client, 'exitVerifier')
  const { hash } = await writeAndWait(c, {
    contract: 'VerifierRegistry',
    address: c.deployment.contracts.verifierRegistry,
    abi: verifierRegistryAbi,
    functionName: 'exit',
    args: [],
  })
  return { hash }
}

/** When a verifier's requested exit unlocks (unix seconds); 0 when no exit is requested. */
export async function verifierExitableAt(client: CovenantClient, verifier: `0x${string}`): Promise<number> {
  const [v, delay] = await Promise.all([
    client.publicClient.readContract({ address: client.deployment.contracts.verifierRegistry, abi: verifierRegistryAbi, functionName: 'verifier', args: [verifier] }),
    client.publicClient.readContract({ address: client.deployment.contracts.verifierRegistry, abi: verifierRegistryAbi, functionName: 'exitDelay' }),
  ])
  return v.exitRequestedAt === 0n ? 0 : Number(v.exitRequestedAt + delay)
}
