import type { Hex } from 'viem'
import { actionURI, disputeURI, VALIDATION_TAGS, type DisputeInfo, type ValidationTag } from '../bonds/index.js'
import type { ActionReport } from './action.js'

/**
 * What of the chain an action occupies, as far as disputes go: its steps (batch sequence,
 * position), the batches holding them, and the account calls and transactions its faults
 * name. A dispute on any of them is a dispute on the action.
 */
export type ActionFootprint = {
  steps: Array<{ sequence: bigint; stepIndex: number }>
  sequences: bigint[]
  txHashes: Hex[]
  callSequences: number[]
}

export function footprintOf(report: Pick<ActionReport, 'steps' | 'faults'>): ActionFootprint {
  const steps = report.steps.map((s) => ({ sequence: s.sequence, stepIndex: s.stepIndex }))
  const sequences = [...new Set(steps.map((s) => s.sequence))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const txHashes: Hex[] = []
  const callSequences: number[] = []
  for (const f of report.faults) {
    if (f.type === 'UntracedAction' || f.type === 'UntracedCall') txHashes.push(f.txHash.toLowerCase() as Hex)
    if (f.type === 'UntracedCall') callSequences.push(f.callSequence)
  }
  return { steps, sequences, txHashes, callSequences }
}

/**
 * The disputes on an action, oldest first:
 * - on one of its steps (policy breach, inference fraud, subjective claim);
 * - on a batch holding its steps (data withheld, invalid batch, equivocation);
 * - on one of its account calls proven untraced (recorded with the call's sequence as the
 *   step and no bond), or on a transaction it made that no step covers (a quorum
 *   UntracedAction names the transaction).
 */
export function disputesOnAction(disputes: readonly DisputeInfo[], agentId: bigint, f: ActionFootprint): DisputeInfo[] {
  return disputes.filter((d) => {
    if (d.agentId !== agentId) return false
    switch (d.kind) {
      case 'PolicyBreach':
      case 'InferenceFraud':
      case 'SubjectiveClaim':
        return f.steps.some((s) => s.sequence === d.sequence && s.stepIndex === d.stepIndex)
      case 'DataWithheld':
      case 'InvalidBatch':
      case 'Equivocation':
        return f.sequences.includes(d.sequence)
      case 'UntracedAction':
        return d.bond === 0n ? f.callSequences.includes(d.stepIndex) : f.txHashes.includes(d.subject.toLowerCase() as Hex)
    }
  })
}

export type ValidationAnswer = {
  /** 100 passed, 0 failed. */
  response: 0 | 100
  tag: ValidationTag
  responseURI: string
  reason: string
}

/**
 * The validator's answer to "is this action honest?", from its own check and the disputes
 * on the action:
 * - a dispute on the action slashed the agent: a final 0 naming the dispute (whatever the
 *   validator's own check said: the bond answered for it);
 * - otherwise the validator's own verdict, 100 honest or 0 faulty, naming the latest
 *   dispute on the action if any, else the action; it is `soft` while a dispute can still
 *   change it (a dispute is open, or a batch holding the action is within its challenge
 *   window) and `final` once none can;
 * - no answer while the validator could not check the action (unverifiable, incomplete)
 *   and no dispute has slashed it.
 */
export function validationAnswer(p: {
  actionId: string
  verdict: ActionReport['verdict']
  disputes: readonly DisputeInfo[]
  /** chain time, s */
  now: number
  /** when the last batch holding the action leaves its challenge window, s */
  finalAt: number | undefined
}): ValidationAnswer | undefined {
  const slash = p.disputes.find((d) => d.status === 'Slashed')
  if (slash) {
    return { response: 0, tag: VALIDATION_TAGS.final, responseURI: disputeURI(slash.disputeId), reason: `dispute #${slash.disputeId} (${slash.kind}) slashed the agent for this action` }
  }
  if (p.verdict !== 'honest' && p.verdict !== 'faulty') return undefined
  // a decided verdict can still be contested, a contested one waits for its fork: not final
  const open = p.disputes.find((d) => d.status === 'Open' || d.status === 'Decided' || d.status === 'Contested')
  const latest = open ?? p.disputes.at(-1)
  const final = !open && p.finalAt !== undefined && p.now > p.finalAt
  const response = p.verdict === 'honest' ? 100 : 0
  const why =
    p.verdict === 'honest'
      ? 'every step checks out (replayed, policy-checked, committed)'
      : 'the validator found a fault in this action'
  const state = open
    ? `; dispute #${open.disputeId} (${open.kind}) is ${open.status === 'Open' ? 'open' : open.status.toLowerCase()}`
    : latest
      ? `; dispute #${latest.disputeId} (${latest.kind}) ended ${latest.status}`
      : ''
  const when = final ? '; no dispute can change it any more' : p.finalAt !== undefined && !open ? `; disputable until ${p.finalAt}` : ''
  return {
    response,
    tag: final ? VALIDATION_TAGS.final : VALIDATION_TAGS.soft,
    responseURI: latest ? disputeURI(latest.disputeId) : actionURI(p.actionId),
    reason: `${why}${state}${when}`,
  }
}
