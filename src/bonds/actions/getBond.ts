import { bondVaultAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'

export type GetBondReturnType = {
  eth: bigint
  token: bigint
  pendingEth: bigint
  pendingToken: bigint
  /** Unix seconds of the pending withdrawal request (0 when none). */
  requestedAt: number
  /** Earliest unix second the pending withdrawal can be made (0 when none). */
  withdrawableAt: number
}

export async function getBond(client: CovenantClient, agentId: bigint): Promise<GetBondReturnType> {
  const address = client.deployment.contracts.bondVault
  const [bond, at] = await Promise.all([
    client.publicClient.readContract({ address, abi: bondVaultAbi, functionName: 'bondOf', args: [agentId] }),
    client.publicClient.readContract({ address, abi: bondVaultAbi, functionName: 'withdrawableAt', args: [agentId] }),
  ])
  return { ...bond, requestedAt: Number(bond.requestedAt), withdrawableAt: Number(at) }
}
