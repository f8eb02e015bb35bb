// bench/cli-startup: how long the `covenant` command takes to start, as a user runs it.
//
//   npx tsx bench/cli-startup.ts [--json] [--runs 15] [--source-runs 3] [--no-build]
//
// Times whole processes, spawn to exit, of `node bin/covenant.js …` for
//   --version, --help, and one light verb (`inference models --json`: lists and hashes the
//   shipped models),
// run from the build (dist/: an installed package, or a checkout after `npm ci`) and from
// the sources through tsx (COVENANT_FROM_SOURCE=1: a checkout without a current build),
// plus `node -e 0` as the floor. Median of N runs after one warm-up each. It builds dist/
// first (`node scripts/build.mjs`) unless --no-build.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Summary, summarize } from './lib/stats.js'
import { flag, intOpt } from './lib/args.js'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const json = flag('--json')
const RUNS = intOpt('--runs', 15)
const SOURCE_RUNS = intOpt('--source-runs', 3)
const progress = (s: string) => process.stderr.write(`${s}\n`)

if (!flag('--no-build')) {
  progress('building dist/ …')
  const b = spawnSync(process.execPath, [join(repo, 'scripts', 'build.mjs')], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
  if (b.status !== 0) throw new Error('the build failed: the figures would be of the sources only')
}

const env = (fromSource: boolean): NodeJS.ProcessEnv => {
  const e = { ...process.env }
  for (const k of Object.keys(e)) if (k.startsWith('COVENANT_')) delete e[k]
  return fromSource ? { ...e, COVENANT_FROM_SOURCE: '1' } : e
}

/** Milliseconds from spawn to exit of `node <args>`, `runs` times after one warm-up. */
function time(nodeArgs: readonly string[], runs: number, fromSource = false): Summary {
  const samples: number[] = []
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(process.execPath, nodeArgs, { cwd: repo, env: env(fromSource), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    const ms = performance.now() - t0
    if (r.status !== 0) throw new Error(`node ${nodeArgs.join(' ')} exited ${r.status}: ${r.stderr}`)
    if (i > 0) samples.push(ms)
  }
  return summarize(samples)
}

const BIN = join(repo, 'bin', 'covenant.js')
const COMMANDS: Record<string, string[]> = {
  '--version': ['--version'],
  '--help': ['--help'],
  'inference models': ['inference', 'models', '--json'],
}
progress(`node -e 0 × ${RUNS} …`)
const floor = time(['-e', '0'], RUNS)
const built: Record<string, Summary> = {}
const sources: Record<string, Summary> = {}
for (const [name, a] of Object.entries(COMMANDS)) {
  progress(`covenant ${name} (dist/) × ${RUNS} …`)
  built[name] = time([BIN, ...a], RUNS)
}
for (const [name, a] of Object.entries(COMMANDS)) {
  progress(`covenant ${name} (sources through tsx) × ${SOURCE_RUNS} …`)
  sources[name] = time([BIN, ...a], SOURCE_RUNS, true)
}

const result = {
  unit: 'ms, spawn to exit',
  runs: RUNS,
  sourceRuns: SOURCE_RUNS,
  nodeFloor: floor,
  built,
  sources,
  headline: { versionMedianMs: built['--version']!.median, lightVerbMedianMs: built['inference models']!.median, versionFromSourcesMedianMs: sources['--version']!.median },
}
if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
else {
  const row = (name: string, s: Summary) => `  ${name.padEnd(26)} median ${String(s.median).padStart(7)}   min ${String(s.min).padStart(7)}   max ${String(s.max).padStart(7)}   (n=${s.n})`
  console.log(`covenant start-up, ${result.unit}`)
  console.log(row('node -e 0', floor))
  for (const [name, s] of Object.entries(built)) console.log(row(`${name} (dist/)`, s))
  for (const [name, s] of Object.entries(sources)) console.log(row(`${name} (tsx)`, s))
}
