// bench/trace: what recording and publishing a trace costs on this machine.
//
//   npx tsx bench/trace.ts [--json] [--steps 1000]
//
// Prints, for src/trace and src/da:
//   - per step: building + validating + leaf (in memory), and the same plus the WAL append
//     with fdatasync (what the wallet waits for before signing), p50/p99;
//   - Merkle root over 1, 64 and 1,024 leaves; batch encode/decode of 1,024 steps;
//   - DA put/get throughput, local store and eigenda-proxy client over HTTP (loopback).
// Gas per committed action is measured on chain by the bonds benchmarks, not here.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EigenDAProxyClient, LocalDAStore, MAX_BLOB_BYTES, type DAClient, startDAServer } from '../src/da/index.js'
import { sampleBodies } from '../src/trace/_fixtures.js'
import {
  TraceChain,
  TraceWal,
  decodeBatch,
  encodeBatch,
  genesisHead,
  buildMerkleTree,
  merkleRoot,
  stepLeaf,
  verifyMerkleProof,
  type Step,
  type StepBody,
} from '../src/trace/index.js'
import { flag, intOpt } from './lib/args.js'

const json = flag('--json')
const STEPS = intOpt('--steps', 1000)

const now = () => performance.now()
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}
function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / s.length
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), mean }
}
const round = (x: number, d = 3) => Number(x.toFixed(d))
const log = (line: string) => {
  if (!json) console.log(line)
}

function bodies(n: number): StepBody[] {
  const out: StepBody[] = []
  for (let i = 0; out.length < n; i++) out.push(...sampleBodies(`task-${i}`, 1_700_000_000_000 + i * 10))
  return out.slice(0, n)
}

async function perStep(dir: string) {
  const work = bodies(STEPS)
  const warm = new TraceChain(genesisHead('2'))
  for (const body of bodies(200)) warm.append(body) // warm-up, untimed
  // in memory: validate, link, leaf
  const chain = new TraceChain(genesisHead('1'))
  const mem: number[] = []
  for (const body of work) {
    const t = now()
    chain.append(body)
    mem.push(now() - t)
  }
  // durable: the same plus the WAL record and fdatasync
  const wal = await TraceWal.open({ dir, agentId: '1' })
  const durable: number[] = []
  const wallet: number[] = []
  for (const body of work) {
    const t = now()
    await wal.appendNext(body)
    const dt = now() - t
    durable.push(dt)
    if (body.kind === 'wallet') wallet.push(dt)
  }
  await wal.close()
  return { memory: stats(mem), wal: stats(durable), walWalletSteps: stats(wallet) }
}

function merkle() {
  const out: Record<string, { rootMs: number; proveAndVerifyUs: number }> = {}
  const chain = new TraceChain(genesisHead('1'))
  const steps: Step[] = bodies(1024).map((b) => chain.append(b).step)
  const leaves = steps.map(stepLeaf)
  for (const n of [1, 64, 1024]) {
    const ls = leaves.slice(0, n)
    const reps = n === 1024 ? 50 : 500
    const times: number[] = []
    for (let r = 0; r < reps; r++) {
      const t = now()
      merkleRoot(ls)
      times.push(now() - t)
    }
    const tree = buildMerkleTree(ls)
    const t = now()
    const proofs = 200
    for (let r = 0; r < proofs; r++) {
      const i = (r * 7919) % n
      verifyMerkleProof(tree.proof(i), tree.root, ls[i]!)
    }
    out[String(n)] = { rootMs: stats(times).p50, proveAndVerifyUs: ((now() - t) / proofs) * 1000 }
  }
  // a whole 1,024-step batch: encode (validate + canonical JSON), decode (parse, validate, chain, leaves)
  const batch = { version: 1 as const, agentId: '1', sequence: 0, steps }
  decodeBatch(encodeBatch(batch)) // warm-up, untimed
  let t = now()
  const blob = encodeBatch(batch)
  const encodeMs = now() - t
  t = now()
  decodeBatch(blob)
  const decodeMs = now() - t
  return { trees: out, batch1024: { bytes: blob.length, encodeMs, decodeMs } }
}

async function throughput(client: DAClient, size: number, reps: number) {
  await client.get(await client.put(new Uint8Array(randomBytes(size)))) // warm-up, untimed
  let put = 0
  let get = 0
  for (let r = 0; r < reps; r++) {
    const blob = new Uint8Array(randomBytes(size)) // fresh bytes: a repeated put is a no-op
    let t = now()
    const c = await client.put(blob)
    put += now() - t
    t = now()
    await client.get(c)
    get += now() - t
  }
  const mb = (size * reps) / (1024 * 1024)
  return { blobBytes: size, putMBps: mb / (put / 1000), getMBps: mb / (get / 1000) }
}

async function da(dir: string) {
  const store = new LocalDAStore({ dir: join(dir, 'da') })
  const server = await startDAServer({ store: new LocalDAStore({ dir: join(dir, 'da-http') }), port: 0 })
  try {
    const proxy = new EigenDAProxyClient({ url: server.url, retries: 0 })
    return {
      // the largest blob: what a 16 MiB EigenDA blob holds (15.5 MiB)
      local: [await throughput(store, 1 << 20, 16), await throughput(store, MAX_BLOB_BYTES, 3)],
      proxyHttp: [await throughput(proxy, 1 << 20, 16), await throughput(proxy, MAX_BLOB_BYTES, 3)],
    }
  } finally {
    await server.close()
  }
}

const dir = await mkdtemp(join(tmpdir(), 'covenant-bench-trace-'))
try {
  log(`bench/trace — node ${process.version}, ${STEPS} steps, tmp ${dir}`)
  const step = await perStep(join(dir, 'wal'))
  const us = (x: number) => `${round(x * 1000, 1)} µs`
  log('\nper step (validate + link + leaf; WAL adds the record and fdatasync)')
  log(`  in memory        p50 ${us(step.memory.p50)}  p99 ${us(step.memory.p99)}`)
  log(`  + WAL append     p50 ${us(step.wal.p50)}  p99 ${us(step.wal.p99)}`)
  log(`  wallet steps     p50 ${us(step.walWalletSteps.p50)}  p99 ${us(step.walWalletSteps.p99)}  (n=${step.walWalletSteps.n})`)
  const m = merkle()
  log('\nMerkle tree')
  for (const [n, r] of Object.entries(m.trees)) {
    log(`  ${n.padStart(5)} leaves  root ${round(r.rootMs, 3)} ms   proof (built tree) + verify ${round(r.proveAndVerifyUs, 1)} µs`)
  }
  log(`  1,024-step batch: ${(m.batch1024.bytes / 1024).toFixed(0)} KiB, encode ${round(m.batch1024.encodeMs, 1)} ms, decode+verify ${round(m.batch1024.decodeMs, 1)} ms`)
  const d = await da(dir)
  log('\nDA throughput (put includes fsync; get verifies the hash)')
  for (const [name, rows] of Object.entries(d)) {
    for (const r of rows) {
      log(`  ${name.padEnd(10)} ${(r.blobBytes / 2 ** 20).toFixed(1).padStart(4)} MiB blobs  put ${round(r.putMBps, 1)} MB/s   get ${round(r.getMBps, 1)} MB/s`)
    }
  }
  if (json) console.log(JSON.stringify({ steps: STEPS, perStepMs: step, merkle: m, da: d }, null, 2))
} finally {
  await rm(dir, { recursive: true, force: true })
}
