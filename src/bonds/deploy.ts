import type { Abi, Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'
import {
  agentRegistryAbi,
  bondVaultAbi,
  disputeGameAbi,
  forkManagerAbi,
  testTokenAbi,
  traceLogAbi,
  verifierRegistryAbi,
  workTokenAbi,
} from './generated/abis.js'
import {
  agentRegistryBytecode,
  bondVaultBytecode,
  disputeGameBytecode,
  forkManagerBytecode,
  testTokenBytecode,
  traceLogBytecode,
  verifierRegistryBytecode,
  workTokenBytecode,
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
  /**
   * Who receives WorkToken (CVW) at genesis; the rest of `workTokenSupply` goes to the
   * deployer. Dev chains give every dev account some, so any of them can stake as a verifier.
   * @defaultValue the whole supply to the deployer
   */
  workTokenAllocation?: readonly { to: Address; amount: bigint }[] | undefined
  onProgress?: ((message: string) => void) | undefined
  /** Also deploy the ERC-8004 registries (Identity, Reputation, Validation). @defaultValue true */
  erc8004?: boolean | undefined
}

export class DeployError extends BaseError {
  override name = 'DeployError' as const
}

/**
 * Deploys and wires the Covenant contracts — WorkToken, VerifierRegistry (its staked form),
 * ForkManager, AgentRegistry, TraceLog, BondVault, DisputeGame (plus a dev bond token when
 * none is given) — then the ERC-8004 registries, and returns their addresses with the
 * protocol parameters.
 */
export async function deployCovenant(p: DeployCovenantParameters): Promise<CovenantDeployment> {
  const params = protocolParamsSchema.parse({ ...defaultProtocolParams, ...p.params })
  const { publicClient, walletClient } = p
  const account = walletClient.account
  const chain = walletClient.chain ?? null
  const say = p.onProgress ?? (() => {})
  // refuse before the first transaction what the contracts would refuse half-way through
  if (params.verifierExitDelay <= params.disputePeriod + params.escalationWindow) {
    throw new DeployError('The verifier exit delay must be longer than the dispute period plus the escalation window.', {
      details: `verifierExitDelay ${params.verifierExitDelay} s, disputePeriod ${params.disputePeriod} s, escalationWindow ${params.escalationWindow} s`,
      metaMessages: ['A stake that voted must still be there when its verdict is contested: raise verifierExitDelay or shorten the others.'],
    })
  }
  const grants = p.workTokenAllocation ?? []
  const granted = grants.reduce((sum, g) => sum + g.amount, 0n)
  if (granted > params.workTokenSupply) {
    throw new DeployError('The WorkToken allocation exceeds its supply.', {
      details: `allocated ${granted}, supply ${params.workTokenSupply}`,
      metaMessages: ['Raise workTokenSupply or allocate less.'],
    })
  }

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
  const holders = [...grants.map((g) => g.to), account.address]
  const amounts = [...grants.map((g) => g.amount), params.workTokenSupply - granted]
  const workToken = await deploy('WorkToken (CVW)', workTokenAbi, workTokenBytecode, [holders, amounts])
  const verifierRegistry = await deploy('VerifierRegistry (staked CVW)', verifierRegistryAbi, verifierRegistryBytecode, [
    workToken,
    params.verifierMinStake,
    BigInt(params.verifierExitDelay),
  ])
  const forkManager = await deploy('ForkManager', forkManagerAbi, forkManagerBytecode, [
    workToken,
    verifierRegistry,
    BigInt(params.escalationWindow),
    BigInt(params.forkPeriod),
    params.forkBond,
    params.forkChoiceBps,
    params.forkRewardBps,
  ])
  await call(verifierRegistry, verifierRegistryAbi, 'setForks', [forkManager])
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
    forkManager,
  ])
  await call(agentRegistry, agentRegistryAbi, 'setDisputeGame', [disputeGame])
  await call(bondVault, bondVaultAbi, 'setDisputeGame', [disputeGame])
  await call(forkManager, forkManagerAbi, 'setDisputeGame', [disputeGame])
  say('wired DisputeGame into AgentRegistry, BondVault and ForkManager')
  const erc8004 = p.erc8004 === false ? undefined : await deployErc8004({ publicClient, walletClient, onProgress: p.onProgress })

  return {
    chainId: await publicClient.getChainId(),
    deployedAtBlock: startBlock + 1n,
    deployer: account.address,
    redistribution,
    contracts: { agentRegistry, bondVault, traceLog, verifierRegistry, disputeGame, bondToken, workToken, forkManager },
    params,
    ...(erc8004 ? { erc8004 } : {}),
  }
}
