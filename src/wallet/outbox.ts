import { writeFileSync } from 'node:fs'
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { canonicalBytes, parseCanonical } from '../trace/canonical.js'
import { writeFileAtomic } from '../trace/wal.js'
import { OutboxCorruptedError } from './errors.js'
import { createFileExclusive } from './internal/fs.js'
import { type OutboxEntry, type OutboxReceipt, outboxEntrySchema } from './schemas.js'

/**
 * The wallet outbox: the transactions the wallet has signed, by nonce, and what became of
 * them, kept so that a crash never loses an authorised transaction and never sends two
 * different ones for the same wallet step.
 *
 * Layout: one directory per account and chain, one file per nonce:
 *
 *   <dir>/<chainId>-<from lowercase>/<nonce, 20 digits>.json
 *
 * Each file holds one {@link OutboxEntry} as canonical JSON (src/trace/canonical.ts). A
 * file is created only once, atomically and exclusively (temp file, fsync, link — which
 * fails rather than replace — fsync of the directory), so a signed transaction can never
 * be replaced by a different one for the same nonce. Later writes only change its state
 * (`signed` → `mined` | `abandoned`) and never its `raw` or `hash` (temp file, fsync,
 * rename, fsync of the directory). Leftover temp files of a crashed write are removed when
 * the outbox is opened.
 *
 * A payment writes no file before its broadcast. Its wallet step's WAL record holds the gas
 * and fees beside the step (src/wallet/txParams.ts), and signatures are deterministic, so
 * the signed bytes are a function of that record: the wallet {@link hold}s the `signed`
 * entry in memory, and after a crash rebuilds exactly those bytes from the WAL — the only
 * ones it can then send for that step. A `signed` file is written only for a transaction
 * prepared afresh (recovery of a step whose record has no gas and fees, written by an
 * older Covenant), and `abandoned` ones when recovery gives a step up.
 *
 * The `mined` state is a *hint* written in the background: {@link markMined} changes the
 * entry in memory at once and writes `<nonce, 20 digits>.mined` (the mined entry, canonical
 * JSON) with one plain write, no fsync, no rename. When the outbox is opened, a hint that
 * parses, is `mined` and names exactly its entry's transaction (hash, raw, wallet step)
 * makes that entry mined; a hint without an entry file (the usual case now) is kept aside
 * for the wallet, which accepts it only if it names exactly its wallet step
 * ({@link adoptOrphanHints}); anything else (a hint torn by a crash, one for another
 * transaction) is deleted, and the wallet's recovery settles that step from the chain's
 * receipt (`already-mined`), sending nothing new. So a hint can only spare recovery one
 * receipt read; losing it costs that read, and a forged one cannot make the wallet send
 * anything.
 */
export class Outbox {
  readonly dir: string
  #entries = new Map<number, OutboxEntry>()
  /** Valid `mined` hints with no entry file, by nonce, until the wallet adopts or drops them. */
  #orphans = new Map<number, OutboxEntry>()
  /** `mined` records being written off the caller's path, by nonce. */
  #writing = new Map<number, Promise<void>>()
  #onWriteError: ((nonce: number, err: Error) => void) | undefined

  private constructor(dir: string) {
    this.dir = dir
  }

  /** Opens (creating if needed) the outbox of one account on one chain and reads every entry. */
  static async open(p: { dir: string; chainId: number | bigint; from: string }): Promise<Outbox> {
    const dir = join(p.dir, `${BigInt(p.chainId)}-${p.from.toLowerCase()}`)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const outbox = new Outbox(dir)
    const hints: string[] = []
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      if (name.includes('.tmp-')) {
        await unlink(path).catch(() => {})
        continue
      }
      if (/^\d{20}\.mined$/.test(name)) {
        hints.push(name)
        continue
      }
      const m = /^(\d{20})\.json$/.exec(name)
      if (!m) throw new OutboxCorruptedError(path, 'unexpected file in the outbox directory')
      const entry = parseEntry(await readFile(path), path)
      if (entry.nonce !== Number(m[1])) throw new OutboxCorruptedError(path, `it holds nonce ${entry.nonce}`)
      if (entry.chainId !== String(BigInt(p.chainId)) || entry.from !== p.from.toLowerCase()) {
        throw new OutboxCorruptedError(path, `it belongs to ${entry.from} on chain ${entry.chainId}`)
      }
      outbox.#entries.set(entry.nonce, entry)
    }
    for (const name of hints) await outbox.#applyHint(name)
    return outbox
  }

  /** A `mined` hint (see the class comment): applied when it names exactly its entry's transaction, else deleted. */
  async #applyHint(name: string): Promise<void> {
    const path = join(this.dir, name)
    const nonce = Number(name.slice(0, 20))
    const entry = this.#entries.get(nonce)
    let hint: OutboxEntry | undefined
    try {
      hint = parseEntry(await readFile(path), path)
    } catch {
      hint = undefined
    }
    if (entry === undefined && hint !== undefined && hint.state === 'mined' && hint.nonce === nonce) {
      this.#orphans.set(nonce, hint)
      return
    }
    const matches =
      hint !== undefined &&
      entry !== undefined &&
      hint.state === 'mined' &&
      hint.nonce === nonce &&
      hint.hash === entry.hash &&
      hint.raw === entry.raw &&
      hint.walletStepIndex === entry.walletStepIndex &&
      hint.walletStepLeaf === entry.walletStepLeaf &&
      hint.chainId === entry.chainId &&
      hint.from === entry.from
    if (matches && entry.state === 'signed') this.#entries.set(nonce, hint as OutboxEntry)
    if (!matches || entry.state !== 'signed') await unlink(path).catch(() => {})
  }

  /**
   * Settles the `mined` hints that have no entry file: each one `accept` approves becomes its
   * nonce's entry (mined), the others are deleted. The wallet approves a hint that names
   * exactly a wallet step of its WAL (see the class comment).
   */
  async adoptOrphanHints(accept: (hint: OutboxEntry) => boolean): Promise<void> {
    for (const [nonce, hint] of this.#orphans) {
      if (!this.#entries.has(nonce) && accept(hint)) this.#entries.set(nonce, hint)
      else await unlink(this.minedPathOf(nonce)).catch(() => {})
    }
    this.#orphans.clear()
  }

  /** Where the `mined` hint of a nonce goes. */
  minedPathOf(nonce: number): string {
    return join(this.dir, `${String(nonce).padStart(20, '0')}.mined`)
  }

  pathOf(nonce: number): string {
    return join(this.dir, `${String(nonce).padStart(20, '0')}.json`)
  }

  get(nonce: number): OutboxEntry | undefined {
    return this.#entries.get(nonce)
  }

  /** Every entry, by nonce. */
  entries(): OutboxEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.nonce - b.nonce)
  }

  /**
   * Records a new entry durably. Exclusive: if an entry for the nonce already exists it is
   * kept, and the call fails unless it is the very same transaction.
   */
  async create(entry: OutboxEntry): Promise<void> {
    const path = this.pathOf(entry.nonce)
    const value = checkEntry(entry, path)
    if (!(await createFileExclusive(path, canonicalBytes(value)))) {
      const existing = parseEntry(await readFile(path), path)
      if (existing.hash !== value.hash || existing.walletStepIndex !== value.walletStepIndex) {
        throw new OutboxCorruptedError(path, `an entry for nonce ${entry.nonce} already exists with another transaction`)
      }
      this.#entries.set(existing.nonce, existing)
      return
    }
    this.#entries.set(value.nonce, value)
  }

  /**
   * Holds a `signed` entry in memory, writing nothing: for a transaction whose bytes the
   * wallet can rebuild from its WAL record (see the class comment). Like {@link create} it
   * never replaces an entry with another transaction for the same nonce.
   */
  hold(entry: OutboxEntry): void {
    const path = this.pathOf(entry.nonce)
    const value = checkEntry(entry, path)
    if (value.state !== 'signed') throw new OutboxCorruptedError(path, `only a signed entry is held in memory, not a ${value.state} one`)
    const existing = this.#entries.get(value.nonce)
    if (existing) {
      if (existing.hash !== value.hash || existing.walletStepIndex !== value.walletStepIndex) {
        throw new OutboxCorruptedError(path, `an entry for nonce ${entry.nonce} already exists with another transaction`)
      }
      return
    }
    this.#entries.set(value.nonce, value)
  }

  /**
   * Records that a `signed` entry was mined: in memory at once (`get`, `entries`), on disk
   * as a hint written in the background (see the class comment for why it needs neither the
   * payment's path nor an fsync). `receipt` comes from the node through viem and the rest
   * from the entry this outbox holds. A failed write is reported to `onWriteError` (the entry
   * stays `signed` on disk, which recovery settles from the chain). {@link flush} waits for
   * the writes in flight.
   */
  markMined(nonce: number, receipt: OutboxReceipt, updatedAt: number): void {
    const path = this.pathOf(nonce)
    const current = this.#entries.get(nonce)
    if (!current) throw new OutboxCorruptedError(path, 'update of an entry that was never created')
    if (current.state === 'mined') return
    if (current.state !== 'signed') throw new OutboxCorruptedError(path, `an entry in state ${current.state} cannot become mined`)
    const value: OutboxEntry = { ...current, state: 'mined', receipt, error: null, updatedAt }
    this.#entries.set(nonce, value)
    const previous = this.#writing.get(nonce) ?? Promise.resolve()
    const write = previous
      // after the caller's turn of the event loop (creating a file costs 0.2-0.4 ms of this
      // thread: not on the payment's path), and synchronous (page cache only, no fsync):
      // three thread-pool round trips fewer per payment
      .then(() => new Promise<void>((done) => setImmediate(done)))
      .then(() => (this.#entries.get(nonce) === value ? writeFileSync(this.minedPathOf(nonce), canonicalBytes(value), { mode: 0o600 }) : undefined))
      .catch((err: unknown) => this.#onWriteError?.(nonce, err instanceof Error ? err : new Error(String(err))))
      .finally(() => {
        if (this.#writing.get(nonce) === write) this.#writing.delete(nonce)
      })
    this.#writing.set(nonce, write)
  }

  /** Where a background write's failure goes (the wallet logs it). */
  onWriteError(fn: (nonce: number, err: Error) => void): void {
    this.#onWriteError = fn
  }

  /** Waits until every `mined` record written in the background is on disk (or failed). */
  async flush(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing.values())
  }

  /** Moves an entry to a new state. Its raw transaction and hash can never change. */
  async update(entry: OutboxEntry): Promise<void> {
    const path = this.pathOf(entry.nonce)
    await this.#writing.get(entry.nonce) // a background write of this entry lands first, never after
    const value = checkEntry(entry, path)
    const current = this.#entries.get(value.nonce)
    if (!current) throw new OutboxCorruptedError(path, 'update of an entry that was never created')
    if (current.hash !== null && (current.hash !== value.hash || current.raw !== value.raw)) {
      throw new OutboxCorruptedError(path, 'an update would change the signed transaction')
    }
    if (current.walletStepIndex !== value.walletStepIndex || current.walletStepLeaf !== value.walletStepLeaf) {
      throw new OutboxCorruptedError(path, 'an update would change the wallet step')
    }
    await writeFileAtomic(path, canonicalBytes(value))
    this.#entries.set(value.nonce, value)
    if (value.state !== 'mined') await unlink(this.minedPathOf(value.nonce)).catch(() => {}) // a hint no longer true
  }
}

function checkEntry(entry: OutboxEntry, path: string): OutboxEntry {
  const parsed = outboxEntrySchema.safeParse(entry)
  if (!parsed.success) throw new OutboxCorruptedError(path, `invalid entry: ${parsed.error.issues[0]?.message ?? 'unknown'}`)
  const e = parsed.data
  if ((e.raw === null) !== (e.hash === null)) throw new OutboxCorruptedError(path, 'raw and hash must be set together')
  if (e.state !== 'abandoned' && e.raw === null) throw new OutboxCorruptedError(path, `a ${e.state} entry needs its signed transaction`)
  if ((e.state === 'mined') !== (e.receipt !== null)) throw new OutboxCorruptedError(path, 'a receipt belongs to mined entries only')
  return e
}

/** Parses one outbox file's bytes; anything but a valid canonical entry is an {@link OutboxCorruptedError}. */
export function parseEntry(bytes: Uint8Array, path: string): OutboxEntry {
  let value: unknown
  try {
    value = parseCanonical(bytes)
  } catch (cause) {
    throw new OutboxCorruptedError(path, `not canonical JSON (${(cause as Error).message.split('\n')[0]})`)
  }
  return checkEntry(value as OutboxEntry, path)
}
