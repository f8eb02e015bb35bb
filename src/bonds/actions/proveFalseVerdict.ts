import type { Address, Hash, Hex, TransactionReceipt } from 'viem'
import { forkManagerAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'

export type ProveVerdictReturnType = { slashedStake: bigint; hash: Hash; gasUsed: bigint }

/**
 * Slashes a verifier that voted "not at fault" on an UntracedAction dispute about account
 * call `callSequence` (the dispute's subject is the call's leaf) when the chain proves the
 * call untraced. No fork: the vote contradicts an on-chain fact.
 */
export async function proveFalseVerdict(
  client: CovenantClient,
  p: { disputeId: bigint; verifier: Address; callSequence: number },
): Promise<ProveVerdictReturnType> {
  const c = requireWallet(client, 'proveFalseVerdict')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ForkManager',
    address: c.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'proveFalseVerdict',
    args: [p.disputeId, p.verifier, p.callSequence],
  })
  return { slashedStake: stakeOf(receipt), hash, gasUsed: receipt.gasUsed }
}

/** Slashes a verifier that signed both verdicts of one dispute. */
export async function proveDoubleVerdict(
  client: CovenantClient,
  p: { disputeId: bigint; signatureAtFault: Hex; signatureNotAtFault: Hex },
): Promise<ProveVerdictReturnType> {
  const c = requireWallet(client, 'proveDoubleVerdict')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'ForkManager',
    address: c.deployment.contracts.forkManager,
    abi: forkManagerAbi,
    functionName: 'proveDoubleVerdict',
    args: [p.disputeId, p.signatureAtFault, p.signatureNotAtFault],
  })
  return { slashedStake: stakeOf(receipt), hash, gasUsed: receipt.gasUsed }
}

function stakeOf(receipt: TransactionReceipt): bigint {
  const proven = eventsOf(forkManagerAbi, receipt).find((e) => e.eventName === 'FalseVerdictProven')
  if (proven?.eventName !== 'FalseVerdictProven') throw new Error('FalseVerdictProven event missing from receipt')
  return proven.args.stake
}
