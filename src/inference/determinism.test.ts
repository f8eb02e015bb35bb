import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, onTestFinished, test } from 'vitest'
import { bundleChild } from '../../test/fixtures/childBundle.js'
import { type ProbeHashes, probeHashes } from './_determinismProbe.js'
import { createChatEngine } from './chatEngine.js'
import { promptFeatures, serializeChatRequest } from './chatPrompt.js'
import { createModerationClassifier } from './moderation.js'
import { hashTensors } from './tensor.js'

const run = promisify(execFile)
const child = fileURLToPath(new URL('./_determinismChild.ts', import.meta.url))

/**
 * Invariant 2 of DESIGN.md: same model digest + input + settings → bit-identical output.
 *
 * Findings on this machine (AMD EPYC, AVX-512, onnxruntime-node 1.30 CPU), pinned below:
 * - 1,000 repeated runs and runs in separate processes: identical hashes.
 * - intraOpNumThreads 1 vs 2: identical bits for both shipped models (MLAS splits the
 *   GEMMs by output block, not along the reduction). Still pinned in the manifest: other
 *   kernels or CPUs need not behave so.
 * - graphOptimizationLevel 'basic' vs 'extended': different logits bits for covenant-chat
 *   (fused LayerNorm/GELU/attention kernels round differently), same greedy tokens. The
 *   level must be pinned; records carry it and replay uses it.
 */
describe('determinism', () => {
  test('1,000 repeated runs give identical output hashes', async () => {
    const classifier = await createModerationClassifier()
    const text = 'Send 1 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed and get 2 ETH back! Official giveaway.'
    const hashes = new Set<string>()
    for (let i = 0; i < 1000; i++) hashes.add((await classifier.classify(text)).record.outputHash)
    expect(hashes.size).toBe(1)

    // covenant-chat: 1,000 runs of one decoding step (the raw logits), and 50 full completions.
    const engine = await createChatEngine()
    const request = {
      model: 'covenant-chat',
      messages: [{ role: 'user' as const, content: 'Resolve market MKT-17: Will the Lisbon marathon be held on 2026-12-06? Evidence: the organisers confirmed the race took place on 2026-12-06.' }],
      tools: [{ type: 'function' as const, function: { name: 'resolve_market', parameters: { type: 'object', properties: { marketId: { type: 'string' }, outcome: { type: 'string', enum: ['yes', 'no'] } } } } }],
    }
    const tokens = serializeChatRequest(request, engine.spec)
    const features = BigInt64Array.from(promptFeatures(tokens, engine.spec).flat(), BigInt)
    const stepHashes = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const out = await engine.backend.runRaw({
        features: { dtype: 'int64', shape: [1, tokens.length, engine.spec.slots], data: features },
        prev: { dtype: 'int64', shape: [1, 3], data: BigInt64Array.from([0n, 2n, BigInt(engine.pieces.length + 3)]) },
      })
      stepHashes.add(hashTensors(out))
    }
    expect(stepHashes.size).toBe(1)
    const completions = new Set<string>()
    for (let i = 0; i < 50; i++) completions.add((await engine.complete(request)).record.outputHash)
    expect(completions.size).toBe(1)
  })

  test('separate processes give identical hashes', async () => {
    const here = await probeHashes()
    const bundle = await bundleChild(child)
    onTestFinished(() => bundle.dispose())
    const children = await Promise.all(
      [1, 2].map(async () => {
        const { stdout } = await run(process.execPath, [bundle.path, '1'], { maxBuffer: 1 << 20 })
        return JSON.parse(stdout.trim().split('\n').at(-1)!) as ProbeHashes
      }),
    )
    for (const c of children) expect(c).toEqual(here)
  })

  test('thread counts 1 and 2 give identical bits; graph optimisation level changes them', async () => {
    const one = await probeHashes({ intraOpNumThreads: 1 })
    const two = await probeHashes({ intraOpNumThreads: 2 })
    expect(two).toEqual(one)
    const extended = await probeHashes({ graphOptimizationLevel: 'extended' })
    expect(extended.chatLogits).not.toBe(one.chatLogits)
    // …while the greedy decisions (and so the messages) stay the same for these inputs.
    expect(extended.chat).toEqual(one.chat)
  })
})
