import type { Hash } from 'viem'
import { agentAccountAbi, agentRegistryAbi, disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { commitEvidence } from './evidence.js'

export type ProveUntracedCallParameters = {
  agentId: bigint
  /** The AgentAccount call's sequence number (its `Executed` event). */
  callSequence: number
}
export type ProveUntracedCallReturnType = {
  disputeId: bigint
  slashedEth: bigint
  slashedToken: bigint
  hash: Hash
  /** gas of the commit plus the reveal */
  gasUsed: bigint
}

/**
 * Proves on chain that the agent's account made call `callSequence` and no committed batch
 * covered it by its deadline: commit, then reveal in the next block. No vote; the bond is
 * slashed in the same transaction, the value the call moved paid to the agent's owner first.
 * The call's arguments come from its `Executed` event.
 */
export async function proveUntracedCall(client: CovenantClient, p: ProveUntracedCallParameters): Promise<ProveUntracedCallReturnType> {
  if (!Number.isInteger(p.callSequence) || p.callSequence < 0 || p.callSequence > 2 ** 32 - 1) {
    throw new RangeError(`callSequence must be a uint32, not ${String(p.callSequence)}`)
  }
  const c = requireWallet(client, 'proveUntracedCall')
  const address = c.deployment.contracts.disputeGame
  const account = await c.publicClient.readContract({ address: c.deployment.contracts.agentRegistry, abi: agentRegistryAbi, functionName: 'accountOf', args: [p.agentId] })
  const [event] = await c.publicClient.getContractEvents({
    address: account,
    abi: agentAccountAbi,
    eventName: 'Executed',
    args: { sequence: p.callSequence },
    fromBlock: c.deployment.deployedAtBlock,
    toBlock: 'latest',
  })
  if (!event) throw new RangeError(`agent ${p.agentId}'s account has no call ${p.callSequence}`)
  const e = event.args
  const call = {
    to: e.to!,
    value: e.value!,
    dataHash: e.dataHash!,
    stepIndex: e.stepIndex!,
    prevHash: e.prevHash!,
    policyVersion: e.policyVersion!,
    nonce: e.nonce!,
  }
  const evidence = await c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'untracedCallEvidence', args: [p.agentId, p.callSequence] })
  const { salt, gasUsed: commitGas } = await commitEvidence(c, evidence)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address,
    abi: disputeGameAbi,
    functionName: 'proveUntracedCall',
    args: [p.agentId, p.callSequence, call, salt],
  })
  const events = eventsOf(disputeGameAbi, receipt)
  const proven = events.find((e) => e.eventName === 'UntracedCallProven')
  const resolved = events.find((e) => e.eventName === 'DisputeResolved')
  if (proven?.eventName !== 'UntracedCallProven' || resolved?.eventName !== 'DisputeResolved') {
    throw new Error('UntracedCallProven event missing from receipt')
  }
  return { disputeId: proven.args.disputeId, slashedEth: resolved.args.slashedEth, slashedToken: resolved.args.slashedToken, hash, gasUsed: commitGas + receipt.gasUsed }
}
