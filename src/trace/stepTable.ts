import type { Hex } from 'viem'

/**
 * The byte offset and leaf of every step of a WAL, by index, in 40 bytes a step: a
 * Float64Array of offsets and one buffer of 32-byte leaves, grown by doubling. As arrays of
 * numbers and 66-character hex strings they took ~110 bytes a step, and a WAL keeps one entry
 * for every step of the agent's life (readFrom needs the offset of any step, and the leaf
 * before it to check the chain), so a worker appending 4,000 steps a second grew by ~1.6 GB
 * an hour in them alone. It also keeps the indices of the wallet steps (the only steps an
 * agent account records as calls, which a committer must match to cover them).
 */
export class StepTable {
  #offsets: Float64Array
  #leaves: Buffer
  #length = 0
  /** Indices of the wallet steps, ascending. */
  #wallet: number[] = []

  constructor(capacity = 1024) {
    this.#offsets = new Float64Array(Math.max(16, capacity))
    this.#leaves = Buffer.alloc(this.#offsets.length * 32)
  }

  /** A table holding the steps of a scan (offsets, leaves and kinds by index). */
  static from(offsets: readonly number[], leaves: readonly Hex[], kinds: readonly { kind: string }[]): StepTable {
    const t = new StepTable(Math.ceil(offsets.length * 1.25))
    for (let i = 0; i < offsets.length; i++) t.push(offsets[i]!, leaves[i]!, kinds[i]!.kind === 'wallet')
    return t
  }

  /** Steps held: the next index. */
  get length(): number {
    return this.#length
  }

  push(offset: number, leaf: Hex, wallet: boolean): void {
    if (this.#length === this.#offsets.length) this.#grow()
    this.#offsets[this.#length] = offset
    // a leaf is 0x + 64 hex digits (checked where it was computed)
    this.#leaves.write(leaf.slice(2), this.#length * 32, 32, 'hex')
    if (wallet) this.#wallet.push(this.#length)
    this.#length++
  }

  offset(index: number): number {
    this.#check(index)
    return this.#offsets[index]!
  }

  leaf(index: number): Hex {
    this.#check(index)
    return `0x${this.#leaves.toString('hex', index * 32, index * 32 + 32)}`
  }

  /** The leaves of the steps from `index` on. */
  leavesFrom(index: number): Hex[] {
    const out: Hex[] = []
    for (let i = Math.max(0, index); i < this.#length; i++) out.push(this.leaf(i))
    return out
  }

  /** The wallet steps from `index` on, with their leaves. */
  walletStepsFrom(index: number): { index: number; leaf: Hex }[] {
    // the first wallet step at or after `index` (binary search: the list is ascending)
    let lo = 0
    let hi = this.#wallet.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#wallet[mid]! < index) lo = mid + 1
      else hi = mid
    }
    return this.#wallet.slice(lo).map((i) => ({ index: i, leaf: this.leaf(i) }))
  }

  #check(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#length) throw new RangeError(`step ${index} is not in the table (0 to ${this.#length - 1})`)
  }

  #grow(): void {
    const offsets = new Float64Array(this.#offsets.length * 2)
    offsets.set(this.#offsets)
    const leaves = Buffer.alloc(offsets.length * 32)
    this.#leaves.copy(leaves)
    this.#offsets = offsets
    this.#leaves = leaves
  }
}
