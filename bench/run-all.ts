// bench/run-all: every benchmark, one after another, into bench/results.json.
//
//   npm run bench            (= npx tsx bench/run-all.ts)
//   npx tsx bench/run-all.ts [--only gas,overhead,cli-startup] [--timeout 300] [--out bench/results.json]
//
// Runs each bench script with --json as a child process, sequentially (so they do not
// compete with each other for the machine), keeps its JSON, and records an error for a
// script that fails, times out or prints no JSON, then goes on. Writes the results with the
// machine they came from and prints a short table of the headline figures.
// Benchmarks print figures; nothing here is a test and nothing asserts a time.
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { opt } from './lib/args.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..')
const BENCHES = ['gas', 'erc8004', 'overhead', 'overhead-eoa', 'overhead-bare-node-http', 'overhead-1s-blocks', 'trace', 'da-http', 'inference', 'verify', 'moderation', 'service', 'cli-startup'] as const
/** Left out unless named in --only: the full service matrix (1/2/4 workers, treasury too) takes minutes; `moderation` gives its headline figure. */
const OPT_IN: readonly BenchName[] = ['service']
type BenchName = (typeof BENCHES)[number]
/** Benches that run another script with arguments. */
const VARIANTS: Partial<Record<BenchName, { script: string; args: string[] }>> = {
  // the same comparison on a chain that mines a block a second, as real chains do
  'overhead-1s-blocks': { script: 'overhead', args: ['--block-time', '1', '--actions', '30', '--warmup', '3'] },
  // the weaker EOA mode (the signer pays from its own balance), as runs 1-8 measured it
  'overhead-eoa': { script: 'overhead', args: ['--wallet', 'eoa'] },
  // the bare agent on node:http too, as Covenant's clients: what is left is accountability work
  'overhead-bare-node-http': { script: 'overhead', args: ['--bare-http', 'node'] },
  'da-http': { script: 'da-http', args: ['--reps', '30', '--sizes', '1,8'] },
  moderation: { script: 'moderation', args: ['--tasks', '3000', '--rounds', '5'] },
}
const only = opt('--only')?.split(',') ?? null
const TIMEOUT_S = Number(opt('--timeout')) || 300
const OUT = opt('--out') ?? join(here, 'results.json')

type Run = { ok: true; seconds: number; result: unknown } | { ok: false; seconds: number; error: string; stderrTail?: string }

function runOne(name: BenchName): Promise<Run> {
  const variant = VARIANTS[name]
  const file = join(here, `${variant?.script ?? name}.ts`)
  if (!existsSync(file)) return Promise.resolve({ ok: false, seconds: 0, error: `${relative(repo, file)} does not exist` })
  const started = performance.now()
  return new Promise((resolve) => {
    // the same node and tsx loader this script runs under
    const child = spawn(process.execPath, [...process.execArgv, file, '--json', ...(variant?.args ?? [])], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
      if (err.length > 200_000) err = err.slice(-100_000)
    })
    const timer = setTimeout(() => {
      err += `\n[run-all] timed out after ${TIMEOUT_S} s; killed`
      child.kill('SIGKILL')
    }, TIMEOUT_S * 1000)
    child.once('error', (e) => {
      clearTimeout(timer)
      resolve({ ok: false, seconds: 0, error: `could not start: ${e.message}` })
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const seconds = Math.round((performance.now() - started) / 100) / 10
      const tail = err.trim().split('\n').slice(-15).join('\n')
      if (code !== 0) {
        resolve({ ok: false, seconds, error: `exited with ${signal ?? `code ${code}`}`, stderrTail: tail })
        return
      }
      const result = parseJsonOutput(out)
      if (result === undefined) resolve({ ok: false, seconds, error: 'printed no JSON on stdout', stderrTail: tail })
      else resolve({ ok: true, seconds, result })
    })
  })
}

/** The JSON document a bench printed: all of stdout, or from the last line that starts one. */
function parseJsonOutput(out: string): unknown {
  const text = out.trim()
  try {
    return JSON.parse(text)
  } catch {
    const lines = text.split('\n')
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i]!.startsWith('{')) continue
      try {
        return JSON.parse(lines.slice(i).join('\n'))
      } catch {
        // keep looking further up
      }
    }
    return undefined
  }
}

// ------------------------------------------------------------------ headline figures

type Json = Record<string, unknown>
const get = (v: unknown, ...path: (string | number)[]): unknown => {
  let cur = v
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Json)[p as string]
  }
  return cur
}
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined)
/** Every numeric leaf whose key matches, with its path (for figures whose layout is not fixed). */
function findNumbers(v: unknown, re: RegExp, path: string[] = [], out: { path: string; value: number }[] = []) {
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Json)) {
      const n = num(x)
      if (n !== undefined && re.test(k)) out.push({ path: [...path, k].join('.'), value: n })
      else findNumbers(x, re, [...path, k], out)
    }
  }
  return out
}

function headline(results: Partial<Record<BenchName, Run>>) {
  const r = (name: BenchName) => (results[name]?.ok ? (results[name] as { result: unknown }).result : undefined)
  const overhead = r('overhead')
  const overheadBlocks = r('overhead-1s-blocks')
  const overheadEoa = r('overhead-eoa')
  const overheadBareNode = r('overhead-bare-node-http')
  const gas = r('gas')
  const trace = r('trace')
  const inference = r('inference')
  const verify = r('verify')
  const service = r('service')
  const cli = r('cli-startup')
  const replay: Record<string, number> = {}
  for (const [k, v] of Object.entries((get(inference, 'replay') as Json | undefined) ?? {})) {
    const ratio = num(get(v, 'ratio'))
    if (ratio !== undefined) replay[k] = ratio
  }
  const da = (kind: 'local' | 'proxyHttp') => {
    const rows = (get(trace, 'da', kind) as Json[] | undefined) ?? []
    const row = rows.find((x) => num(x['blobBytes']) === 1 << 20) ?? rows[0]
    return row ? { blobMiB: (num(row['blobBytes']) ?? 0) / (1 << 20), putMBps: round(num(row['putMBps'])), getMBps: round(num(row['getMBps'])) } : undefined
  }
  const latency = (get(verify, 'latency') as Json | undefined) ?? {}
  const slash: Record<string, number> = {}
  for (const [k, v] of Object.entries(latency)) {
    const ms = num(get(v, 'commitToSlashMs'))
    if (ms !== undefined) slash[k] = ms
  }
  const mod = r('moderation')
  const daHttp = r('da-http')
  const daRow = (mib: number) => get(daHttp, 'sizes', `${mib}MiB`)
  const met = (v: number | undefined, goal: number, dir: 'max' | 'min') => (v === undefined ? undefined : dir === 'max' ? v <= goal : v >= goal)
  const ovRatio = num(get(overhead, 'pairedRatio', 'median'))
  const ovbRatio = num(get(overheadBlocks, 'pairedRatio', 'median'))
  const cpuExtra = num(get(overhead, 'cpuMsPerAction', 'extraMean'))
  const modRate = num(get(mod, 'actionsPerSecond', 'covenant'))
  const modCpu = num(get(mod, 'cpuMsPerAction', 'covenant', 'total'))
  const da1 = num(get(daRow(1), 'throughputVsBare', 'median'))
  const da8 = num(get(daRow(8), 'throughputVsBare', 'median'))
  const g1024 = num(get(gas, 'headline', 'gasPerCommittedAction', 'batch1024'))
  const bundleMeets = (rows: unknown): number | null => {
    const meeting = Object.entries((rows ?? {}) as Record<string, number>).filter(([, v]) => v <= 100).map(([k]) => Number(k.replace('agents', '')))
    return meeting.length ? Math.min(...meeting) : null
  }
  /** Another arm of the automine comparison (a variant of overhead.ts): its ratio, times and the agent CPU it adds. */
  const automineArm = (result: unknown) => ({
    covenantOverBare: get(result, 'pairedRatio'),
    bareP50Ms: num(get(result, 'bareMs', 'p50')),
    covenantP50Ms: num(get(result, 'covenantMs', 'p50')),
    agentCpuExtraMeanMs: num(get(result, 'cpuMsPerAction', 'extraMean')),
    goal: '≤ 1.10×',
    met: met(num(get(result, 'pairedRatio', 'median')), 1.1, 'max'),
  })
  // issue 15's table: each figure, its baseline measured in the same run, its spread and goal
  const issue15 = {
    actionLatencyP50Automine: {
      covenantOverBare: get(overhead, 'pairedRatio'),
      bareP50Ms: num(get(overhead, 'bareMs', 'p50')),
      covenantP50Ms: num(get(overhead, 'covenantMs', 'p50')),
      goal: '≤ 1.10×',
      met: met(ovRatio, 1.1, 'max'),
    },
    // the same, with the wallet in EOA mode (no AgentAccount): the figure runs 1-8 gave
    actionLatencyP50AutomineEoaWallet: automineArm(overheadEoa),
    // the same, the bare agent's HTTP on node:http too (as Covenant's clients): that saving left out
    actionLatencyP50AutomineBareOnNodeHttp: automineArm(overheadBareNode),
    actionLatencyP50With1sBlocks: {
      covenantOverBare: get(overheadBlocks, 'pairedRatio'),
      bareP50Ms: num(get(overheadBlocks, 'bareMs', 'p50')),
      covenantP50Ms: num(get(overheadBlocks, 'covenantMs', 'p50')),
      goal: '≤ 1.01×',
      met: met(ovbRatio, 1.01, 'max'),
    },
    agentCpuMsPerPayingAction: {
      bare: get(overhead, 'cpuMsPerAction', 'bare'),
      covenant: get(overhead, 'cpuMsPerAction', 'covenant'),
      covenantCommitAmortised: num(get(overhead, 'cpuMsPerAction', 'covenantCommitAmortised')),
      extraMeanMs: cpuExtra,
      covenantOverBare: get(overhead, 'cpuMsPerAction', 'pairedRatio'),
      goal: '≤ +3 ms',
      met: met(cpuExtra, 3, 'max'),
    },
    moderationActionsPerSecond1Worker: {
      covenant: modRate,
      bareBullMQWorkerSameModel: num(get(mod, 'actionsPerSecond', 'bare')),
      covenantOverBare: get(mod, 'actionsPerSecond', 'pairedRatio'),
      goal: '≥ 1,000',
      met: met(modRate, 1000, 'min'),
    },
    cpuMsPerModerationAction: {
      covenantAllProcesses: get(mod, 'cpuMsPerAction', 'covenant'),
      bareBullMQWorker: get(mod, 'cpuMsPerAction', 'bare'),
      modelAlone: num(get(mod, 'cpuMsPerAction', 'modelAlone')),
      goal: '≤ 1 ms',
      met: met(modCpu, 1, 'max'),
    },
    daPutOverHttp: {
      '1MiB': { MBps: get(daRow(1), 'MBps'), covenantOverBareWriteFsync: get(daRow(1), 'throughputVsBare'), covenantOverBareSameDurability: get(daRow(1), 'throughputVsBareDurable') },
      '8MiB': { MBps: get(daRow(8), 'MBps'), covenantOverBareWriteFsync: get(daRow(8), 'throughputVsBare'), covenantOverBareSameDurability: get(daRow(8), 'throughputVsBareDurable') },
      goal: '≥ 0.90 of write+fsync',
      met: da1 === undefined || da8 === undefined ? undefined : da1 >= 0.9 && da8 >= 0.9,
    },
    gasPerCommitted5StepAction: {
      ...(get(gas, 'headline', 'gasPerCommittedAction') as Json | undefined),
      bareAgentPayment: 21000,
      note: 'gas is exact for the contract build; the bare agent pays with a plain transfer (21,000 gas) and commits nothing',
      goal: '≤ 100 at batch 1,024',
      met: met(g1024, 100, 'max'),
      // the fewest agents whose 1,024-step batches, bundled (commitBundle), cost ≤ 100 an action
      metWithBundleOf: bundleMeets(get(gas, 'headline', 'gasPerCommittedAction', 'bundled1024')),
    },
  }
  return {
    issue15,
    overheadRatio: overhead
      ? {
          p50: num(get(overhead, 'ratio', 'p50')),
          medianOfPairs: num(get(overhead, 'ratio', 'pairedP50')),
          p50WithCommitAmortised: num(get(overhead, 'ratio', 'p50WithCommitAmortised')),
          bareP50Ms: num(get(overhead, 'bareMs', 'p50')),
          covenantP50Ms: num(get(overhead, 'covenantMs', 'p50')),
          goal: 1.1,
        }
      : undefined,
    overheadRatioWith1sBlocks: overheadBlocks
      ? {
          p50: num(get(overheadBlocks, 'ratio', 'p50')),
          mean: num(get(overheadBlocks, 'ratio', 'mean')),
          p50WithCommitAmortised: num(get(overheadBlocks, 'ratio', 'p50WithCommitAmortised')),
          bareP50Ms: num(get(overheadBlocks, 'bareMs', 'p50')),
          covenantP50Ms: num(get(overheadBlocks, 'covenantMs', 'p50')),
        }
      : undefined,
    gasPerCommittedAction: gas ? { stepsPerAction: num(get(gas, 'headline', 'stepsPerAction')), ...(get(gas, 'headline', 'gasPerCommittedAction') as Json) } : undefined,
    moderation: mod ? { actionsPerSecond: get(mod, 'actionsPerSecond'), cpuMsPerAction: get(mod, 'cpuMsPerAction') } : undefined,
    commitGas: gas ? num(get(gas, 'headline', 'commitGas')) : undefined,
    replayOverOriginal: Object.keys(replay).length ? replay : undefined,
    daMBps: trace ? { local: da('local'), eigendaProxyApi: da('proxyHttp') } : undefined,
    verifierStepsPerSecondPerWorker: num(get(verify, 'throughput', 'workers1_stepsPerSecondPerWorker')),
    serviceActionsPerSecond: service
      ? findNumbers(get(service, 'headline') ?? service, /actions.*per.*s|actionsPerSecond|throughput/i).map((x) => ({
          path: x.path.replace(/_?actionsPerSecond$/i, '').replace(/\./g, ' '),
          value: x.value,
        }))
      : undefined,
    commitToSlashMs: Object.keys(slash).length ? slash : undefined,
    cliStartupMs: cli
      ? {
          version: num(get(cli, 'headline', 'versionMedianMs')),
          lightVerb: num(get(cli, 'headline', 'lightVerbMedianMs')),
          versionFromSources: num(get(cli, 'headline', 'versionFromSourcesMedianMs')),
          nodeFloor: num(get(cli, 'nodeFloor', 'median')),
        }
      : undefined,
  }
}

function round(x: number | undefined, d = 1): number | undefined {
  return x === undefined ? undefined : Math.round(x * 10 ** d) / 10 ** d
}

// ------------------------------------------------------------------ run

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${platform()} ${release()} ${arch()}`,
  loadAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  date: new Date().toISOString(),
}
const say = (s: string) => process.stdout.write(`${s}\n`)
say(`covenant benchmarks — ${machine.cpu} ×${machine.cores}, ${machine.memoryGiB} GiB, node ${machine.node}, load ${machine.loadAtStart.join(' ')}`)
say('Shared or busy machines give noisy figures (other processes take the cores); compare within a run, not across runs.')
const results: Partial<Record<BenchName, Run>> = {}
const t0 = performance.now()
for (const name of BENCHES) {
  if (only ? !only.includes(name) : OPT_IN.includes(name)) continue
  process.stdout.write(`  bench/${name}.ts … `)
  const run = await runOne(name)
  results[name] = run
  say(run.ok ? `${run.seconds} s` : `FAILED (${run.error}) after ${run.seconds} s`)
  if (!run.ok && run.stderrTail) say(run.stderrTail.replace(/^/gm, '      | '))
}
const totalSeconds = Math.round((performance.now() - t0) / 1000)
const head = headline(results)
const doc = {
  machine: { ...machine, loadAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
  note: 'Figures from one run on the machine above. Times are noisy where the machine is shared; gas is exact for this contract build.',
  totalSeconds,
  headline: head,
  benches: results,
}
writeFileSync(OUT, `${JSON.stringify(doc, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`)

// ------------------------------------------------------------------ summary
const fmt = (v: unknown) => (v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : String(v))
const rows: [string, string][] = []
/** What to show for a figure whose bench is missing: it failed, or --only left it out. */
const none = (...names: BenchName[]) => (names.some((n) => results[n] && !results[n]!.ok) ? 'failed' : names.some((n) => results[n]) ? '—' : 'not run')
const o = head.overheadRatio
rows.push(['accountability overhead, covenant/bare (p50; median of pairs; with commit)', o ? `${fmt(o.p50)}× ; ${fmt(o.medianOfPairs)}× ; ${fmt(o.p50WithCommitAmortised)}×  (goal ≤ 1.10×)` : none('overhead')])
const ob = head.overheadRatioWith1sBlocks
rows.push(['  the same on a chain mining a block a second (p50; mean; with commit)', ob ? `${fmt(ob.p50)}× ; ${fmt(ob.mean)}× ; ${fmt(ob.p50WithCommitAmortised)}×` : none('overhead-1s-blocks')])
const g = head.gasPerCommittedAction as Json | undefined
rows.push([`gas per committed action (${fmt(g?.['stepsPerAction'])} steps) at batch 1 / 64 / 1,024`, g ? `${fmt(g['batch1'])} / ${fmt(g['batch64'])} / ${fmt(g['batch1024'])}` : none('gas')])
rows.push(['replay time / original time', head.replayOverOriginal ? Object.entries(head.replayOverOriginal).map(([k, v]) => `${k} ${fmt(v)}`).join('; ') : none('inference')])
const d = head.daMBps
rows.push(['DA MB/s, 1 MiB blobs, put / get (local store; eigenda-proxy API)', d ? `${fmt(d.local?.putMBps)} / ${fmt(d.local?.getMBps)} ; ${fmt(d.eigendaProxyApi?.putMBps)} / ${fmt(d.eigendaProxyApi?.getMBps)}` : none('trace')])
rows.push(['verifier steps/s per worker', head.verifierStepsPerSecondPerWorker === undefined ? none('verify') : fmt(head.verifierStepsPerSecondPerWorker)])
rows.push([
  'service actions/s',
  head.serviceActionsPerSecond?.length ? head.serviceActionsPerSecond.map((x) => `${x.path} ${fmt(x.value)}`).join('; ') : results.service?.ok ? 'see benches.service' : none('service'),
])
rows.push(['commit → slash, ms', head.commitToSlashMs ? Object.entries(head.commitToSlashMs).map(([k, v]) => `${k} ${fmt(v)}`).join('; ') : none('verify')])
const c = head.cliStartupMs
rows.push([
  'covenant start-up ms: --version / light verb (dist/) ; --version (tsx) ; node',
  c ? `${fmt(c.version)} / ${fmt(c.lightVerb)} ; ${fmt(c.versionFromSources)} ; ${fmt(c.nodeFloor)}  (goal --version < 1000)` : none('cli-startup'),
])
const t = head.issue15
const yes = (m: boolean | undefined) => (m === undefined ? '' : m ? '  met' : '  not met')
const rs = (x: unknown) => {
  const m = num(get(x, 'median'))
  const ci = get(x, 'ci95') as number[] | undefined
  return m === undefined ? '—' : `${fmt(m)}× (95 % CI ${fmt(ci?.[0])}–${fmt(ci?.[1])})`
}
rows.push(['', ''])
rows.push(['issue 15: action latency p50, automine, covenant/bare (median of paired ratios), AgentAccount wallet', `${rs(t.actionLatencyP50Automine.covenantOverBare)}  goal ≤ 1.10×${yes(t.actionLatencyP50Automine.met)}`])
rows.push([
  'issue 15: the same, the wallet in EOA mode (no AgentAccount)',
  `${rs(t.actionLatencyP50AutomineEoaWallet.covenantOverBare)}, agent CPU extra ${fmt(t.actionLatencyP50AutomineEoaWallet.agentCpuExtraMeanMs)} ms${yes(t.actionLatencyP50AutomineEoaWallet.met)}`,
])
rows.push([
  'issue 15: the same, the bare agent\'s HTTP on node:http too (what that saves left out)',
  `${rs(t.actionLatencyP50AutomineBareOnNodeHttp.covenantOverBare)}, agent CPU extra ${fmt(t.actionLatencyP50AutomineBareOnNodeHttp.agentCpuExtraMeanMs)} ms${yes(t.actionLatencyP50AutomineBareOnNodeHttp.met)}`,
])
rows.push(['issue 15: action latency p50, 1 s blocks, covenant/bare', `${rs(t.actionLatencyP50With1sBlocks.covenantOverBare)}  goal ≤ 1.01×${yes(t.actionLatencyP50With1sBlocks.met)}`])
rows.push([
  'issue 15: agent-process CPU per paying action, ms: bare ; covenant (+commit)',
  `${fmt(num(get(t.agentCpuMsPerPayingAction.bare, 'p50')))} ; ${fmt(num(get(t.agentCpuMsPerPayingAction.covenant, 'p50')))} (+${fmt(t.agentCpuMsPerPayingAction.covenantCommitAmortised)}), extra ${fmt(t.agentCpuMsPerPayingAction.extraMeanMs)}  goal ≤ +3${yes(t.agentCpuMsPerPayingAction.met)}`,
])
rows.push([
  'issue 15: moderation actions/s, 1 worker: covenant ; bare BullMQ + same model',
  `${fmt(t.moderationActionsPerSecond1Worker.covenant)} ; ${fmt(t.moderationActionsPerSecond1Worker.bareBullMQWorkerSameModel)}  ratio ${rs(t.moderationActionsPerSecond1Worker.covenantOverBare)}  goal ≥ 1,000${yes(t.moderationActionsPerSecond1Worker.met)}`,
])
rows.push([
  'issue 15: CPU ms per moderation action, all processes: covenant ; bare ; model alone',
  `${fmt(num(get(t.cpuMsPerModerationAction.covenantAllProcesses, 'total')))} ; ${fmt(num(get(t.cpuMsPerModerationAction.bareBullMQWorker, 'total')))} ; ${fmt(t.cpuMsPerModerationAction.modelAlone)}  goal ≤ 1${yes(t.cpuMsPerModerationAction.met)}`,
])
for (const mib of ['1MiB', '8MiB'] as const) {
  const d = t.daPutOverHttp[mib]
  rows.push([
    `issue 15: DA put ${mib} over HTTP, MB/s covenant ; bare write+fsync ; bare same durability`,
    `${fmt(num(get(d.MBps, 'covenant')))} ; ${fmt(num(get(d.MBps, 'bare')))} ; ${fmt(num(get(d.MBps, 'bareDurable')))}  throughput ratio ${rs(d.covenantOverBareWriteFsync)} ; ${rs(d.covenantOverBareSameDurability)}`,
  ])
}
rows.push(['issue 15: DA goal ≥ 0.90 of write+fsync', yes(t.daPutOverHttp.met).trim() || '—'])
const gp = t.gasPerCommitted5StepAction as Json
rows.push(['issue 15: gas per committed 5-step action at batch 1 / 64 / 1,024 / 4,096', `${fmt(gp['batch1'])} / ${fmt(gp['batch64'])} / ${fmt(gp['batch1024'])} / ${fmt(gp['batch4096'])}  goal ≤ 100 at 1,024${yes(t.gasPerCommitted5StepAction.met)}`])
const gb = (gp['bundled1024'] ?? {}) as Record<string, number>
rows.push([
  'issue 15: the same at 1,024, agents\' batches bundled (commitBundle), by agents per bundle',
  `${Object.entries(gb).map(([k, v]) => `${k.replace('agents', '')}: ${fmt(v)}`).join(' ; ') || '—'}  ${gp['metWithBundleOf'] ? `≤ 100 from ${gp['metWithBundleOf']} agents` : 'never ≤ 100 in these sizes'}`,
])
say('')
for (const [k, v] of rows) say(`  ${k.padEnd(80)} ${v}`)
say('')
const failed = Object.entries(results).filter(([, r]) => !r.ok)
say(`${Object.keys(results).length - failed.length}/${Object.keys(results).length} benches ran in ${totalSeconds} s; results in ${relative(process.cwd(), OUT) || OUT}`)
if (failed.length) say(`failed: ${failed.map(([n, r]) => `${n} (${(r as { error: string }).error})`).join(', ')}`)
