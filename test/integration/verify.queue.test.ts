import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { parseEventLogs } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { bundleChild, type ChildBundle } from '../fixtures/childBundle.js'
import { disputeGameAbi, registerVerifier } from '../../src/bonds/index.js'
import { LocalDAStore } from '../../src/da/index.js'
import { createJobQueue, VerifierNode, type ReplayJobData, type ReplayJobResult, type VerifierEvent } from '../../src/verify/index.js'
import { createTestAgent, moderationDigest, tempDir, type TestAgent } from '../../src/verify/_testing.js'
import { localReplayer } from '../../src/verify/replayers.js'

// Replays fan out over BullMQ on the real Redis to several worker processes; one worker is
// SIGKILLed in the middle of a job. The job is recovered by another worker, the verifier
// gets every result, opens exactly one dispute and casts exactly one vote.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const QUEUE = `verify-it-${randomBytes(6).toString('hex')}`
const STEPS = 12

let chain: TestChain
let da: LocalDAStore
let root: string
let workerChild: ChildBundle
let a: TestAgent
const children: ChildProcess[] = []
const lines: Array<{ worker: number; line: string }> = []
const nodes: VerifierNode[] = []

function startWorker(worker: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [workerChild.path], {
    env: { ...process.env, REDIS_URL, QUEUE, DELAY_MS: '250', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString()
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        lines.push({ worker, line })
        if (line === 'ready') resolve(child)
      }
    })
    child.once('exit', (code) => reject(new Error(`worker ${worker} exited with ${code} before it was ready`)))
  })
}

function waitForLine(match: (l: { worker: number; line: string }) => boolean, timeoutMs = 30_000): Promise<{ worker: number; line: string }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const check = () => {
      const hit = lines.find(match)
      if (hit) return resolve(hit)
      if (Date.now() - started > timeoutMs) return reject(new Error('line not seen'))
      setTimeout(check, 20)
    }
    check()
  })
}

/** The first event in `events` (seen so far, or later) that `match` accepts. */
async function seen<E extends VerifierEvent>(events: VerifierEvent[], match: (e: VerifierEvent) => e is E, timeoutMs = 60_000): Promise<E> {
  const started = Date.now()
  for (;;) {
    const hit = events.find(match)
    if (hit) return hit
    if (Date.now() - started > timeoutMs) throw new Error('event not seen')
    await new Promise((r) => setTimeout(r, 20))
  }
}

beforeAll(async () => {
  workerChild = await bundleChild('src/verify/worker.child.ts')
  chain = await startTestChain()
  root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  a = await createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: 3, payee: 8 }, da, dir: root, modelDigests: [await moderationDigest()] })
  // verifiers 6 and 7 replay in-process, on their own
  for (const i of [6, 7]) {
    const n = new VerifierNode({ client: chain.as(i), da, dataDir: join(root, `v${i}`), replayer: localReplayer(), act: false, pollIntervalMs: 100 })
    await n.start()
    nodes.push(n)
  }
})

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  await workerChild?.dispose()
  await Promise.all(nodes.map((n) => n.stop()))
  const q = createJobQueue({ name: QUEUE, redisUrl: REDIS_URL })
  await q.obliterate().catch(() => {})
  await q.close()
  await a?.op.close()
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

it('several worker processes share the replay queue; a worker killed mid-job loses and doubles nothing', async () => {
  await startWorker(0, { MODE: 'hang' })
  const events: VerifierEvent[] = []
  const node = new VerifierNode({
    client: chain.as(5),
    da,
    dataDir: join(root, 'v5'),
    redisUrl: REDIS_URL,
    queueName: QUEUE,
    localWorkers: 0, // every replay runs in the worker processes
    pollIntervalMs: 100,
    onEvent: (e) => events.push(e),
  })
  expect(node.queue.kind).toBe('bullmq')
  await node.start()
  nodes.push(node)

  await a.op.append({ kind: 'input', actionId: 'q', timestamp: 1, task: 'moderate a thread' })
  for (let i = 0; i < STEPS; i++) await a.op.classify('q', `post number ${i}: ${i % 3 === 0 ? 'cheap pills, click here' : 'lovely weather today'}`, { fake: i === 7 })
  await a.op.append({ kind: 'output', actionId: 'q', timestamp: 2, result: 'done' })
  await a.op.commit()

  // worker 0 takes a job and stops inside it: kill it there
  const taken = await waitForLine((l) => l.worker === 0 && l.line.startsWith('active '))
  children[0]?.kill('SIGKILL')
  await Promise.all([startWorker(1), startWorker(2)])

  const challenge = await seen(events, (e): e is Extract<VerifierEvent, { type: 'challenge' }> => e.type === 'challenge')
  expect(challenge.fault.type).toBe('InferenceFraud')
  expect(challenge.fault.type === 'InferenceFraud' && challenge.fault.stepIndex).toBe(8) // input step, then step 7 of the loop
  if (challenge.result.status !== 'opened') throw new Error(challenge.result.status)
  const disputeId = challenge.result.disputeId
  const resolved = await seen(events, (e): e is Extract<VerifierEvent, { type: 'resolved' }> => e.type === 'resolved' && e.disputeId === disputeId)
  expect(resolved.status).toBe('Slashed')

  // every replay job ran to completion exactly once, the killed one included, on workers 1 and 2
  const done = lines.filter((l) => l.line.startsWith('done ')).map((l) => ({ worker: l.worker, id: l.line.slice(5) }))
  const ids = done.map((d) => d.id)
  expect(new Set(ids).size).toBe(STEPS)
  expect(ids.length).toBe(STEPS)
  expect(ids).toContain(taken.line.slice(7))
  expect(new Set(done.map((d) => d.worker))).toEqual(new Set([1, 2]))

  // one dispute, one counted vote per verifier
  const pc = chain.reader.publicClient
  const game = chain.deployment.contracts.disputeGame
  expect(await pc.readContract({ address: game, abi: disputeGameAbi, functionName: 'disputeCount' })).toBe(1n)
  const logs = parseEventLogs({ abi: disputeGameAbi, logs: await pc.getLogs({ address: game, fromBlock: 0n }), eventName: 'VerdictCounted' })
  const voters = logs.map((l) => l.args.verifier)
  expect(voters.sort()).toEqual([5, 6, 7].map((i) => chain.account(i).address).sort())

  // a verifier that restarts from nothing (state file gone) re-finds the fault and does nothing twice
  await node.stop()
  nodes.pop()
  await rm(join(root, 'v5', 'verifier-state.json'))
  const again: VerifierEvent[] = []
  const fresh = new VerifierNode({
    client: chain.as(5),
    da,
    dataDir: join(root, 'v5'),
    queue: createJobQueue<ReplayJobData, ReplayJobResult>({ name: QUEUE, redisUrl: REDIS_URL }),
    localWorkers: 0,
    onEvent: (e) => again.push(e),
  })
  await fresh.runOnce()
  await fresh.stop()
  await fresh.queue.close()
  const retried = again.find((e): e is Extract<VerifierEvent, { type: 'challenge' }> => e.type === 'challenge')
  expect(retried?.result).toMatchObject({ status: 'skipped', reason: 'already-proven' })
  expect(await pc.readContract({ address: game, abi: disputeGameAbi, functionName: 'disputeCount' })).toBe(1n)
  const after = parseEventLogs({ abi: disputeGameAbi, logs: await pc.getLogs({ address: game, fromBlock: 0n }), eventName: 'VerdictCounted' })
  expect(after.length).toBe(3)
  // the replays were not run again: their results were still in the queue
  expect(lines.filter((l) => l.line.startsWith('done ')).length).toBe(STEPS)
})
