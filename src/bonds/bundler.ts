import type { Address } from 'viem'
import type { CovenantWriteClient } from './client.js'
import { commitBatch, type CommitBatchParameters, type CommitBatchReturnType } from './actions/commitBatch.js'
import { commitBundle } from './actions/commitMany.js'
import { ContractRevertError } from './errors.js'
import { BaseError } from '../errors/base.js'

export type CommitBundlerOptions = {
  /** The operator's write client: every batch handed in must be one of its agents'. */
  client: CovenantWriteClient
  /** How long the first batch waits for others before the bundle goes out. @defaultValue 250 */
  windowMs?: number | undefined
  /** Most batches in one bundle (TraceLog.MAX_BUNDLE_BATCHES is 256). @defaultValue 64 */
  maxBatches?: number | undefined
}

type Waiting = { p: CommitBatchParameters; resolve: (r: CommitBatchReturnType) => void; reject: (e: unknown) => void }

/**
 * One operator's committers share commit transactions. Batches handed in within `windowMs`
 * of the first go out as one `TraceLog.commitBundle`: one storage slot for all of them
 * instead of one each (bench/gas: 63,239 gas for one batch alone; a bundle of 8 costs
 * 25,010 a batch, of 32 20,415). A lone batch goes out as a plain commit, which is cheaper.
 *
 * A bundle the chain refuses is sent again batch by batch (`commitBatch`), so one agent's
 * refused batch never holds back another's, and each committer gets its own answer (a
 * re-sent batch already on chain is recognised there: `written: false`). Any other failure
 * (node unreachable) reaches every committer in the bundle; each retries on its next tick,
 * and a bundle that landed before the failure is found by the committer's `getBatch`. Sends
 * go one at a time, so the operator's nonce never races between its own committers.
 */
export class CommitBundler {
  readonly #client: CovenantWriteClient
  readonly #windowMs: number
  readonly #maxBatches: number
  #waiting: Waiting[] = []
  /** Committers that send through this bundler now: when all of them are waiting, nobody else will come. */
  #attached = 0
  #timer: NodeJS.Timeout | undefined
  #sending: Promise<void> = Promise.resolve()

  constructor(o: CommitBundlerOptions) {
    const windowMs = o.windowMs ?? 250
    const maxBatches = o.maxBatches ?? 64
    if (!Number.isFinite(windowMs) || windowMs < 0) throw new BaseError(`windowMs must be a number of ms ≥ 0, not ${String(o.windowMs)}.`)
    if (!Number.isInteger(maxBatches) || maxBatches < 1 || maxBatches > 256) {
      throw new BaseError(`maxBatches must be an integer from 1 to 256 (TraceLog.MAX_BUNDLE_BATCHES), not ${String(o.maxBatches)}.`)
    }
    this.#client = o.client
    this.#windowMs = windowMs
    this.#maxBatches = maxBatches
  }

  /** The operator whose agents' batches this bundler sends. */
  get operator(): Address {
    return this.#client.walletClient.account.address
  }

  /**
   * A committer that will send through this bundler; call the returned function when it
   * stops. Once every attached committer has a batch waiting, the bundle goes out without
   * waiting for the window (a lone agent's commit is not delayed).
   */
  attach(): () => void {
    this.#attached++
    let attached = true
    return () => {
      if (!attached) return
      attached = false
      this.#attached--
      if (this.#waiting.length > 0 && this.#waiting.length >= this.#attached) this.#release()
    }
  }

  /** Commits one batch, in a bundle with whatever other batches arrive within the window. */
  commit(p: CommitBatchParameters): Promise<CommitBatchReturnType> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ p, resolve, reject })
      if (this.#waiting.length >= this.#maxBatches || this.#waiting.length >= this.#attached) this.#release()
      else this.#timer ??= setTimeout(() => this.#release(), this.#windowMs)
    })
  }

  /**
   * Runs one of the operator's sends after the ones before it: the bundles, and any other
   * transaction of the operator (a committer's `cover`), so that none races another for the
   * operator's nonce.
   */
  serial<T>(send: () => Promise<T>): Promise<T> {
    const run = this.#sending.then(send)
    this.#sending = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  #release(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const group = this.#waiting
    this.#waiting = []
    if (group.length > 0) void this.serial(() => this.#send(group))
  }

  async #send(group: Waiting[]): Promise<void> {
    if (group.length === 1) return this.#one(group[0]!)
    try {
      const r = await commitBundle(this.#client, group.map((w) => w.p))
      // each batch is charged its share of the bundle
      const share = r.gasUsed / BigInt(group.length)
      for (const w of group) w.resolve({ hash: r.hash, written: true, gasUsed: share, blockNumber: r.blockNumber })
    } catch (err) {
      if (!(err instanceof ContractRevertError)) {
        for (const w of group) w.reject(err)
        return
      }
      for (const w of group) await this.#one(w)
    }
  }

  async #one(w: Waiting): Promise<void> {
    await commitBatch(this.#client, w.p).then(w.resolve, w.reject)
  }
}
