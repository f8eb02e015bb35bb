import type { AbiEvent, Address, Hex, Log, PublicClient } from 'viem'
import type { Checkpoint } from './schemas.js'

/**
 * Follows contract logs block range by block range, safe against reorgs.
 *
 * The cursor is the last processed block *and its hash*. Before each range the follower
 * asks the chain for the hash at the cursor's height: if it differs (or the block is
 * gone), the blocks after the newest checkpoint that is still canonical are re-processed.
 * A range ends `confirmations` blocks below the head, and its logs are accepted only if
 * the hash of its last block is the same before and after they were read.
 */
export type LogFollowerOptions = {
  publicClient: PublicClient
  address: Address | Address[]
  events: readonly AbiEvent[]
  /** First block to read when there is no cursor. */
  startBlock: bigint
  /** Blocks below the head a range stops at. @defaultValue 0 */
  confirmations?: number | undefined
  /** Most blocks per range (one getLogs call). @defaultValue 2000 */
  maxRange?: number | undefined
  /** Checkpoints kept for rewinding. @defaultValue 64 */
  keepCheckpoints?: number | undefined
}

export type FollowStep =
  | { type: 'idle'; head: bigint }
  /** The chain no longer holds the cursor's block: rewind to `to` (null: start over). */
  | { type: 'reorg'; from: Checkpoint; to: Checkpoint | null }
  | { type: 'range'; from: bigint; to: bigint; toHash: Hex; head: bigint; logs: Log[] }

export class LogFollower {
  readonly #o: {
    publicClient: PublicClient
    address: Address | Address[]
    events: readonly AbiEvent[]
    startBlock: bigint
    confirmations: number
    maxRange: number
    keepCheckpoints: number
  }

  constructor(options: LogFollowerOptions) {
    this.#o = {
      publicClient: options.publicClient,
      address: options.address,
      events: options.events,
      startBlock: options.startBlock,
      confirmations: options.confirmations ?? 0,
      maxRange: options.maxRange ?? 2_000,
      keepCheckpoints: options.keepCheckpoints ?? 64,
    }
  }

  get keepCheckpoints(): number {
    return this.#o.keepCheckpoints
  }

  /** Decides the next step from the persisted cursor and checkpoints. */
  async next(cursor: Checkpoint | null, checkpoints: readonly Checkpoint[]): Promise<FollowStep> {
    const pc = this.#o.publicClient
    const head = await pc.getBlockNumber({ cacheTime: 0 })
    if (cursor) {
      const now = await this.#hashAt(BigInt(cursor.block))
      if (now !== cursor.hash) {
        for (const cp of [...checkpoints].reverse()) {
          if (BigInt(cp.block) >= BigInt(cursor.block)) continue
          if ((await this.#hashAt(BigInt(cp.block))) === cp.hash) return { type: 'reorg', from: cursor, to: cp }
        }
        return { type: 'reorg', from: cursor, to: null }
      }
    }
    const from = cursor ? BigInt(cursor.block) + 1n : this.#o.startBlock
    const safe = head - BigInt(this.#o.confirmations)
    let to = from + BigInt(this.#o.maxRange) - 1n
    if (to > safe) to = safe
    if (to < from) return { type: 'idle', head }
    const before = await this.#hashAt(to)
    if (!before) return { type: 'idle', head }
    const logs = (await pc.getLogs({
      address: this.#o.address,
      events: this.#o.events,
      fromBlock: from,
      toBlock: to,
      strict: true,
    } as never)) as unknown as Log[]
    const after = await this.#hashAt(to)
    if (after !== before) return { type: 'idle', head }
    logs.sort((a, b) => Number((a.blockNumber ?? 0n) - (b.blockNumber ?? 0n)) || (a.logIndex ?? 0) - (b.logIndex ?? 0))
    return { type: 'range', from, to, toHash: before, head, logs }
  }

  /** The checkpoints after processing a range ending at `to`. */
  advance(checkpoints: readonly Checkpoint[], to: bigint, toHash: Hex): { cursor: Checkpoint; checkpoints: Checkpoint[] } {
    const cursor = { block: to.toString(), hash: toHash }
    const next = [...checkpoints.filter((c) => BigInt(c.block) < to), cursor]
    return { cursor, checkpoints: next.slice(-this.#o.keepCheckpoints) }
  }

  async #hashAt(block: bigint): Promise<Hex | undefined> {
    try {
      const b = await this.#o.publicClient.getBlock({ blockNumber: block, includeTransactions: false })
      return b.hash ?? undefined
    } catch (err) {
      if ((err as { name?: string }).name === 'BlockNotFoundError') return undefined
      throw err
    }
  }
}
