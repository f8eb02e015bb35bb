/** Same order as the Solidity `DisputeKind` and `DisputeStatus` enums. */
export const DISPUTE_KINDS = [
  'PolicyBreach',
  'Equivocation',
  'InferenceFraud',
  'DataWithheld',
  'UntracedAction',
  'SubjectiveClaim',
  'InvalidBatch',
  'TraceMismatch',
] as const
export type DisputeKind = (typeof DISPUTE_KINDS)[number]
export type QuorumDisputeKind = Exclude<DisputeKind, 'PolicyBreach' | 'Equivocation'>
/** Kinds `openDispute` opens; DataWithheld goes through `challengeData` (it needs the commitment). */
export type OpenableDisputeKind = Exclude<QuorumDisputeKind, 'DataWithheld'>

export const DISPUTE_STATUSES = ['None', 'Open', 'Slashed', 'Rejected', 'Expired', 'Decided', 'Contested'] as const
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number]

/**
 * Whether a dispute is over: paid out (Slashed, Rejected) or expired. A Decided verdict is
 * still contestable and a Contested one waits for its fork: neither has paid anyone yet.
 */
export function isSettled(status: DisputeStatus): boolean {
  return status === 'Slashed' || status === 'Rejected' || status === 'Expired'
}

export function disputeKindIndex(kind: DisputeKind): number {
  return DISPUTE_KINDS.indexOf(kind)
}
