import type { Hex } from 'viem'
import { parseExact } from './canonical.js'
import { TraceChainError } from './errors.js'
import { stepLeaf, ZERO_HASH } from './leaf.js'
import { type Step, type StepBody, stepSchema } from './schemas.js'

/**
 * The hash chain of one agent: step `i` carries the leaf of step `i − 1` as `prevHash`
 * (zero for step 0), and indices are gapless across the agent's whole life, across
 * batches. Rewriting any step changes every later leaf.
 */

/** Where an agent's chain continues: the next index and the prevHash it must carry. */
export type ChainHead = {
  agentId: string
  nextIndex: number
  prevHash: Hex
}

export function genesisHead(agentId: string): ChainHead {
  return { agentId, nextIndex: 0, prevHash: ZERO_HASH }
}

/** Places a step body at `head` (fills agentId, index, prevHash). Does not validate. */
export function linkStep(head: ChainHead, body: StepBody): Step {
  // `{ ...body, agentId, … }` with the key loop written out: the bodies of the five kinds make
  // the spread megamorphic, several times slower per step. A symbol key (which the encoder
  // then refuses by name) or an own `__proto__` key (which an assignment would not copy) goes
  // through the spread, which keeps it as it is.
  const spread = () => ({ ...body, agentId: head.agentId, index: head.nextIndex, prevHash: head.prevHash }) as Step
  if (Object.getOwnPropertySymbols(body).length > 0) return spread()
  const step: Record<string, unknown> = {}
  const from = body as Record<string, unknown>
  for (const key of Object.keys(from)) {
    if (key === '__proto__') return spread()
    step[key] = from[key]
  }
  step.agentId = head.agentId
  step.index = head.nextIndex
  step.prevHash = head.prevHash
  return step as Step
}

export type VerifyChainOptions = {
  /**
   * Where the steps must continue from. Without it the first step is checked only if it is
   * step 0 (its prevHash must be zero); a run that starts mid-trace is checked from its
   * second step on.
   */
  start?: ChainHead | undefined
  /** The agent the steps must belong to; defaults to the first step's. */
  agentId?: string | undefined
  /**
   * The leaf of each step, already computed from the same step (decodeCheckedStep): used
   * instead of hashing each step again.
   */
  leaves?: readonly Hex[] | undefined
}

export type VerifyChainReturnType = {
  /** The leaf of each step, in order. */
  leaves: Hex[]
  /** The head after the last step. */
  head: ChainHead
}

/**
 * Checks that `steps` form one unbroken piece of an agent's chain. Throws a
 * {@link TraceChainError} naming the first index at which it breaks.
 */
export function verifyChain(steps: readonly Step[], options: VerifyChainOptions = {}): VerifyChainReturnType {
  const agentId = options.start?.agentId ?? options.agentId ?? steps[0]?.agentId
  const leaves: Hex[] = []
  let expectedIndex = options.start?.nextIndex
  let expectedPrev = options.start?.prevHash
  for (const [position, step] of steps.entries()) {
    const at = expectedIndex ?? step.index
    if (step.agentId !== agentId) {
      throw new TraceChainError({ index: at, reason: `the step belongs to agent ${step.agentId}, not ${agentId}` })
    }
    if (expectedIndex !== undefined && step.index !== expectedIndex) {
      throw new TraceChainError({ index: at, reason: `expected index ${expectedIndex}, found ${step.index}` })
    }
    if (expectedPrev === undefined && step.index === 0) expectedPrev = ZERO_HASH
    if (expectedPrev !== undefined && step.prevHash !== expectedPrev) {
      throw new TraceChainError({
        index: at,
        reason: `prevHash is ${step.prevHash}, but the ${position === 0 && step.index === 0 ? 'first step needs zero' : `leaf of step ${at - 1} is ${expectedPrev}`}`,
      })
    }
    const leaf = options.leaves?.[position] ?? stepLeaf(step)
    leaves.push(leaf)
    expectedIndex = step.index + 1
    expectedPrev = leaf
  }
  const head: ChainHead =
    expectedIndex === undefined || expectedPrev === undefined
      ? (options.start ?? genesisHead(agentId ?? '0'))
      : { agentId: agentId ?? '0', nextIndex: expectedIndex, prevHash: expectedPrev }
  return { leaves, head }
}

/**
 * An agent's chain in memory: `append(body)` validates the body, links it at the head and
 * returns the step and its leaf. For durability use {@link TraceWal}, which keeps the same
 * head on disk.
 */
export class TraceChain {
  #head: ChainHead

  constructor(head: ChainHead) {
    this.#head = { ...head }
  }

  get head(): ChainHead {
    return { ...this.#head }
  }

  append(body: StepBody): { step: Step; leaf: Hex } {
    const step = parseExact(stepSchema, linkStep(this.#head, body), 'trace step').value
    const leaf = stepLeaf(step)
    this.#head = { agentId: this.#head.agentId, nextIndex: step.index + 1, prevHash: leaf }
    return { step, leaf }
  }
}
