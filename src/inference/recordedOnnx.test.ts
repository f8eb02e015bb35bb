import { describe, expect, test } from 'vitest'
import { createModerationClassifier } from './moderation.js'
import { createOnnxBackend } from './onnxBackend.js'
import { onnxRunnerKind, recordedOnnxOutput } from './recordedOnnx.js'

describe('recordedOnnxOutput: a recorded inference read back without running the model', () => {
  test('moderation: the same output the live classifier returned, from the record alone', async () => {
    const classifier = await createModerationClassifier()
    const text = 'free crypto giveaway, send 1 ETH to get 2 back'
    const live = await classifier.infer(text)
    expect(onnxRunnerKind('moderation')).toBe('moderation')
    expect(recordedOnnxOutput({ modelName: 'moderation', input: text, record: live.record })).toEqual({ status: 'ok', output: live.output })
    expect(recordedOnnxOutput({ modelName: 'moderation', input: { text }, record: live.record })).toEqual({ status: 'ok', output: live.output })
    // another text than the one the record holds
    expect(recordedOnnxOutput({ modelName: 'moderation', input: 'a friendly post', record: live.record })).toEqual({
      status: 'input-differs',
      reason: 'the text the agent classifies is not the recorded input (input hash)',
    })
    expect(recordedOnnxOutput({ modelName: 'moderation', input: 42, record: live.record })).toMatchObject({ status: 'input-differs' })
    // a record of a model this machine does not have
    expect(recordedOnnxOutput({ modelName: 'moderation', input: text, record: { ...live.record, modelDigest: `0x${'12'.repeat(32)}` } })).toMatchObject({
      status: 'unreadable',
      reason: expect.stringMatching(/is not on this machine/),
    })
  })

  test('any other model: the recorded output tensors, for the recorded input tensors only', async () => {
    const backend = await createOnnxBackend({ model: 'moderation' })
    const feeds = { counts: { dtype: 'float32' as const, shape: [1, 4096], data: new Float32Array(4096).fill(0.5) } }
    const live = await backend.run(feeds)
    expect(onnxRunnerKind('my-model')).toBe('tensors')
    const r = recordedOnnxOutput({ modelName: 'my-model', input: feeds, record: live.record })
    expect(r.status).toBe('ok')
    expect((r as { output: Record<string, { data: Float32Array }> }).output['logits']!.data).toEqual(live.output['logits']!.data)
    const other = { counts: { ...feeds.counts, data: new Float32Array(4096).fill(0.25) } }
    expect(recordedOnnxOutput({ modelName: 'my-model', input: other, record: live.record })).toMatchObject({ status: 'input-differs' })
    expect(recordedOnnxOutput({ modelName: 'my-model', input: { counts: [1, 2] }, record: live.record })).toMatchObject({ status: 'input-differs' })
    expect(recordedOnnxOutput({ modelName: 'my-model', input: feeds, record: { ...live.record, response: {} } })).toMatchObject({ status: 'unreadable' })
  })
})
