import { encodeAbiParameters, hexToBytes, keccak256, zeroHash, type Hash, type Hex } from 'viem'
import {
  challengeData,
  ContractRevertError,
  dataSubject,
  disputeGameAbi,
  disputeKindIndex,
  getBatch,
  openDispute,
  proveEquivocation,
  provePolicyBreach,
  proveUntracedCall,
  walletStepTuple,
  type CovenantClient,
  type CovenantWriteClient,
  type DisputeKind,
  type OpenableDisputeKind,
} from '../bonds/index.js'
import type { Fault } from './faults.js'

/**
 * Acting on a fault, idempotently: before any transaction the chain is asked whether the
 * fault is already punished (`faultProven`) or already disputed (`openDisputeOn`) and
 * whether the batch's challenge window is still open; a revert that says another
 * challenger got there first is an outcome, not an error. So any number of verifiers, or
 * one verifier retrying after a crash, never open a duplicate dispute.
 */
export type ChallengeResult =
  | {
      status: 'proven'
      kind: 'PolicyBreach' | 'Equivocation' | 'UntracedAction'
      disputeId: bigint
      slashedEth: bigint
      slashedToken: bigint
      hash: Hash
      gasUsed: bigint
    }
  | { status: 'opened'; kind: DisputeKind; disputeId: bigint; bond: bigint; deadline: number; hash: Hash; gasUsed: bigint }
  | {
      status: 'skipped'
      kind: DisputeKind
      reason: 'already-proven' | 'already-disputed' | 'window-closed' | 'no-breach-on-chain'
      disputeId?: bigint | undefined
    }

/** `keccak256(abi.encode(kind, agentId, sequence, stepIndex, subject))`: DisputeGame.targetKey. */
export function targetKey(kind: DisputeKind, agentId: bigint, sequence: bigint, stepIndex: number, subject: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'uint8' }, { type: 'uint256' }, { type: 'uint64' }, { type: 'uint32' }, { type: 'bytes32' }],
      [disputeKindIndex(kind), agentId, sequence, stepIndex, subject],
    ),
  )
}

/** The key DisputeGame marks when an equivocation at (agent, sequence) is proven. */
export function equivocationKey(agentId: bigint, sequence: bigint): Hex {
  return keccak256(
    encodeAbiParameters([{ type: 'uint8' }, { type: 'uint256' }, { type: 'uint64' }], [disputeKindIndex('Equivocation'), agentId, sequence]),
  )
}

/** Where a quorum dispute on a fault would be keyed. */
export function disputeTarget(f: Fault): { kind: DisputeKind; sequence: bigint; stepIndex: number; subject: Hex } {
  switch (f.type) {
    case 'InferenceFraud':
    case 'TraceMismatch':
      return { kind: f.type, sequence: f.sequence, stepIndex: f.stepIndex, subject: zeroHash }
    case 'DataWithheld':
      return { kind: f.type, sequence: f.sequence, stepIndex: 0, subject: dataSubject(hexToBytes(f.daCommitment)) }
    case 'InvalidBatch':
      return { kind: f.type, sequence: f.sequence, stepIndex: 0, subject: zeroHash }
    case 'UntracedAction':
      return { kind: f.type, sequence: 0n, stepIndex: 0, subject: f.txHash }
    case 'UntracedCall':
      return { kind: 'UntracedAction', sequence: 0n, stepIndex: 0, subject: f.txHash }
    case 'SubjectiveClaim':
      return { kind: f.type, sequence: f.sequence, stepIndex: f.stepIndex, subject: f.subject }
    case 'PolicyBreach':
      return { kind: f.type, sequence: f.sequence, stepIndex: f.stepIndex, subject: f.leaf }
    case 'Equivocation':
      return { kind: f.type, sequence: f.sequence, stepIndex: 0, subject: zeroHash }
  }
}

export async function isFaultProven(client: CovenantClient, key: Hex): Promise<boolean> {
  return client.publicClient.readContract({ address: client.deployment.contracts.disputeGame, abi: disputeGameAbi, functionName: 'faultProven', args: [key] })
}

export async function openDisputeOn(client: CovenantClient, key: Hex): Promise<bigint> {
  return client.publicClient.readContract({ address: client.deployment.contracts.disputeGame, abi: disputeGameAbi, functionName: 'openDisputeOn', args: [key] })
}

/** Latest block timestamp: the chain's "now". */
export async function chainNow(client: CovenantClient): Promise<number> {
  const b = await client.publicClient.getBlock({ blockTag: 'latest' })
  return Number(b.timestamp)
}

/** Whether the batch can still be challenged (its window has not closed). */
export async function challengeWindowOpen(client: CovenantClient, agentId: bigint, sequence: bigint): Promise<boolean> {
  const [b, now] = await Promise.all([getBatch(client, agentId, sequence), chainNow(client)])
  if (!b) return false
  return now < b.committedAt + b.challengeWindow
}

const RACE_LOST = new Set(['AlreadyProven', 'AlreadyDisputed'])

/** Takes the cheapest path that suffices for `fault` (see {@link Fault}); idempotent. */
export async function challenge(client: CovenantWriteClient, fault: Fault): Promise<ChallengeResult> {
  const target = disputeTarget(fault)
  try {
    if (fault.type === 'PolicyBreach') {
      if (await isFaultProven(client, fault.leaf)) return { status: 'skipped', kind: 'PolicyBreach', reason: 'already-proven' }
      if (!(await challengeWindowOpen(client, fault.agentId, fault.sequence))) {
        return { status: 'skipped', kind: 'PolicyBreach', reason: 'window-closed' }
      }
      const r = await provePolicyBreach(client, { step: walletStepTuple(fault.step), sequence: fault.sequence, proof: fault.proof })
      return { status: 'proven', kind: 'PolicyBreach', disputeId: r.disputeId, slashedEth: r.slashedEth, slashedToken: r.slashedToken, hash: r.hash, gasUsed: r.gasUsed }
    }
    if (fault.type === 'UntracedCall') {
      const key = await untracedCallKey(client, fault.agentId, fault.callSequence)
      if (await isFaultProven(client, key)) return { status: 'skipped', kind: 'UntracedAction', reason: 'already-proven' }
      const r = await proveUntracedCall(client, { agentId: fault.agentId, callSequence: fault.callSequence })
      return { status: 'proven', kind: 'UntracedAction', disputeId: r.disputeId, slashedEth: r.slashedEth, slashedToken: r.slashedToken, hash: r.hash, gasUsed: r.gasUsed }
    }
    if (fault.type === 'Equivocation') {
      if (await isFaultProven(client, equivocationKey(fault.agentId, fault.sequence))) {
        return { status: 'skipped', kind: 'Equivocation', reason: 'already-proven' }
      }
      const r = await proveEquivocation(client, { a: fault.a, sigA: fault.sigA, b: fault.b, sigB: fault.sigB })
      return { status: 'proven', kind: 'Equivocation', disputeId: r.disputeId, slashedEth: r.slashedEth, slashedToken: r.slashedToken, hash: r.hash, gasUsed: r.gasUsed }
    }
    const key = targetKey(target.kind, fault.agentId, target.sequence, target.stepIndex, target.subject)
    const open = await openDisputeOn(client, key)
    if (open !== 0n) return { status: 'skipped', kind: target.kind, reason: 'already-disputed', disputeId: open }
    if (await isFaultProven(client, key)) return { status: 'skipped', kind: target.kind, reason: 'already-proven' }
    if (fault.type !== 'UntracedAction' && !(await challengeWindowOpen(client, fault.agentId, fault.sequence))) {
      return { status: 'skipped', kind: target.kind, reason: 'window-closed' }
    }
    if (fault.type === 'DataWithheld') {
      const r = await challengeData(client, { agentId: fault.agentId, sequence: fault.sequence, daCommitment: hexToBytes(fault.daCommitment) })
      return { status: 'opened', kind: 'DataWithheld', disputeId: r.disputeId, bond: r.bond, deadline: r.deadline, hash: r.hash, gasUsed: r.gasUsed }
    }
    const r = await openDispute(client, {
      kind: target.kind as OpenableDisputeKind,
      agentId: fault.agentId,
      sequence: target.sequence,
      stepIndex: target.stepIndex,
      subject: target.subject,
      harm: fault.type === 'InferenceFraud' || fault.type === 'UntracedAction' || fault.type === 'TraceMismatch' ? fault.harm : undefined,
    })
    return { status: 'opened', kind: target.kind, disputeId: r.disputeId, bond: r.bond, deadline: r.deadline, hash: r.hash, gasUsed: r.gasUsed }
  } catch (err) {
    if (err instanceof ContractRevertError && RACE_LOST.has(err.errorName)) {
      const disputeId = err.errorName === 'AlreadyDisputed' ? (err.args[0] as bigint | undefined) : undefined
      return { status: 'skipped', kind: target.kind, reason: err.errorName === 'AlreadyDisputed' ? 'already-disputed' : 'already-proven', disputeId }
    }
    if (err instanceof ContractRevertError && err.errorName === 'OutsideChallengeWindow') {
      return { status: 'skipped', kind: target.kind, reason: 'window-closed' }
    }
    if (err instanceof ContractRevertError && err.errorName === 'NoBreach') {
      return { status: 'skipped', kind: target.kind, reason: 'no-breach-on-chain' }
    }
    // A revert the simulation did not predict: another verifier may have acted first.
    if (err instanceof ContractRevertError) {
      const raced = await handledMeanwhile(client, fault, target).catch(() => undefined)
      if (raced) return raced
    }
    throw err
  }
}

/** The key DisputeGame marks when an untraced account call is proven (DisputeGame.untracedCallEvidence). */
export async function untracedCallKey(client: CovenantClient, agentId: bigint, callSequence: number): Promise<Hex> {
  return client.publicClient.readContract({
    address: client.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'untracedCallEvidence',
    args: [agentId, callSequence],
  })
}

/** Whether someone else proved or disputed this fault while our transaction was in flight. */
async function handledMeanwhile(client: CovenantWriteClient, fault: Fault, target: ReturnType<typeof disputeTarget>): Promise<ChallengeResult | undefined> {
  if (fault.type === 'UntracedCall') {
    return (await isFaultProven(client, await untracedCallKey(client, fault.agentId, fault.callSequence)))
      ? { status: 'skipped', kind: 'UntracedAction', reason: 'already-proven' }
      : undefined
  }
  if (fault.type === 'PolicyBreach') {
    return (await isFaultProven(client, fault.leaf)) ? { status: 'skipped', kind: 'PolicyBreach', reason: 'already-proven' } : undefined
  }
  if (fault.type === 'Equivocation') {
    return (await isFaultProven(client, equivocationKey(fault.agentId, fault.sequence)))
      ? { status: 'skipped', kind: 'Equivocation', reason: 'already-proven' }
      : undefined
  }
  const key = targetKey(target.kind, fault.agentId, target.sequence, target.stepIndex, target.subject)
  const open = await openDisputeOn(client, key)
  if (open !== 0n) return { status: 'skipped', kind: target.kind, reason: 'already-disputed', disputeId: open }
  if (await isFaultProven(client, key)) return { status: 'skipped', kind: target.kind, reason: 'already-proven' }
  return undefined
}
