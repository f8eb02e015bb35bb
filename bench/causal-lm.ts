/**
 * Causal-LM figures (models/tiny-qwen2 through the generic ONNX causal-LM backend):
 * `npx tsx bench/causal-lm.ts [--json] [--n 40] [--model <dir>]`
 *
 * - determinism cost: tokens/s under the pinned settings (1 intra-op thread, sequential,
 *   'basic' graph optimisation) against ONNX Runtime's defaults (a thread per core, 'all'
 *   optimisations), and whether the two give bit-identical logits;
 * - receipt overhead: container latency per completion with and without signed receipts.
 * Numbers depend on the machine and its load; this prints them, it asserts nothing.
 */
import { createHash } from 'node:crypto'
import { cpus, loadavg } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { createCausalLmEngine } from '../src/inference/causalLmEngine.js'
import { SHIPPED_MODELS_DIR, createModelStore } from '../src/inference/modelStore.js'
import { startInferenceServer } from '../src/inference/server.js'
import { DEFAULT_SETTINGS, type DeterministicSettings, runtimeVersion } from '../src/inference/settings.js'
import { flag, intOpt, opt } from './lib/args.js'

const json = flag('--json')
const n = intOpt('--n', 40)
const modelDir = opt('--model')
const dir = modelDir !== undefined ? resolve(modelDir) : join(SHIPPED_MODELS_DIR, 'tiny-qwen2')
const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const name = basename(dir)
const store = createModelStore({ root: '/nonexistent-covenant-root', models: [{ name, path: dir }] })
const model = store.get(name)
const request = {
  model: name,
  messages: [{ role: 'user', content: 'What is the weather in Oslo?' }],
  tools: [{ type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
  max_tokens: 48,
}

const defaults: DeterministicSettings = { ...DEFAULT_SETTINGS, intraOpNumThreads: cpus().length, graphOptimizationLevel: 'all' }
const pinnedEngine = await createCausalLmEngine({ store, model, settings: { ...DEFAULT_SETTINGS } })
const defaultEngine = await createCausalLmEngine({ store, model, settings: defaults })

async function generation(engine: typeof pinnedEngine) {
  const h = createHash('sha256')
  const t0 = performance.now()
  const { output } = await engine.complete(request, { onStep: (l) => h.update(new Uint8Array(l.buffer, l.byteOffset, l.byteLength)) })
  return { ms: performance.now() - t0, tokens: output.covenant.actions.length, prompt: output.usage.prompt_tokens, logits: h.digest('hex') }
}

log(`warming up ${name} (${model.digest.slice(0, 18)}…)`)
for (let i = 0; i < 5; i++) {
  await generation(pinnedEngine)
  await generation(defaultEngine)
}
const pinned: Array<Awaited<ReturnType<typeof generation>>> = []
const dflt: typeof pinned = []
for (let i = 0; i < n; i++) {
  pinned.push(await generation(pinnedEngine))
  dflt.push(await generation(defaultEngine))
}
const tps = (xs: typeof pinned) => round(xs[0]!.tokens / (median(xs.map((x) => x.ms)) / 1000), 1)

log('receipt overhead (container, one request at a time)')
const withReceipts = await startInferenceServer({ port: 0, store })
const without = await startInferenceServer({ port: 0, store, receipts: false })
const post = async (base: string) => {
  const t0 = performance.now()
  const r = await fetch(`${base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
  await r.text()
  return performance.now() - t0
}
for (let i = 0; i < 5; i++) {
  await post(withReceipts.baseURL)
  await post(without.baseURL)
}
const a: number[] = []
const b: number[] = []
for (let i = 0; i < n; i++) {
  a.push(await post(withReceipts.baseURL))
  b.push(await post(without.baseURL))
}
await withReceipts.close()
await without.close()

const result = {
  model: name,
  digest: model.digest,
  runtime: `onnxruntime-node ${runtimeVersion()}`,
  machine: { cpus: cpus().length, loadavg1: round(loadavg()[0]!, 2) },
  generation: { promptTokens: pinned[0]!.prompt, newTokens: pinned[0]!.tokens, runs: n },
  pinned: { settings: 'intraOp 1, sequential, basic', medianMs: round(median(pinned.map((x) => x.ms))), tokensPerSecond: tps(pinned) },
  ortDefaults: { settings: `intraOp ${defaults.intraOpNumThreads}, sequential, all`, medianMs: round(median(dflt.map((x) => x.ms))), tokensPerSecond: tps(dflt) },
  determinismCost: round(median(pinned.map((x) => x.ms)) / median(dflt.map((x) => x.ms)), 3),
  pinnedLogitsStable: new Set(pinned.map((x) => x.logits)).size === 1,
  defaultsLogitsStable: new Set(dflt.map((x) => x.logits)).size === 1,
  pinnedEqualsDefaultsBitwise: pinned[0]!.logits === dflt[0]!.logits,
  receipts: { medianMsWith: round(median(a)), medianMsWithout: round(median(b)), overheadMs: round(median(a) - median(b)) },
}
if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
else {
  log(`\n${name}: ${result.generation.promptTokens} prompt tokens + ${result.generation.newTokens} new, median of ${n}`)
  log(`  pinned       ${result.pinned.tokensPerSecond} tok/s (${result.pinned.medianMs} ms)`)
  log(`  ORT defaults ${result.ortDefaults.tokensPerSecond} tok/s (${result.ortDefaults.medianMs} ms) — pinned/defaults time ${result.determinismCost}`)
  log(`  logits stable run to run: pinned ${result.pinnedLogitsStable}, defaults ${result.defaultsLogitsStable}; pinned = defaults bit for bit: ${result.pinnedEqualsDefaultsBitwise}`)
  log(`  receipts: ${result.receipts.medianMsWith} ms with, ${result.receipts.medianMsWithout} ms without → ${result.receipts.overheadMs} ms per completion`)
}
