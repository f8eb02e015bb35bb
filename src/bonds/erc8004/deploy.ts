import type { Abi, Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'
import { identityRegistryAbi, reputationRegistryAbi, validationRegistryAbi } from '../generated/abis.js'
import { identityRegistryBytecode, reputationRegistryBytecode, validationRegistryBytecode } from '../generated/bytecode.js'
import { BaseError } from '../../errors/base.js'
import type { Erc8004Deployment } from './deployment.js'

export type DeployErc8004Parameters = {
  publicClient: PublicClient
  walletClient: WalletClient<Transport, Chain | undefined, Account>
  onProgress?: ((message: string) => void) | undefined
}

export class TrustlessAgentsDeployError extends BaseError {
  override name = 'TrustlessAgentsDeployError' as const
}

/**
 * Deploys the three ERC-8004 registries (contracts/src/erc8004): the Identity Registry,
 * then the Reputation and Validation registries bound to it. They stand alone (no
 * Covenant contract refers to them), so any chain gets them in three transactions.
 */
export async function deployErc8004(p: DeployErc8004Parameters): Promise<Erc8004Deployment> {
  const { publicClient, walletClient } = p
  const say = p.onProgress ?? (() => {})
  async function deploy(name: string, abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<Address> {
    const hash = await walletClient.deployContract({ abi, bytecode, args, account: walletClient.account, chain: walletClient.chain ?? null })
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success' || !receipt.contractAddress) throw new TrustlessAgentsDeployError(`Deploying ${name} failed (transaction ${hash}).`)
    say(`deployed ${name} at ${receipt.contractAddress} (gas ${receipt.gasUsed})`)
    return receipt.contractAddress
  }
  const identityRegistry = await deploy('ERC-8004 IdentityRegistry', identityRegistryAbi, identityRegistryBytecode, [])
  const reputationRegistry = await deploy('ERC-8004 ReputationRegistry', reputationRegistryAbi, reputationRegistryBytecode, [identityRegistry])
  const validationRegistry = await deploy('ERC-8004 ValidationRegistry', validationRegistryAbi, validationRegistryBytecode, [identityRegistry])
  return { identityRegistry, reputationRegistry, validationRegistry }
}
