import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createModerationClassifier } from '../../src/inference/moderation.js'
import type { ServiceHealth } from '../../src/service/health.js'
import { startService, type Service, type StartServiceOptions } from '../../src/service/service.js'
import { onStack, startLocalStack, type LocalStack } from '../../src/service/stack.js'
import type { DeployedAgent } from '../../src/service/worker.js'
import { ProcessLock } from '../../src/trace/processLock.js'
import { TraceWal, walPaths } from '../../src/trace/wal.js'
import { deleteRedisPrefix, deployFixtureAgents, finished, PASSWORD, postTask, REDIS_URL, until } from '../fixtures/serviceStack.js'

// Hosting agents when something is wrong: a damaged agent is quarantined while the others
// are hosted; a process with nothing to host, or a busy port, fails and lets go of every
// lock; a stand-by takes over within a second of the holder letting go.

let dataDir: string
let stack: LocalStack
let good: DeployedAgent // svc-mod-2: always healthy
let damaged: DeployedAgent // svc-mod-1: its WAL is damaged (or restored) by each test
let goodWal: Buffer
let inference: StartServiceOptions['inference']
let service: Service | undefined
const events: string[] = []
const PREFIX = `svc-hosting-${randomBytes(5).toString('hex')}`

const walDir = () => join(dataDir, 'wal')
const logOf = (d: DeployedAgent) => walPaths(walDir(), d.record.agentId).log
const start = (agents: DeployedAgent[], o: Partial<StartServiceOptions> = {}) =>
  startService({ agents, ...onStack(stack), port: 0, password: PASSWORD, inference, commitIntervalMs: 200, onEvent: (e) => events.push(e), ...o })
const modTask = (i: number) => ({ postId: `p-${i}`, text: i % 2 ? 'Congratulations! You won a free iPhone, send your bank password to claim' : 'The bake sale is on Sunday' })
const health = async (s: Service) => {
  const res = await fetch(`${s.url}/health`)
  return { status: res.status, body: (await res.json()) as ServiceHealth }
}

/** Garbage in the middle of a valid WAL: valid records follow it, so it is corruption, not a torn tail. */
function damageWal(): void {
  const bytes = Buffer.from(goodWal)
  bytes.fill(0xa5, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 16)
  writeFileSync(logOf(damaged), bytes)
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-svc-hosting-'))
  stack = await startLocalStack({ dataDir, announce: false })
  ;[damaged, good] = (await deployFixtureAgents(stack, ['svc-mod-1', 'svc-mod-2'])) as [DeployedAgent, DeployedAgent]
  const classifier = await createModerationClassifier()
  inference = { chat: () => undefined, onnx: async () => classifier }
  // a few actions in svc-mod-1's WAL, so there is a middle to damage
  const s = await start([damaged])
  const ids = await Promise.all([0, 1, 2].map((i) => postTask(s.url, { agent: 'svc-mod-1', task: modTask(i) })))
  for (const id of ids) expect((await finished(s.url, id)).status).toBe('completed')
  await s.close()
  goodWal = readFileSync(logOf(damaged))
}, 120_000)

afterEach(async () => {
  await service?.close()
  service = undefined
  events.length = 0
})

afterAll(async () => {
  await deleteRedisPrefix(PREFIX)
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('hosting agents when something is wrong', () => {
  it('quarantines an agent whose WAL is damaged, hosts the other, and /health says so', async () => {
    damageWal()
    const before = readFileSync(logOf(damaged))
    service = await start([damaged, good])
    const worker = service.worker!
    expect([...worker.hosts().keys()]).toEqual([good.record.agentId])
    expect(worker.quarantined().get(damaged.record.agentId)).toMatchObject({ name: 'svc-mod-1', error: { name: 'WalCorruptedError' } })
    expect(events).toEqual(expect.arrayContaining([expect.stringMatching(/^quarantined agent svc-mod-1 \(#\d+\): .*WalCorruptedError: The trace WAL/), expect.stringMatching(/^hosting agent svc-mod-2/)]))

    // the healthy agent runs tasks as usual
    const t = await finished(service.url, await postTask(service.url, { agent: 'svc-mod-2', task: modTask(10) }))
    expect(t.status).toBe('completed')

    const h = await health(service)
    expect(h.status).toBe(503)
    expect(h.body.status).toBe('degraded')
    expect(h.body.agents).toEqual([
      { name: 'svc-mod-1', agentId: damaged.record.agentId, state: 'quarantined', error: expect.stringMatching(/^WalCorruptedError: The trace WAL .*agent-\d+\.wal is corrupted at byte \d+: /) },
      { name: 'svc-mod-2', agentId: good.record.agentId, state: 'hosted', commitLagMs: expect.any(Number) },
    ])
    expect(h.body.agents[0]!.error!.length).toBeLessThanOrEqual(200)
    // quarantine changes nothing in the damaged file
    expect(readFileSync(logOf(damaged)).equals(before)).toBe(true)
  })

  it('fails start-up when every agent is quarantined, releasing every lock', async () => {
    damageWal()
    const err = await start([damaged]).catch((e: unknown) => e as Error)
    expect(err).toMatchObject({ name: 'NoAgentHostedError', quarantined: [{ name: 'svc-mod-1', error: { name: 'WalCorruptedError' } }] })
    expect((err as Error).message).toMatch(/^No agent can be hosted: the agent of this process failed to open, so it stops\.\n\nsvc-mod-1 \(#\d+\): WalCorruptedError: /)
    const r = await ProcessLock.tryAcquire(walPaths(walDir(), damaged.record.agentId).lock)
    expect('lock' in r).toBe(true)
    if ('lock' in r) await r.lock.release()
  })

  it('fails on a busy port with a hint, and leaves no agent locked', async () => {
    const busy: Server = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as { port: number }).port
    try {
      const err = await start([good], { port }).catch((e: unknown) => e as Error)
      expect(err).toMatchObject({ name: 'PortInUseError', port, shortMessage: `Port ${port} is in use on 127.0.0.1: the service cannot listen there.` })
      expect((err as Error).message).toContain('Pass --port 0 (any free port) or another port')
      const wal = await TraceWal.open({ dir: walDir(), agentId: good.record.agentId })
      await wal.close()
    } finally {
      await new Promise((r) => busy.close(r))
    }
  })

  it('a stand-by takes an agent over within a second; one found damaged on takeover is quarantined, not retried', async () => {
    writeFileSync(logOf(damaged), goodWal)
    const held = new Map<DeployedAgent, TraceWal>()
    for (const d of [damaged, good]) held.set(d, await TraceWal.open({ dir: walDir(), agentId: d.record.agentId }))
    service = await start([damaged, good])
    const worker = service.worker!
    const h0 = await health(service)
    expect(h0.status).toBe(200)
    expect(h0.body).toEqual({
      status: 'ok',
      agents: [
        { name: 'svc-mod-1', agentId: damaged.record.agentId, state: 'standby', heldBy: process.pid },
        { name: 'svc-mod-2', agentId: good.record.agentId, state: 'standby', heldBy: process.pid },
      ],
    })

    const released = Date.now()
    await held.get(good)!.close()
    await until(async () => (worker.hosts().has(good.record.agentId) ? true : undefined), 'the stand-by to take svc-mod-2 over', 10_000)
    const takeoverMs = Date.now() - released
    expect(takeoverMs).toBeLessThan(1_500)

    // the holder dies, leaving a damaged WAL behind: the stand-by quarantines it once
    damageWal()
    await held.get(damaged)!.close()
    await until(async () => (worker.quarantined().has(damaged.record.agentId) ? true : undefined), 'svc-mod-1 to be quarantined', 10_000)
    expect(worker.standingBy().size).toBe(0)
    await new Promise((r) => setTimeout(r, 1_200))
    expect(events.filter((e) => e.startsWith('quarantined agent svc-mod-1'))).toHaveLength(1)

    const h1 = await health(service)
    expect(h1.status).toBe(503)
    expect(h1.body.agents.map((a) => [a.name, a.state])).toEqual([
      ['svc-mod-1', 'quarantined'],
      ['svc-mod-2', 'hosted'],
    ])
    const t = await finished(service.url, await postTask(service.url, { agent: 'svc-mod-2', task: modTask(20) }))
    expect(t.status).toBe('completed')
  })

  it('`covenant serve` on a busy port and `covenant worker` with nothing to host exit 1 and let go', async () => {
    damageWal()
    const busy: Server = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as { port: number }).port
    const common = ['--data-dir', dataDir, '--rpc', stack.rpcUrl, '--deployment', stack.deploymentFile, '--da', stack.daServer.url]
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['bin/covenant.js', ...args, ...common], { env: { ...process.env, COVENANT_PASSWORD: PASSWORD }, stdio: ['ignore', 'ignore', 'pipe'] })
        let stderr = ''
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
        // a process that printed its error but kept running (holding locks, connections) fails here
        const timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`covenant ${args.join(' ')} did not exit:\n${stderr}`))
        }, 45_000)
        child.once('exit', (code) => {
          clearTimeout(timer)
          resolve({ code, stderr })
        })
      })
    try {
      const [serve, worker] = await Promise.all([
        run(['serve', 'svc-mod-2', '--port', String(port)]),
        run(['worker', 'svc-mod-1', '--redis', REDIS_URL, '--redis-prefix', PREFIX]),
      ])
      expect(serve.code, serve.stderr).toBe(1)
      expect(serve.stderr).toContain(`PortInUseError: Port ${port} is in use`)
      expect(worker.code, worker.stderr).toBe(1)
      expect(worker.stderr).toMatch(/quarantined agent svc-mod-1 .*WalCorruptedError/)
      expect(worker.stderr).toContain('NoAgentHostedError: No agent can be hosted')
    } finally {
      await new Promise((r) => busy.close(r))
    }
  }, 60_000)
})
