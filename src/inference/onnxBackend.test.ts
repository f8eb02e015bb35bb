import { describe, expect, test } from 'vitest'
import { createModelStore, shippedModelStore } from './modelStore.js'
import { createModerationClassifier } from './moderation.js'
import { createOnnxBackend, releaseSessions } from './onnxBackend.js'
import { replayRecordSchema } from './schemas.js'
import { featurizeModeration } from './featurize.js'
import { hashTensors } from './tensor.js'

describe('model store', () => {
  test('finds the shipped models by name and by digest (sha256 of the bytes)', () => {
    const store = shippedModelStore()
    expect(store.list().map((m) => m.name)).toEqual(['covenant-chat', 'moderation', 'tiny-qwen2'])
    const m = store.get('moderation')
    expect(m.digest).toMatch(/^0x[0-9a-f]{64}$/)
    expect(store.get(m.digest)).toBe(m)
    expect(store.get(m.digest.toUpperCase().replace('0X', '0x'))).toBe(m)
    for (const x of store.list()) expect(x.sizeBytes).toBeLessThan(3 * 1024 * 1024)
  })

  test('an unknown model names the known ones', () => {
    expect(() => createModelStore().get('gpt-9')).toThrowError(/no model "gpt-9" in the model store[\s\S]*Known models: covenant-chat \(0x/)
  })
})

describe('ONNX backend', () => {
  test('every run returns its output and a complete replay record', async () => {
    const backend = await createOnnxBackend({ model: 'moderation' })
    const feeds = { counts: { dtype: 'float32' as const, shape: [1, 4096], data: featurizeModeration('hello world') } }
    const { output, record } = await backend.run(feeds)
    expect(output['logits']!.shape).toEqual([1, 4])
    expect(replayRecordSchema.parse(record)).toEqual(record)
    expect(record).toMatchObject({
      backend: 'onnx',
      format: 'tensors-v1',
      modelDigest: backend.model.digest,
      model: { name: 'moderation', digestOf: 'model-bytes' },
      runtime: {
        name: 'onnxruntime-node',
        version: '1.30.0',
        settings: { executionProvider: 'cpu', intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'basic', denormalAsZero: false },
      },
      replay: 'exact',
      inputHash: hashTensors(feeds),
      outputHash: hashTensors(output),
    })
  })

  test('wrong inputs are rejected with the names the model takes', async () => {
    const backend = await createOnnxBackend({ model: 'moderation' })
    await expect(backend.run({})).rejects.toThrow(/missing input "counts"[\s\S]*takes counts/)
    await expect(backend.run({ counts: { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) } })).rejects.toMatchObject({ name: 'InvalidTensorError' })
    await expect(createOnnxBackend({ model: 'moderation', settings: { intraOpNumThreads: 0 } })).rejects.toThrow(/at least 1/)
  })
  test('a backend made before releaseSessions() keeps running, on a new session, with the same output', async () => {
    // test files share modules (vitest isolate: false): one file's releaseSessions() must not
    // break a backend another file cached (it did: "Session already disposed")
    const backend = await createOnnxBackend({ model: 'moderation' })
    const feeds = { counts: { dtype: 'float32' as const, shape: [1, 4096], data: featurizeModeration('cheap pills, click here') } }
    const before = await backend.run(feeds)
    await releaseSessions()
    const after = await backend.run(feeds)
    expect(after.record.outputHash).toBe(before.record.outputHash)
  })
})

describe('moderation classifier', () => {
  test('labels posts', async () => {
    const c = await createModerationClassifier()
    const cases: Array<[string, string]> = [
      ['Thanks Alice, your write-up on the bridge contract helped me fix my config.', 'ok'],
      ['Buy 1000 followers now for only $5!!! Visit promo12.biz', 'spam'],
      ['You are a complete idiot, Bob.', 'abuse'],
      ['URGENT: your wallet is compromised, verify your seed phrase at wallet-verify77.io now.', 'scam'],
    ]
    for (const [text, label] of cases) {
      const { output } = await c.classify(text)
      expect([text, output.label]).toEqual([text, label])
      expect(Object.values(output.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6)
    }
    await expect(c.infer({ text: 'hello' })).resolves.toHaveProperty('record')
    await expect(c.infer(42)).rejects.toThrow(/string or \{ text: string \}/)
  })
})
