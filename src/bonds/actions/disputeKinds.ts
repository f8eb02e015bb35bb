/** Same order as the Solidity `DisputeKind` and `DisputeStatus` enums. */
export const DISPUTE_KINDS = [
  'PolicyBreach',
  'Equivocation',
  'InferenceFraud',
  'DataWithheld',
  'UntracedAction',
  'SubjectiveClaim',
  'TraceMismatch',
] as const
export type DisputeKind = (typeof DISPUTE_KINDS)[number]
export type QuorumDisputeKind = Exclude<DisputeKind, 'PolicyBreach' | 'Equivocation'>

export const DISPUTE_STATUSES = ['None', 'Open', 'Slashed', 'Rejected', 'Expired'] as const
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number]

export function disputeKindIndex(kind: DisputeKind): number {
  return DISPUTE_KINDS.indexOf(kind)
}
