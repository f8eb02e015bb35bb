// bench/service: a deployed agent service under load, through its HTTP API.
//
//   npx tsx bench/service.ts [--json] [--workers 1,2,4] [--tasks 300] [--treasury-tasks 60]
//                            [--clients 4] [--no-treasury]
//
// On a fresh local stack (anvil, the DA server, the inference container), with the API in
// this process (startService, worker: false) and BullMQ on the real Redis (REDIS_URL, default
// redis://127.0.0.1:6379), for 1, 2 and 4 `covenant worker` processes:
//   - actions per second: tasks POSTed to /tasks by closed-loop clients (--clients per agent,
//     each posts a task and waits for it before the next) — completed tasks / wall time;
//   - latency per task, POST → `completed` seen on the task's SSE stream (p50, p99).
// Agents: the moderation agent (the shipped ONNX classifier decides; no chain transaction)
// and the treasury agent (the covenant-chat LLM on the inference container reads the
// invoice; the wallet pays 0.001 ETH on chain per task).
//
// One agent per worker process: an agent's trace is one hash chain, written by one process
// at a time (its WAL is locked), so a service scales out over processes by agent, and N
// workers serve N agents (clients spread their tasks over them). Every step is fsynced to
// the WAL before it counts; batches are committed to the chain every 2 s in the background.
// Numbers depend on the machine and its load (anvil, Redis, the API, the inference
// container and the workers share its cores); this prints them, it asserts nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { startInferenceServer } from '../src/inference/server.js'
import { startService, type Service } from '../src/service/service.js'
import { startLocalStack, type LocalStack, onStack } from '../src/service/stack.js'
import { VENDORS } from '../examples/agents/treasury/agent.js'
import { deleteRedisPrefix, deployFixtureAgents, REDIS_URL, spawnWorker, type FixtureAgentName, type WorkerProcess } from '../test/fixtures/serviceStack.js'
import { flag, intOpt, opt } from './lib/args.js'

const json = flag('--json')
const WORKERS = (opt('--workers') ?? '1,2,4').split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1 && n <= 4)
const TASKS = intOpt('--tasks', 300)
const TREASURY_TASKS = intOpt('--treasury-tasks', 60)
const CLIENTS = intOpt('--clients', 4)
const TREASURY = !flag('--no-treasury')
const PREFIX = `bench-svc-${randomBytes(4).toString('hex')}`

const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN
}

type Kind = 'moderation' | 'treasury'
const AGENTS: Record<Kind, FixtureAgentName[]> = {
  moderation: ['svc-mod-1', 'svc-mod-2', 'svc-mod-3', 'svc-mod-4'],
  treasury: ['svc-treasury-1', 'svc-treasury-2', 'svc-treasury-3', 'svc-treasury-4'],
}
const POSTS = [
  'Lovely turnout at the community garden today, thanks everyone!',
  'Congratulations! You won a free iPhone, click here and send your bank password to claim it',
  'BUY CHEAP FOLLOWERS NOW!!! best prices, limited offer, click the link',
  'Does anyone know when the library reopens after the holidays?',
]
const VENDOR_LIST = Object.entries(VENDORS)
function taskFor(kind: Kind, n: number): unknown {
  if (kind === 'moderation') return { postId: `b-${n}`, text: POSTS[n % POSTS.length]! }
  const [vendor, address] = VENDOR_LIST[n % VENDOR_LIST.length]!
  return `Invoice INV-${3000 + n} from ${vendor}: please pay 0.001 ETH to ${address} for GPU hours.`
}

type Outcome = { status: string; latencyMs: number }

/** POSTs a task and follows its SSE stream until it is completed or failed. */
async function runTask(url: string, agent: string, task: unknown): Promise<Outcome> {
  const t0 = performance.now()
  const res = await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent, task }) })
  if (res.status !== 202) throw new Error(`POST /tasks → ${res.status}: ${await res.text()}`)
  const { taskId } = (await res.json()) as { taskId: string }
  const ac = new AbortController()
  const events = await fetch(`${url}/tasks/${taskId}/events`, { signal: ac.signal })
  const reader = events.body!.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the event stream of ${taskId} ended before the task finished`)
      buf += decoder.decode(value, { stream: true })
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const type = /^event: (\w+)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if ((type === 'status' || type === 'end') && data) {
          const s = JSON.parse(data) as { status: string }
          if (s.status === 'completed' || s.status === 'failed') return { status: s.status, latencyMs: performance.now() - t0 }
        }
      }
    }
  } finally {
    ac.abort()
  }
}

/** Closed-loop clients: `clients` per agent, `total` tasks spread over the agents. */
async function load(url: string, agents: readonly string[], kind: Kind, total: number, clients: number, first: number) {
  let next = 0
  const outcomes: Outcome[] = []
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: clients * agents.length }, async () => {
      for (;;) {
        const n = next++
        if (n >= total) return
        // task n goes to agent n mod agents: every agent gets its share
        outcomes.push(await runTask(url, agents[n % agents.length]!, taskFor(kind, first + n)))
      }
    }),
  )
  return { outcomes, seconds: (performance.now() - t0) / 1000 }
}

type Row = {
  agent: Kind
  workers: number
  agents: number
  clients: number
  tasks: number
  failed: number
  seconds: number
  /** completed actions per second */
  rate: number
  p50Ms: number
  p99Ms: number
  meanMs: number
  /** CPU time per action of the bench process (the API, the inference container and the load clients) and of all workers */
  cpuMsPerAction: { api: number; workers: number | null }
}

/** CPU time (user + system) of a worker process so far, ms (Linux /proc; NaN elsewhere). */
function cpuMs(w: WorkerProcess): number {
  try {
    const fields = readFileSync(`/proc/${w.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // clock ticks; USER_HZ is 100 on Linux
  } catch {
    return Number.NaN
  }
}

let stack: LocalStack | undefined
let service: Service | undefined
const dataDir = mkdtempSync(join(tmpdir(), 'covenant-bench-service-'))
const workers: WorkerProcess[] = []

async function stopWorkers() {
  for (const w of workers.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM')
    await w.exited
  }
}

async function main() {
  const load0 = loadavg().map((x) => round(x, 2))
  log(`bench/service — ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, load ${load0.join(' ')}, Redis ${REDIS_URL}`)
  log('starting a local stack (anvil, DA server' + (TREASURY ? ', inference container' : '') + ')…')
  stack = await startLocalStack({
    dataDir,
    announce: false,
    inference: TREASURY
      ? async ({ port, host }) => {
          const s = await startInferenceServer({ port, host })
          return { url: s.url, close: () => s.close() }
        }
      : undefined,
  })
  const kinds: Kind[] = TREASURY ? ['moderation', 'treasury'] : ['moderation']
  const maxWorkers = Math.max(...WORKERS)
  const names = kinds.flatMap((k) => AGENTS[k].slice(0, maxWorkers))
  log(`deploying ${names.length} agents (${names.join(', ')})…`)
  const deployed = await deployFixtureAgents(stack, names)
  service = await startService({
    agents: deployed,
    ...onStack(stack),
    redisUrl: REDIS_URL,
    prefix: PREFIX,
    worker: false,
    port: 0,
    logger: pino({ level: 'silent' }),
  })
  log(`API at ${service.url} (BullMQ prefix ${PREFIX}); one agent per worker process\n`)

  const rows: Row[] = []
  let first = 0
  for (const kind of kinds) {
    for (const w of WORKERS) {
      const agents = AGENTS[kind].slice(0, w)
      log(`${kind}: starting ${w} worker process(es)…`)
      workers.push(...(await Promise.all(agents.map((a, i) => spawnWorker({ name: `w${i + 1}`, stack: stack!, agents: [a], prefix: PREFIX })))))
      // warm-up (model sessions, JIT, connections): two tasks per agent, not counted
      await load(service.url, agents, kind, 2 * w, 1, first)
      first += 2 * w
      const total = kind === 'moderation' ? TASKS : TREASURY_TASKS
      const cpu0 = { bench: process.cpuUsage(), workers: workers.map(cpuMs) }
      const { outcomes, seconds } = await load(service.url, agents, kind, total, CLIENTS, first)
      const benchCpu = process.cpuUsage(cpu0.bench)
      const workerCpu = workers.map((wp, i) => cpuMs(wp) - (cpu0.workers[i] ?? 0))
      first += total
      const done = outcomes.filter((o) => o.status === 'completed')
      const lat = done.map((o) => o.latencyMs)
      const row: Row = {
        agent: kind,
        workers: w,
        agents: w,
        clients: CLIENTS * w,
        tasks: outcomes.length,
        failed: outcomes.length - done.length,
        seconds: round(seconds, 2),
        rate: round(done.length / seconds, 1),
        p50Ms: round(pct(lat, 50)),
        p99Ms: round(pct(lat, 99)),
        meanMs: round(lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length)),
        cpuMsPerAction: {
          api: round((benchCpu.user + benchCpu.system) / 1000 / outcomes.length, 2),
          workers: workerCpu.some(Number.isNaN) ? null : round(workerCpu.reduce((a, b) => a + b, 0) / outcomes.length, 2),
        },
      }
      rows.push(row)
      log(`  ${w} worker(s): ${row.rate} actions/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms${row.failed ? `, ${row.failed} failed` : ''}`)
      await stopWorkers()
    }
  }

  const headline: Record<string, Record<string, number>> = {}
  for (const r of rows) (headline[r.agent] ??= {})[`workers${r.workers}_actionsPerSecond`] = r.rate
  const result = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAtStart: load0, node: process.version },
    setup: {
      redis: REDIS_URL,
      api: 'startService({ worker: false }) in the bench process; workers: `covenant worker <agent>` processes',
      onePerWorker: 'one agent per worker process: an agent trace is one hash chain written by one process at a time (WAL lock)',
      clientsPerAgent: CLIENTS,
      latency: 'POST /tasks → status completed on the task SSE stream',
      treasury: TREASURY ? 'pays 0.001 ETH per task on chain (anvil, automine); one inference container (in the bench process) serves every treasury worker' : null,
    },
    headline,
    runs: rows,
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return
  }
  const cols = ['agent', 'workers', 'agents', 'clients', 'tasks', 'failed', 'actions/s', 'p50 ms', 'p99 ms', 'cpu ms/action api', 'workers'] as const
  const table = rows.map((r) =>
    [r.agent, r.workers, r.agents, r.clients, r.tasks, r.failed, r.rate, r.p50Ms, r.p99Ms, r.cpuMsPerAction.api, r.cpuMsPerAction.workers ?? '–'].map(String),
  )
  const widths = cols.map((c, i) => Math.max(c.length, ...table.map((t) => t[i]!.length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  const out = [
    '',
    `service throughput through the HTTP API — BullMQ on Redis, ${cpus().length} cores shared by anvil, Redis, the API, the inference container and the workers`,
    'one agent per worker process: an agent\'s trace is one hash chain written by one process at a time (WAL lock),',
    'so the service scales out by agent; latency is POST → completed (SSE), each step fsynced to the WAL first;',
    `${CLIENTS} closed-loop clients per agent; the treasury's LLM runs on one inference container shared by its workers;`,
    'cpu ms/action: this process (API + inference container + load clients) and all worker processes together —',
    `with ${cpus().length} cores, actions/s cannot exceed about ${cpus().length} × 1000 / (api + workers)`,
    '',
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...table.map(line),
    '',
  ]
  process.stdout.write(out.join('\n'))
}

try {
  await main()
} catch (err) {
  process.stderr.write(`bench/service failed: ${(err as Error).stack ?? String(err)}\n`)
  for (const w of workers) process.stderr.write(`--- ${w.name}\n${w.lines.slice(-20).join('\n')}\n`)
  process.exitCode = 1
} finally {
  await stopWorkers().catch(() => {})
  for (const q of service?.queues.values() ?? []) await q.obliterate().catch(() => {})
  await service?.close().catch(() => {})
  await deleteRedisPrefix(PREFIX).catch(() => {})
  await stack?.stop().catch(() => {})
  rmSync(dataDir, { recursive: true, force: true })
}
