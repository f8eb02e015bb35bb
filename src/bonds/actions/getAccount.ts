import type { Address, Hash, Hex } from 'viem'
import { agentAccountAbi, agentRegistryAbi, traceLogAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'

/** An agent's AgentAccount as the chain has it now. */
export type AgentAccountState = {
  agentId: bigint
  address: Address
  /** the key allowed to make calls (zero when revoked) */
  signer: Address
  balance: bigint
  /** calls made so far */
  callCount: number
  /** calls [0, coveredCalls) declared covered by committed batches */
  coveredCalls: number
  /** native value the policy still allows today (UTC) */
  budgetLeft: bigint
}

export async function getAccount(client: CovenantClient, agentId: bigint): Promise<AgentAccountState> {
  const pc = client.publicClient
  const address = await pc.readContract({ address: client.deployment.contracts.agentRegistry, abi: agentRegistryAbi, functionName: 'accountOf', args: [agentId] })
  const [signer, balance, callCount, coveredCalls, budgetLeft] = await Promise.all([
    pc.readContract({ address, abi: agentAccountAbi, functionName: 'signer' }),
    pc.getBalance({ address }),
    pc.readContract({ address, abi: agentAccountAbi, functionName: 'callCount' }),
    pc.readContract({ address: client.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [agentId] }),
    pc.readContract({ address, abi: agentAccountAbi, functionName: 'budgetLeft' }),
  ])
  return { agentId, address, signer, balance, callCount, coveredCalls, budgetLeft }
}

/** One call the account executed (its `Executed` event). */
export type AccountCallEvent = {
  sequence: number
  leaf: Hex
  to: Address
  value: bigint
  stepIndex: number
  policyVersion: number
  txHash: Hash
  blockNumber: bigint
}

/** The account's calls in a block range (inclusive). */
export async function getAccountCalls(client: CovenantClient, account: Address, range: { fromBlock: bigint; toBlock: bigint }): Promise<AccountCallEvent[]> {
  const logs = await client.publicClient.getContractEvents({ address: account, abi: agentAccountAbi, eventName: 'Executed', fromBlock: range.fromBlock, toBlock: range.toBlock })
  return logs.map((l) => ({
    sequence: l.args.sequence!,
    leaf: l.args.leaf!,
    to: l.args.to!,
    value: l.args.value!,
    stepIndex: Number(l.args.stepIndex!),
    policyVersion: l.args.policyVersion!,
    txHash: l.transactionHash!,
    blockNumber: l.blockNumber!,
  }))
}

/** Call `sequence`: the low 192 bits of its wallet-step leaf and its cover-by time (s). */
export async function getAccountCall(client: CovenantClient, account: Address, sequence: number): Promise<{ leafLow: bigint; coverBy: number }> {
  const [leafLow, coverBy] = await client.publicClient.readContract({ address: account, abi: agentAccountAbi, functionName: 'callAt', args: [sequence] })
  return { leafLow, coverBy: Number(coverBy) }
}
