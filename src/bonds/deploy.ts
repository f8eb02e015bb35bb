import type { Abi, Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'
import {
  agentRegistryAbi,
  bondVaultAbi,
  disputeGameAbi,
  testTokenAbi,
  traceLogAbi,
  verifierRegistryAbi,
} from './generated/abis.js'
import {
  agentRegistryBytecode,
  bondVaultBytecode,
  disputeGameBytecode,
  testTokenBytecode,
  traceLogBytecode,
  verifierRegistryBytecode,
} from './generated/bytecode.js'
import { defaultProtocolParams, protocolParamsSchema, type CovenantDeployment, type ProtocolParamsInput } from './deployment.js'
import { BaseError } from '../errors/base.js'
import { deployErc8004 } from './erc8004/deploy.js'

export type DeployCovenantParameters = {
  publicClient: PublicClient
  walletClient: WalletClient<Transport, Chain | undefined, Account>
  /** Overrides of {@link defaultProtocolParams}. */
  params?: Partial<ProtocolParamsInput> | undefined
  /** ERC-20 for token bonds; a dev-only mintable TestToken is deployed when omitted. */
  bondToken?: Address | undefined
  /** Receives the redistribution share of slashes. @defaultValue the deployer */
  redistribution?: Address | undefined
  onProgress?: ((message: string) => void) | undefined
  /** Also deploy the ERC-8004 registries (Identity, Reputation, Validation). @defaultValue true */
  erc8004?: boolean | undefined
}

export class DeployError extends BaseError {
  override name = 'DeployError' as const
}

/**
 * Deploys and wires the five Covenant contracts (plus a dev bond token when none is given),
 * then the ERC-8004 registries, and returns their addresses with the protocol parameters.
 */
export async function deployCovenant(p: DeployCovenantParameters): Promise<CovenantDeployment> {
  const params = protocolParamsSchema.parse({ ...defaultProtocolParams, ...p.params })
  const { publicClient, walletClient } = p
  const account = walletClient.account
  const chain = walletClient.chain ?? null
  const say = p.onProgress ?? (() => {})

  async function deploy(name: string, abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<Address> {
    const hash = await walletClient.deployContract({ abi, bytecode, args, account, chain })
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success' || !receipt.contractAddress) {
      throw new DeployError(`Deploying ${name} failed (transaction ${hash}).`)
    }
    say(`deployed ${name} at ${receipt.contractAddress} (gas ${receipt.gasUsed})`)
    return receipt.contractAddress
  }
  async function call(address: Address, abi: Abi, functionName: string, args: readonly unknown[]) {
    const hash = await walletClient.writeContract({ address, abi, functionName, args, account, chain })
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new DeployError(`${functionName} on ${address} failed (transaction ${hash}).`)
  }

  const startBlock = await publicClient.getBlockNumber()
  const verifierRegistry = await deploy('VerifierRegistry', verifierRegistryAbi, verifierRegistryBytecode, [
    params.verifierMinStake,
    BigInt(params.verifierExitDelay),
  ])
  const agentRegistry = await deploy('AgentRegistry', agentRegistryAbi, agentRegistryBytecode, [
    BigInt(params.disputePeriod),
    BigInt(params.unbondingDelay),
    BigInt(params.minPolicyDelay),
  ])
  const traceLog = await deploy('TraceLog', traceLogAbi, traceLogBytecode, [agentRegistry])
  const bondToken = p.bondToken ?? (await deploy('TestToken (dev bond token)', testTokenAbi, testTokenBytecode, []))
  const redistribution = p.redistribution ?? account.address
  const bondVault = await deploy('BondVault', bondVaultAbi, bondVaultBytecode, [
    agentRegistry,
    traceLog,
    bondToken,
    redistribution,
    params.challengerBps,
    params.redistributionBps,
  ])
  const disputeGame = await deploy('DisputeGame', disputeGameAbi, disputeGameBytecode, [
    agentRegistry,
    traceLog,
    bondVault,
    verifierRegistry,
    params.challengerBond,
    params.subjectiveBond,
    params.slashBps,
    params.quorumBps,
  ])
  await call(agentRegistry, agentRegistryAbi, 'setDisputeGame', [disputeGame])
  await call(bondVault, bondVaultAbi, 'setDisputeGame', [disputeGame])
  say('wired DisputeGame into AgentRegistry and BondVault')
  const erc8004 = p.erc8004 === false ? undefined : await deployErc8004({ publicClient, walletClient, onProgress: p.onProgress })

  return {
    chainId: await publicClient.getChainId(),
    deployedAtBlock: startBlock + 1n,
    deployer: account.address,
    redistribution,
    contracts: { agentRegistry, bondVault, traceLog, verifierRegistry, disputeGame, bondToken },
    params,
    ...(erc8004 ? { erc8004 } : {}),
  }
}
