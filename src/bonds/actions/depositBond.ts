import type { Hash } from 'viem'
import { bondVaultAbi, testTokenAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { writeAndWait } from '../internal/write.js'

export type DepositBondParameters = {
  agentId: bigint
  /** Wei of native ETH to add. */
  eth?: bigint | undefined
  /** Units of the bond token to add (approved automatically). */
  token?: bigint | undefined
}
export type DepositBondReturnType = { hashes: Hash[]; gasUsed: bigint }

/** Adds to an agent's bond (anyone may top up any agent). */
export async function depositBond(client: CovenantClient, p: DepositBondParameters): Promise<DepositBondReturnType> {
  const c = requireWallet(client, 'depositBond')
  const { bondVault, bondToken } = c.deployment.contracts
  const hashes: Hash[] = []
  let gasUsed = 0n
  if (p.eth && p.eth > 0n) {
    const r = await writeAndWait(c, { contract: 'BondVault', address: bondVault, abi: bondVaultAbi, functionName: 'depositEth', args: [p.agentId], value: p.eth })
    hashes.push(r.hash)
    gasUsed += r.receipt.gasUsed
  }
  if (p.token && p.token > 0n) {
    const a = await writeAndWait(c, { contract: 'BondToken', address: bondToken, abi: testTokenAbi, functionName: 'approve', args: [bondVault, p.token] })
    const r = await writeAndWait(c, { contract: 'BondVault', address: bondVault, abi: bondVaultAbi, functionName: 'depositToken', args: [p.agentId, p.token] })
    hashes.push(a.hash, r.hash)
    gasUsed += a.receipt.gasUsed + r.receipt.gasUsed
  }
  return { hashes, gasUsed }
}
