import { appendFile } from 'node:fs/promises'
import { bytesToHex, type Account, type Address, type Hex } from 'viem'
import { MAX_BATCH_BYTES, type BatchRef, type CommittedCursor, type TraceWal } from '../trace/index.js'
import { encodedStepsThatFit, encodeEncodedBatch } from '../trace/batch.js'
import { batchingReader, type CovenantWriteClient } from './client.js'
import { commitBatch, coverCalls } from './actions/commitBatch.js'
import { agentAccountAbi, traceLogAbi } from './generated/abis.js'
import { getBatch } from './actions/getBatch.js'
import type { CommitBundler } from './bundler.js'
import { batchHeaderFor, signBatchHeader, type BatchHeader } from './actions/batchHeader.js'
import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

const LOW_192 = (1n << 192n) - 1n

/** What the committer needs from a DA client. */
export type BlobPutter = { put(blob: Uint8Array): Promise<Uint8Array | Hex> }

export type CommitterOptions = {
  wal: TraceWal
  da: BlobPutter
  /** Write client acting as the agent's operator. */
  client: CovenantWriteClient
  agentId: bigint
  /** Most steps in one batch. @defaultValue 1024 */
  maxSteps?: number | undefined
  /** Largest blob. @defaultValue MAX_BATCH_BYTES (16,252,897 bytes: what a 16 MiB EigenDA blob holds) */
  maxBytes?: number | undefined
  /** Append each operator-signed batch header here (JSON lines), e.g. for receipts. */
  headersFile?: string | undefined
  onBatch?: ((batch: CommittedBatchInfo) => void) | undefined
  /** Instrumentation points between the steps of a commit (the crash tests stop the process here). */
  hooks?: CommitterHooks | undefined
  /**
   * The agent's AgentAccount. Each commit then declares how many of its calls the batches
   * cover (TraceLog.commitCovering): call k counts once its wallet step (found by the leaf
   * the account stored) is in this batch or an earlier one, and every call before it does.
   */
  account?: Address | undefined
  /**
   * Send commits through this bundler, shared by the committers of the operator's other
   * agents: batches ready at about the same time go out as one TraceLog bundle (see
   * {@link CommitBundler}). Its client must act as the same operator.
   */
  bundler?: CommitBundler | undefined
}

export type CommitterHooks = {
  /** The blob is on DA; nothing recorded yet. */
  afterPut?: ((ref: BatchRef) => void | Promise<void>) | undefined
  /** The batch is recorded as pending in the cursor; not sent yet. */
  afterPending?: ((ref: BatchRef) => void | Promise<void>) | undefined
  /** The commit is on chain; the cursor has not moved past it yet. */
  afterCommit?: ((ref: BatchRef) => void | Promise<void>) | undefined
}

export type CommittedBatchInfo = BatchRef & {
  txHash: Hex | undefined
  gasUsed: bigint
  header: BatchHeader
  signature: Hex
  /** False when the chain already held this batch (a resumed commit). */
  written: boolean
}

export class CommitConflictError extends UnrecoverableCovenantError {
  override name = 'CommitConflictError' as const
  constructor(agentId: bigint, sequence: number) {
    super(`TraceLog already holds a different batch for agent ${agentId} at sequence ${sequence}.`, {
      metaMessages: [
        'Another process committed for this agent with the same operator key, or the local WAL was replaced.',
        'Stop every other committer for this agent and inspect the WAL and the chain before going on.',
      ],
    })
  }
}

/**
 * Moves steps from the write-ahead log to DA and TraceLog, one batch at a time, so that
 * after a crash at any point it neither loses nor duplicates a batch:
 *
 *   1. build the next batch from the WAL after the cursor, put its blob on DA;
 *   2. record it as `pending` in the cursor (atomic write) — from here on, this exact batch
 *      is what gets committed for this sequence;
 *   3. commit (root, DA commitment, step count) to TraceLog; an identical re-commit is a
 *      no-op on chain, so resending after a crash is safe;
 *   4. advance the cursor past it.
 * A restart finds `pending` and resumes at 3 (checking the chain first).
 */
export type PrepareBatchParameters = {
  /** The first step of the batch (the cursor's nextIndex). */
  nextIndex: number
  /** The batch's sequence number (the cursor's nextSequence). */
  sequence: number
  /** @defaultValue 1024 */
  maxSteps?: number | undefined
  /** @defaultValue MAX_BATCH_BYTES */
  maxBytes?: number | undefined
}

export type PreparedBatch = {
  /** The blob to put on DA. */
  blob: Uint8Array
  /** Its Merkle root over the step leaves. */
  root: Hex
  stepCount: number
  /** Timestamp of the batch's first step. */
  firstTimestamp: number
}

/**
 * The next batch the committer would put on DA: WAL steps from `nextIndex` on, as blob bytes
 * and Merkle root. Null when there are none. The steps' bytes and leaves are the ones the
 * WAL wrote and hashed when they were appended (or checked when it recovered them from
 * disk after a restart): nothing is decoded, validated or hashed again but the tree.
 */
export async function prepareBatch(wal: TraceWal, p: PrepareBatchParameters): Promise<PreparedBatch | null> {
  const maxSteps = p.maxSteps ?? 1024
  const maxBytes = p.maxBytes ?? MAX_BATCH_BYTES
  const steps = await wal.encodedFrom(p.nextIndex, maxSteps)
  if (steps.length === 0) return null
  const chunk = steps.slice(0, encodedStepsThatFit(wal.agentId, steps, maxBytes))
  const { blob, root } = encodeEncodedBatch(wal.agentId, p.sequence, chunk, { maxBytes })
  return { blob, root, stepCount: chunk.length, firstTimestamp: chunk[0]!.step.timestamp }
}

/** How many of the account's call records #callsCovered reads at once. */
const CALLS_READ_AT_ONCE = 16

export class Committer {
  readonly #o: Required<Pick<CommitterOptions, 'maxSteps' | 'maxBytes'>> & CommitterOptions
  /** The flush under way, and the WAL index it commits up to (the head when it started). */
  #running: { end: number; done: Promise<CommittedBatchInfo[]> } | undefined
  /** The flush that starts when the running one ends: for callers that wrote past its end. */
  #queued: Promise<CommittedBatchInfo[]> | undefined
  #timer: NodeJS.Timeout | undefined
  #oldestUncommittedAt: number | undefined
  /**
   * Low 192 bits of the leaf (what AgentAccount stores per call) → step index, for the wallet
   * steps (only a wallet step's leaf can be a call's) not yet known to be covered calls.
   */
  readonly #leafIndex = new Map<bigint, number>()
  /** The steps up to here are in #leafIndex (or were, and their calls are covered). */
  #leavesScanned = 0
  /** The leaf of each call found in #leafIndex, by call sequence, until the chain counts it covered. */
  readonly #foundCalls = new Map<number, bigint>()
  readonly #detach: (() => void) | undefined
  /** The client's node, its reads made together sent as one JSON-RPC batch (see #commit). */
  readonly #reader: CovenantWriteClient['publicClient']

  constructor(options: CommitterOptions) {
    if (options.maxSteps !== undefined && (!Number.isInteger(options.maxSteps) || options.maxSteps < 1)) {
      throw new BaseError('maxSteps must be a positive integer.')
    }
    const operator = options.client.walletClient.account.address
    if (options.bundler && options.bundler.operator.toLowerCase() !== operator.toLowerCase()) {
      throw new BaseError(`The bundler sends as ${options.bundler.operator}, but this committer's operator is ${operator}: give each operator its own CommitBundler.`)
    }
    this.#o = { maxSteps: 1024, maxBytes: MAX_BATCH_BYTES, ...options }
    this.#reader = batchingReader(options.client)
    this.#detach = options.bundler?.attach()
  }

  /**
   * Commits every step written to the WAL before the call (and resolves with the batches
   * committed for it). A call while a flush is running shares it when that flush covers
   * every step written so far; otherwise it waits for it and shares the one flush that
   * follows (a flush commits only what was written before it started, so the timer's flush
   * could otherwise leave a step written since — a wallet step, say — to the next tick, past
   * its deadline).
   */
  flush(): Promise<CommittedBatchInfo[]> {
    const running = this.#running
    if (!running) return this.#start()
    if (running.end >= this.#o.wal.head.nextIndex) return running.done
    this.#queued ??= running.done
      .catch(() => [] as CommittedBatchInfo[])
      .then(async (before) => {
        this.#queued = undefined
        return [...before, ...(await (this.#running?.done ?? this.#start()))]
      })
    return this.#queued
  }

  #start(): Promise<CommittedBatchInfo[]> {
    const end = this.#o.wal.head.nextIndex
    const done = this.#flush(end).finally(() => {
      if (this.#running?.done === done) this.#running = undefined
    })
    this.#running = { end, done }
    return done
  }

  /** Flushes every `intervalMs` until {@link stop}. Errors go to `onError`; each flush that succeeds to `onOk`. */
  start(intervalMs: number, onError: (err: unknown) => void, onOk?: () => void): void {
    if (this.#timer) return
    // ticks fall on multiples of the interval (wall clock), so one operator's committers with
    // the same interval flush together and their batches can share a bundle (`bundler`)
    const untilNext = () => intervalMs - (Date.now() % intervalMs)
    const tick = () => {
      this.flush()
        .then(() => onOk?.(), onError)
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(tick, untilNext())
        })
    }
    this.#timer = setTimeout(tick, untilNext())
  }

  /**
   * Timestamp (ms, the step's own) of the oldest WAL step not yet committed, as the last
   * flush saw it; undefined when that flush committed everything it read. A flush that
   * fails (DA or chain down) leaves it set, so callers can tell how far behind the trace is.
   */
  get oldestUncommittedAt(): number | undefined {
    return this.#oldestUncommittedAt
  }

  /**
   * What the committer holds to match an agent account's calls to their steps: the wallet
   * steps not yet known to be covered calls (`callLeaves`). It grows with payments whose calls
   * are not covered yet, not with the trace.
   */
  get memoryUse(): { callLeaves: number } {
    return { callLeaves: this.#leafIndex.size }
  }

  /** Stops the timer, waits for a running flush and leaves the bundler (when it has one). */
  async stop(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running?.done.catch(() => {})
    await this.#queued?.catch(() => {})
    this.#detach?.()
  }

  /** Commits the uncommitted steps before `end`: those written before it started (a busy agent cannot keep it going). */
  async #flush(end: number): Promise<CommittedBatchInfo[]> {
    const { wal, agentId } = this.#o
    const done: CommittedBatchInfo[] = []
    // only the uncommitted steps are looked at (held in memory by the WAL since they were
    // appended): the cost of a tick does not grow with the trace
    let cursor = await wal.readCursor()
    const oldest = async () => (cursor.nextIndex < end ? (await wal.encodedFrom(cursor.nextIndex, 1))[0]?.step.timestamp : undefined)
    this.#oldestUncommittedAt = await oldest()
    if (cursor.pending) {
      done.push(await this.#commit(cursor.pending))
      cursor = await this.#advance(cursor, cursor.pending)
      this.#oldestUncommittedAt = await oldest()
    }
    while (cursor.nextIndex < end) {
      const maxSteps = Math.min(this.#o.maxSteps ?? 1024, end - cursor.nextIndex)
      const batch = await prepareBatch(wal, { nextIndex: cursor.nextIndex, sequence: cursor.nextSequence, maxSteps, maxBytes: this.#o.maxBytes })
      if (!batch) break
      const put = await this.#o.da.put(batch.blob)
      const ref: BatchRef = {
        sequence: cursor.nextSequence,
        firstIndex: cursor.nextIndex,
        stepCount: batch.stepCount,
        root: batch.root,
        daCommitment: typeof put === 'string' ? (put.toLowerCase() as Hex) : bytesToHex(put),
      }
      await this.#o.hooks?.afterPut?.(ref)
      cursor = { ...cursor, pending: ref }
      await wal.writeCursor(cursor)
      await this.#o.hooks?.afterPending?.(ref)
      done.push(await this.#commit(ref))
      await this.#o.hooks?.afterCommit?.(ref)
      cursor = await this.#advance(cursor, ref)
      this.#oldestUncommittedAt = await oldest()
    }
    // a call executed after the batch holding its step was committed: cover it now
    if (this.#o.account && done.length === 0 && cursor.nextIndex > 0) {
      const { covered, n } = await this.#callsCovered(cursor.nextIndex)
      if (n > covered) {
        const cover = () => coverCalls(this.#o.client, { agentId, callsCovered: n })
        await (this.#o.bundler ? this.#o.bundler.serial(cover) : cover())
      }
    }
    return done
  }

  /**
   * How many of the account's calls are covered once steps [0, endIndex) are committed:
   * from the chain's count on, call by call, while the call's wallet step is among them.
   */
  async #callsCovered(endIndex: number): Promise<{ covered: number; n: number }> {
    const { client, agentId } = this.#o
    const account = this.#o.account!
    const read = this.#reader
    const [covered, count] = await Promise.all([
      read.readContract({ address: client.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [agentId] }),
      read.readContract({ address: account, abi: agentAccountAbi, functionName: 'callCount' }),
    ])
    const scanned = this.#o.wal.walletStepsFrom(this.#leavesScanned)
    for (const { index, leaf } of scanned.steps) this.#leafIndex.set(BigInt(leaf) & LOW_192, index)
    this.#leavesScanned = scanned.end
    // The calls below `covered` are covered on chain: their leaves are never looked up again.
    // Only those of calls found here go (not every leaf before them: a wallet step written
    // earlier may still become a later call), so the map grows with wallet steps, not with the
    // trace: those never found as calls, and, after a restart, those of the calls covered before.
    for (const [k, leafLow] of this.#foundCalls) {
      if (k >= covered) continue
      this.#leafIndex.delete(leafLow)
      this.#foundCalls.delete(k)
    }
    // the calls' leaves are read CALLS_READ_AT_ONCE at a time, side by side (one JSON-RPC
    // batch, one HTTP request, per chunk instead of one per call); reading stops at the first
    // call not covered
    let n = covered
    for (let from = covered; from < count; from += CALLS_READ_AT_ONCE) {
      const ks = Array.from({ length: Math.min(CALLS_READ_AT_ONCE, count - from) }, (_, i) => from + i)
      const leaves = await Promise.all(ks.map((k) => read.readContract({ address: account, abi: agentAccountAbi, functionName: 'callAt', args: [k] })))
      for (const [i, [leafLow]] of leaves.entries()) {
        const index = this.#leafIndex.get(leafLow)
        if (index === undefined || index >= endIndex) return { covered, n }
        this.#foundCalls.set(ks[i]!, leafLow)
        n = ks[i]! + 1
      }
    }
    return { covered, n }
  }

  async #commit(ref: BatchRef): Promise<CommittedBatchInfo> {
    const { client, agentId } = this.#o
    const header = batchHeaderFor({
      agentId,
      sequence: BigInt(ref.sequence),
      merkleRoot: ref.root,
      daCommitment: ref.daCommitment,
      stepCount: ref.stepCount,
    })
    // whether the batch is on chain already (a restart after its commit) and, beside it, how
    // many account calls it covers: their reads go out together, as JSON-RPC batches
    const [existing, covering] = await Promise.all([
      getBatch({ ...client, publicClient: this.#reader }, agentId, BigInt(ref.sequence)),
      this.#o.account ? this.#callsCovered(ref.firstIndex + ref.stepCount) : undefined,
    ])
    let txHash: Hex | undefined
    let gasUsed = 0n
    let written = false
    if (existing) {
      if (
        existing.merkleRoot !== ref.root ||
        existing.daCommitmentHash !== header.daCommitmentHash ||
        existing.stepCount !== ref.stepCount
      ) {
        throw new CommitConflictError(agentId, ref.sequence)
      }
    } else {
      const callsCovered = covering?.n
      const params = {
        agentId,
        sequence: BigInt(ref.sequence),
        merkleRoot: ref.root,
        daCommitment: ref.daCommitment,
        stepCount: ref.stepCount,
        callsCovered,
      }
      const r = this.#o.bundler ? await this.#o.bundler.commit(params) : await commitBatch(client, params)
      txHash = r.hash
      gasUsed = r.gasUsed
      written = r.written
    }
    const signature = await signBatchHeader(client.walletClient.account as Account, client.deployment, header)
    if (this.#o.headersFile) {
      const line = JSON.stringify({ header, signature }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
      await appendFile(this.#o.headersFile, `${line}\n`, { mode: 0o600 })
    }
    const info: CommittedBatchInfo = { ...ref, txHash, gasUsed, header, signature, written }
    this.#o.onBatch?.(info)
    return info
  }

  async #advance(cursor: CommittedCursor, ref: BatchRef): Promise<CommittedCursor> {
    const next: CommittedCursor = {
      ...cursor,
      nextIndex: ref.firstIndex + ref.stepCount,
      nextSequence: ref.sequence + 1,
      lastCommitted: ref,
      pending: null,
    }
    await this.#o.wal.writeCursor(next)
    return next
  }
}
