import { DelayedError, Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq'
import { BaseError, isUnrecoverable, retryAfterMs } from '../errors/base.js'
import { JobFailedError, QueueClosedError, VerifierConfigError } from './errors.js'

/**
 * One small job-queue interface with two implementations:
 *
 * - **BullMQ** on Redis (`redisUrl` set): durable, shared by any number of worker
 *   processes or machines; a worker killed mid-job loses its lock and the job is moved
 *   back to the queue by the stalled-job check of another worker.
 * - **in-process** (no Redis): the same semantics inside one process, so a verifier or a
 *   service runs on a fresh machine with nothing but Node.
 *
 * Both: a job id is a deterministic key (adding an id that exists returns the existing
 * job, so retries and duplicates collapse), data must be JSON (BullMQ stores JSON; the
 * in-process queue round-trips it too, so a bigint fails in both), an error with
 * `unrecoverable` set (see `UnrecoverableCovenantError`) fails the job at once, a
 * `RetryLaterCovenantError` puts it back after its `retryAfterMs` without counting an
 * attempt, any other error is retried with exponential backoff.
 */

export type QueueJob<D> = {
  id: string
  name: string
  data: D
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number
}

export type BulkJob<D> = { id: string; data: D; name?: string | undefined }

export type JobHandler<D, R> = (job: QueueJob<D>) => Promise<R>

export type JobCounts = { waiting: number; active: number; delayed: number; completed: number; failed: number }

export type JobQueueOptions = {
  /** Queue name (letters, digits, `-`, `_`, `.`). */
  name: string
  /** Redis URL; when unset the queue runs in this process. */
  redisUrl?: string | undefined
  /** Runs of a job before it fails. @defaultValue 3 */
  attempts?: number | undefined
  /** First retry delay in ms, doubled each retry. @defaultValue 200 */
  backoffMs?: number | undefined
  /** Finished jobs kept for de-duplication and their results. @defaultValue {@link KEEP_FINISHED_JOBS} */
  keepFinished?: number | undefined
  /** BullMQ: ms a worker's lock on a job lasts without renewal. @defaultValue 30000 */
  lockDurationMs?: number | undefined
  /** BullMQ: ms between checks for jobs of dead workers. @defaultValue 30000 */
  stalledIntervalMs?: number | undefined
  /** Key prefix in Redis. @defaultValue 'covenant' */
  prefix?: string | undefined
}

export type ProcessOptions = {
  /** Jobs this worker runs at once. @defaultValue 1 */
  concurrency?: number | undefined
  onEvent?: ((event: WorkerEvent) => void) | undefined
}

export type WorkerEvent =
  | { type: 'active'; id: string; attempt: number }
  | { type: 'completed'; id: string; attempt: number }
  | { type: 'failed'; id: string; attempt: number; error: string; final: boolean }

export interface JobWorker {
  close(): Promise<void>
}

export interface JobQueue<D, R> {
  readonly name: string
  /** `bullmq` (jobs survive this process) or `in-process`. */
  readonly kind: 'bullmq' | 'in-process'
  /** Adds a job unless one with this id exists. */
  add(id: string, data: D, options?: { name?: string | undefined }): Promise<void>
  /**
   * Adds many jobs in one go (BullMQ: one round trip to Redis for the whole batch), each
   * unless one with its id exists; in the order given, so a worker takes them in that order.
   */
  addBulk(jobs: ReadonlyArray<BulkJob<D>>): Promise<void>
  /** Waits for a job added before (by anyone) and returns its result; rejects with {@link JobFailedError}. */
  wait(id: string): Promise<R>
  /** `add` then `wait`. */
  run(id: string, data: D, options?: { name?: string | undefined }): Promise<R>
  /** Starts running jobs in this process. */
  process(handler: JobHandler<D, R>, options?: ProcessOptions): Promise<JobWorker>
  counts(): Promise<JobCounts>
  /** Stops this handle (workers started from it too); queued jobs stay in Redis. */
  close(): Promise<void>
  /** Deletes the queue and every job in it. */
  obliterate(): Promise<void>
}

/** Finished (completed, failed) jobs a queue keeps unless `keepFinished` says otherwise; older ones are removed. */
export const KEEP_FINISHED_JOBS = 10_000

const NAME = /^[A-Za-z0-9_.-]{1,128}$/
const ID = /^[A-Za-z0-9_.\-/]{1,256}$/

function assertPositiveInt(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new VerifierConfigError(`${what} must be an integer greater than 0 (got ${String(value)}).`)
  }
}

function assertJobId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id) || /^\d+$/.test(id)) {
    throw new VerifierConfigError(`Job id ${JSON.stringify(id)} is not valid.`, {
      metaMessages: ['Use letters, digits, `-`, `_`, `.` and `/` (no `:`), and not a plain number.'],
    })
  }
}

/** Refuses data that is not JSON, without copying it (BullMQ serializes the data itself). */
function assertJsonData(data: unknown): void {
  try {
    JSON.stringify(data)
  } catch (cause) {
    throw new VerifierConfigError('Job data must be JSON (write bigints as decimal strings).', { cause })
  }
}

function toJsonData<D>(data: D): D {
  try {
    return JSON.parse(JSON.stringify(data)) as D
  } catch (cause) {
    throw new VerifierConfigError('Job data must be JSON (write bigints as decimal strings).', { cause })
  }
}

/** A BullMQ queue when `redisUrl` is set, an in-process one otherwise. */
export function createJobQueue<D, R>(options: JobQueueOptions): JobQueue<D, R> {
  if (!NAME.test(options.name)) {
    throw new VerifierConfigError(`Queue name ${JSON.stringify(options.name)} is not valid.`, {
      metaMessages: ['Use 1-128 letters, digits, `-`, `_` or `.` (no `:`).'],
    })
  }
  assertPositiveInt(options.attempts, 'attempts')
  assertPositiveInt(options.keepFinished, 'keepFinished')
  assertPositiveInt(options.lockDurationMs, 'lockDurationMs')
  assertPositiveInt(options.stalledIntervalMs, 'stalledIntervalMs')
  if (options.backoffMs !== undefined && (!Number.isFinite(options.backoffMs) || options.backoffMs < 0)) {
    throw new VerifierConfigError('backoffMs must be 0 or more.')
  }
  return options.redisUrl ? new BullJobQueue<D, R>(options) : new InProcessJobQueue<D, R>(options)
}

// ---------------------------------------------------------------------------------------
// in-process

type Entry<R> = {
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed'
  name: string
  data: unknown
  attempt: number
  result?: R
  error?: JobFailedError
  waiters: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }>
}

class InProcessJobQueue<D, R> implements JobQueue<D, R> {
  readonly name: string
  readonly kind = 'in-process' as const
  readonly #attempts: number
  readonly #backoffMs: number
  readonly #keep: number
  readonly #jobs = new Map<string, Entry<R>>()
  readonly #ready: string[] = []
  readonly #finished: string[] = []
  readonly #workers = new Set<InProcessWorker<D, R>>()
  #closed = false

  constructor(o: JobQueueOptions) {
    this.name = o.name
    this.#attempts = o.attempts ?? 3
    this.#backoffMs = o.backoffMs ?? 200
    this.#keep = o.keepFinished ?? KEEP_FINISHED_JOBS
  }

  async add(id: string, data: D, options: { name?: string | undefined } = {}): Promise<void> {
    if (this.#closed) throw new QueueClosedError(`Queue ${this.name} is closed.`)
    assertJobId(id)
    if (this.#jobs.has(id)) return
    this.#jobs.set(id, { state: 'waiting', name: options.name ?? 'job', data: toJsonData(data), attempt: 0, waiters: [] })
    this.#ready.push(id)
    this.#pump()
  }

  async addBulk(jobs: ReadonlyArray<BulkJob<D>>): Promise<void> {
    for (const j of jobs) assertJobId(j.id)
    const data = jobs.map((j) => toJsonData(j.data))
    for (let i = 0; i < jobs.length; i++) await this.add(jobs[i]!.id, data[i]!, { name: jobs[i]!.name })
  }

  wait(id: string): Promise<R> {
    const e = this.#jobs.get(id)
    if (!e) return Promise.reject(new JobFailedError({ jobId: id, reason: 'no such job' }))
    if (e.state === 'completed') return Promise.resolve(e.result as R)
    if (e.state === 'failed') return Promise.reject(e.error)
    if (this.#closed) return Promise.reject(new QueueClosedError(`Queue ${this.name} is closed.`))
    return new Promise<R>((resolve, reject) => e.waiters.push({ resolve, reject }))
  }

  async run(id: string, data: D, options: { name?: string | undefined } = {}): Promise<R> {
    await this.add(id, data, options)
    return this.wait(id)
  }

  async process(handler: JobHandler<D, R>, options: ProcessOptions = {}): Promise<JobWorker> {
    assertPositiveInt(options.concurrency, 'concurrency')
    const w = new InProcessWorker<D, R>(handler, options.concurrency ?? 1, options.onEvent, () => {
      this.#workers.delete(w)
    })
    this.#workers.add(w)
    this.#pump()
    return w
  }

  async counts(): Promise<JobCounts> {
    const c: JobCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 }
    for (const e of this.#jobs.values()) c[e.state]++
    return c
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#workers].map((w) => w.close()))
    for (const e of this.#jobs.values()) {
      for (const w of e.waiters.splice(0)) w.reject(new QueueClosedError(`Queue ${this.name} closed while a job was pending.`))
    }
  }

  async obliterate(): Promise<void> {
    this.#jobs.clear()
    this.#ready.length = 0
    this.#finished.length = 0
  }

  #pump(): void {
    for (const w of this.#workers) {
      while (w.free > 0 && this.#ready.length > 0) {
        const id = this.#ready.shift() as string
        const e = this.#jobs.get(id)
        if (!e || e.state !== 'waiting') continue
        e.state = 'active'
        e.attempt++
        void w.run({ id, name: e.name, data: e.data as D, attempt: e.attempt }).then(
          (result) => this.#done(id, e, { result }),
          (error: unknown) => this.#done(id, e, { error }),
        )
      }
    }
  }

  #done(id: string, e: Entry<R>, outcome: { result?: R; error?: unknown }): void {
    if (!this.#jobs.has(id)) return // obliterated meanwhile
    if ('error' in outcome) {
      const err = outcome.error
      const unrecoverable = isUnrecoverable(err)
      const later = retryAfterMs(err)
      if (later !== undefined && !this.#closed) {
        // refused before it started: not an attempt
        e.attempt--
        e.state = 'delayed'
        setTimeout(() => {
          if (e.state !== 'delayed') return
          e.state = 'waiting'
          this.#ready.push(id)
          this.#pump()
        }, later).unref()
      } else if (!unrecoverable && e.attempt < this.#attempts && !this.#closed) {
        e.state = 'delayed'
        setTimeout(() => {
          if (e.state !== 'delayed') return
          e.state = 'waiting'
          this.#ready.push(id)
          this.#pump()
        }, this.#backoffMs * 2 ** (e.attempt - 1)).unref()
      } else {
        e.state = 'failed'
        e.error = new JobFailedError({ jobId: id, reason: messageOf(err), unrecoverable })
        for (const w of e.waiters.splice(0)) w.reject(e.error)
        this.#retire(id)
      }
    } else {
      e.state = 'completed'
      e.result = toJsonData(outcome.result as R)
      for (const w of e.waiters.splice(0)) w.resolve(e.result as R)
      this.#retire(id)
    }
    this.#pump()
  }

  #retire(id: string): void {
    this.#finished.push(id)
    while (this.#finished.length > this.#keep) this.#jobs.delete(this.#finished.shift() as string)
  }
}

class InProcessWorker<D, R> implements JobWorker {
  #active = new Set<Promise<unknown>>()
  #closed = false

  constructor(
    readonly handler: JobHandler<D, R>,
    readonly concurrency: number,
    readonly onEvent: ((e: WorkerEvent) => void) | undefined,
    readonly onClose: () => void,
  ) {}

  get free(): number {
    return this.#closed ? 0 : this.concurrency - this.#active.size
  }

  run(job: QueueJob<D>): Promise<R> {
    this.onEvent?.({ type: 'active', id: job.id, attempt: job.attempt })
    // a handler that throws synchronously still fails only this job
    const p = Promise.resolve().then(() => this.handler(job))
    this.#active.add(p)
    return p.then(
      (r) => {
        this.#active.delete(p)
        this.onEvent?.({ type: 'completed', id: job.id, attempt: job.attempt })
        return r
      },
      (err: unknown) => {
        this.#active.delete(p)
        this.onEvent?.({ type: 'failed', id: job.id, attempt: job.attempt, error: messageOf(err), final: isUnrecoverable(err) })
        throw err
      },
    )
  }

  async close(): Promise<void> {
    this.#closed = true
    this.onClose()
    await Promise.allSettled([...this.#active])
  }
}

// ---------------------------------------------------------------------------------------
// BullMQ

class BullJobQueue<D, R> implements JobQueue<D, R> {
  readonly name: string
  readonly kind = 'bullmq' as const
  readonly #o: JobQueueOptions
  readonly #url: string
  readonly #queue: Queue
  #events: QueueEvents | undefined
  #eventsReady: Promise<void> | undefined
  readonly #workers = new Set<Worker>()

  constructor(o: JobQueueOptions) {
    this.name = o.name
    this.#o = o
    this.#url = o.redisUrl as string
    this.#queue = new Queue(o.name, {
      connection: { url: this.#url },
      prefix: o.prefix ?? 'covenant',
      defaultJobOptions: {
        attempts: o.attempts ?? 3,
        backoff: { type: 'exponential', delay: o.backoffMs ?? 200 },
        removeOnComplete: { count: o.keepFinished ?? KEEP_FINISHED_JOBS },
        removeOnFail: { count: o.keepFinished ?? KEEP_FINISHED_JOBS },
      },
    })
    // connection errors surface on the calls that need Redis; do not crash the process
    this.#queue.on('error', () => {})
    // every waiter on a job listens for the queue closing
    this.#queue.setMaxListeners(0)
  }

  async add(id: string, data: D, options: { name?: string | undefined } = {}): Promise<void> {
    assertJobId(id)
    assertJsonData(data)
    await this.#queue.add(options.name ?? 'job', data, { jobId: id })
  }

  async addBulk(jobs: ReadonlyArray<BulkJob<D>>): Promise<void> {
    for (const j of jobs) assertJobId(j.id)
    if (jobs.length === 0) return
    for (const j of jobs) assertJsonData(j.data)
    await this.#queue.addBulk(jobs.map((j) => ({ name: j.name ?? 'job', data: j.data, opts: { jobId: j.id } })))
  }

  async wait(id: string): Promise<R> {
    const events = await this.#queueEvents()
    const job = await Job.fromId(this.#queue, id)
    if (!job) throw new JobFailedError({ jobId: id, reason: 'no such job (removed, or never added)' })
    try {
      return (await job.waitUntilFinished(events)) as R
    } catch (err) {
      const reason = messageOf(err)
      throw new JobFailedError({ jobId: id, reason, unrecoverable: reason.startsWith(UNRECOVERABLE_TAG) })
    }
  }

  async run(id: string, data: D, options: { name?: string | undefined } = {}): Promise<R> {
    await this.#queueEvents()
    await this.add(id, data, options)
    return this.wait(id)
  }

  async process(handler: JobHandler<D, R>, options: ProcessOptions = {}): Promise<JobWorker> {
    assertPositiveInt(options.concurrency, 'concurrency')
    const onEvent = options.onEvent
    const worker = new Worker(
      this.name,
      async (job: Job, token?: string) => {
        onEvent?.({ type: 'active', id: job.id as string, attempt: job.attemptsMade + 1 })
        try {
          return await handler({ id: job.id as string, name: job.name, data: job.data as D, attempt: job.attemptsMade + 1 })
        } catch (err) {
          const later = retryAfterMs(err)
          if (later !== undefined) {
            // refused before it started: back to the delayed set, attemptsMade unchanged
            await job.moveToDelayed(Date.now() + later, token)
            throw new DelayedError()
          }
          if (isUnrecoverable(err)) throw new UnrecoverableError(`${UNRECOVERABLE_TAG}${messageOf(err)}`)
          throw err instanceof Error ? err : new Error(messageOf(err))
        }
      },
      {
        connection: { url: this.#url, maxRetriesPerRequest: null },
        prefix: this.#o.prefix ?? 'covenant',
        concurrency: options.concurrency ?? 1,
        lockDuration: this.#o.lockDurationMs ?? 30_000,
        stalledInterval: this.#o.stalledIntervalMs ?? 30_000,
        maxStalledCount: 2,
      },
    )
    worker.on('error', () => {})
    worker.on('completed', (job) => onEvent?.({ type: 'completed', id: job.id as string, attempt: job.attemptsMade }))
    worker.on('failed', (job, err) => {
      if (!job) return
      const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1)
      onEvent?.({ type: 'failed', id: job.id as string, attempt: job.attemptsMade, error: err.message, final })
    })
    await worker.waitUntilReady()
    this.#workers.add(worker)
    return {
      close: async () => {
        this.#workers.delete(worker)
        await worker.close()
      },
    }
  }

  async counts(): Promise<JobCounts> {
    const c = await this.#queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized')
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#workers].map((w) => w.close()))
    this.#workers.clear()
    await this.#events?.close()
    await this.#queue.close()
  }

  async obliterate(): Promise<void> {
    await this.#queue.obliterate({ force: true })
  }

  #queueEvents(): Promise<QueueEvents> {
    this.#eventsReady ??= (async () => {
      this.#events = new QueueEvents(this.name, { connection: { url: this.#url }, prefix: this.#o.prefix ?? 'covenant' })
      this.#events.on('error', () => {})
      await this.#events.waitUntilReady()
    })()
    return this.#eventsReady.then(() => this.#events as QueueEvents)
  }
}

const UNRECOVERABLE_TAG = 'unrecoverable: '

function messageOf(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage
  if (err instanceof Error) return err.message
  return String(err)
}
