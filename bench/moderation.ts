// bench/moderation: the moderation service's throughput with one worker process, against a
// bare BullMQ worker running the same model in the same run.
//
//   npx tsx bench/moderation.ts [--json] [--tasks 3000] [--rounds 5] [--concurrency N]
//
// On a fresh local stack (anvil, the DA server) and the real Redis (REDIS_URL):
//   - covenant: the moderation fixture agent deployed, the service API in this process
//               (startService, worker: false), one `covenant worker` process (its default
//               concurrency unless --concurrency); the tasks are POSTed in one
//               `POST /tasks/bulk` (queued with one addBulk) and the time runs until the
//               agent's queue has completed them all. Each action: the input, inference and
//               output steps in the WAL (the output fdatasynced), the task store updated,
//               batches committed every 2 s in the background.
//   - bare:     a plain BullMQ queue (same Redis), the same tasks added with addBulk, and a
//               BullMQ Worker in this process (the covenant worker's concurrency: --concurrency,
//               else ONNX_AGENT_CONCURRENCY, the default for this agent) that runs the same ONNX model
//               (featurize + session.run) and returns the label. No trace, no task store.
// A round is 3,000 tasks (about 2.5 s for covenant here): in rounds of 1,000 (about 1 s) a
// round's fixed costs, the API taking the bulk POST before any job is queued (0.10-0.16 s)
// and the first group-commit cycle of 64 actions (0.06-0.2 s), were a quarter of the time.
// Rounds alternate bare and covenant (the order flips each round). It prints actions/s for
// each, their paired ratio, and the CPU per action of every process involved (this process,
// the worker, Redis — Redis is shared: another client's work in the same seconds counts
// too), next to the model's own CPU time per call, and the worker's CPU by thread (/proc: its
// main thread, its busiest other — the model's — and the rest). Benchmarks print figures;
// nothing here asserts a time.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import pino from 'pino'
import { featurizeModeration } from '../src/inference/featurize.js'
import { createModerationClassifier } from '../src/inference/index.js'
import { startService, type Service } from '../src/service/service.js'
import { ONNX_AGENT_CONCURRENCY } from '../src/service/worker.js'
import { startLocalStack, type LocalStack, onStack } from '../src/service/stack.js'
import { KEEP_FINISHED_JOBS } from '../src/verify/queue.js'
import { deleteRedisPrefix, deployFixtureAgents, REDIS_URL, spawnWorker, type WorkerProcess } from '../test/fixtures/serviceStack.js'
import { median, pairedRatios } from './lib/stats.js'
import { flag, intOpt, opt } from './lib/args.js'

const json = flag('--json')
const TASKS = intOpt('--tasks', 3000)
const ROUNDS = intOpt('--rounds', 5)
const CONCURRENCY = opt('--concurrency') ? intOpt('--concurrency', 4) : undefined
const PREFIX = `bench-mod-${randomBytes(4).toString('hex')}`
const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d
const POSTS = [
  'Lovely turnout at the community garden today, thanks everyone!',
  'Congratulations! You won a free iPhone, click here and send your bank password to claim it',
  'BUY CHEAP FOLLOWERS NOW!!! best prices, limited offer, click the link',
  'Does anyone know when the library reopens after the holidays?',
]
const taskFor = (n: number) => ({ postId: `m-${n}`, text: POSTS[n % POSTS.length]! })

/** CPU (user + system) of a process so far, ms, from /proc (Linux; NaN elsewhere). */
function procCpuMs(pid: number | undefined): number {
  try {
    return statCpuMs(`/proc/${pid}/stat`)
  } catch {
    return Number.NaN
  }
}
/** User + system CPU (ms) in a /proc `stat` file (a process's or one of its threads'). */
function statCpuMs(path: string): number {
  const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // USER_HZ is 100 on Linux
}
/**
 * CPU (ms) of each thread of a process so far, by thread id, from /proc/<pid>/task (Linux;
 * empty elsewhere): the worker's main thread is the one whose id is the pid.
 */
function threadCpuMs(pid: number | undefined): Map<number, number> {
  const out = new Map<number, number>()
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) out.set(Number(tid), statCpuMs(`/proc/${pid}/task/${tid}/stat`))
  } catch {
    // a thread that ended between the listing and its read, or no /proc: what was read so far
  }
  return out
}
/** The worker's CPU per action between two readings: its main thread, its busiest other thread (the model's), the rest. */
function threadSplit(before: Map<number, number>, after: Map<number, number>, pid: number | undefined, actions: number) {
  let main = 0
  const others: number[] = []
  for (const [tid, ms] of after) {
    const d = (ms - (before.get(tid) ?? 0)) / actions
    if (tid === pid) main = d
    else others.push(d)
  }
  others.sort((a, b) => b - a)
  return { main: round(main, 3), busiestOther: round(others[0] ?? 0, 3), rest: round(others.slice(1).reduce((a, b) => a + b, 0), 3) }
}
const redis = new Redis(REDIS_URL)
async function redisCpuMs(): Promise<number> {
  const info = await redis.info('cpu')
  const v = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN)
  return (v('used_cpu_sys') + v('used_cpu_user')) * 1000
}
const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

type Arm = {
  seconds: number
  rate: number
  cpuMsPerAction: { self: number; worker: number; redis: number; total: number }
  /** The worker process's CPU per action by thread (covenant rounds; zeros in bare ones, where it idles). */
  workerThreads: { main: number; busiestOther: number; rest: number }
}

let stack: LocalStack | undefined
let service: Service | undefined
let worker: WorkerProcess | undefined
const dataDir = mkdtempSync(join(tmpdir(), 'covenant-bench-moderation-'))

async function main() {
  const load0 = loadavg().map((x) => round(x))
  log(`bench/moderation — ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, load ${load0.join(' ')}, Redis ${REDIS_URL}`)
  stack = await startLocalStack({ dataDir, announce: false })
  const [deployed] = await deployFixtureAgents(stack, ['svc-mod-1'])
  service = await startService({ agents: [deployed!], ...onStack(stack), redisUrl: REDIS_URL, prefix: PREFIX, worker: false, port: 0, logger: pino({ level: 'silent' }) })
  worker = await spawnWorker({ name: 'w1', stack, agents: ['svc-mod-1'], prefix: PREFIX, concurrency: CONCURRENCY ?? 'auto', nodeArgs: process.env.COVENANT_BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) })
  const queue = service.queues.get(deployed!.record.agentId)!

  // the model alone: featurize + ONNX session.run, as the bare worker runs it
  const classifier = await createModerationClassifier()
  const bareModel = async (text: string) => {
    const out = await classifier.backend.run({ counts: { dtype: 'float32', shape: [1, 4096], data: featurizeModeration(text) } })
    return Object.keys(out).length
  }
  for (let i = 0; i < 50; i++) await bareModel(POSTS[i % 4]!)
  const c0 = selfCpuMs()
  const MODEL_CALLS = 500
  for (let i = 0; i < MODEL_CALLS; i++) await bareModel(POSTS[i % 4]!)
  const modelCpuMs = (selfCpuMs() - c0) / MODEL_CALLS

  const bareName = `${PREFIX}-bare`
  const bareQueue = new Queue(bareName, { connection: { url: REDIS_URL }, prefix: PREFIX, defaultJobOptions: { removeOnComplete: { count: KEEP_FINISHED_JOBS } } })
  let bareDone = 0
  const bareWorker = new Worker(bareName, async (job) => bareModel((job.data as { text: string }).text), { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: PREFIX, concurrency: CONCURRENCY ?? ONNX_AGENT_CONCURRENCY })
  bareWorker.on('completed', () => bareDone++)
  await bareWorker.waitUntilReady()

  let n = 0
  async function measure(run: () => Promise<void>): Promise<Arm> {
    const cpu0 = { self: selfCpuMs(), worker: procCpuMs(worker!.child.pid), redis: await redisCpuMs(), threads: threadCpuMs(worker!.child.pid) }
    const t0 = performance.now()
    await run()
    const seconds = (performance.now() - t0) / 1000
    const self = (selfCpuMs() - cpu0.self) / TASKS
    const w = (procCpuMs(worker!.child.pid) - cpu0.worker) / TASKS
    const r = ((await redisCpuMs()) - cpu0.redis) / TASKS
    const workerThreads = threadSplit(cpu0.threads, threadCpuMs(worker!.child.pid), worker!.child.pid, TASKS)
    return { seconds: round(seconds), rate: round(TASKS / seconds, 1), cpuMsPerAction: { self: round(self, 3), worker: round(w, 3), redis: round(r, 3), total: round(self + w + r, 3) }, workerThreads }
  }
  const bareRound = () =>
    measure(async () => {
      const target = bareDone + TASKS
      await bareQueue.addBulk(Array.from({ length: TASKS }, () => ({ name: 'moderate', data: taskFor(n++) })))
      while (bareDone < target) await new Promise((r) => setTimeout(r, 5))
    })
  const covenantRound = () =>
    measure(async () => {
      const tasks = Array.from({ length: TASKS }, () => ({ agent: 'svc-mod-1', task: taskFor(n++) }))
      for (let i = 0; i < tasks.length; i += 1000) {
        const res = await fetch(`${service!.url}/tasks/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tasks: tasks.slice(i, i + 1000) }) })
        if (res.status !== 202) throw new Error(`POST /tasks/bulk → ${res.status}: ${await res.text()}`)
      }
      // Every task is queued once its POST has answered (one addBulk each), so the round is
      // over when none waits, runs or waits for a retry. Not `completed` grown by TASKS: the
      // queue keeps the last KEEP_FINISHED_JOBS (10,000) completed jobs only, so that count stops there.
      for (;;) {
        const c = await queue.counts()
        if (c.failed > 0) throw new Error(`${c.failed} moderation tasks failed`)
        if (c.waiting + c.active + c.delayed === 0) return
        await new Promise((r) => setTimeout(r, 20))
      }
    })

  // warm-up, not counted
  await covenantRound()
  await bareRound()
  const bare: Arm[] = []
  const covenant: Arm[] = []
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      bare.push(await bareRound())
      covenant.push(await covenantRound())
    } else {
      covenant.push(await covenantRound())
      bare.push(await bareRound())
    }
    log(`  round ${r + 1}: bare ${bare.at(-1)!.rate} actions/s, covenant ${covenant.at(-1)!.rate} actions/s`)
  }
  // every covenant task completed (the queue keeps the last KEEP_FINISHED_JOBS completed jobs)
  const expectedCompleted = Math.min((ROUNDS + 1) * TASKS, KEEP_FINISHED_JOBS)
  const completed = (await queue.counts()).completed
  if (completed !== expectedCompleted) throw new Error(`the agent's queue shows ${completed} completed tasks, expected ${expectedCompleted}`)
  await bareWorker.close()
  await bareQueue.obliterate({ force: true }).catch(() => {})
  await bareQueue.close()

  const cpu = (arms: Arm[], k: keyof Arm['cpuMsPerAction']) => round(median(arms.map((a) => a.cpuMsPerAction[k])), 3)
  const result = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAtStart: load0, loadAtEnd: loadavg().map((x) => round(x)), node: process.version },
    settings: { tasksPerRound: TASKS, rounds: ROUNDS, workerProcesses: 1, covenantConcurrency: CONCURRENCY ?? `default (ONNX_AGENT_CONCURRENCY = ${ONNX_AGENT_CONCURRENCY} for an ONNX agent without on-chain effects)`, bareConcurrency: CONCURRENCY ?? ONNX_AGENT_CONCURRENCY },
    actionsPerSecond: {
      bare: round(median(bare.map((a) => a.rate)), 1),
      covenant: round(median(covenant.map((a) => a.rate)), 1),
      // covenant rate / bare rate, round by round
      pairedRatio: pairedRatios(covenant.map((a) => a.rate), bare.map((a) => a.rate)),
      goal: 1000,
    },
    cpuMsPerAction: {
      modelAlone: round(modelCpuMs, 3),
      bare: { self: cpu(bare, 'self'), redis: cpu(bare, 'redis'), total: round(cpu(bare, 'self') + cpu(bare, 'redis'), 3) },
      covenant: { api: cpu(covenant, 'self'), worker: cpu(covenant, 'worker'), redis: cpu(covenant, 'redis'), total: cpu(covenant, 'total') },
      // the worker's part by thread (/proc): its main thread (trace, task store, BullMQ), its
      // busiest other (the model's thread, startOnnxThread), the rest (V8's GC helpers, libuv)
      covenantWorkerThreads: {
        main: round(median(covenant.map((a) => a.workerThreads.main)), 3),
        busiestOther: round(median(covenant.map((a) => a.workerThreads.busiestOther)), 3),
        rest: round(median(covenant.map((a) => a.workerThreads.rest)), 3),
      },
      goal: 1,
    },
    rounds: { bare, covenant },
    note: 'Redis is shared with anything else on the machine: its CPU in these seconds counts whoever caused it. One worker process hosts the agent (its WAL is locked to one process).',
  }
  log(`\nmoderation, 1 worker process: covenant ${result.actionsPerSecond.covenant} actions/s, bare BullMQ + model ${result.actionsPerSecond.bare} actions/s (paired ratio ${result.actionsPerSecond.pairedRatio.median})`)
  log(`CPU per action, ms: covenant ${result.cpuMsPerAction.covenant.total} (API ${result.cpuMsPerAction.covenant.api}, worker ${result.cpuMsPerAction.covenant.worker}, Redis ${result.cpuMsPerAction.covenant.redis}); bare ${result.cpuMsPerAction.bare.total}; the model alone ${result.cpuMsPerAction.modelAlone}`)
  const t = result.cpuMsPerAction.covenantWorkerThreads
  log(`the worker by thread, ms per action: main ${t.main}, busiest other (the model's) ${t.busiestOther}, the rest ${t.rest}`)
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}

try {
  await main()
} catch (err) {
  process.stderr.write(`bench/moderation failed: ${(err as Error).stack ?? String(err)}\n`)
  if (worker) process.stderr.write(`--- worker\n${worker.lines.slice(-20).join('\n')}\n`)
  process.exitCode = 1
} finally {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGTERM')
    await worker.exited
  }
  for (const q of service?.queues.values() ?? []) await q.obliterate().catch(() => {})
  await service?.close().catch(() => {})
  await deleteRedisPrefix(PREFIX).catch(() => {})
  redis.disconnect()
  await stack?.stop().catch(() => {})
  rmSync(dataDir, { recursive: true, force: true })
}
