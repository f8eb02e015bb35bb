/**
 * Inference figures: `npx tsx bench/inference.ts [--json] [--n 200]`
 *
 * - latency of the container (HTTP, one request at a time) with and without receipts, p50/p99,
 *   for a covenant-chat tool call and a moderation classification;
 * - replay time / original time (goal ≤ 1.05), for a moderation record and a chat record;
 * - receipts signed per second (EIP-712, with the container's key: libsecp256k1, src/inference/secp256k1.ts).
 * Numbers depend on the machine and its load; this prints them, it asserts nothing.
 */
import { cpus, loadavg } from 'node:os'
import {
  ephemeralContainerKey,
  createChatEngine,
  createModerationClassifier,
  hashJson,
  replay,
  runtimeVersion,
  signReceipt,
  startInferenceServer,
} from '../src/inference/index.js'
import { flag, intOpt } from './lib/args.js'

const json = flag('--json')
const n = intOpt('--n', 200)
const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d
const stats = (xs: number[]) => ({ p50: round(pct(xs, 50)), p99: round(pct(xs, 99)), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length) })

/** Times `a` and `b` alternately, call by call, so load changes on this shared machine hit both alike. */
async function timePair(a: () => Promise<unknown>, b: () => Promise<unknown>, count: number, warmup = 20): Promise<[number[], number[]]> {
  for (let i = 0; i < warmup; i++) {
    await a()
    await b()
  }
  const ta: number[] = []
  const tb: number[] = []
  for (let i = 0; i < count; i++) {
    let t0 = performance.now()
    await a()
    ta.push(performance.now() - t0)
    t0 = performance.now()
    await b()
    tb.push(performance.now() - t0)
  }
  return [ta, tb]
}

const CHAT = {
  model: 'covenant-chat',
  messages: [
    { role: 'system', content: 'You pay invoices. For each invoice, call pay_invoice with its id, the address printed on it and the amount in ETH.' },
    { role: 'user', content: 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.' },
  ],
  tools: [{ type: 'function', function: { name: 'pay_invoice', parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } } } } }],
}
const POST = 'Airdrop live! Connect your wallet at eth-claim77.com to claim 1000 ETH.'

log(`covenant inference bench — ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, onnxruntime-node ${runtimeVersion()}, n=${n}`)

// 1. Container latency with and without receipts.
const signed = await startInferenceServer({ port: 0 })
const unsigned = await startInferenceServer({ port: 0, receipts: false })
const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json())
const latency: Record<string, Record<string, ReturnType<typeof stats>>> = {}
for (const [name, path, body] of [
  ['chat (pay_invoice call)', '/v1/chat/completions', CHAT],
  ['moderation (text)', '/v1/infer', { model: 'moderation', text: POST }],
] as const) {
  const [a, b] = await timePair(() => post(signed.url, path, body), () => post(unsigned.url, path, body), n)
  latency[name] = { withReceipt: stats(a), withoutReceipt: stats(b) }
  log(`latency ${name.padEnd(24)} with receipt p50 ${stats(a).p50} ms p99 ${stats(a).p99} ms | without p50 ${stats(b).p50} ms p99 ${stats(b).p99} ms`)
}
await signed.close()
await unsigned.close()

// 2. Replay time / original time (in process, warm sessions).
const classifier = await createModerationClassifier()
const { record: modRecord } = await classifier.classify(POST)
const feeds = { counts: { dtype: 'float32' as const, shape: [1, 4096], data: (await import('../src/inference/featurize.js')).featurizeModeration(POST) } }
const engine = await createChatEngine()
const { record: chatRecord } = await engine.complete(CHAT)
const ratios: Record<string, { originalMs: ReturnType<typeof stats>; replayMs: ReturnType<typeof stats>; ratio: number }> = {}
// "original" is the call that produced the record. For moderation two are shown: the raw
// backend run (tensors in, record out) and classify() (text in: featurize, run, record).
for (const [name, original, again] of [
  ['moderation vs backend.run', () => classifier.backend.run(feeds), () => replay(modRecord)],
  ['moderation vs classify', () => classifier.classify(POST), () => replay(modRecord)],
  ['chat vs complete', () => engine.complete(CHAT), () => replay(chatRecord)],
] as const) {
  const [o, r] = await timePair(original, again, n)
  const ratio = round(pct(r, 50) / pct(o, 50), 3)
  ratios[name] = { originalMs: stats(o), replayMs: stats(r), ratio }
  log(`replay/original ${name.padEnd(26)} ${ratio} (original p50 ${stats(o).p50} ms, replay p50 ${stats(r).p50} ms)`)
}
const check = await replay(chatRecord)
if (!check.match) throw new Error('replay did not match: the bench measured a broken replay')

// 3. Receipts signed per second.
const { account } = ephemeralContainerKey() // the container's signer
const fields = { measurement: hashJson('m'), modelDigest: hashJson('d'), requestHash: hashJson('q'), responseHash: hashJson('r'), outputHash: hashJson('o'), issuedAt: 1_700_000_000 }
let count = 0
const t0 = performance.now()
while (performance.now() - t0 < 2000) {
  await signReceipt(account, { ...fields, issuedAt: fields.issuedAt + count })
  count++
}
const perSecond = round(count / ((performance.now() - t0) / 1000), 1)
log(`receipts signed per second: ${perSecond}`)

if (json) {
  process.stdout.write(
    `${JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: cpus().length, load: loadavg() }, onnxruntime: runtimeVersion(), n, latencyMs: latency, replay: ratios, receiptsPerSecond: perSecond }, null, 2)}\n`,
  )
}
