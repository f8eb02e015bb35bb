import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { MAX_TASK_EVENTS, MAX_TASK_STEPS, progressEventSchema, stepEventSchema, type StepEvent } from './taskFeed.js'
import { isFinished, type TaskCommitmentEntry, taskCommitmentEntrySchema, taskCommitmentSchema, withCommitmentEntries } from './taskCommitments.js'
import { TurnBatch } from './turnBatch.js'

/** Where a task stands. `failed` covers policy refusals (final) and exhausted retries. */
export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed'] as const
export type TaskStatus = (typeof TASK_STATUSES)[number]

const json = z.json()

export const taskStateSchema = z.object({
  taskId: z.string(),
  agentId: z.string(),
  agentName: z.string(),
  status: z.enum(TASK_STATUSES),
  task: json,
  createdAt: z.number(),
  updatedAt: z.number(),
  attempts: z.number().int(),
  result: z
    .object({ output: json, txHashes: z.array(z.string()), stepIndices: z.array(z.number().int()) })
    .nullable(),
  error: z.object({ name: z.string(), message: z.string(), final: z.boolean() }).nullable(),
  /** The committed batches holding the task's steps, once committed. */
  commitments: z.array(taskCommitmentSchema),
  /** Progress lines, in order (the last MAX_TASK_EVENTS). */
  events: z.array(progressEventSchema),
  /** The action's trace steps as they were appended, in order (the last MAX_TASK_STEPS). */
  steps: z.array(stepEventSchema).optional(),
  /** The last number given to a progress line or step: the stream's event ids. */
  lastSeq: z.number().int().min(0).optional(),
})
export type TaskState = z.infer<typeof taskStateSchema>

/**
 * A change of a task: `state` as written, or none when committed batches were recorded for
 * the task ({@link TaskStore.addCommitments}): a listener that wants it reads it (`get`).
 */
export type TaskEvent = { taskId: string; state?: TaskState | undefined }

/**
 * A task's state as the API stores it when it queues the task. The worker builds the same
 * from the job (`TaskJobData.queuedAt`) and hands it to {@link TaskStore.update} as the state
 * it expects, so a task's first update needs no read (see RedisTaskStore).
 */
export function queuedTaskState(p: { taskId: string; agentId: string; agentName: string; task: z.infer<typeof json>; at: number }): TaskState {
  return {
    taskId: p.taskId,
    agentId: p.agentId,
    agentName: p.agentName,
    status: 'queued',
    task: p.task,
    createdAt: p.at,
    updatedAt: p.at,
    attempts: 0,
    result: null,
    error: null,
    commitments: [],
    events: [{ at: p.at, message: 'queued', seq: 1 }],
    steps: [],
    lastSeq: 1,
  }
}

export type TaskUpdateOptions = {
  /**
   * The state the caller expects the task to hold, used as the update's base when this
   * process has no state of it cached (saving a read). A hint only: the write is made only if
   * the task holds exactly this state, else the update is made again from what it holds.
   */
  expected?: TaskState | undefined
}

/**
 * Task status, shared by the HTTP API and the workers: Redis when the service runs on
 * BullMQ (any process can read any task), memory otherwise. Updates are published so the
 * API can stream them as server-sent events.
 */
export interface TaskStore {
  /** Creates the task unless one with this id exists; returns the stored state. */
  create(state: TaskState): Promise<{ state: TaskState; created: boolean }>
  /** The task's state, with the batches recorded beside it merged in (see taskCommitments.ts). */
  get(taskId: string): Promise<TaskState | undefined>
  /**
   * Updates the task with `patch`. A finished task's patch gets its state with the batches
   * recorded beside it merged in, so what it writes keeps the progress lines readers saw.
   */
  update(taskId: string, patch: (s: TaskState) => TaskState, options?: TaskUpdateOptions): Promise<TaskState | undefined>
  /**
   * Records committed batches holding steps of these tasks, beside each task's state (one
   * write for all of them; see taskCommitments.ts for why and what readers then see), and
   * tells subscribers. Tasks the store does not hold are left out.
   */
  addCommitments(items: readonly { taskId: string; entry: TaskCommitmentEntry }[]): Promise<void>
  list(options?: { agentId?: string | undefined; limit?: number | undefined }): Promise<TaskState[]>
  subscribe(listener: (e: TaskEvent) => void): Promise<() => void>
  close(): Promise<void>
}

export function createTaskStore(options: { redisUrl?: string | undefined; prefix?: string | undefined } = {}): TaskStore {
  return options.redisUrl ? new RedisTaskStore(options.redisUrl, options.prefix ?? 'covenant') : new MemoryTaskStore()
}


/** The last number handed out in the task's feed (records from before numbering: none). */
function lastSeqOf(s: TaskState): number {
  return s.lastSeq ?? 0
}

/** Adds a progress line, numbered next in the task's feed. */
export function appendEvent(s: TaskState, message: string, at = Date.now()): TaskState {
  const seq = lastSeqOf(s) + 1
  return { ...s, updatedAt: at, lastSeq: seq, events: [...s.events, { at, message, seq }].slice(-MAX_TASK_EVENTS) }
}

/**
 * Adds a step event (made by `make` with its number, next in the task's feed), unless the
 * task already has the step: a worker re-running a job, or two processes' updates, never
 * list a step twice.
 */
export function appendStep(s: TaskState, make: (seq: number) => StepEvent, at = Date.now()): TaskState {
  const seq = lastSeqOf(s) + 1
  const step = make(seq)
  if (s.steps?.some((x) => x.index === step.index)) return s
  return { ...s, updatedAt: at, lastSeq: seq, steps: [...(s.steps ?? []), step].slice(-MAX_TASK_STEPS) }
}

class MemoryTaskStore implements TaskStore {
  readonly #tasks = new Map<string, TaskState>()
  readonly #commits = new Map<string, Map<number, TaskCommitmentEntry>>()
  readonly #events = new EventEmitter().setMaxListeners(0)

  #merged(s: TaskState): TaskState {
    const entries = this.#commits.get(s.taskId)
    return entries ? withCommitmentEntries(s, [...entries.values()]) : s
  }

  async create(state: TaskState) {
    const existing = this.#tasks.get(state.taskId)
    if (existing) return { state: existing, created: false }
    this.#tasks.set(state.taskId, state)
    this.#events.emit('event', { taskId: state.taskId, state })
    return { state, created: true }
  }
  async get(taskId: string) {
    const s = this.#tasks.get(taskId)
    return s && this.#merged(s)
  }
  async update(taskId: string, patch: (s: TaskState) => TaskState) {
    const s = this.#tasks.get(taskId)
    if (!s) return undefined
    const next = patch(isFinished(s) ? this.#merged(s) : s)
    this.#tasks.set(taskId, next)
    this.#events.emit('event', { taskId, state: next })
    return next
  }
  async list(o: { agentId?: string | undefined; limit?: number | undefined } = {}) {
    return [...this.#tasks.values()]
      .filter((t) => o.agentId === undefined || t.agentId === o.agentId)
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, o.limit ?? 100)
      .map((t) => this.#merged(t))
  }
  async addCommitments(items: readonly { taskId: string; entry: TaskCommitmentEntry }[]) {
    const told = new Set<string>()
    for (const { taskId, entry } of items) {
      if (!this.#tasks.has(taskId)) continue
      let entries = this.#commits.get(taskId)
      if (!entries) this.#commits.set(taskId, (entries = new Map()))
      entries.set(entry.commitment.sequence, entry)
      told.add(taskId)
    }
    for (const taskId of told) this.#events.emit('event', { taskId })
  }
  async subscribe(listener: (e: TaskEvent) => void) {
    this.#events.on('event', listener)
    return () => void this.#events.off('event', listener)
  }
  async close() {
    this.#events.removeAllListeners()
  }
}

// Updates are read-modify-write with a compare-and-set in Redis: one Lua script writes the
// new state (and publishes it) only if the key still holds the state the update was made
// from — compared by SHA-1, so the old state is not sent again — and otherwise answers what
// the key holds now, so the update is made again from that without another read. The state
// a process last wrote or read is kept (a bounded cache), so an update of a task this process
// touched lately is one round trip. Updates of one task from one process are queued, and those
// that pile up while one is written go in the next write together (a worker's progress line,
// step events and result for one task are one or two writes, not one each). The channel
// carries the state as written, the very string the key holds. Creating a task is one script
// too: SET NX, ZADD, PUBLISH. Commands on the connection are auto-pipelined.
const CAS = `local current = redis.call('GET', KEYS[1])
if not current then return false end
if redis.sha1hex(current) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('PUBLISH', KEYS[2], ARGV[2])
  return 1
end
return current`
// The same compare-and-set for several tasks in one call: KEYS are the tasks' keys, ARGV[1]
// the channel, then per key its expected SHA-1 and new state. Answers per key 1 (written), 0
// (no such task) or the state it holds (changed meanwhile): a table with no nil holes.
const CAS_MANY = `local out = {}
for i = 1, #KEYS do
  local current = redis.call('GET', KEYS[i])
  if not current then
    out[i] = 0
  elseif redis.sha1hex(current) == ARGV[2 * i] then
    redis.call('SET', KEYS[i], ARGV[2 * i + 1])
    redis.call('PUBLISH', ARGV[1], ARGV[2 * i + 1])
    out[i] = 1
  else
    out[i] = current
  end
end
return out`
const CREATE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PUBLISH', KEYS[3], ARGV[1])
  return false
end
return redis.call('GET', KEYS[1])`

// CREATE for several tasks in one call: KEYS[1] is the index, KEYS[2..] the tasks' keys;
// ARGV[1] the channel, then per task its state, score and id. Answers per task 0 (created)
// or the state it already holds.
const CREATE_MANY = `local out = {}
for i = 2, #KEYS do
  local a = 2 + 3 * (i - 2)
  if redis.call('SET', KEYS[i], ARGV[a], 'NX') then
    redis.call('ZADD', KEYS[1], ARGV[a + 1], ARGV[a + 2])
    redis.call('PUBLISH', ARGV[1], ARGV[a])
    out[i - 1] = 0
  else
    out[i - 1] = redis.call('GET', KEYS[i])
  end
end
return out`

// Committed batches recorded beside tasks (see taskCommitments.ts): KEYS are pairs (the
// task's key, its batches' hash); ARGV[1] the notice channel, then per task the hash field
// (the batch's sequence) and the entry. A task that does not exist is left out. Publishes
// the ids of the tasks written, as a JSON array (one notice), and answers how many.
const ADD_COMMITS = `local ids = {}
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local a = 2 + 3 * ((i - 1) / 2)
    redis.call('HSET', KEYS[i + 1], ARGV[a], ARGV[a + 1])
    ids[#ids + 1] = ARGV[a + 2]
  end
end
if #ids > 0 then redis.call('PUBLISH', ARGV[1], cjson.encode(ids)) end
return #ids`

type CovenantRedis = Redis & {
  covenantAddCommits(numberOfKeys: number, ...keysThenArgs: string[]): Promise<number>
  covenantCas(key: string, channel: string, expectedSha1: string, next: string): Promise<number | string | null>
  covenantCasMany(numberOfKeys: number, ...keysThenArgs: string[]): Promise<(number | string)[]>
  covenantCreateMany(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<(number | string)[]>
  covenantCreate(key: string, index: string, channel: string, state: string, score: number, id: string): Promise<string | null>
}

/** Task states a process keeps, as it last wrote or read them (the oldest drop off first). */
const CACHED_STATES = 4_096

/** Compare-and-sets (and creates) of different tasks made in one turn of the event loop go to Redis in one script call of at most this many. */
const CALLS_PER_SCRIPT = 256

type Known = { raw: string; state: TaskState }
type PendingUpdate = { patch: (s: TaskState) => TaskState; expected: TaskState | undefined; resolve: (s: TaskState | undefined) => void; reject: (err: unknown) => void }

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex')
/** A commit notice (ADD_COMMITS): the ids of the tasks it recorded batches for. */
const taskIdsSchema = z.array(z.string())
/** JSON from Redis (an entry, a notice) or undefined when it is not JSON: the schema then refuses it. */
const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

class RedisTaskStore implements TaskStore {
  readonly #redis: CovenantRedis
  readonly #sub: Redis
  readonly #prefix: string
  readonly #emitter = new EventEmitter().setMaxListeners(0)
  #subscribed = false
  /** The last state seen of recently touched tasks (a hint: the compare-and-set decides). */
  readonly #known = new Map<string, Known>()
  /** Updates waiting for their task's write in flight, by task. */
  readonly #queued = new Map<string, PendingUpdate[]>()
  /** Compare-and-sets sent together (see #cas). */
  readonly #casBatch = new TurnBatch<{ key: string; expectedSha1: string; next: string }, number | string | null>({
    maxBatch: CALLS_PER_SCRIPT,
    one: (c) => this.#redis.covenantCas(c.key, this.#channel, c.expectedSha1, c.next),
    many: async (part) => {
      const args: string[] = part.map((c) => c.key)
      args.push(this.#channel)
      for (const c of part) args.push(c.expectedSha1, c.next)
      return (await this.#redis.covenantCasMany(part.length, ...args)).map((a) => (a === 0 ? null : a))
    },
  })
  /** Creates sent together: a bulk POST creates its tasks at once. */
  readonly #createBatch = new TurnBatch<{ key: string; state: string; score: number; id: string }, string | null>({
    maxBatch: CALLS_PER_SCRIPT,
    one: (c) => this.#redis.covenantCreate(c.key, this.#index, this.#channel, c.state, c.score, c.id),
    many: async (part) => {
      const args: (string | number)[] = [this.#index, ...part.map((c) => c.key), this.#channel]
      for (const c of part) args.push(c.state, c.score, c.id)
      return (await this.#redis.covenantCreateMany(part.length + 1, ...args)).map((a) => (typeof a === 'string' ? a : null))
    },
  })

  constructor(url: string, prefix: string) {
    this.#redis = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false, enableAutoPipelining: true }) as CovenantRedis
    this.#redis.defineCommand('covenantCas', { numberOfKeys: 2, lua: CAS })
    this.#redis.defineCommand('covenantCasMany', { lua: CAS_MANY })
    this.#redis.defineCommand('covenantCreateMany', { lua: CREATE_MANY })
    this.#redis.defineCommand('covenantCreate', { numberOfKeys: 3, lua: CREATE })
    this.#redis.defineCommand('covenantAddCommits', { lua: ADD_COMMITS })
    this.#sub = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: true })
    // errors surface on the commands that need Redis; without a listener ioredis prints
    // every failed reconnect with a stack trace while Redis is down
    this.#redis.on('error', () => {})
    this.#sub.on('error', () => {})
    this.#prefix = prefix
  }
  #key(id: string) {
    return `${this.#prefix}:task:${id}`
  }
  /** The committed batches recorded beside a task (a hash: sequence → entry). */
  #commitsKey(id: string) {
    return `${this.#prefix}:task:${id}:commits`
  }
  get #commitsChannel() {
    return `${this.#prefix}:task-commits`
  }
  get #index() {
    return `${this.#prefix}:tasks`
  }
  get #channel() {
    return `${this.#prefix}:task-events`
  }
  #remember(taskId: string, known: Known | undefined) {
    this.#known.delete(taskId)
    if (!known) return
    this.#known.set(taskId, known)
    if (this.#known.size > CACHED_STATES) this.#known.delete(this.#known.keys().next().value as string)
  }
  /** A state read from Redis: checked (another process, or an older version, wrote it). */
  #parse(raw: string): Known {
    return { raw, state: taskStateSchema.parse(JSON.parse(raw)) }
  }
  async create(state: TaskState) {
    const raw = JSON.stringify(state)
    const existing = await this.#createBatch.add({ key: this.#key(state.taskId), state: raw, score: state.createdAt, id: state.taskId })
    if (existing === null) return { state, created: true }
    return { state: this.#parse(existing).state, created: false }
  }
  async get(taskId: string) {
    // one round trip: the connection pipelines the two reads
    const [raw, entries] = await Promise.all([this.#redis.get(this.#key(taskId)), this.#entries(taskId)])
    return raw ? withCommitmentEntries(this.#parse(raw).state, entries) : undefined
  }
  /** The batches recorded beside a task; an entry that does not parse (not written by a store) is left out. */
  async #entries(taskId: string): Promise<TaskCommitmentEntry[]> {
    const fields = await this.#redis.hgetall(this.#commitsKey(taskId))
    const out: TaskCommitmentEntry[] = []
    for (const value of Object.values(fields)) {
      const parsed = taskCommitmentEntrySchema.safeParse(safeJson(value))
      if (parsed.success) out.push(parsed.data)
    }
    return out
  }
  async addCommitments(items: readonly { taskId: string; entry: TaskCommitmentEntry }[]) {
    for (let i = 0; i < items.length; i += CALLS_PER_SCRIPT) {
      const part = items.slice(i, i + CALLS_PER_SCRIPT)
      const keys: string[] = []
      const args: string[] = [this.#commitsChannel]
      for (const { taskId, entry } of part) {
        keys.push(this.#key(taskId), this.#commitsKey(taskId))
        args.push(String(entry.commitment.sequence), JSON.stringify(entry), taskId)
      }
      await this.#redis.covenantAddCommits(keys.length, ...keys, ...args)
    }
  }
  update(taskId: string, patch: (s: TaskState) => TaskState, options?: TaskUpdateOptions): Promise<TaskState | undefined> {
    return new Promise((resolve, reject) => {
      const update = { patch, expected: options?.expected, resolve, reject }
      const queued = this.#queued.get(taskId)
      if (queued) {
        queued.push(update)
        return
      }
      this.#queued.set(taskId, [update])
      void this.#drain(taskId)
    })
  }
  /** Writes the task's queued updates, those queued meanwhile together, until none is left. */
  async #drain(taskId: string): Promise<void> {
    const key = this.#key(taskId)
    for (;;) {
      const batch = this.#queued.get(taskId) ?? []
      if (batch.length === 0) {
        this.#queued.delete(taskId)
        return
      }
      this.#queued.set(taskId, [])
      try {
        let base = this.#known.get(taskId)
        // the caller's expected state, unread: the compare-and-set below checks it byte for byte
        const expected = base ? undefined : batch.find((u) => u.expected !== undefined)?.expected
        if (expected) base = { raw: JSON.stringify(expected), state: expected }
        if (!base) {
          const raw = await this.#redis.get(key)
          base = raw ? this.#parse(raw) : undefined
        }
        let next: TaskState | undefined
        for (let attempt = 0; base && attempt < 50; attempt++) {
          // a finished task is updated from what readers see of it: its recorded batches merged in
          let s = isFinished(base.state) ? withCommitmentEntries(base.state, await this.#entries(taskId)) : base.state
          for (const u of [...batch]) {
            try {
              s = u.patch(s)
            } catch (err) {
              // a patch that throws fails its own update only
              batch.splice(batch.indexOf(u), 1)
              u.reject(err)
            }
          }
          const written = JSON.stringify(s)
          const r = await this.#cas(key, sha1(base.raw), written)
          if (r === 1) {
            next = s
            this.#remember(taskId, { raw: written, state: s })
            break
          }
          // changed meanwhile (another process): made again from what the key holds now
          base = typeof r === 'string' ? this.#parse(r) : undefined
        }
        if (base && !next) throw new Error(`task ${taskId}: too many concurrent updates`)
        if (!base) this.#remember(taskId, undefined)
        for (const u of batch) u.resolve(next)
      } catch (err) {
        this.#remember(taskId, undefined)
        for (const u of batch) u.reject(err)
      }
    }
  }
  /**
   * One compare-and-set (CAS above), sent with the others made in the same turn of the event
   * loop: a worker finishes many tasks at once and a commit touches every task of its batch,
   * and one script call for all of them costs Redis and this process far less than one each.
   * Each task's write is still its own compare-and-set.
   */
  #cas(key: string, expectedSha1: string, next: string): Promise<number | string | null> {
    return this.#casBatch.add({ key, expectedSha1, next })
  }

  async list(o: { agentId?: string | undefined; limit?: number | undefined } = {}) {
    const limit = o.limit ?? 100
    const ids = await this.#redis.zrevrange(this.#index, 0, o.agentId === undefined ? limit - 1 : 10 * limit)
    const states = (await Promise.all(ids.map((id) => this.get(id)))).filter((s): s is TaskState => !!s)
    return states.filter((t) => o.agentId === undefined || t.agentId === o.agentId).slice(0, limit)
  }
  async subscribe(listener: (e: TaskEvent) => void) {
    if (!this.#subscribed) {
      this.#subscribed = true
      await this.#sub.connect()
      await this.#sub.subscribe(this.#channel, this.#commitsChannel)
      this.#sub.on('message', (channel, msg: string) => {
        if (channel === this.#commitsChannel) {
          const ids = taskIdsSchema.safeParse(safeJson(msg))
          if (ids.success) for (const taskId of ids.data) this.#emitter.emit('event', { taskId })
          return
        }
        try {
          const { state } = this.#parse(msg)
          this.#emitter.emit('event', { taskId: state.taskId, state })
        } catch {
          // not ours: ignore
        }
      })
    }
    this.#emitter.on('event', listener)
    return () => void this.#emitter.off('event', listener)
  }
  async close() {
    this.#emitter.removeAllListeners()
    this.#redis.disconnect()
    this.#sub.disconnect()
  }

  /** Deletes every task under this prefix (tests). */
  async clear() {
    this.#known.clear()
    const ids = await this.#redis.zrange(this.#index, 0, -1)
    if (ids.length) await this.#redis.del(...ids.flatMap((id) => [this.#key(id), this.#commitsKey(id)]))
    await this.#redis.del(this.#index)
  }
}
