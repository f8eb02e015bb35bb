/** Same order as the Solidity `ForkManager.Side` enum. */
export const FORK_SIDES = ['None', 'Stands', 'Overturned'] as const
export type ForkSideName = (typeof FORK_SIDES)[number]
/** A child of a fork: the contested verdict stands, or it is overturned. */
export type ForkSide = Exclude<ForkSideName, 'None'>

export function forkSideIndex(side: ForkSide): number {
  return FORK_SIDES.indexOf(side)
}
