/**
 * Calls made in one turn of the event loop, sent together: `add(item)` queues an item and
 * answers with its own result once the batch holding it is sent — on the next `setImmediate`,
 * in batches of at most `maxBatch`, `one` for a batch of one and `many` for the rest (which
 * answers one result per item, in order). A batch that fails rejects each of its items.
 */
export class TurnBatch<T, R> {
  #queue: { item: T; resolve: (r: R) => void; reject: (err: unknown) => void }[] = []
  readonly #maxBatch: number
  readonly #one: (item: T) => Promise<R>
  readonly #many: (items: T[]) => Promise<R[]>

  constructor(o: { maxBatch: number; one: (item: T) => Promise<R>; many: (items: T[]) => Promise<R[]> }) {
    this.#maxBatch = o.maxBatch
    this.#one = o.one
    this.#many = o.many
  }

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      if (this.#queue.length === 1) setImmediate(() => this.#send())
    })
  }

  #send(): void {
    const all = this.#queue
    this.#queue = []
    for (let i = 0; i < all.length; i += this.#maxBatch) {
      const part = all.slice(i, i + this.#maxBatch)
      const sent = part.length === 1 ? this.#one(part[0]!.item).then((r) => [r]) : this.#many(part.map((p) => p.item))
      sent.then(
        (answers) => part.forEach((p, j) => p.resolve(answers[j] as R)),
        (err: unknown) => {
          for (const p of part) p.reject(err)
        },
      )
    }
  }
}
