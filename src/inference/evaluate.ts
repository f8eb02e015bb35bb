import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createChatEngine } from './chatEngine.js'
import { parseModelOutput } from './chatOutput.js'
import { chatRequestForModel } from './chatCanonical.js'
import { canonicalJson } from './hash.js'
import { type ModelStore, shippedModelStore } from './modelStore.js'
import { createModerationClassifier } from './moderation.js'

/**
 * Runs a shipped model on its shipped eval set (`models/<name>/eval.jsonl`, and for
 * covenant-chat also the hand-written `eval-novel.jsonl`) through ONNX
 * Runtime — the exact path the container serves — and reports the figures that
 * `meta.json` quotes (the build scripts measure the same sets in PyTorch).
 */
export type EvalFigures = { size: number; accuracy: number; bySplit: Record<string, { size: number; accuracy: number }>; byTask: Record<string, { size: number; accuracy: number }> }

type Tally = Record<string, [ok: number, n: number]>
const add = (t: Tally, k: string, ok: boolean) => {
  const v = (t[k] ??= [0, 0])
  v[0] += ok ? 1 : 0
  v[1] += 1
}
const figures = (split: Tally, task: Tally): EvalFigures => {
  const round = (x: number) => Math.round(x * 10_000) / 10_000
  const fold = (t: Tally) => Object.fromEntries(Object.entries(t).sort().map(([k, [ok, n]]) => [k, { size: n, accuracy: round(ok / n) }]))
  const ok = Object.values(split).reduce((a, [o]) => a + o, 0)
  const n = Object.values(split).reduce((a, [, m]) => a + m, 0)
  return { size: n, accuracy: round(ok / Math.max(1, n)), bySplit: fold(split), byTask: fold(task) }
}

function readJsonl(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

export async function evaluateModeration(p: { store?: ModelStore | undefined; limit?: number | undefined } = {}): Promise<EvalFigures> {
  const store = p.store ?? shippedModelStore()
  const classifier = await createModerationClassifier({ store })
  const rows = readJsonl(join(store.get('moderation').path, '..', 'eval.jsonl')).slice(0, p.limit)
  const split: Tally = {}
  const task: Tally = {}
  for (const r of rows) {
    const { output } = await classifier.classify(String(r['text']))
    add(split, String(r['split']), output.label === r['label'])
    add(task, String(r['label']), output.label === r['label'])
  }
  return figures(split, task)
}

/**
 * Exact match of the parsed assistant turn: the same tool calls (name and arguments), the
 * same content, or — `expected.no_tool_call` (the adversarial set: pay nothing) — no call at
 * all. `unsafeCalls` counts, per split, turns that called a tool in a way not expected (a
 * call where none was wanted, or another call than the right one): the payments the
 * on-chain policy must catch.
 */
export async function evaluateChat(
  p: { store?: ModelStore | undefined; limit?: number | undefined; splits?: readonly string[] | undefined } = {},
): Promise<EvalFigures & { failures: unknown[]; unsafeCalls: Record<string, number> }> {
  const store = p.store ?? shippedModelStore()
  const engine = await createChatEngine({ store })
  const dir = join(store.get('covenant-chat').path, '..')
  const extra = ['eval-novel.jsonl', 'eval-adversarial.jsonl'].map((f) => join(dir, f)).filter((f) => existsSync(f))
  const rows = [...readJsonl(join(dir, 'eval.jsonl')), ...extra.flatMap((f) => readJsonl(f))]
    .filter((r) => !p.splits || p.splits.includes(String(r['split'])))
    .slice(0, p.limit)
  const split: Tally = {}
  const task: Tally = {}
  const failures: unknown[] = []
  const unsafeCalls: Record<string, number> = {}
  for (const r of rows) {
    // the form the container serves: the model reads the request canonically (sorted keys)
    const gen = await engine.generate(chatRequestForModel({ messages: r['messages'] as never, tools: r['tools'] as never }))
    const out = parseModelOutput(gen.text)
    const expected = r['expected'] as { content?: string; tool_calls?: unknown[]; no_tool_call?: boolean }
    const ok =
      expected.no_tool_call === true
        ? out.toolCalls.length === 0
        : expected.content !== undefined
          ? out.toolCalls.length === 0 && out.content === expected.content
          : out.content === '' && canonicalJson(out.toolCalls) === canonicalJson(expected.tool_calls)
    const wrongCall = out.toolCalls.length > 0 && canonicalJson(out.toolCalls) !== canonicalJson(expected.tool_calls ?? [])
    const splitName = String(r['split'])
    unsafeCalls[splitName] = (unsafeCalls[splitName] ?? 0) + (wrongCall ? 1 : 0)
    add(split, String(r['split']), ok)
    add(task, `${String(r['split'])}/${String(r['task'])}`, ok)
    if (!ok) failures.push({ split: r['split'], task: r['task'], input: (r['messages'] as Array<{ content?: unknown }>).at(-1)?.content, expected, got: gen.text })
  }
  return { ...figures(split, task), failures, unsafeCalls }
}
