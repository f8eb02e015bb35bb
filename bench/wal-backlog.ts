// bench/wal-backlog: a trace WAL with a backlog of uncommitted steps (what piles up while DA or
// the chain is down, and what every open scans in while it lasts).
//
//   npx tsx bench/wal-backlog.ts [--json] [--steps 60000] [--memory-mib 32]
//
// Appends --steps output steps of ~550 bytes (non-durable but for the last), closes the WAL,
// then times a fresh `TraceWal.open` (recovery: every record's checksum, schema, canonical form
// and chain checked, the uncommitted steps kept in memory up to --memory-mib) and a `readAll`
// (what the agent wallet does at start-up). Prints wall times, the WAL's size, what it holds in
// memory (`memoryUse`) and the process's RSS. Figures, not assertions; not in `npm run bench`.
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TraceWal } from '../src/trace/wal.js'
import { flag, intOpt } from './lib/args.js'

const STEPS = intOpt('--steps', 60_000)
const MEMORY = intOpt('--memory-mib', 32) * 1024 * 1024
const JSON_OUT = flag('--json')

const dir = await mkdtemp(join(tmpdir(), 'covenant-bench-wal-'))
try {
  const wal = await TraceWal.open({ dir, agentId: '1', memoryBytes: MEMORY })
  let t = performance.now()
  for (let i = 0; i < STEPS; i++) {
    await wal.appendNext({ kind: 'output', actionId: `action-${i}`, timestamp: 1_700_000_000_000 + i, result: { text: 'x'.repeat(400), i } }, { durable: i === STEPS - 1 })
    if (!JSON_OUT && (i + 1) % 10_000 === 0) process.stderr.write(`  ${i + 1}/${STEPS} appended\n`)
  }
  const appendMs = performance.now() - t
  await wal.close()
  const bytes = (await stat(wal.paths.log)).size
  t = performance.now()
  const again = await TraceWal.open({ dir, agentId: '1', memoryBytes: MEMORY })
  const openMs = performance.now() - t
  t = performance.now()
  const all = await again.readAll()
  const readAllMs = performance.now() - t
  const memory = again.memoryUse
  await again.close()
  const result = {
    steps: STEPS,
    walMB: Math.round(bytes / 1e5) / 10,
    appendMs: Math.round(appendMs),
    openMs: Math.round(openMs),
    readAllMs: Math.round(readAllMs),
    readAllSteps: all.steps.length,
    memoryCapMiB: MEMORY / 1024 / 1024,
    memoryHeld: memory,
    rssMB: Math.round(process.memoryUsage().rss / 1e6),
  }
  if (JSON_OUT) console.log(JSON.stringify(result))
  else {
    console.log(`bench/wal-backlog — ${STEPS} uncommitted steps, WAL ${result.walMB} MB, memory cap ${result.memoryCapMiB} MiB`)
    console.log(`  append ${(appendMs / 1000).toFixed(1)} s · open ${(openMs / 1000).toFixed(1)} s · readAll ${(readAllMs / 1000).toFixed(1)} s`)
    console.log(`  held in memory: ${memory.steps} steps, ${(memory.bytes / 1e6).toFixed(1)} MB (from step ${memory.from}); RSS ${result.rssMB} MB`)
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
