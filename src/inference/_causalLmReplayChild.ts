// Child process for causalLm.determinism.test.ts: replays the recorded requests it is given
// (a JSON file: { modelDir, records, count }) `count` times in order, re-executing each on
// ONNX Runtime, and prints one line per replay: the sha256 of every step's logits bytes,
// the chosen tokens, and whether the answer hashes to the record's outputHash; first a line
// with replay()'s verdict on each distinct record (the verifier's path).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createCausalLmEngine } from './causalLmEngine.js'
import { chatOutputHash } from './chatOutput.js'
import { createModelStore } from './modelStore.js'
import { replay } from './replay.js'
import type { ReplayRecord } from './schemas.js'
import { settingsFromRecord } from './settings.js'

const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { modelDir: string; records: ReplayRecord[]; count: number }
const store = createModelStore({ root: '/nonexistent-covenant-root', models: [{ name: 'tiny-qwen2', path: input.modelDir }] })
const model = store.get('tiny-qwen2')
const engine = await createCausalLmEngine({ store, model, settings: settingsFromRecord(input.records[0]!.runtime.settings) })
// the replay path a verifier takes, once per distinct record
const official = await Promise.all(input.records.map(async (r) => (await replay(r, { store })).match))
const lines: string[] = [JSON.stringify({ official })]
for (let i = 0; i < input.count; i++) {
  const record = input.records[i % input.records.length]!
  const h = createHash('sha256')
  const tokens: number[] = []
  const { output } = await engine.complete(record.request, {
    onStep: (logits, token) => {
      h.update(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength))
      tokens.push(token)
    },
  })
  lines.push(JSON.stringify({ i, logits: h.digest('hex'), tokens, match: chatOutputHash(output) === record.outputHash }))
}
process.stdout.write(`${lines.join('\n')}\n`)
