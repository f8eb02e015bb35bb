import { parseEventLogs, type Address, type Hex } from 'viem'
import type { CovenantClient } from '../bonds/client.js'
import { agentRegistryAbi, bondVaultAbi, disputeGameAbi } from '../bonds/generated/abis.js'
import { getDispute, type DisputeInfo } from '../bonds/actions/getDispute.js'

/**
 * What the explorer reads straight from the chain, for every agent and dispute on it (not
 * only the agents this process hosts): the registered agents, an agent's bond over time
 * and a dispute's votes.
 */

/** The most agents `GET /agents` lists (the newest); the rest by id. */
export const MAX_LISTED_AGENTS = 200

/** Registered agent ids, newest first, at most {@link MAX_LISTED_AGENTS}. */
export async function chainAgentIds(client: CovenantClient): Promise<{ ids: bigint[]; total: bigint }> {
  const total = await client.publicClient.readContract({
    address: client.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    functionName: 'agentCount',
  })
  const ids: bigint[] = []
  for (let id = total; id >= 1n && ids.length < MAX_LISTED_AGENTS; id--) ids.push(id)
  return { ids: ids.reverse(), total }
}

export type BondPoint = {
  block: bigint
  /** Unix seconds of the block. */
  timestamp: number
  event: 'deposit' | 'withdraw' | 'slash'
  /** The change, wei (negative for withdrawals and slashes). */
  deltaEth: bigint
  /** The ETH bond after the event, wei. */
  eth: bigint
  tx: Hex
}

/** The agent's ETH bond after each deposit, withdrawal and slash, oldest first (BondVault's events). */
export async function bondHistory(client: CovenantClient, agentId: bigint): Promise<BondPoint[]> {
  const pc = client.publicClient
  // this agent's events only (agentId is indexed): the node filters, not this process
  const read = (eventName: 'Deposited' | 'Withdrawn' | 'Slashed') =>
    pc.getContractEvents({
      address: client.deployment.contracts.bondVault,
      abi: bondVaultAbi,
      eventName,
      args: { agentId },
      fromBlock: client.deployment.deployedAtBlock,
      toBlock: 'latest',
      strict: true,
    })
  const logs = (await Promise.all([read('Deposited'), read('Withdrawn'), read('Slashed')])).flat()
  const changes: Array<Omit<BondPoint, 'eth' | 'timestamp'> & { logIndex: number }> = []
  for (const l of logs) {
    const at = { block: l.blockNumber, tx: l.transactionHash, logIndex: l.logIndex }
    if (l.eventName === 'Deposited') changes.push({ ...at, event: 'deposit', deltaEth: l.args.eth })
    else if (l.eventName === 'Withdrawn') changes.push({ ...at, event: 'withdraw', deltaEth: -l.args.eth })
    else if (l.eventName === 'Slashed') changes.push({ ...at, event: 'slash', deltaEth: -l.args.eth })
  }
  changes.sort((a, b) => (a.block === b.block ? a.logIndex - b.logIndex : a.block < b.block ? -1 : 1))
  const times = new Map<bigint, number>()
  for (const block of new Set(changes.map((c) => c.block))) {
    times.set(block, Number((await pc.getBlock({ blockNumber: block })).timestamp))
  }
  let eth = 0n
  return changes.map(({ logIndex: _i, ...c }) => {
    eth += c.deltaEth
    return { ...c, eth, timestamp: times.get(c.block) ?? 0 }
  })
}

export type DisputeVote = { verifier: Address; agentAtFault: boolean; weight: bigint; tx: Hex }

export type DisputeDetail = DisputeInfo & {
  votes: DisputeVote[]
  /** What the owner was repaid first from the slash, wei. */
  ownerRepaidEth: bigint
}

/** A dispute with the verdicts counted on it and what its slash repaid the owner. */
export async function disputeDetail(client: CovenantClient, disputeId: bigint): Promise<DisputeDetail> {
  const d = await getDispute(client, disputeId)
  const pc = client.publicClient
  // this dispute's events only (disputeId is indexed)
  const range = { address: client.deployment.contracts.disputeGame, abi: disputeGameAbi, args: { disputeId }, fromBlock: client.deployment.deployedAtBlock, toBlock: 'latest', strict: true } as const
  const [counted, resolved] = await Promise.all([
    pc.getContractEvents({ ...range, eventName: 'VerdictCounted' }),
    d.status === 'Slashed' ? pc.getContractEvents({ ...range, eventName: 'DisputeResolved' }) : [],
  ])
  const votes = counted.map((l) => ({ verifier: l.args.verifier, agentAtFault: l.args.agentAtFault, weight: l.args.weight, tx: l.transactionHash }))
  let ownerRepaidEth = 0n
  // what the slash repaid the owner: BondVault's Compensated, in the transaction that slashed
  const slash = resolved[0]
  if (slash) {
    const receipt = await pc.getTransactionReceipt({ hash: slash.transactionHash })
    for (const c of parseEventLogs({ abi: bondVaultAbi, logs: receipt.logs, eventName: 'Compensated' })) {
      if (c.args.agentId === d.agentId) ownerRepaidEth += c.args.eth
    }
  }
  return { ...d, votes, ownerRepaidEth }
}
