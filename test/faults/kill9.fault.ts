/**
 * kill -9 at random points over 1,000 actions.
 *
 * The service as it runs in production: the HTTP API in this process (no worker), BullMQ on
 * a redis-server of our own, two `covenant worker` processes (each lists both agents: one
 * process at a time holds an agent — its WAL, wallet, runtime and committer — the other
 * stands by), and a `covenant verifier start` process following the chain. Two fixture
 * agents: `svc-mod-1` (ONNX moderation, no wallet) and `svc-pay` (pays through its wallet),
 * deployed with one operator key, so the worker holding both commits their batches in shared
 * TraceLog bundles (at least one is required) and a committer kill can hit a bundle.
 *
 * While 1,000 acknowledged tasks (HTTP 202) run, a seeded schedule SIGKILLs, one at a time:
 *  - a worker at a random moment (agent process, runtime, wallet and committer at once);
 *  - the worker holding an agent while its committer has a batch in flight (the cursor
 *    records it as pending: blob on DA, commit not yet known on chain);
 *  - the verifier;
 * and restarts what it killed. Then the workers drain (SIGTERM) and everything is audited:
 *  - nothing lost: every acknowledged task is an action with exactly one input and one
 *    output step (completed, or closed as interrupted by recovery), nothing else is;
 *  - no duplicate transaction: the wallet's transactions on chain equal its wallet steps,
 *    one per nonce, each the one its step authorised; no paying task paid twice;
 *  - every action committed: TraceLog's batches cover every WAL step exactly once, in order,
 *    and every blob on DA decodes to those steps under the committed root;
 *  - the verifier resumed from its saved cursor after every kill, checked every batch, never
 *    re-checked a batch of a range it had saved, and found no fault (no dispute on chain).
 * FAULT_SEED replays a schedule; FAULT_ACTIONS changes the count (default 1,000). The workers
 * run at their default concurrency (svc-mod-1, an ONNX agent, 64 actions at once; svc-pay one);
 * FAULT_CONCURRENCY=N runs N actions of each agent at once.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { listDisputes } from '../../src/bonds/actions/getDispute.js'
import { startService, type Service } from '../../src/service/service.js'
import { startLocalStack, type LocalStack, onStack } from '../../src/service/stack.js'
import type { DeployedAgent } from '../../src/service/worker.js'
import { walPaths } from '../../src/trace/wal.js'
import { PAYEE } from '../fixtures/serviceAgents.js'
import { deployFixtureAgents, postTask, spawnWorker, type WorkerProcess } from '../fixtures/serviceStack.js'
import { auditAgent, faultSeed, readCursorFile, seededRandom, sleep, spawnCovenant, startRedis, until, walSteps, type Proc, type RedisServer } from './_support.js'

const N = Number(process.env.FAULT_ACTIONS ?? 1_000)
const PAY_EVERY = 5 // one task in five pays
const MAX_KILLS = Number(process.env.FAULT_KILLS ?? 30)
/** FAULT_AIM=host: kills every 2–4 s aimed at the processes hosting the agents (issue 17). */
const AIM_AT_HOSTS = process.env.FAULT_AIM === 'host'
const rng = seededRandom(faultSeed())
const PREFIX = `fault-kill9-${randomBytes(4).toString('hex')}`
const log = (m: string) => process.stdout.write(`[kill9] ${m}\n`)

let dataDir: string
let stack: LocalStack
let redis: RedisServer
let service: Service
let agents: Map<string, DeployedAgent>
const workers: WorkerProcess[] = []
let workerSeq = 0
let verifier: Proc
const verifierRuns: { events: Array<Record<string, unknown>>; killed: boolean; resumedFrom: string | null; savedCursor: string | null }[] = []

const AGENTS = ['svc-mod-1', 'svc-pay'] as const

async function startWorker(): Promise<WorkerProcess> {
  const n = ++workerSeq
  // alternate the order so either process may end up hosting either agent
  const list = n % 2 ? [...AGENTS] : [...AGENTS].reverse()
  // each worker's default concurrency: svc-mod-1 (ONNX, no on-chain effect) runs 64 actions at once,
  // svc-pay one at a time (FAULT_CONCURRENCY=N sets N for both)
  const concurrency = process.env.FAULT_CONCURRENCY ? Number(process.env.FAULT_CONCURRENCY) : 'auto'
  const w = await spawnWorker({ name: `w${n}`, stack, agents: list, prefix: PREFIX, redisUrl: redis.url, concurrency })
  workers.push(w)
  return w
}
const live = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)

function verifierState(): { cursor: { block: string } | null } | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'verifier', 'verifier-state.json'), 'utf8')) as { cursor: { block: string } | null }
  } catch {
    return undefined
  }
}

async function startVerifier(): Promise<void> {
  const saved = verifierState()?.cursor?.block ?? null
  const run = { events: [] as Array<Record<string, unknown>>, killed: false, resumedFrom: null as string | null, savedCursor: saved }
  verifierRuns.push(run)
  const proc = spawnCovenant(
    `verifier-${verifierRuns.length}`,
    ['verifier', 'start', '--json', '--poll', '250', '--dev-account', '9', '--data-dir', dataDir, '--rpc', stack.rpcUrl, '--deployment', stack.deploymentFile, '--da', stack.daServer.url],
    { REDIS_URL: '' },
  )
  verifier = proc
  proc.child.stdout?.on('data', () => {
    // parse complete JSON lines as they arrive
    for (const line of proc.lines.splice(0)) {
      if (!line.startsWith('{')) continue
      try {
        run.events.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // a progress line
      }
    }
  })
  const started = await until(() => run.events.find((e) => e.type === 'started'), 'the verifier to start', 120_000)
  run.resumedFrom = String(started.fromBlock)
}

beforeAll(async () => {
  log(`seed ${rng.seed}, ${N} actions, up to ${MAX_KILLS} kills`)
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-fault-kill9-'))
  redis = await startRedis()
  stack = await startLocalStack({ dataDir, announce: false })
  // one operator for both agents: the worker holding both commits their batches in shared
  // bundles, so a kill also lands on a bundle in flight
  const [first] = await deployFixtureAgents(stack, [AGENTS[0]])
  const deployed = [first!, ...(await deployFixtureAgents(stack, AGENTS.slice(1), { operatorKeystore: first!.record.operator.keystore }))]
  agents = new Map(deployed.map((d) => [d.agent.name, d]))
  service = await startService({
    agents: deployed,
    ...onStack(stack),
    redisUrl: redis.url,
    prefix: PREFIX,
    worker: false,
    port: 0,
  })
  await startWorker()
  await startWorker()
  await startVerifier()
})

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
  await Promise.all(workers.map((w) => w.exited))
  await verifier?.kill9()
  await service?.close().catch(() => {})
  await redis?.stop()
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

function shuffle<T>(xs: readonly T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

type Kill = { kind: 'worker' | 'committer' | 'verifier'; at: number; detail: string }

test(`SIGKILL of workers (agent + committer) and the verifier at random points over ${N} actions: nothing lost, no duplicate transaction, every action committed`, async () => {
  const t0 = Date.now()
  const idOf = (name: string) => agents.get(name)!.record.agentId
  const posted = new Map<string, { agent: string; pays: boolean }>()

  // 1. post every task (acknowledged = 202), about ten a second, while the chaos runs
  let postingDone = false
  const posting = (async () => {
    const queue = Array.from({ length: N }, (_, i) => i)
    const post = async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const pays = i % PAY_EVERY === PAY_EVERY - 1
        const agent = pays ? 'svc-pay' : 'svc-mod-1'
        const task = pays
          ? { memo: `invoice ${i}: GPU hours`, to: PAYEE, amountEth: '0.001' }
          : { postId: `p-${i}`, text: i % 3 ? 'Lovely turnout at the community garden today' : 'Congratulations! You won a free iPhone, send your bank password to claim' }
        posted.set(await postTask(service.url, { agent, task }), { agent, pays })
        await sleep(100)
      }
    }
    await post()
    postingDone = true
  })()

  // 2. the chaos: one kill at a time at seeded random moments, each followed by a restart
  const kills: Kill[] = []
  const deck: Kill['kind'][] = []
  const finals = new Map<string, { status: string; error: string | null; txHashes: string[]; attempts: number }>()
  const progress = () => finals.size / N
  const takeovers: number[] = []
  const hostOf = (name: string) => {
    const text = readFileSync(walPaths(join(dataDir, 'wal'), idOf(name)).lock, 'utf8').trim()
    return live().find((x) => String(x.child.pid) === text)
  }
  const chaos = (async () => {
    while (kills.length < MAX_KILLS && !(postingDone && progress() > 0.97)) {
      if (AIM_AT_HOSTS) {
        // FAULT_AIM=host: every 2–4 s, SIGKILL the process hosting an agent; time the takeover
        await sleep(rng.int(2_000, 4_000))
        const name = rng.pick([...AGENTS])
        const victim = hostOf(name)
        if (!victim) continue
        const killedAt = Date.now()
        victim.child.kill('SIGKILL')
        await victim.exited
        kills.push({ kind: 'worker', at: killedAt - t0, detail: `${victim.name} hosting ${name}` })
        log(`kill ${kills.length}: host ${victim.name} of ${name} at ${Math.round((killedAt - t0) / 1000)} s (${finals.size}/${N} tasks final)`)
        // timed from the kill while the replacement worker starts: a stand-by takes over first
        const takeover = until(() => (hostOf(name) ? Date.now() - killedAt : undefined), `a new host of ${name}`, 30_000, 20).catch(() => undefined)
        await startWorker()
        const ms = await takeover
        if (ms !== undefined) takeovers.push(ms)
        continue
      }
      await sleep(rng.int(500, 3_000))
      // a shuffled deck, so each kind comes up in every five kills
      if (deck.length === 0) deck.push(...shuffle(['worker', 'worker', 'committer', 'committer', 'verifier'] as const))
      const kind = deck.pop()!
      if (kind === 'verifier') {
        const run = verifierRuns.at(-1)!
        run.killed = true
        await verifier.kill9()
        kills.push({ kind, at: Date.now() - t0, detail: `after ${run.events.filter((e) => e.type === 'batch').length} batch checks` })
        await startVerifier()
        continue
      }
      let victim: WorkerProcess | undefined
      let detail = ''
      if (kind === 'worker') {
        victim = rng.pick(live())
        detail = 'at a random moment'
      } else {
        // wait for a batch in flight (cursor pending), then kill the process holding that agent's WAL
        const found = await until(
          () => {
            for (const name of shuffle(AGENTS)) {
              if (readCursorFile(dataDir, idOf(name)).pending === null) continue
              const pid = Number(readFileSync(walPaths(join(dataDir, 'wal'), idOf(name)).lock, 'utf8').trim())
              const w = live().find((x) => x.child.pid === pid)
              if (w) return { w, name }
            }
            return undefined
          },
          'a batch in flight',
          20_000,
          5,
        ).catch(() => undefined)
        if (!found) continue
        victim = found.w
        detail = `${found.name} commit in flight`
      }
      if (!victim) continue
      victim.child.kill('SIGKILL')
      await victim.exited
      if (kind === 'committer') {
        const name = detail.split(' ')[0]!
        detail += readCursorFile(dataDir, idOf(name)).pending === null ? ' (it had landed)' : ' (left pending)'
      }
      kills.push({ kind, at: Date.now() - t0, detail: `${victim.name} ${detail}` })
      log(`kill ${kills.length}: ${kind} ${victim.name} ${detail} at ${Math.round((Date.now() - t0) / 1000)} s (${finals.size}/${N} tasks final)`)
      await startWorker()
    }
  })()

  // 3. wait for every task to reach a final state
  const watch = (async () => {
    for (;;) {
      for (const [id] of posted) {
        if (finals.has(id)) continue
        const s = await service.store.get(id)
        if (s && (s.status === 'completed' || s.status === 'failed')) {
          finals.set(id, { status: s.status, error: s.error?.name ?? null, txHashes: s.result?.txHashes ?? [], attempts: s.attempts })
        }
      }
      if (postingDone && finals.size === posted.size) return
      if (Date.now() - t0 > 780_000) throw new Error(`only ${finals.size} of ${posted.size} tasks final after 13 min`)
      await sleep(1_000)
    }
  })()
  await posting
  await Promise.all([chaos, watch])
  log(`all ${N} tasks final after ${Math.round((Date.now() - t0) / 1000)} s; ${kills.length} kills`)

  // 4. drain: SIGTERM the workers (running tasks finish, the final flush commits)
  for (const w of live()) w.child.kill('SIGTERM')
  for (const w of workers) {
    const e = await w.exited
    if (e.signal !== 'SIGKILL') expect(e, `${w.name} drained`).toEqual({ code: 0, signal: null })
  }
  const head = await stack.client.publicClient.getBlockNumber()
  await until(() => (BigInt(verifierState()?.cursor?.block ?? -1) >= head ? true : undefined), 'the verifier to reach the head', 120_000, 250)
  await verifier.term()

  // 5. nothing lost: every acknowledged task is exactly one closed action of its agent
  expect(posted.size).toBe(N)
  const outcome = { completed: 0, interrupted: 0, other: [] as string[] }
  for (const [id, f] of finals) {
    if (f.status === 'completed') outcome.completed++
    else if (f.error === 'ActionInterruptedError') outcome.interrupted++
    else outcome.other.push(`${id}: ${f.status} ${f.error}`)
  }
  expect(outcome.other).toEqual([])
  const audits: Record<string, Awaited<ReturnType<typeof auditAgent>>> = {}
  for (const name of AGENTS) {
    const d = agents.get(name)!
    const steps = await walSteps(dataDir, d.record.agentId)
    const inWal = new Set(steps.map((s) => s.actionId))
    const mine = [...posted].filter(([, p]) => p.agent === name).map(([id]) => id)
    expect([...inWal].sort(), `${name}: the actions in the WAL are exactly the acknowledged tasks`).toEqual(mine.sort())
    audits[name] = await auditAgent({
      dataDir,
      agentId: d.record.agentId,
      wallet: name === 'svc-pay' ? (d.record.wallet.address as `0x${string}`) : undefined,
      client: stack.client,
      da: stack.da,
      expect: (c, m) => expect(c, m).toBe(true),
    })
    // 0 failed-but-unsigned: an action a kill interrupted before it signed ran again
    expect(audits[name]!.interruptedUnsigned, `${name}: closed as interrupted though nothing was signed`).toEqual([])
    // no task paid twice; a completed paying task paid once
    if (name === 'svc-pay') {
      for (const id of mine) {
        const n = steps.filter((s) => s.actionId === id && s.kind === 'wallet').length
        expect(n, `task ${id} has ${n} wallet steps`).toBeLessThanOrEqual(1)
        if (finals.get(id)!.status === 'completed') {
          expect(n).toBe(1)
          expect(finals.get(id)!.txHashes).toHaveLength(1)
        }
      }
    }
  }

  // 6. the verifier: resumed from its cursor, missed no batch, never re-checked a saved range, found nothing
  const seen = new Map<string, number>()
  const savedBatches = new Set<string>()
  for (const [i, run] of verifierRuns.entries()) {
    if (i > 0) expect(run.resumedFrom, `verifier run ${i + 1} resumed from block ${run.resumedFrom}, its saved cursor was ${run.savedCursor}`).toBe(String(BigInt(run.savedCursor ?? '-1') + 1n))
    let unsaved: string[] = []
    for (const e of run.events) {
      if (e.type === 'batch') {
        const key = `${e.agentId}/${e.sequence}`
        expect(savedBatches.has(key), `batch ${key} checked again after its range was saved`).toBe(false)
        expect(e.status, `batch ${key}: ${String(e.reason)}`).toBe('ok')
        expect(e.faults).toBe(0)
        seen.set(key, (seen.get(key) ?? 0) + 1)
        unsaved.push(key)
      } else if (e.type === 'range') {
        for (const k of unsaved) savedBatches.add(k)
        unsaved = []
      }
      expect(['fault', 'challenge', 'dispute', 'vote'], JSON.stringify(e)).not.toContain(e.type)
    }
  }
  let batches = 0
  for (const name of AGENTS) {
    for (let seq = 0; seq < audits[name]!.batches; seq++) {
      batches++
      expect(seen.has(`${idOf(name)}/${seq}`), `the verifier never checked batch ${seq} of ${name}`).toBe(true)
    }
  }
  expect(await listDisputes(stack.client)).toEqual([])
  const rechecked = [...seen.values()].filter((n) => n > 1).length

  const figures = {
    seed: rng.seed,
    actions: N,
    completed: outcome.completed,
    interruptedAndClosed: outcome.interrupted,
    kills: kills.length,
    killsByKind: { worker: kills.filter((k) => k.kind === 'worker').length, committer: kills.filter((k) => k.kind === 'committer').length, verifier: kills.filter((k) => k.kind === 'verifier').length },
    committerKillsLeftPending: kills.filter((k) => k.detail.endsWith('(left pending)')).length,
    // FAULT_AIM=host: from the SIGKILL of a host to a new process holding that agent's lock, ms
    takeoverMs: takeovers.length ? { n: takeovers.length, min: Math.min(...takeovers), median: [...takeovers].sort((a, b) => a - b)[Math.floor(takeovers.length / 2)], max: Math.max(...takeovers) } : null,
    restarts: { workers: workerSeq - 2, verifier: verifierRuns.length - 1 },
    walSteps: audits['svc-mod-1']!.steps + audits['svc-pay']!.steps,
    batches,
    bundledBatches: audits['svc-mod-1']!.bundled + audits['svc-pay']!.bundled,
    walletTransactions: audits['svc-pay']!.walletTxsOnChain,
    walletSteps: audits['svc-pay']!.walletSteps,
    duplicateTransactions: audits['svc-pay']!.walletTxsOnChain - audits['svc-pay']!.walletSteps,
    walletStepsSettledByRecovery: audits['svc-pay']!.recoveredWalletSteps + audits['svc-mod-1']!.recoveredWalletSteps,
    verifierBatchChecks: [...seen.values()].reduce((a, b) => a + b, 0),
    verifierBatchesRecheckedAfterKill: rechecked,
    disputes: 0,
    seconds: Math.round((Date.now() - t0) / 1000),
  }
  log(`figures ${JSON.stringify(figures)}`)
  for (const k of kills) log(`  ${Math.round(k.at / 1000)} s ${k.kind}: ${k.detail}`)
  expect(kills.length).toBeGreaterThan(0)
  expect(figures.bundledBatches, 'no batch was committed in a shared bundle').toBeGreaterThan(0)
})
