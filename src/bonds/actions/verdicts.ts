import type { Account, Hash, Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import type { CovenantDeployment } from '../deployment.js'
import { DISPUTE_STATUSES, type DisputeStatus } from './disputeKinds.js'

export type Verdict = { disputeId: bigint; agentAtFault: boolean }
export type SignedVerdict = { agentAtFault: boolean; signature: Hex; verifier: Hex }

/** EIP-712 typed data of a verdict: bound to this chain, this DisputeGame and one dispute. */
export function verdictTypedData(deployment: CovenantDeployment, v: Verdict) {
  return {
    domain: {
      name: 'Covenant DisputeGame',
      version: '1',
      chainId: deployment.chainId,
      verifyingContract: deployment.contracts.disputeGame,
    },
    types: {
      Verdict: [
        { name: 'disputeId', type: 'uint256' },
        { name: 'agentAtFault', type: 'bool' },
      ],
    },
    primaryType: 'Verdict',
    message: v,
  } as const
}

export async function signVerdict(account: Account, deployment: CovenantDeployment, v: Verdict): Promise<SignedVerdict> {
  if (!account.signTypedData) throw new Error('account cannot sign typed data')
  const signature = await account.signTypedData(verdictTypedData(deployment, v))
  return { agentAtFault: v.agentAtFault, signature, verifier: account.address }
}

export type SubmitVerdictsReturnType = { status: DisputeStatus; counted: number; hash: Hash; gasUsed: bigint }

/** Relays signed verdicts; the dispute is decided when a side reaches the quorum (settled then, or after the escalation window). */
export async function submitVerdicts(
  client: CovenantClient,
  p: { disputeId: bigint; verdicts: readonly SignedVerdict[] },
): Promise<SubmitVerdictsReturnType> {
  const c = requireWallet(client, 'submitVerdicts')
  const { hash, receipt, result } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address: c.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'submitVerdicts',
    args: [p.disputeId, p.verdicts.map((v) => ({ agentAtFault: v.agentAtFault, signature: v.signature }))],
    // Estimated alone, a vote that does not reach the quorum is cheap; but if another vote
    // lands first, this one settles the dispute (slash, credits: ~250k more gas). A limit
    // that covers settling keeps the race from ending in an out-of-gas revert.
    gas: 450_000n + 40_000n * BigInt(p.verdicts.length),
  })
  const counted = eventsOf(disputeGameAbi, receipt).filter((e) => e.eventName === 'VerdictCounted').length
  return { status: DISPUTE_STATUSES[Number(result)] ?? 'None', counted, hash, gasUsed: receipt.gasUsed }
}

/** Closes a dispute that reached no quorum by its deadline: decided by the stake that voted once half voted, else expired (bond refunded, nobody slashed). */
export async function resolveExpired(client: CovenantClient, p: { disputeId: bigint }): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'resolveExpired')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address: c.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'resolveExpired',
    args: [p.disputeId],
  })
  return { hash, gasUsed: receipt.gasUsed }
}

/**
 * Settles a decided verdict nobody contested, once its escalation window has passed
 * (anyone may; verifier nodes do).
 */
export async function finalizeDispute(client: CovenantClient, p: { disputeId: bigint }): Promise<{ hash: Hash; gasUsed: bigint }> {
  const c = requireWallet(client, 'finalizeDispute')
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address: c.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'finalize',
    args: [p.disputeId],
  })
  return { hash, gasUsed: receipt.gasUsed }
}
