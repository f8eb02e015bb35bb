// bench/profile: CPU profiles of the agent process and of a service worker, and their top
// self-time functions.
//
//   npm run bench:profile            (= npx tsx bench/profile.ts)
//   npx tsx bench/profile.ts [--out bench/profiles] [--actions 100] [--tasks 300] [--top 20] [--only agent|worker]
//
// Runs:
//   - agent:  bench/overhead.ts twice, one arm each (--only bare, --only covenant) with --actions N
//             and --profile: V8's sampling profiler over the measured actions only (start-up,
//             compilation and warm-up left out) of the process that holds the agent (and, for
//             Covenant, its Committer); the inference containers and anvil are other processes.
//             Prints Covenant's top functions and, by package or source file, the CPU each costs
//             per action in the Covenant arm less in the bare one: where Covenant's extra CPU goes.
//   - worker: bench/moderation.ts with --tasks N --rounds 1 under `node --cpu-prof` (written
//             when the process exits): the `covenant worker` process hosting the moderation agent
//             (the bench process itself — the API — is profiled too).
// The .cpuprofile files land in --out/<agent|worker>/, each run replacing only the part it profiles (open them in Chrome DevTools or
// speedscope); this prints, per profile, the functions with the most self time.
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { opt } from './lib/args.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..')
const OUT = resolve(opt('--out') ?? join(here, 'profiles'))
const ACTIONS = opt('--actions') ?? '100'
const TASKS = opt('--tasks') ?? '300'
const TOP = Number(opt('--top')) || 20
const ONLY = opt('--only') // agent | worker

type CpuProfile = {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

/** Self time (ms) per function, heaviest first. */
export function topSelfTime(profile: CpuProfile, top: number): { fn: string; selfMs: number; share: number }[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]!)
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    if (!node) continue
    const cf = node.callFrame
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').replace(`${repo}/`, '')}:${cf.lineNumber + 1}` : ''
    const key = `${cf.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
  }
  return [...self.entries()]
    .filter(([fn]) => fn !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, selfMs: Math.round(ms * 10) / 10, share: Math.round((ms / total) * 1000) / 10 }))
}

/** Self time (ms) by npm package, by source file of this repository, or by V8/Node function (native and internal). */
export function selfTimeByPlace(profile: CpuProfile): Map<string, number> {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const out = new Map<string, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const cf = byNode.get(profile.samples[i]!)?.callFrame
    if (!cf || cf.functionName === '(idle)') continue
    const url = cf.url.replace(/^file:\/\//, '')
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]
    const key = pkg ? `npm ${pkg}` : url.startsWith(repo) ? relative(repo, url) : url.startsWith('node:') ? url : cf.functionName || '(anonymous)'
    out.set(key, (out.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  }
  return out
}

/**
 * Runs a bench script (`node [nodeArgs] <tsx loader> bench/<script> ...args`) to its end;
 * resolves with its pid (the profiles a process writes carry its pid in their names).
 */
function runScript(script: string, scriptArgs: string[], o: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<number | undefined> {
  process.stdout.write(`profiling: ${script} ${scriptArgs.join(' ')} …\n`)
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), ...process.execArgv, join(here, script), ...scriptArgs], {
      cwd: repo,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
    child.once('exit', (code) => (code === 0 ? resolvePromise(child.pid) : reject(new Error(`${script} ${scriptArgs.join(' ')} exited with ${code}:\n${err}`))))
  })
}

/** The worker run's profiles in `dir`: the covenant worker process's and the bench process's (pid `benchPid`), main threads only. */
function reportWorker(dir: string, benchPid: number | undefined): void {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is a process's main thread; the
  // others are tsx's module-loader threads (compiling the sources at start-up), left out here
  const files = readdirSync(dir)
    .map((f) => ({ f, pid: /^CPU\.\d+\.\d+\.(\d+)\.0\.\d+\.cpuprofile$/.exec(f)?.[1] }))
    .filter((x) => x.pid !== undefined)
    .sort((a, b) => Number(a.pid === String(benchPid)) - Number(b.pid === String(benchPid)))
  for (const { f: file, pid } of files) {
    const what = pid === String(benchPid) ? 'the bench process (the service API)' : 'the covenant worker process'
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile
    const seconds = (profile.endTime - profile.startTime) / 1e6
    process.stdout.write(`\n${what}, main thread: ${relative(process.cwd(), join(dir, file))} (${seconds.toFixed(1)} s profiled; idle left out, shares of the profiled time) — top ${TOP} by self time\n`)
    for (const r of topSelfTime(profile, TOP)) process.stdout.write(`  ${String(r.selfMs).padStart(9)} ms ${String(r.share).padStart(5)} %  ${r.fn}\n`)
  }
}

function reportAgent(files: Record<'bare' | 'covenant', string>): void {
  const actions = Number(ACTIONS)
  const profiles = { bare: JSON.parse(readFileSync(files.bare, 'utf8')) as CpuProfile, covenant: JSON.parse(readFileSync(files.covenant, 'utf8')) as CpuProfile }
  const busy = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)
  const bare = selfTimeByPlace(profiles.bare)
  const cov = selfTimeByPlace(profiles.covenant)
  process.stdout.write(`\nthe Covenant agent's process over ${actions} actions: ${relative(process.cwd(), files.covenant)} — top ${TOP} by self time\n`)
  for (const r of topSelfTime(profiles.covenant, TOP)) process.stdout.write(`  ${String(r.selfMs).padStart(9)} ms ${String(r.share).padStart(5)} %  ${r.fn}\n`)
  const perAction = (ms: number) => (ms / actions).toFixed(3).padStart(8)
  process.stdout.write(
    `\nCPU per action (sampled, idle left out): bare ${perAction(busy(bare))} ms, Covenant ${perAction(busy(cov))} ms (its commits included), Covenant − bare ${perAction(busy(cov) - busy(bare))} ms\n`,
  )
  process.stdout.write(`where Covenant's extra CPU goes, by package or source file (ms per action, Covenant − bare; top ${TOP}):\n`)
  const rows = [...new Set([...bare.keys(), ...cov.keys()])].map((k) => ({ k, d: (cov.get(k) ?? 0) - (bare.get(k) ?? 0) })).sort((a, b) => b.d - a.d)
  for (const r of rows.slice(0, TOP)) process.stdout.write(`  ${perAction(r.d)} ms  ${r.k}\n`)
}

/** A fresh folder for one part's profiles (the other part's, from an earlier run, are kept). */
function freshDir(part: 'agent' | 'worker'): string {
  const dir = join(OUT, part)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

if (ONLY !== 'worker') {
  const dir = freshDir('agent')
  const files = { bare: join(dir, 'bare.cpuprofile'), covenant: join(dir, 'covenant.cpuprofile') }
  for (const arm of ['bare', 'covenant'] as const) await runScript('overhead.ts', ['--only', arm, '--actions', ACTIONS, '--warmup', '3', '--profile', files[arm]])
  reportAgent(files)
}
if (ONLY !== 'agent') {
  const dir = freshDir('worker')
  const benchPid = await runScript('moderation.ts', ['--tasks', TASKS, '--rounds', '1'], {
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    env: { COVENANT_BENCH_WORKER_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${dir}` },
  })
  reportWorker(dir, benchPid)
}
process.stdout.write(`\nprofiles in ${relative(process.cwd(), OUT) || OUT} ((program) is V8's row for work outside JavaScript; start-up — tsx compiling the sources — is in the profiles too)\n`)
