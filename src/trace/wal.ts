import { randomBytes } from 'node:crypto'
import { writeSync } from 'node:fs'
import { type FileHandle, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { crc32 } from 'node:zlib'
import { syncDir } from '../fs/syncDir.js'
import type { Hex } from 'viem'
import { z } from 'zod'
import { decodeCheckedStep, encodeCheckedStep, type EncodedStep } from './builtStep.js'
import { decodeCanonical, parseExact } from './canonical.js'
import { type ChainHead, genesisHead, linkStep, verifyChain } from './chain.js'
import {
  TraceChainError,
  WalAppendError,
  WalCorruptedError,
  WalCursorError,
  WalLockedError,
  type WalTornTail,
} from './errors.js'
import { ProcessLock } from './processLock.js'
import { StepTable } from './stepTable.js'
import {
  bytes32Schema,
  hexBytesSchema,
  safeUintSchema,
  type Step,
  type StepBody,
  uint256StringSchema,
} from './schemas.js'

/**
 * The write-ahead trace log: one append-only file per agent, the durable record of every
 * step before it takes effect ("no trace, no action": the wallet signs only after
 * `append()` has returned, and `append()` returns only after fdatasync).
 *
 * File format (all integers big-endian):
 *
 *   file    = magic record*
 *   magic   = "CVNTWAL" 0x02                       8 bytes: format version 2
 *   record  = length:u32 crc:u32 payload[length]
 *   length  = 1 ..= 0xFFFFFF (so the first header byte is always 0x00)
 *   crc     = CRC-32 (zlib / ISO-HDLC) of the 4 length bytes followed by the payload
 *   payload = step [0x01 sidecar]
 *   step    = the step's canonical bytes (canonical.ts), steps in index order, gapless
 *   sidecar = bytes the writer keeps with the step (no 0x00 byte): never part of the step,
 *             its leaf, a batch or a DA blob (the wallet keeps there what its signed
 *             transaction is a function of besides the step: src/wallet/txParams.ts)
 *
 * Canonical JSON holds no byte below 0x20, so the first 0x01 of a payload ends the step.
 * Version 1 is version 2 without sidecars: a v1 file is read as it is, and opening it for
 * writing rewrites its header to v2 (so a Covenant that only knows v1 refuses the file by
 * its header rather than misreading a sidecar).
 *
 * Recovery (`open`, `readAll`): records are read until the first one that is incomplete or
 * fails its checksum. If no valid record starts anywhere after it, it is a torn final write
 * (a crash mid-append, or a zero-filled tail after a power cut): it was never acknowledged,
 * so it is cut off and reported as a {@link WalTornTail} warning with its byte offset. If a
 * valid record does follow, the damage is in the middle of the log, and cutting would drop
 * acknowledged steps: {@link WalCorruptedError} with the offset, nothing is changed. Because
 * neither canonical JSON nor a sidecar holds a 0x00 byte and every header begins with one, a record header
 * cannot be mistaken for one inside a payload.
 *
 * Beside the log, a small committed cursor (`.cursor.json`) records which steps are in
 * committed batches and the batch in flight, written atomically (temp file, fsync, rename,
 * fsync of the directory), so a committer can resume after a crash without losing or
 * repeating a batch.
 */

const MAGIC = Buffer.from([0x43, 0x56, 0x4e, 0x54, 0x57, 0x41, 0x4c, 0x02]) // "CVNTWAL" v2
/** The header of format version 1 (no sidecars), still read. */
const MAGIC_V1 = Buffer.from([0x43, 0x56, 0x4e, 0x54, 0x57, 0x41, 0x4c, 0x01])
const HEADER_BYTES = 8
/** Ends a record's step bytes where a sidecar follows (canonical JSON never holds it). */
const SIDECAR_MARK = 0x01
/** The largest record payload (a step's canonical bytes). */
export const MAX_WAL_RECORD_BYTES = 0xffffff

export type WalPaths = { log: string; cursor: string; lock: string }

/** Where an agent's WAL files live in `dir`. */
export function walPaths(dir: string, agentId: string): WalPaths {
  const id = uint256StringSchema.safeParse(agentId)
  if (!id.success) throw new WalAppendError({ path: dir, reason: `agentId ${JSON.stringify(agentId)} is not a decimal uint256` })
  const base = join(dir, `agent-${id.data}`)
  return { log: `${base}.wal`, cursor: `${base}.cursor.json`, lock: `${base}.lock` }
}

function checksum(header: Buffer, payload: Uint8Array): number {
  return crc32(payload, crc32(header.subarray(0, 4)))
}

/** Encodes one WAL record around a step's canonical bytes. */
export function encodeWalRecord(payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  record.writeUInt32BE(payload.length, 0)
  record.writeUInt32BE(checksum(record, payload), 4)
  record.set(payload, HEADER_BYTES)
  return record
}

/** Encodes one WAL record holding a step's canonical bytes and, if given, its sidecar. */
export function encodeStepRecord(step: Uint8Array, sidecar?: Uint8Array): Buffer {
  if (sidecar === undefined) return encodeWalRecord(step)
  const payload = Buffer.allocUnsafe(step.length + 1 + sidecar.length)
  payload.set(step, 0)
  payload[step.length] = SIDECAR_MARK
  payload.set(sidecar, step.length + 1)
  return encodeWalRecord(payload)
}

/** A record's payload split into the step's bytes and its sidecar (undefined when it has none). */
function splitPayload(payload: Buffer): { step: Buffer; sidecar: Buffer | undefined } {
  const mark = payload.indexOf(SIDECAR_MARK)
  return mark === -1 ? { step: payload, sidecar: undefined } : { step: payload.subarray(0, mark), sidecar: payload.subarray(mark + 1) }
}

type RecordAt = { offset: number; payload: Buffer }

/** Whether a complete record with a good checksum starts at `offset`. */
function validRecordAt(buf: Buffer, offset: number): { ok: true; payload: Buffer } | { ok: false; reason: string } {
  if (buf.length - offset < HEADER_BYTES) return { ok: false, reason: `only ${buf.length - offset} bytes of an 8-byte record header` }
  const length = buf.readUInt32BE(offset)
  if (length === 0 || length > MAX_WAL_RECORD_BYTES) return { ok: false, reason: `impossible record length ${length}` }
  if (offset + HEADER_BYTES + length > buf.length) {
    return { ok: false, reason: `record of ${length} bytes but only ${buf.length - offset - HEADER_BYTES} present` }
  }
  const payload = buf.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length)
  if (checksum(buf.subarray(offset), payload) !== buf.readUInt32BE(offset + 4)) {
    return { ok: false, reason: 'checksum mismatch' }
  }
  return { ok: true, payload }
}

/** The first offset after `from` where a valid record starts, or -1. */
function resync(buf: Buffer, from: number): number {
  for (let p = buf.indexOf(0, from + 1); p !== -1 && p + HEADER_BYTES <= buf.length; p = buf.indexOf(0, p + 1)) {
    if (validRecordAt(buf, p).ok) return p
  }
  return -1
}

export type WalScan = {
  steps: Step[]
  /** Leaf of each step. */
  leaves: Hex[]
  /** Byte offset of each step's record. */
  offsets: number[]
  /** Each step's canonical bytes (views into the buffer scanned). */
  payloads: Uint8Array[]
  /** The sidecar of each step that has one, by step index (views into the buffer scanned). */
  sidecars: Map<number, Uint8Array>
  /** Where the valid log ends (the file size after cutting a torn tail). */
  end: number
  /** The format version in the file's header (1 or 2). */
  version: 1 | 2
  head: ChainHead
  torn: WalTornTail | null
}

/**
 * Parses a WAL file's bytes. Pure: reports a torn tail but does not cut it. Throws
 * {@link WalCorruptedError} for damage before the end, a record that is not a valid step,
 * or steps that do not chain.
 */
export function scanWal(buf: Buffer, path: string, agentId: string): WalScan {
  if (buf.length < MAGIC.length || !(buf.subarray(0, MAGIC.length).equals(MAGIC) || buf.subarray(0, MAGIC.length).equals(MAGIC_V1))) {
    const other = buf.length >= MAGIC.length && buf.subarray(0, 7).equals(MAGIC.subarray(0, 7))
    throw new WalCorruptedError({
      path,
      offset: 0,
      reason: other
        ? `the file is CVNTWAL format version ${buf[7]}, this Covenant reads versions 1 and 2 (upgrade Covenant)`
        : 'the file does not start with a CVNTWAL header',
    })
  }
  const records: RecordAt[] = []
  let offset = MAGIC.length
  let torn: WalTornTail | null = null
  while (offset < buf.length) {
    const r = validRecordAt(buf, offset)
    if (r.ok) {
      records.push({ offset, payload: r.payload })
      offset += HEADER_BYTES + r.payload.length
      continue
    }
    const next = resync(buf, offset)
    if (next !== -1) {
      throw new WalCorruptedError({ path, offset, reason: `${r.reason}, and a valid record follows at byte ${next}` })
    }
    torn = { name: 'WalTornTailWarning', path, offset, bytes: buf.length - offset, reason: r.reason }
    break
  }
  const steps: Step[] = []
  const stepLeaves: Hex[] = []
  const payloads: Uint8Array[] = []
  const sidecars = new Map<number, Uint8Array>()
  for (const [i, { offset: at, payload }] of records.entries()) {
    const { step, sidecar } = splitPayload(payload)
    try {
      const decoded = decodeCheckedStep(step)
      steps.push(decoded.step)
      stepLeaves.push(decoded.leaf)
    } catch (cause) {
      throw new WalCorruptedError({ path, offset: at, reason: `the record is not a valid step: ${(cause as Error).message.split('\n')[0]}` })
    }
    payloads.push(step)
    if (sidecar) sidecars.set(i, sidecar)
  }
  let chained: ReturnType<typeof verifyChain>
  try {
    chained = verifyChain(steps, { start: genesisHead(agentId), leaves: stepLeaves })
  } catch (cause) {
    if (!(cause instanceof TraceChainError)) throw cause
    const at = records[cause.index]?.offset ?? offset
    throw new WalCorruptedError({ path, offset: at, reason: cause.shortMessage })
  }
  const version = buf[7] === 1 ? 1 : 2
  return { steps, leaves: chained.leaves, offsets: records.map((r) => r.offset), payloads, sidecars, end: offset, version, head: chained.head, torn }
}

/** Reads an agent's WAL without locking or changing it (for inspection by other processes). */
export async function readWalFile(path: string, agentId: string): Promise<WalScan> {
  return scanWal(await readFile(path), path, agentId)
}

// ---------------------------------------------------------------------------------------
// committed cursor

const batchRefSchema = z.strictObject({
  sequence: safeUintSchema,
  firstIndex: safeUintSchema,
  stepCount: z.number().int().min(1).max(2 ** 32 - 1),
  root: bytes32Schema,
  daCommitment: hexBytesSchema.refine((h) => h.length > 2, 'the DA commitment is empty'),
})

export const committedCursorSchema = z.strictObject({
  version: z.literal(1),
  agentId: uint256StringSchema,
  /** Steps [0, nextIndex) are in batches committed on chain. */
  nextIndex: safeUintSchema,
  /** The sequence number of the next batch to commit. */
  nextSequence: safeUintSchema,
  /** The last batch known committed on chain. */
  lastCommitted: batchRefSchema.nullable(),
  /**
   * A batch already put on DA whose commit may or may not have reached the chain. After a
   * crash, commit exactly this one again (TraceLog treats an identical re-commit as a
   * no-op) instead of building a new blob.
   */
  pending: batchRefSchema.nullable(),
})

export type BatchRef = z.infer<typeof batchRefSchema>
export type CommittedCursor = z.infer<typeof committedCursorSchema>

export function initialCursor(agentId: string): CommittedCursor {
  return { version: 1, agentId, nextIndex: 0, nextSequence: 0, lastCommitted: null, pending: null }
}

/** Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncDir(dirname(path))
}

// ---------------------------------------------------------------------------------------
// lock

/** Takes the agent's WAL lock (a kernel lock: see ProcessLock) or throws WalLockedError. */
async function acquireLock(path: string): Promise<ProcessLock> {
  const r = await ProcessLock.tryAcquire(path)
  if ('heldBy' in r) throw new WalLockedError({ path, pid: r.heldBy })
  return r.lock
}

// ---------------------------------------------------------------------------------------
// the log

export type TraceWalOptions = {
  /** The directory holding WAL files (created if missing), e.g. `.covenant/wal`. */
  dir: string
  /** The agent whose trace this is (decimal uint256). */
  agentId: string
  /** Called when recovery cuts off a torn final record. */
  onWarning?: ((warning: WalTornTail) => void) | undefined
  /**
   * How many bytes of uncommitted steps to keep in memory for the committer
   * ({@link TraceWal.encodedFrom}); older ones are read back from disk (and checked again).
   * @defaultValue 32 MiB
   */
  memoryBytes?: number | undefined
  /**
   * Keep what `open()` read for the `readAll()` calls that follow it, until the first append
   * or {@link TraceWal.releaseScan}: the readers of a start-up (the wallet, the runtime's
   * recovery, a host's index of finished actions) then share one read and check of the whole
   * file instead of making one each. The scan holds every step in memory: release it once
   * they have read.
   * @defaultValue false
   */
  keepScan?: boolean | undefined
}

export type AppendOptions = {
  /** Sync to disk before returning. @defaultValue true */
  durable?: boolean | undefined
  /**
   * Bytes kept in the step's record beside it, as durable as the step, and returned by
   * `readAll` (`sidecars`): never part of the step, its leaf, a batch or a DA blob. No 0x00
   * byte (so a record header is never found inside a payload). The wallet keeps there the
   * gas and fees its transaction was prepared with (src/wallet/txParams.ts).
   */
  sidecar?: Uint8Array | undefined
}

export type WalAppendResult = {
  step: Step
  leaf: Hex
  /** Byte offset of the step's record in the file. */
  offset: number
}

export type WalReadResult = {
  steps: Step[]
  leaves: Hex[]
  /** The sidecar of each step written with one (AppendOptions.sidecar), by step index. */
  sidecars: ReadonlyMap<number, Uint8Array>
  /** Byte offset of each step's record (for errors that name a place in the file). */
  offsets: readonly number[]
  /** The torn tail cut off by this read, if any. */
  torn: WalTornTail | null
}

export class TraceWal {
  readonly agentId: string
  readonly paths: WalPaths
  /** The torn tail `open()` cut off, if there was one. */
  readonly recovered: WalTornTail | null
  #fh: FileHandle | null
  #lock: ProcessLock
  #size: number
  #head: ChainHead
  #failure: unknown = null
  #queue: Promise<unknown> = Promise.resolve()
  /** Records written by this handle so far (each write's sequence number is this count after it). */
  #written = 0
  /** Every record up to this write sequence is on disk: a datasync that started after it was written has finished. */
  #synced = 0
  /** Durable appends (and `sync()` calls) waiting for a datasync that covers their write. */
  #syncWaiters: { seq: number; resolve: () => void; reject: (err: unknown) => void }[] = []
  /** The datasync loop, while one runs (one datasync at a time). */
  #syncRun: Promise<void> | null = null
  /** Appends are acknowledged (return, listeners called) in index order: the last one's turn. */
  #ackTail: Promise<void> = Promise.resolve()
  /** Steps [0, #acked) are acknowledged: what readers (`encodedFrom`, `readFrom`) may see. */
  #acked = 0
  #onWarning: ((warning: WalTornTail) => void) | undefined
  /** Byte offset and leaf of every step, by index: `readFrom` reads only the tail it needs. */
  #table: StepTable
  /**
   * The steps from `#memoryFrom` to the head as written (step, canonical bytes, leaf), so the
   * committer commits what was appended without reading, decoding, checking and hashing it
   * again. Only steps not yet known committed are kept, at most `#memoryCap` bytes of them.
   */
  #memory: EncodedStep[] = []
  #memoryFrom = 0
  #memoryBytes = 0
  readonly #memoryCap: number
  /** The committed cursor's nextIndex, as last read or written. */
  #committedIndex = 0
  readonly #appendListeners = new Set<(appended: WalAppendResult) => void>()
  /** What open() read, while nothing was written since (TraceWalOptions.keepScan). */
  #scan: WalScan | null = null

  private constructor(
    agentId: string,
    paths: WalPaths,
    lock: ProcessLock,
    fh: FileHandle,
    scan: WalScan,
    onWarning: TraceWalOptions['onWarning'],
    memoryCap: number,
  ) {
    this.agentId = agentId
    this.paths = paths
    this.#lock = lock
    this.#fh = fh
    this.#size = scan.end
    this.#head = scan.head
    this.#table = StepTable.from(scan.offsets, scan.leaves, scan.steps)
    this.#acked = scan.steps.length
    this.recovered = scan.torn
    this.#onWarning = onWarning
    this.#memoryCap = memoryCap
  }

  /** Keeps the scanned steps from the committed index on (those recovered from disk were checked by the scan). */
  #remember(scan: WalScan): void {
    const from = Math.min(this.#committedIndex, scan.steps.length)
    this.#memory = []
    this.#memoryBytes = 0
    this.#memoryFrom = from
    for (let i = from; i < scan.steps.length; i++) {
      // a copy: a view would keep the whole file's buffer alive
      this.#keep({ step: scan.steps[i]!, bytes: Uint8Array.from(scan.payloads[i]!), leaf: scan.leaves[i]! })
    }
  }

  #keep(entry: EncodedStep): void {
    this.#memory.push(entry)
    this.#memoryBytes += entry.bytes.length
    if (this.#memoryBytes <= this.#memoryCap) return
    // Over the cap: the oldest steps go (the committer reads them from disk) until a quarter
    // of the cap is free, so the array is copied once per quarter of the cap appended, not at
    // every append (which made a backlog past the cap quadratic: 10 s of an open of 60,000
    // uncommitted steps).
    const target = Math.floor(this.#memoryCap * 0.75)
    let bytes = this.#memoryBytes
    let drop = 0
    while (bytes > target && drop < this.#memory.length) bytes -= this.#memory[drop++]!.bytes.length
    this.#forget(drop)
  }

  #forget(count: number): void {
    if (count <= 0) return
    if (count >= this.#memory.length) {
      this.#memoryFrom += this.#memory.length
      this.#memory = []
      this.#memoryBytes = 0
      return
    }
    for (let i = 0; i < count; i++) this.#memoryBytes -= this.#memory[i]!.bytes.length
    this.#memory = this.#memory.slice(count)
    this.#memoryFrom += count
  }

  /**
   * Opens (creating if needed) the agent's WAL, takes its lock, and recovers: a torn final
   * record is cut off and reported; damage in the middle throws {@link WalCorruptedError}.
   */
  static async open(options: TraceWalOptions): Promise<TraceWal> {
    const paths = walPaths(options.dir, options.agentId)
    await mkdir(options.dir, { recursive: true })
    const lock = await acquireLock(paths.lock)
    try {
      let fh: FileHandle
      try {
        fh = await open(paths.log, 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        await writeFileAtomic(paths.log, MAGIC)
        fh = await open(paths.log, 'r+')
      }
      try {
        const scan = await recover(fh, paths.log, options.agentId)
        if (scan.torn) options.onWarning?.(scan.torn)
        if (scan.version === 1) await upgradeHeader(fh)
        const memoryCap = options.memoryBytes ?? 32 * 1024 * 1024
        const wal = new TraceWal(options.agentId, paths, lock, fh, scan, options.onWarning, memoryCap)
        // a damaged cursor is reported where it is read (the committer); here it only means nothing is known committed
        wal.#committedIndex = await wal.readCursor().then((c) => Math.min(c.nextIndex, scan.steps.length), () => 0)
        wal.#remember(scan)
        if (options.keepScan) wal.#scan = scan
        return wal
      } catch (err) {
        await fh.close()
        throw err
      }
    } catch (err) {
      await lock.release().catch(() => {})
      throw err
    }
  }

  /** The leaves of the steps from `index` on, as appended or recovered (held in memory, no read). */
  leavesFrom(index: number): readonly Hex[] {
    return this.#table.leavesFrom(index)
  }

  /**
   * The wallet steps from `index` on (index and leaf), as appended or recovered (held in
   * memory, no read), and where the steps end (the next index when this was called). Only a
   * wallet step's leaf can be the record of an agent account's call.
   */
  walletStepsFrom(index: number): { steps: { index: number; leaf: Hex }[]; end: number } {
    return { steps: this.#table.walletStepsFrom(index), end: this.#table.length }
  }

  /** Where the chain continues: the next step's index and prevHash. */
  get head(): ChainHead {
    return { ...this.#head }
  }

  /**
   * What the WAL holds in memory for the committer: the uncommitted steps from `from` on
   * (`steps` of them, `bytes` of canonical encoding), at most the `memoryBytes` option's worth;
   * older ones are read from disk when asked for.
   */
  get memoryUse(): { from: number; steps: number; bytes: number } {
    return { from: this.#memoryFrom, steps: this.#memory.length, bytes: this.#memoryBytes }
  }

  /**
   * Appends a complete step and returns after it is on disk (fdatasync). The step must be
   * valid and continue the chain (index = head.nextIndex, prevHash = head.prevHash).
   * Refused steps change nothing. After a failed write or fsync the WAL refuses further
   * appends until reopened (recovery then decides what reached the disk).
   *
   * Group commit: writes are serial (the chain and the step order are fixed when a record is
   * written), but the fdatasync is shared. A durable append returns once a datasync that
   * started after its record was written has finished; one datasync runs at a time and
   * covers every record written before it started, so N appends written while one datasync
   * runs cost one more datasync, not N. Appends return (and `onAppend` listeners run) in
   * index order: an append never returns before an earlier one has, and when a datasync
   * fails every append waiting for it — and every later one — fails.
   *
   * With `durable: false` the record is written but not synced: it survives a crash of this
   * process (it is in the OS page cache) but not of the machine — until the next durable
   * append, whose fdatasync covers every byte written before it. The wallet's steps are
   * always durable, so everything before a signature is on disk when it is made.
   */
  append(step: Step, options: AppendOptions = {}): Promise<WalAppendResult> {
    return this.#acknowledge(
      this.#serial(async () => this.#write(step, options.sidecar)),
      options.durable ?? true,
    )
  }

  /**
   * Calls `listener` after each step is appended (written, and synced when durable), in
   * index order, with the step and its leaf, before the append returns. A listener that
   * throws does not fail the append: the step is on disk whatever it does. Returns a
   * function that removes it.
   */
  onAppend(listener: (appended: WalAppendResult) => void): () => void {
    this.#appendListeners.add(listener)
    return () => void this.#appendListeners.delete(listener)
  }

  /** Links `body` at the head (agentId, index, prevHash) and appends it. */
  appendNext(body: StepBody, options: AppendOptions = {}): Promise<WalAppendResult> {
    return this.#acknowledge(
      this.#serial(async () => this.#write(linkStep(this.#head, body), options.sidecar)),
      options.durable ?? true,
    )
  }

  /**
   * Up to `maxSteps` steps from `index` on, each with its canonical bytes and leaf: what the
   * committer builds a batch from. Steps appended (or recovered) by this process and not yet
   * committed come from memory, exactly as they were written and hashed; older ones (past
   * the memory limit) are read back from disk with every check of {@link readFrom}.
   */
  encodedFrom(index: number, maxSteps = Number.MAX_SAFE_INTEGER): Promise<EncodedStep[]> {
    return this.#serial(async () => {
      const path = this.paths.log
      this.#open()
      if (!Number.isSafeInteger(index) || index < 0) throw new WalAppendError({ path, reason: `cannot read from step ${index}` })
      // only acknowledged steps: a durable one still waiting for its datasync is not handed out
      const end = Math.min(this.#acked, index + maxSteps)
      if (index >= end) return []
      if (index >= this.#memoryFrom) return this.#memory.slice(index - this.#memoryFrom, end - this.#memoryFrom)
      const disk = await this.#readRecords(index, Math.min(end, this.#memoryFrom))
      return end > this.#memoryFrom ? disk.concat(this.#memory.slice(0, end - this.#memoryFrom)) : disk
    })
  }

  /** Makes every appended record durable (fdatasync, shared with concurrent durable appends). */
  sync(): Promise<void> {
    return this.#serial(async () => {
      this.#open()
      if (this.#failure) throw this.#poisoned()
      return this.#written
    }).then((seq) => this.#durable(seq))
  }

  /**
   * Reads every step from disk, checking records and chain. A torn tail (only possible after
   * a failed append) is cut off and returned in `torn`.
   */
  readAll(): Promise<WalReadResult> {
    return this.#serial(async () => {
      const fh = this.#open()
      const kept = this.#scan
      // what open() read, and nothing written since: the disk holds exactly that (this
      // process holds the lock), and open() already cut and reported any torn tail
      if (kept && !this.#failure) return { steps: kept.steps, leaves: kept.leaves, sidecars: kept.sidecars, offsets: kept.offsets, torn: null }
      const scan = await recover(fh, this.paths.log, this.agentId)
      if (scan.torn) this.#onWarning?.(scan.torn)
      // The disk is the truth. A failed append still keeps the WAL refusing appends: after
      // a failed fsync the page cache may show data that never reached the disk, so only a
      // fresh open() may trust the file again.
      this.#size = scan.end
      this.#head = scan.head
      this.#table = StepTable.from(scan.offsets, scan.leaves, scan.steps)
      this.#acked = Math.min(this.#acked, scan.steps.length)
      this.#remember(scan)
      return { steps: scan.steps, leaves: scan.leaves, sidecars: scan.sidecars, offsets: scan.offsets, torn: scan.torn }
    })
  }

  /** Lets go of what `open()` read (TraceWalOptions.keepScan): later `readAll()` calls read the file. */
  releaseScan(): void {
    this.#scan = null
  }

  /**
   * Reads the steps from `index` on (up to `end`, exclusive, when given) — only those bytes —
   * checking each record's checksum and the chain from the leaf of the step before. What a
   * committer needs on every tick, at a cost that does not grow with the whole trace.
   */
  readFrom(index: number, end?: number): Promise<{ steps: Step[]; leaves: Hex[] }> {
    return this.#serial(async () => {
      this.#open()
      if (!Number.isSafeInteger(index) || index < 0) throw new WalAppendError({ path: this.paths.log, reason: `cannot read from step ${index}` })
      if (end !== undefined && !(Number.isSafeInteger(end) && end >= index)) throw new WalAppendError({ path: this.paths.log, reason: `cannot read steps ${index} to ${end}` })
      const read = await this.#readRecords(index, Math.min(end ?? this.#acked, this.#acked))
      return { steps: read.map((e) => e.step), leaves: read.map((e) => e.leaf) }
    })
  }

  /** Steps [from, to) read from disk: checksums, schema and chain checked (from the leaf of step from − 1). */
  async #readRecords(from: number, to: number): Promise<EncodedStep[]> {
    const fh = this.#open()
    const path = this.paths.log
    const table = this.#table
    if (from >= Math.min(to, table.length)) return []
    const start = table.offset(from)
    const stop = to < table.length ? table.offset(to) : this.#size
    const buf = Buffer.allocUnsafe(stop - start)
    let read = 0
    while (read < buf.length) {
      const { bytesRead } = await fh.read(buf, read, buf.length - read, start + read)
      if (bytesRead === 0) break
      read += bytesRead
    }
    const steps: Step[] = []
    const stepLeaves: Hex[] = []
    const payloads: Uint8Array[] = []
    let offset = 0
    while (offset < read) {
      const r = validRecordAt(buf.subarray(0, read), offset)
      if (!r.ok) throw new WalCorruptedError({ path, offset: start + offset, reason: r.reason })
      const { step } = splitPayload(r.payload)
      try {
        const decoded = decodeCheckedStep(step)
        steps.push(decoded.step)
        stepLeaves.push(decoded.leaf)
      } catch (cause) {
        throw new WalCorruptedError({ path, offset: start + offset, reason: `the record is not a valid step: ${(cause as Error).message.split('\n')[0]}` })
      }
      payloads.push(step)
      offset += HEADER_BYTES + r.payload.length
    }
    const before = from === 0 ? genesisHead(this.agentId) : { agentId: this.agentId, nextIndex: from, prevHash: table.leaf(from - 1) }
    let chained: ReturnType<typeof verifyChain>
    try {
      chained = verifyChain(steps, { start: before, leaves: stepLeaves })
    } catch (cause) {
      if (!(cause instanceof TraceChainError)) throw cause
      throw new WalCorruptedError({ path, offset: start, reason: cause.shortMessage })
    }
    // the disk must hold the leaves this WAL acknowledged
    for (const [i, leaf] of chained.leaves.entries()) {
      const expected = table.leaf(from + i)
      if (leaf !== expected) {
        throw new WalCorruptedError({ path, offset: start, reason: `step ${from + i} on disk is not the step that was appended (leaf ${leaf}, expected ${expected})` })
      }
    }
    return steps.map((step, i) => ({ step, bytes: payloads[i]!, leaf: chained.leaves[i]! }))
  }

  /** The committed cursor (the initial one if none was written yet). */
  async readCursor(): Promise<CommittedCursor> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.paths.cursor)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return initialCursor(this.agentId)
      throw new WalCursorError({ path: this.paths.cursor, reason: 'cannot be read', cause: err })
    }
    let cursor: CommittedCursor
    try {
      cursor = decodeCanonical(committedCursorSchema, bytes, 'committed cursor')
    } catch (cause) {
      throw new WalCursorError({ path: this.paths.cursor, reason: 'is damaged', cause })
    }
    if (cursor.agentId !== this.agentId) {
      throw new WalCursorError({ path: this.paths.cursor, reason: `belongs to agent ${cursor.agentId}` })
    }
    return cursor
  }

  /**
   * Replaces the committed cursor atomically. It may only move forward, never past the
   * WAL head, and must be consistent: `pending` starts at nextIndex/nextSequence and
   * `lastCommitted` ends there.
   */
  writeCursor(cursor: CommittedCursor): Promise<void> {
    return this.#serial(async () => {
      this.#open()
      const path = this.paths.cursor
      let next: CommittedCursor
      let text: string
      try {
        ;({ value: next, text } = parseExact(committedCursorSchema, cursor, 'committed cursor'))
      } catch (cause) {
        throw new WalCursorError({ path, reason: 'the new cursor is invalid', cause })
      }
      const current = await this.readCursor()
      const problem = cursorProblem(current, next, this.#head)
      if (problem) throw new WalCursorError({ path, reason: problem })
      await writeFileAtomic(path, new TextEncoder().encode(text))
      this.#committedIndex = next.nextIndex
      this.#forget(Math.min(next.nextIndex, this.#memoryFrom + this.#memory.length) - this.#memoryFrom)
    })
  }

  /** Releases the file and the lock. Pending appends finish first. */
  async close(): Promise<void> {
    this.#scan = null
    await this.#queue.catch(() => {})
    await this.#ackTail
    while (this.#syncRun) await this.#syncRun
    const fh = this.#fh
    if (!fh) return
    this.#fh = null
    try {
      if (!this.#failure) await fh.datasync().catch(() => {})
      await fh.close()
    } finally {
      await this.#lock.release()
    }
  }

  #open(): FileHandle {
    if (!this.#fh) throw new WalAppendError({ path: this.paths.log, reason: 'the WAL is closed' })
    return this.#fh
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return run
  }

  /**
   * Writes one record at the end of the log (serial: called through #serial). Returns the
   * step, its leaf and offset and the record's write sequence number; nothing is synced.
   */
  #write(input: Step, sidecar: Uint8Array | undefined): { appended: WalAppendResult; seq: number } {
    const path = this.paths.log
    const fh = this.#open()
    this.#scan = null
    if (this.#failure) {
      throw new WalAppendError({ path, reason: 'an earlier write failed; reopen the WAL to recover', cause: this.#failure })
    }
    const entry = encodeCheckedStep(input)
    const { step, leaf } = entry
    const head = this.#head
    if (step.agentId !== head.agentId) {
      throw new WalAppendError({ path, reason: `the step belongs to agent ${step.agentId}, this WAL to ${head.agentId}` })
    }
    if (step.index !== head.nextIndex) {
      throw new WalAppendError({ path, reason: `the step has index ${step.index}, the next index is ${head.nextIndex}` })
    }
    if (step.prevHash !== head.prevHash) {
      throw new WalAppendError({ path, reason: `the step's prevHash ${step.prevHash} is not the head leaf ${head.prevHash}` })
    }
    const payload = entry.bytes
    const size = payload.length + (sidecar ? 1 + sidecar.length : 0)
    if (size > MAX_WAL_RECORD_BYTES) {
      throw new WalAppendError({ path, reason: `${sidecar ? 'the step and its sidecar are' : 'the step is'} ${size} bytes, more than ${MAX_WAL_RECORD_BYTES}` })
    }
    if (sidecar?.includes(0)) throw new WalAppendError({ path, reason: 'a sidecar may not hold a 0x00 byte' })
    const record = encodeStepRecord(payload, sidecar)
    const offset = this.#size
    try {
      // A synchronous pwrite: the record goes to the page cache (microseconds), where a
      // FileHandle.write would cost a thread-pool round trip per step. The fdatasync, which
      // waits for the disk, stays asynchronous (#syncLoop).
      let written = 0
      while (written < record.length) written += writeSync(fh.fd, record, written, record.length - written, offset + written)
    } catch (cause) {
      this.#failure = cause
      throw new WalAppendError({ path, reason: 'the write failed', cause })
    }
    this.#size = offset + record.length
    this.#head = { agentId: head.agentId, nextIndex: step.index + 1, prevHash: leaf }
    this.#table.push(offset, leaf, step.kind === 'wallet')
    if (this.#memoryFrom + this.#memory.length === step.index) this.#keep(entry)
    return { appended: { step, leaf, offset }, seq: ++this.#written }
  }

  /**
   * Completes an append whose write is `written`: waits (when durable) for a datasync that
   * covers it, then for every earlier append to be acknowledged, then calls the listeners
   * and returns. Called synchronously in append order, so acknowledgements follow the index.
   */
  #acknowledge(written: Promise<{ appended: WalAppendResult; seq: number }>, durable: boolean): Promise<WalAppendResult> {
    const before = this.#ackTail
    const done = (async () => {
      let w: { appended: WalAppendResult; seq: number }
      try {
        w = await written
      } catch (err) {
        // a refused step changes nothing, but its answer still waits for its turn
        await before
        throw err
      }
      // the datasync is waited for alongside the earlier appends (not after them)
      const synced = durable ? this.#durable(w.seq) : undefined
      synced?.catch(() => {})
      await before
      if (synced) await synced
      else if (this.#failure && w.seq > this.#synced) {
        // written, but an earlier step's datasync failed: refused like any step after a failure
        throw this.#poisoned()
      }
      this.#acked = Math.max(this.#acked, w.appended.step.index + 1)
      for (const listener of this.#appendListeners) {
        try {
          listener(w.appended)
        } catch {
          // an observer's failure is not the log's: the step is written
        }
      }
      return w.appended
    })()
    this.#ackTail = done.then(
      () => {},
      () => {},
    )
    return done
  }

  /** The refusal of an append or sync after a write or fsync failed (the WAL must be reopened). */
  #poisoned(): WalAppendError {
    return new WalAppendError({ path: this.paths.log, reason: 'an earlier write or fsync failed; reopen the WAL to recover', cause: this.#failure })
  }

  /** Resolves once a datasync that started after write `seq` has finished; rejects (and poisons the WAL) if one fails. */
  #durable(seq: number): Promise<void> {
    if (seq <= this.#synced) return Promise.resolve()
    if (this.#failure) {
      return Promise.reject(this.#poisoned())
    }
    return new Promise<void>((resolve, reject) => {
      this.#syncWaiters.push({ seq, resolve, reject })
      if (!this.#syncRun) this.#syncRun = this.#syncLoop()
    })
  }

  /** Runs datasyncs, one at a time, while appends wait for one; each covers every record written before it started. */
  async #syncLoop(): Promise<void> {
    try {
      // let the appends already queued write their records first: one datasync covers them all
      await new Promise<void>((resolve) => setImmediate(resolve))
      while (this.#syncWaiters.length > 0) {
        const target = this.#written
        try {
          await this.#open().datasync()
        } catch (cause) {
          this.#failure ??= cause
          const err = new WalAppendError({ path: this.paths.log, reason: 'the fsync failed', cause })
          for (const w of this.#syncWaiters.splice(0)) w.reject(err)
          return
        }
        this.#synced = Math.max(this.#synced, target)
        const waiting = this.#syncWaiters
        this.#syncWaiters = []
        for (const w of waiting) {
          if (w.seq <= target) w.resolve()
          else this.#syncWaiters.push(w)
        }
      }
    } finally {
      // cleared in the same turn as the last look at the waiters: one added after it starts a new loop
      this.#syncRun = null
    }
  }
}

/** The whole file, read by position (FileHandle.readFile reads from the current position). */
async function readWhole(fh: FileHandle): Promise<Buffer> {
  const { size } = await fh.stat()
  const buf = Buffer.allocUnsafe(size)
  let read = 0
  while (read < size) {
    const { bytesRead } = await fh.read(buf, read, size - read, read)
    if (bytesRead === 0) break
    read += bytesRead
  }
  return buf.subarray(0, read)
}

async function recover(fh: FileHandle, path: string, agentId: string): Promise<WalScan> {
  const buf = await readWhole(fh)
  const scan = scanWal(buf, path, agentId)
  if (scan.torn) {
    await fh.truncate(scan.end)
    await fh.sync()
  }
  return scan
}

/** Rewrites a v1 header as v2 (every v1 record is a v2 record), durably, before any v2 record is written. */
async function upgradeHeader(fh: FileHandle): Promise<void> {
  await fh.write(MAGIC, 0, MAGIC.length, 0)
  await fh.datasync()
}

function cursorProblem(current: CommittedCursor, next: CommittedCursor, head: ChainHead): string | null {
  if (next.agentId !== current.agentId) return `belongs to agent ${current.agentId}, not ${next.agentId}`
  if (next.nextIndex < current.nextIndex) return `nextIndex would move back from ${current.nextIndex} to ${next.nextIndex}`
  if (next.nextSequence < current.nextSequence) {
    return `nextSequence would move back from ${current.nextSequence} to ${next.nextSequence}`
  }
  if (next.nextIndex > head.nextIndex) return `nextIndex ${next.nextIndex} is past the WAL head ${head.nextIndex}`
  const last = next.lastCommitted
  if (last && (last.sequence + 1 !== next.nextSequence || last.firstIndex + last.stepCount !== next.nextIndex)) {
    return 'lastCommitted must end exactly at nextSequence/nextIndex'
  }
  if (!last && (next.nextIndex !== 0 || next.nextSequence !== 0)) return 'lastCommitted is required once a batch is committed'
  const pending = next.pending
  if (pending) {
    if (pending.sequence !== next.nextSequence || pending.firstIndex !== next.nextIndex) {
      return 'pending must start at nextSequence/nextIndex'
    }
    if (pending.firstIndex + pending.stepCount > head.nextIndex) return 'pending covers steps past the WAL head'
  }
  return null
}
