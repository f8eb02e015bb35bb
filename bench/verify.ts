// bench/verify: what checking agents costs, and how fast a fault turns into a slash.
//
//   npx tsx bench/verify.ts [--json] [--steps 1024] [--runs 3]
//
// Prints, on a fresh anvil chain with the local DA store and the shipped moderation model:
//   - steps verified per second per worker: a committed batch of mixed steps (a quarter
//     each input, moderation inference, in-policy payment, output) fetched from DA, checked
//     (commitment, schema, chain, root) and every step judged (policy, registered models,
//     exact replay), with 1 and 2 replay workers in this process;
//   - detection latency, commit → dispute opened (or proven), of a running verifier
//     (poll 100 ms), per fault kind, median of --runs;
//   - commit → slash time with a zero challenge delay (no grace period for withheld
//     blobs; three verifiers voting in this process; a withheld blob nobody answers
//     slashes at the dispute deadline, jumped to in chain time);
//   - gas of each dispute path (commit + reveal of the evidence included) and of voting.
// Numbers depend on the machine and its load; this prints them, it asserts nothing.
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { keccak256, toHex } from 'viem'
import { startTestChain, type TestChain } from '../test/fixtures/chain.js'
import { openDispute, registerVerifier, resolveExpired } from '../src/bonds/index.js'
import { increaseTime } from '../src/bonds/devTime.js'
import { LocalDAStore } from '../src/da/index.js'
import {
  AgentBook,
  checkBatchSteps,
  createJobQueue,
  fetchAndCheckBatch,
  getBatchEvents,
  replayJobHandler,
  replayJobId,
  TraceIndex,
  VerifierNode,
  type ReplayJobData,
  type ReplayJobResult,
  type VerifierEvent,
} from '../src/verify/index.js'
import { createTestAgent, ETH, moderationDigest, tempDir, type TestAgent } from '../src/verify/_testing.js'
import { localReplayer } from '../src/verify/replayers.js'
import { flag, intOpt } from './lib/args.js'

const json = flag('--json')
const STEPS = intOpt('--steps', 1024)
const RUNS = intOpt('--runs', 3)
const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

let chain: TestChain
let da: LocalDAStore
let root: string
let nextWallet = 0

async function agent(): Promise<TestAgent> {
  return createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: 10 + (nextWallet++ % 10), payee: 8 }, da, dir: await tempDir(), modelDigests: [await moderationDigest()] })
}

// ---------------------------------------------------------------------------------------
// 1. throughput

async function throughput() {
  const a = await agent()
  const per = Math.max(1, Math.floor(STEPS / 4))
  for (let i = 0; i < per; i++) {
    const id = `${a.agentId}-${i.toString(16).padStart(12, '0')}`
    await a.op.classify(id, `message ${i}: ${i % 5 === 0 ? 'win a free prize now' : 'see you at the meeting'}`)
    await a.op.pay(id, { to: chain.account(8).address, value: 1n + BigInt(i), send: false })
  }
  await a.op.commit()
  const [ev] = await getBatchEvents(chain.reader, a.agentId)
  if (!ev) throw new Error('no batch')
  const out: Record<string, number> = {}
  for (const workers of [1, 2]) {
    const queue = createJobQueue<ReplayJobData, ReplayJobResult>({ name: `bench-${workers}-${Date.now()}` })
    const worker = await queue.process(replayJobHandler(localReplayer()), { concurrency: workers })
    const ctx = {
      client: chain.reader,
      da,
      agents: new AgentBook(chain.reader),
      index: new TraceIndex({ client: chain.reader, da }),
      manifests: [],
      withheldGraceSeconds: 0,
      replay: (job: ReplayJobData) => queue.run(`${replayJobId(job)}-${workers}`, job),
    }
    const t0 = performance.now()
    const check = await fetchAndCheckBatch(da, ev)
    if (check.status !== 'ok') throw new Error(check.reason)
    const t1 = performance.now()
    const r = await checkBatchSteps(ctx, ev, check.batch.steps, check.leaves)
    const t2 = performance.now()
    if (r.faults.length) throw new Error('honest batch reported faulty')
    const steps = check.batch.steps.length
    const inferences = check.batch.steps.filter((s) => s.kind === 'inference').length
    out[`workers${workers}_stepsPerSecond`] = round(steps / ((t2 - t0) / 1000))
    out[`workers${workers}_stepsPerSecondPerWorker`] = round(steps / ((t2 - t0) / 1000) / workers)
    out[`workers${workers}_replaysPerSecond`] = round(inferences / ((t2 - t1) / 1000))
    out[`workers${workers}_fetchCheckMs`] = round(t1 - t0)
    out[`workers${workers}_stepChecksMs`] = round(t2 - t1)
    out.batchSteps = steps
    await worker.close()
    await queue.close()
  }
  await a.op.close()
  return out
}

// ---------------------------------------------------------------------------------------
// 2 + 3. latency and gas, with running verifiers

type Timed = { detectMs: number; actedMs: number; slashMs: number | undefined; gas: bigint; voteGas: bigint[] }

async function withNodes<T>(fn: (nodes: VerifierNode[], events: VerifierEvent[][]) => Promise<T>): Promise<T> {
  const nodes: VerifierNode[] = []
  const events: VerifierEvent[][] = []
  for (const i of [5, 6, 7]) {
    const ev: VerifierEvent[] = []
    events.push(ev)
    const n = new VerifierNode({
      client: chain.as(i),
      da,
      dataDir: join(root, `node-${i}-${Date.now()}`),
      replayer: localReplayer(),
      act: i === 5,
      withheldGraceSeconds: 0,
      pollIntervalMs: 100,
      startBlock: await chain.reader.publicClient.getBlockNumber(),
      onEvent: (e) => ev.push(Object.assign({}, e, { at: performance.now() })),
    })
    await n.start()
    nodes.push(n)
  }
  try {
    return await fn(nodes, events)
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

const at = (e: VerifierEvent | undefined) => (e as { at?: number } | undefined)?.at ?? Number.NaN

async function until<T>(fn: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() - started > timeoutMs) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

type Kind = 'PolicyBreach' | 'InferenceFraud' | 'DataWithheld' | 'InvalidBatch'

async function measure(kind: Kind, events: VerifierEvent[][]): Promise<Timed> {
  const a = await agent()
  const id = `${a.agentId}-000000000001`
  await a.op.append({ kind: 'input', actionId: id, timestamp: 1, task: 'x' })
  if (kind === 'PolicyBreach') await a.op.pay(id, { to: chain.account(8).address, value: ETH('2'), send: false })
  if (kind === 'InferenceFraud') await a.op.classify(id, 'limited offer, click the link', { fake: true })
  if (kind === 'DataWithheld' || kind === 'InvalidBatch') await a.op.append({ kind: 'output', actionId: id, timestamp: 2, result: 'y' })
  const t0 = performance.now()
  if (kind === 'DataWithheld') await a.op.commitWithheld()
  else if (kind === 'InvalidBatch') await a.op.commitWrongRoot()
  else await a.op.commit()
  const mine = (e: VerifierEvent) => 'fault' in e && e.fault.agentId === a.agentId
  const main = events[0] as VerifierEvent[]
  const fault = await until(() => main.find((e) => e.type === 'fault' && mine(e)))
  const acted = await until(() => main.find((e): e is Extract<VerifierEvent, { type: 'challenge' }> => e.type === 'challenge' && mine(e)))
  let slashAt: number | undefined
  const voteGas: bigint[] = []
  if (acted.result.status === 'proven') slashAt = at(acted)
  else if (acted.result.status === 'opened') {
    const id2 = acted.result.disputeId
    // nobody can answer a withheld blob: the chain slashes once the dispute period passes
    // (chain time jumps here; on a real chain add the dispute period to the figure)
    if (kind === 'DataWithheld') await increaseTime(chain.reader.publicClient, chain.deployment.params.disputePeriod + 1)
    const resolved = await until(() => main.find((e) => e.type === 'resolved' && e.disputeId === id2))
    slashAt = at(resolved)
    for (const ev of events) for (const e of ev) if (e.type === 'vote' && e.disputeId === id2) voteGas.push(e.gasUsed)
  }
  await a.op.close()
  return {
    detectMs: at(fault) - t0,
    actedMs: at(acted) - t0,
    slashMs: slashAt === undefined ? undefined : slashAt - t0,
    gas: 'gasUsed' in acted.result ? acted.result.gasUsed : 0n,
    voteGas,
  }
}

async function latencies() {
  return withNodes(async (_nodes, events) => {
    const out: Record<string, unknown> = {}
    const gas: Record<string, string> = {}
    for (const kind of ['PolicyBreach', 'InferenceFraud', 'DataWithheld', 'InvalidBatch'] as const satisfies readonly Kind[]) {
      const runs: Timed[] = []
      for (let i = 0; i < RUNS; i++) {
        runs.push(await measure(kind, events))
        log(`  ${kind} run ${i + 1}: detected ${round(runs.at(-1)!.detectMs)} ms, acted ${round(runs.at(-1)!.actedMs)} ms, slashed ${round(runs.at(-1)!.slashMs ?? Number.NaN)} ms`)
      }
      out[kind] = {
        commitToDetectedMs: round(median(runs.map((r) => r.detectMs))),
        commitToDisputeOpenedMs: round(median(runs.map((r) => r.actedMs))),
        commitToSlashMs: round(median(runs.map((r) => r.slashMs ?? Number.NaN))),
      }
      const path = kind === 'PolicyBreach' ? 'provePolicyBreach' : kind === 'DataWithheld' ? 'challengeData DataWithheld' : `openDispute ${kind}`
      gas[`${path} (commit + reveal)`] = (runs[0]?.gas ?? 0n).toString()
      const votes = runs[0]?.voteGas ?? []
      if (votes.length) {
        gas['submitVerdicts, one vote, no quorum yet'] = votes.reduce((a, b) => (a < b ? a : b)).toString()
        gas['submitVerdicts, the vote that settles (slash + payouts)'] = votes.reduce((a, b) => (a > b ? a : b)).toString()
      }
    }
    return { latency: out, gas }
  })
}

async function otherGas() {
  const gas: Record<string, string> = {}
  // equivocation, untraced, subjective and expiry, driven directly
  const { challenge } = await import('../src/verify/index.js')
  const a = await agent()
  await a.op.append({ kind: 'input', actionId: 'e', timestamp: 1, task: 'x' }, { kind: 'output', actionId: 'e', timestamp: 2, result: 'y' })
  const { sequence } = await a.op.equivocate()
  const [line] = (await (await import('node:fs/promises')).readFile(a.op.headersFile, 'utf8')).trim().split('\n')
  const { signedHeaderSchema, toBatchHeader } = await import('../src/verify/index.js')
  const h = signedHeaderSchema.parse(JSON.parse(line ?? '{}'))
  const { getBatch } = await import('../src/bonds/index.js')
  const c = await getBatch(chain.reader, a.agentId, sequence)
  const eq = await challenge(chain.as(4), {
    type: 'Equivocation',
    agentId: a.agentId,
    sequence,
    a: toBatchHeader(h.header),
    sigA: h.signature,
    b: { agentId: a.agentId, sequence, merkleRoot: c!.merkleRoot, daCommitmentHash: c!.daCommitmentHash, stepCount: c!.stepCount },
    reason: 'bench',
  })
  if (eq.status === 'proven') gas['proveEquivocation (commit + reveal)'] = eq.gasUsed.toString()
  const b = await agent()
  const tx = await b.op.sendUntraced({ to: chain.account(8).address, value: 1n })
  const un = await openDispute(chain.as(4), { kind: 'UntracedAction', agentId: b.agentId, subject: tx })
  gas['openDispute UntracedAction (commit + reveal)'] = un.gasUsed.toString()
  await b.op.append({ kind: 'output', actionId: 's', timestamp: 1, result: 'x' })
  await b.op.commit()
  const sub = await openDispute(chain.as(4), { kind: 'SubjectiveClaim', agentId: b.agentId, sequence: 0n, stepIndex: 0, subject: keccak256(toHex('rude')) })
  gas['openDispute SubjectiveClaim (commit + reveal)'] = sub.gasUsed.toString()
  await increaseTime(chain.reader.publicClient, chain.deployment.params.disputePeriod + 1)
  const ex = await resolveExpired(chain.as(4), { disputeId: sub.disputeId })
  gas['resolveExpired'] = ex.gasUsed.toString()
  await a.op.close()
  await b.op.close()
  return gas
}

chain = await startTestChain()
try {
  root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  log(`bench/verify on ${cpus().length} cores (load ${loadavg().map((x) => x.toFixed(1)).join(' ')}), batch of ${STEPS} steps, ${RUNS} runs`)
  log('throughput…')
  const tp = await throughput()
  log(`  1 worker: ${tp.workers1_stepsPerSecondPerWorker} steps/s (replays ${tp.workers1_replaysPerSecond}/s); 2 workers: ${tp.workers2_stepsPerSecond} steps/s in all`)
  log('latency (three verifiers running, poll 100 ms)…')
  const lat = await latencies()
  log('gas of the other paths…')
  const gas = { ...lat.gas, ...(await otherGas()) }
  const result = { machine: { cores: cpus().length, load: loadavg().map((x) => round(x, 2)) }, throughput: tp, latency: lat.latency, gas }
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  else {
    const l = lat.latency as Record<string, Record<string, number>>
    process.stdout.write(
      [
        `steps verified per second per worker (batch of ${tp.batchSteps}: fetch + check + judge every step, exact replays): ${tp.workers1_stepsPerSecondPerWorker} (1 worker), ${tp.workers2_stepsPerSecondPerWorker} (2 workers; ${tp.workers2_stepsPerSecond} in all)`,
        `  replays per second: ${tp.workers1_replaysPerSecond} (1 worker), ${tp.workers2_replaysPerSecond} (2 workers); fetch + batch check ${tp.workers1_fetchCheckMs} ms`,
        'commit → detected / dispute opened (or proven) / slashed, median ms:',
        ...Object.entries(l).map(([k, v]) => `  ${k.padEnd(15)} ${v.commitToDetectedMs} / ${v.commitToDisputeOpenedMs} / ${v.commitToSlashMs}`),
        'gas:',
        ...Object.entries(gas).map(([k, v]) => `  ${k.padEnd(58)} ${v}`),
      ].join('\n') + '\n',
    )
  }
} finally {
  await chain.stop()
}
