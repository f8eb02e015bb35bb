// Test helper (not exported): hashes of the shipped models' outputs on fixed inputs, so
// that runs in this process, in child processes, and under other settings can be compared.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createChatEngine } from './chatEngine.js'
import { promptFeatures, serializeChatRequest } from './chatPrompt.js'
import { sha256Hex } from './hash.js'
import { SHIPPED_MODELS_DIR } from './modelStore.js'
import { createModerationClassifier } from './moderation.js'
import type { DeterministicSettings } from './settings.js'
import { hashTensors } from './tensor.js'

const lines = (name: string, n: number) =>
  readFileSync(join(SHIPPED_MODELS_DIR, name, 'eval.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, n)
    .map((l) => JSON.parse(l) as Record<string, unknown>)

export type ProbeHashes = {
  /** outputHash of the moderation record for each text. */
  moderation: string[]
  /** outputHash of each chat completion (the assistant message). */
  chat: string[]
  /** Hash of the raw logits at every decoding step of every chat request. */
  chatLogits: string
}

export async function probeHashes(settings: Partial<DeterministicSettings> = {}, sizes = { moderation: 20, chat: 6 }): Promise<ProbeHashes> {
  const classifier = await createModerationClassifier({ settings })
  const moderation: string[] = []
  for (const r of lines('moderation', sizes.moderation)) moderation.push((await classifier.classify(String(r['text']))).record.outputHash)
  const engine = await createChatEngine({ settings })
  const chat: string[] = []
  const logits: string[] = []
  for (const r of lines('covenant-chat', sizes.chat)) {
    const request = { model: 'covenant-chat', messages: r['messages'], tools: r['tools'] }
    const { output, record } = await engine.complete(request, { created: 0 })
    chat.push(record.outputHash)
    const tokens = serializeChatRequest(request as never, engine.spec)
    const features = BigInt64Array.from(promptFeatures(tokens, engine.spec).flat(), BigInt)
    const actions = output.covenant.actions
    for (let t = 0; t <= actions.length; t++) {
      const prev = BigInt64Array.from([0, ...actions.slice(0, t)], BigInt)
      const out = await engine.backend.runRaw({
        features: { dtype: 'int64', shape: [1, tokens.length, engine.spec.slots], data: features },
        prev: { dtype: 'int64', shape: [1, prev.length], data: prev },
      })
      logits.push(hashTensors(out))
    }
  }
  return { moderation, chat, chatLogits: sha256Hex(logits.join(',')) }
}
