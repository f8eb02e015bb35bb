import type { Hex } from 'viem'
import type { CovenantClient } from '../bonds/index.js'
import type { DAClient } from '../da/index.js'
import { stepLeaf, type ChainHead, type Step, type WalletStep } from '../trace/index.js'
import { fetchAndCheckBatch, getBatchEvents, type BatchCheck, type BatchEvent } from './batches.js'

export type CheckedBatch = { ev: BatchEvent; check: BatchCheck }

type WalletIndex = {
  byNonce: Map<number, CoveringStep[]>
  /** wallet steps by leaf (what an AgentAccount call records) */
  byLeaf: Map<Hex, CoveringStep>
  /** every committed step by action id, in trace order (whole-action replay) */
  byAction: Map<string, CommittedStep[]>
  indexed: Set<bigint>
  unavailable: Set<bigint>
  /** batches whose committed data can never be valid: never fetched again */
  invalid: Set<bigint>
  /** unavailable batches: when to try again (exponential back-off, capped) */
  retry: Map<bigint, { attempts: number; nextAt: number }>
  loaded: boolean
}

/** Back-off for a batch whose blob could not be fetched: 1 s, 2 s, 4 s … at most 5 minutes. */
export function refetchDelayMs(attempts: number): number {
  return Math.min(300_000, 1_000 * 2 ** Math.max(0, Math.min(attempts - 1, 20)))
}

export type CoveringStep = { step: WalletStep; sequence: bigint; committedAt: number }

/** A committed step and where it is: its batch, its position there, when the batch was committed. */
export type CommittedStep = { step: Step; sequence: bigint; stepIndex: number; committedAt: number }

/**
 * What the verifier knows of agents' committed traces: checked batches (a bounded cache),
 * the chain head after each batch (to check the next one continues it), and every
 * committed wallet step by nonce (to tell whether a wallet transaction was traced).
 * Anything missing is fetched from the chain's logs and DA on demand, so a verifier that
 * restarts needs no local copy of any trace.
 */
export class TraceIndex {
  readonly client: CovenantClient
  readonly da: Pick<DAClient, 'get'>
  readonly #maxBatches: number
  #batches = new Map<string, CheckedBatch>()
  #heads = new Map<string, ChainHead>()
  /** per agent: wallet steps by nonce, and which sequences are indexed or unreadable */
  #wallet = new Map<bigint, WalletIndex>()

  readonly #now: () => number

  constructor(options: { client: CovenantClient; da: Pick<DAClient, 'get'>; maxCachedBatches?: number | undefined; now?: (() => number) | undefined }) {
    this.client = options.client
    this.da = options.da
    this.#maxBatches = options.maxCachedBatches ?? 256
    this.#now = options.now ?? Date.now
  }

  /** Forgets everything (after a reorg). */
  clear(): void {
    this.#batches.clear()
    this.#heads.clear()
    this.#wallet.clear()
  }

  /** Records a batch the caller fetched and checked. */
  record(ev: BatchEvent, check: BatchCheck): void {
    const key = `${ev.agentId}/${ev.sequence}`
    this.#batches.delete(key)
    this.#batches.set(key, { ev, check })
    while (this.#batches.size > this.#maxBatches) this.#batches.delete(this.#batches.keys().next().value as string)
    const w = this.#walletOf(ev.agentId)
    if (check.status === 'ok') {
      this.#heads.set(key, check.head)
      if (!w.indexed.has(ev.sequence)) {
        w.indexed.add(ev.sequence)
        w.unavailable.delete(ev.sequence)
        w.retry.delete(ev.sequence)
        for (const [stepIndex, step] of check.batch.steps.entries()) {
          const ofAction = w.byAction.get(step.actionId) ?? []
          ofAction.push({ step, sequence: ev.sequence, stepIndex, committedAt: ev.committedAt })
          // batches may be indexed out of order (one fetched on demand): keep trace order
          if (ofAction.length > 1 && (ofAction.at(-2) as CommittedStep).step.index > step.index) ofAction.sort((a, b) => a.step.index - b.step.index)
          w.byAction.set(step.actionId, ofAction)
          if (step.kind !== 'wallet') continue
          const list = w.byNonce.get(step.nonce) ?? []
          const covering = { step, sequence: ev.sequence, committedAt: ev.committedAt }
          list.push(covering)
          w.byNonce.set(step.nonce, list)
          const leaf = stepLeaf(step).toLowerCase() as Hex
          // the first commitment of a leaf is the one that counts
          if (!w.byLeaf.has(leaf)) w.byLeaf.set(leaf, covering)
        }
      }
    } else {
      w.unavailable.add(ev.sequence)
      if (check.status === 'invalid') w.invalid.add(ev.sequence)
      else {
        const attempts = (w.retry.get(ev.sequence)?.attempts ?? 0) + 1
        w.retry.set(ev.sequence, { attempts, nextAt: this.#now() + refetchDelayMs(attempts) })
      }
    }
  }

  /** The checked batch at (agent, sequence), fetched if not cached; undefined when not committed. */
  async batch(agentId: bigint, sequence: bigint, options: { refetch?: boolean | undefined } = {}): Promise<CheckedBatch | undefined> {
    const key = `${agentId}/${sequence}`
    const cached = this.#batches.get(key)
    if (cached && !(options.refetch && cached.check.status === 'unavailable')) return cached
    const [ev] = await getBatchEvents(this.client, agentId, { sequence })
    if (!ev) return undefined
    const prev = sequence > 0n ? this.#heads.get(`${agentId}/${sequence - 1n}`) : undefined
    const check = await fetchAndCheckBatch(this.da, ev, prev)
    this.record(ev, check)
    return { ev, check }
  }

  /**
   * The head after the batch before `ev`, for the continuity check; undefined for the
   * first batch of an agent or when that batch is not readable.
   */
  async previousHead(ev: BatchEvent): Promise<ChainHead | undefined> {
    if (ev.sequence === 0n) return undefined
    const key = `${ev.agentId}/${ev.sequence - 1n}`
    const head = this.#heads.get(key)
    if (head) return head
    const prev = await this.batch(ev.agentId, ev.sequence - 1n)
    return prev?.check.status === 'ok' ? prev.check.head : undefined
  }

  /**
   * The committed wallet steps of an agent with this nonce, after indexing every batch the
   * agent has committed so far. `unreadable` lists batches whose steps are unknown (their
   * blob could not be fetched or is invalid).
   */
  async walletSteps(
    agentId: bigint,
    nonce: number,
    options: { refresh?: boolean | undefined } = {},
  ): Promise<{ steps: CoveringStep[]; unreadable: bigint[] }> {
    const w = this.#walletOf(agentId)
    // the chain's logs are read on first use and when asked; in between, the batches the
    // caller records keep the index current
    if (!w.loaded || options.refresh || this.#retryDue(w)) {
      await this.#load(agentId, w)
    }
    return { steps: w.byNonce.get(nonce) ?? [], unreadable: [...w.unavailable] }
  }

  /** The committed wallet step with this leaf (an AgentAccount call's), after indexing as {@link walletSteps} does. */
  async stepByLeaf(agentId: bigint, leaf: Hex, options: { refresh?: boolean | undefined } = {}): Promise<{ step: CoveringStep | undefined; unreadable: bigint[] }> {
    const w = this.#walletOf(agentId)
    if (!w.loaded || options.refresh || this.#retryDue(w)) await this.#load(agentId, w)
    return { step: w.byLeaf.get(leaf.toLowerCase() as Hex), unreadable: [...w.unavailable] }
  }

  /**
   * The native value (wei) the committed wallet steps of an action move, over every batch
   * of the agent indexed so far: what a slash for a fault in that action repays the owner.
   */
  async movedByAction(agentId: bigint, actionId: string, options: { refresh?: boolean | undefined } = {}): Promise<bigint> {
    const w = this.#walletOf(agentId)
    if (!w.loaded || options.refresh || this.#retryDue(w)) await this.#load(agentId, w)
    let moved = 0n
    for (const c of w.byAction.get(actionId) ?? []) if (c.step.kind === 'wallet') moved += BigInt(c.step.value)
    return moved
  }

  /**
   * Every committed step of an action, in trace order, after indexing as {@link walletSteps}
   * does. `unreadable` lists batches whose steps are unknown (they may hold more of it).
   */
  async actionSteps(agentId: bigint, actionId: string, options: { refresh?: boolean | undefined } = {}): Promise<{ steps: CommittedStep[]; unreadable: bigint[] }> {
    const w = this.#walletOf(agentId)
    if (!w.loaded || options.refresh || this.#retryDue(w)) await this.#load(agentId, w)
    return { steps: [...(w.byAction.get(actionId) ?? [])], unreadable: [...w.unavailable] }
  }

  /** Whether an unavailable batch is due for another try. */
  #retryDue(w: WalletIndex): boolean {
    const now = this.#now()
    for (const r of w.retry.values()) if (now >= r.nextAt) return true
    return false
  }

  async #load(agentId: bigint, w: WalletIndex): Promise<void> {
    const events = await getBatchEvents(this.client, agentId)
    w.loaded = true
    const now = this.#now()
    for (const ev of events) {
      if (w.indexed.has(ev.sequence)) continue
      // a permanently broken batch is never fetched again; an unavailable one after its back-off
      if (w.invalid.has(ev.sequence)) continue
      const retry = w.retry.get(ev.sequence)
      if (retry && now < retry.nextAt) continue
      const prev = ev.sequence > 0n ? this.#heads.get(`${agentId}/${ev.sequence - 1n}`) : undefined
      this.record(ev, await fetchAndCheckBatch(this.da, ev, prev))
    }
  }

  #walletOf(agentId: bigint) {
    let w = this.#wallet.get(agentId)
    if (!w) {
      w = { byNonce: new Map(), byLeaf: new Map(), byAction: new Map(), indexed: new Set(), unavailable: new Set(), invalid: new Set(), retry: new Map(), loaded: false }
      this.#wallet.set(agentId, w)
    }
    return w
  }
}

/** Whether a committed wallet step is the transaction (same chain, sender, nonce, recipient, value and calldata). */
export function stepCoversTx(
  step: WalletStep,
  tx: { chainId: number | bigint; from: Hex; to: Hex | null; value: bigint; input: Hex; nonce: number },
): boolean {
  return (
    tx.to !== null &&
    BigInt(step.chainId) === BigInt(tx.chainId) &&
    step.from.toLowerCase() === tx.from.toLowerCase() &&
    step.to.toLowerCase() === tx.to.toLowerCase() &&
    step.nonce === tx.nonce &&
    BigInt(step.value) === tx.value &&
    step.data.toLowerCase() === tx.input.toLowerCase()
  )
}
