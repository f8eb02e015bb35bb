/**
 * Shared pieces of the fault suite (`npm run test:faults`): a seeded random source, child
 * processes with their output (redis-server, `covenant` commands), and the audit every
 * scenario ends with — the WAL of each agent against the chain (TraceLog batches, the
 * wallet's transactions) and DA (every blob decodes to its WAL steps under its root).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import type { Address, Hex } from 'viem'
import { getBatch, getNextSequence } from '../../src/bonds/actions/getBatch.js'
import { getAccount } from '../../src/bonds/actions/getAccount.js'
import { decodeAccountCall } from '../../src/wallet/accountCall.js'
import type { CovenantClient } from '../../src/bonds/client.js'
import { traceLogAbi } from '../../src/bonds/generated/abis.js'
import type { DAClient } from '../../src/da/client.js'
import { batchRoot, decodeBatch } from '../../src/trace/index.js'
import type { Step, WalletStep } from '../../src/trace/schemas.js'
import { readWalFile, walPaths } from '../../src/trace/wal.js'

export const BIN = resolve('bin/covenant.js')

/** mulberry32: a small seeded PRNG, so a failing run's schedule can be replayed (FAULT_SEED). */
export function seededRandom(seed: number): { seed: number; next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (xs) => xs[Math.floor(next() * xs.length)]! }
}

export function faultSeed(): number {
  const fromEnv = Number(process.env.FAULT_SEED)
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolvePort(port))
    })
  })
}

export type Proc = {
  name: string
  child: ChildProcess
  pid: number
  /** stdout and stderr lines so far */
  lines: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves with the first line (seen or to come) that matches. */
  line(match: RegExp, timeoutMs?: number): Promise<string>
  alive(): boolean
  kill9(): Promise<void>
  term(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function spawnProc(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buf = ''
    stream?.on('data', (chunk: Buffer) => {
      buf += chunk.toString()
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(buf.slice(0, i))
        buf = buf.slice(i + 1)
      }
    })
  }
  collect(child.stdout)
  collect(child.stderr)
  let gone = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      gone = true
      r({ code, signal })
    }),
  )
  const line = async (match: RegExp, timeoutMs = 120_000) => {
    const end = Date.now() + timeoutMs
    for (;;) {
      const hit = lines.find((l) => match.test(l))
      if (hit !== undefined) return hit
      if (gone) throw new Error(`${name} exited before printing ${match}:\n${lines.slice(-40).join('\n')}`)
      if (Date.now() > end) throw new Error(`${name} did not print ${match} in ${timeoutMs} ms:\n${lines.slice(-40).join('\n')}`)
      await sleep(25)
    }
  }
  return {
    name,
    child,
    pid: child.pid ?? -1,
    lines,
    exited,
    line,
    alive: () => !gone,
    async kill9() {
      if (!gone) child.kill('SIGKILL')
      await exited
    },
    async term() {
      if (!gone) child.kill('SIGTERM')
      return exited
    },
  }
}

/** A `covenant …` command as a child process (through bin/covenant.js, as a user runs it). */
export function spawnCovenant(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  return spawnProc(name, process.execPath, [BIN, ...args], { ...process.env, ...env })
}

export type RedisServer = { url: string; port: number; proc: Proc; stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>; start(): Promise<void> }

/**
 * A redis-server of our own on a free port, never the shared one. In memory only by
 * default (`--save "" --appendonly no`); with `aofDir` it keeps an append-only file fsynced
 * on every write there, so a SIGKILL loses nothing Redis acknowledged (how a production
 * Redis behind BullMQ should run) and a restart on the same port reloads it.
 */
export async function startRedis(o: { aofDir?: string | undefined } = {}): Promise<RedisServer> {
  const port = await freePort()
  const persistence = o.aofDir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', o.aofDir] : ['--appendonly', 'no']
  const r: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc: undefined as unknown as Proc,
    async stop(signal = 'SIGKILL') {
      if (!r.proc.alive()) return
      r.proc.child.kill(signal)
      await r.proc.exited
    },
    async start() {
      r.proc = spawnProc(`redis-${port}`, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--daemonize', 'no'])
      await r.proc.line(/Ready to accept connections/, 30_000)
    },
  }
  await r.start()
  return r
}

// ---------------------------------------------------------------------------------------
// the audit: WAL ↔ chain ↔ DA

export type TraceAudit = {
  steps: number
  actions: number
  batches: number
  /** Of those, committed in a bundle shared with other batches (TraceLog.commitBundle). */
  bundled: number
  walletSteps: number
  /** Transactions the wallet sent, counted on chain (every block scanned). */
  walletTxsOnChain: number
  interrupted: string[]
  /** Closed as interrupted though nothing was signed (a service should have re-run them). */
  interruptedUnsigned: string[]
  recoveredWalletSteps: number
}

export async function walSteps(dataDir: string, agentId: string): Promise<Step[]> {
  return (await readWalFile(walPaths(join(dataDir, 'wal'), agentId).log, agentId)).steps
}

export function readCursorFile(dataDir: string, agentId: string): { nextIndex: number; nextSequence: number; pending: unknown } {
  try {
    return JSON.parse(readFileSync(walPaths(join(dataDir, 'wal'), agentId).cursor, 'utf8')) as { nextIndex: number; nextSequence: number; pending: unknown }
  } catch {
    return { nextIndex: 0, nextSequence: 0, pending: null }
  }
}

/** Transactions sent from `address`, from every block of the chain, in order. */
export async function transactionsFrom(client: CovenantClient, address: Address): Promise<{ hash: Hex; nonce: number; to: Address | null; value: bigint; input: Hex }[]> {
  const pc = client.publicClient
  const latest = await pc.getBlockNumber()
  const out: { hash: Hex; nonce: number; to: Address | null; value: bigint; input: Hex }[] = []
  for (let b = 0n; b <= latest; b++) {
    const block = await pc.getBlock({ blockNumber: b, includeTransactions: true })
    for (const tx of block.transactions) {
      if (typeof tx !== 'string' && tx.from.toLowerCase() === address.toLowerCase()) out.push({ hash: tx.hash, nonce: tx.nonce, to: tx.to, value: tx.value, input: tx.input })
    }
  }
  return out
}

/**
 * Everything an agent's trace promises, checked from the outside (call with the agent's
 * host stopped, after its final flush):
 * - every action in the WAL has exactly one input and one output step;
 * - every wallet step's transaction is on chain exactly once (one per nonce, no gaps, the
 *   same to/value/data), and the wallet sent nothing else;
 * - the committed batches on chain cover WAL steps 0…n-1 exactly once, in order, and each
 *   blob on DA decodes to exactly those steps under the committed root.
 */
export async function auditAgent(p: {
  dataDir: string
  agentId: string
  wallet?: Address | undefined
  client: CovenantClient
  da: Pick<DAClient, 'get'>
  expect: (cond: boolean, message: string) => void
}): Promise<TraceAudit> {
  const { expect } = p
  const steps = await walSteps(p.dataDir, p.agentId)
  const byAction = new Map<string, Step[]>()
  for (const s of steps) byAction.set(s.actionId, [...(byAction.get(s.actionId) ?? []), s])
  const interrupted: string[] = []
  const interruptedUnsigned: string[] = []
  let recoveredWalletSteps = 0
  for (const [id, list] of byAction) {
    const inputs = list.filter((s) => s.kind === 'input').length
    const outputs = list.filter((s) => s.kind === 'output')
    const status = (s: Step) => (s.kind === 'output' ? (s.result as { status?: string } | null)?.status : undefined)
    // every attempt is closed by an output; an attempt is re-run only after a crash
    // interrupted it before it signed anything (so every output but the last is 'interrupted')
    expect(inputs >= 1 && outputs.length === inputs, `action ${id}: ${inputs} input and ${outputs.length} output steps (want one output per attempt)`)
    expect(outputs.slice(0, -1).every((o) => status(o) === 'interrupted'), `action ${id}: an attempt before the last was not interrupted`)
    expect(list.filter((s) => s.kind === 'wallet').length <= 1, `action ${id}: more than one wallet step`)
    expect(list.at(-1)?.kind === 'output', `action ${id}: the output step is not its last step`)
    const out = outputs.at(-1)
    if (out && status(out) === 'interrupted') {
      interrupted.push(id)
      // an unsigned one should have run again (a service re-runs its stalled job)
      if (!list.some((s) => s.kind === 'wallet')) interruptedUnsigned.push(id)
    }
    for (const s of list) if (s.kind === 'tool' && s.tool === 'covenant.recover') recoveredWalletSteps += ((s.args as { walletSteps?: unknown[] }).walletSteps ?? []).length
  }
  const walletSteps = steps.filter((s): s is WalletStep => s.kind === 'wallet')
  let walletTxsOnChain = 0
  if (p.wallet) {
    const nonces = walletSteps.map((s) => s.nonce)
    expect(isDeepStrictEqual(nonces, nonces.map((_, i) => i)), `wallet step nonces are not 0…n-1 in order: ${nonces.join(',')}`)
    const txs = await transactionsFrom(p.client, p.wallet)
    walletTxsOnChain = txs.length
    expect(txs.length === walletSteps.length, `the wallet sent ${txs.length} transactions, its trace authorised ${walletSteps.length}`)
    expect(new Set(txs.map((t) => t.hash)).size === txs.length, 'a transaction hash appears twice on chain')
    expect(new Set(txs.map((t) => t.nonce)).size === txs.length, 'a nonce is used twice on chain')
    for (const s of walletSteps) {
      const tx = txs.find((t) => t.nonce === s.nonce)
      if (s.from === p.wallet.toLowerCase()) {
        expect(!!tx && tx.to?.toLowerCase() === s.to && tx.value === BigInt(s.value) && tx.input.toLowerCase() === s.data, `nonce ${s.nonce}: the transaction on chain is not the one wallet step ${s.index} authorised`)
        continue
      }
      // account mode: the signer's execute call on the account, carrying exactly the step
      const call = tx ? decodeAccountCall(tx.input) : undefined
      expect(
        !!tx && tx.to?.toLowerCase() === s.from && tx.value === 0n && !!call && call.to.toLowerCase() === s.to && call.value === BigInt(s.value) &&
          call.data.toLowerCase() === s.data && call.stepIndex === s.index && call.prevHash === s.prevHash && call.nonce === s.nonce,
        `nonce ${s.nonce}: the transaction on chain is not the account call wallet step ${s.index} authorised`,
      )
    }
    // every call the agent's account made is covered by a committed batch
    const account = await getAccount(p.client, BigInt(p.agentId))
    expect(account.coveredCalls === account.callCount, `agent ${p.agentId}: ${account.callCount - account.coveredCalls} account calls uncovered`)
  }
  // batches
  const agentId = BigInt(p.agentId)
  const next = Number(await getNextSequence(p.client, agentId))
  const cursor = readCursorFile(p.dataDir, p.agentId)
  expect(cursor.pending === null, `agent ${p.agentId}: the cursor still has a pending batch`)
  expect(cursor.nextIndex === steps.length, `agent ${p.agentId}: the cursor is at step ${cursor.nextIndex}, the WAL has ${steps.length}`)
  expect(cursor.nextSequence === next, `agent ${p.agentId}: the cursor says ${cursor.nextSequence} batches, TraceLog ${next}`)
  const logs = await p.client.publicClient.getContractEvents({
    address: p.client.deployment.contracts.traceLog,
    abi: traceLogAbi,
    eventName: 'BatchCommitted',
    args: { agentId },
    fromBlock: 0n,
  })
  expect(logs.length === next, `agent ${p.agentId}: ${logs.length} BatchCommitted events for ${next} batches (a batch committed twice?)`)
  let covered = 0
  let bundled = 0
  for (let seq = 0; seq < next; seq++) {
    const b = await getBatch(p.client, agentId, BigInt(seq))
    expect(!!b, `batch ${seq} missing on chain`)
    if (b?.bundle) bundled++
    expect(Number(b!.firstIndex) === covered, `batch ${seq} starts at step ${b!.firstIndex}, expected ${covered} (gap or overlap)`)
    const log = logs.find((l) => l.args.sequence === BigInt(seq))
    expect(!!log, `no BatchCommitted event for batch ${seq}`)
    const blob = decodeBatch(await p.da.get(log!.args.daCommitment as Hex))
    expect(batchRoot(blob) === b!.merkleRoot, `batch ${seq}: the blob on DA does not verify against the committed root`)
    expect(blob.steps.length === Number(b!.stepCount), `batch ${seq}: ${blob.steps.length} steps in the blob, ${b!.stepCount} committed`)
    expect(isDeepStrictEqual(blob.steps, steps.slice(covered, covered + blob.steps.length)), `batch ${seq}: the blob's steps differ from the WAL's`)
    covered += blob.steps.length
  }
  expect(covered === steps.length, `agent ${p.agentId}: the batches cover ${covered} of ${steps.length} WAL steps`)
  return { steps: steps.length, actions: byAction.size, batches: next, bundled, walletSteps: walletSteps.length, walletTxsOnChain, interrupted, interruptedUnsigned, recoveredWalletSteps }
}
