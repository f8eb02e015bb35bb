import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { InvalidTensorError, OnnxThreadClosedError, OnnxThreadRemoteError } from './errors.js'
import { createModerationClassifier, type ModerationClassifier } from './moderation.js'
import { type OnnxThread, startOnnxThread } from './onnxThread.js'
import { runChildToExit } from '../../test/fixtures/childExit.js'
import { replay } from './replay.js'
import type { ReplayRecord } from './schemas.js'

const POSTS = [
  'Lovely turnout at the community garden today, thanks everyone!',
  'Congratulations! You won a free iPhone, click here and send your bank password to claim it',
  'BUY CHEAP FOLLOWERS NOW!!! best prices, limited offer, click the link',
  'Does anyone know when the library reopens after the holidays?',
  '',
]

/** A record without its timing (when and how long it ran differ run to run; nothing else may). */
const untimed = (r: ReplayRecord) => ({ ...r, timing: undefined })

describe('startOnnxThread', () => {
  let thread: OnnxThread
  let local: ModerationClassifier
  beforeAll(async () => {
    thread = await startOnnxThread({ runner: 'moderation', model: 'moderation' })
    local = await createModerationClassifier()
  }, 60_000)
  afterAll(async () => {
    await thread?.close()
  })

  test('gives the output and record the classifier in this thread gives, byte for byte, and they replay', async () => {
    expect(thread.modelDigest).toBe(local.backend.model.digest)
    for (const text of POSTS) {
      const [there, here] = await Promise.all([thread.infer({ text }), local.infer({ text })])
      expect(there.output).toEqual(here.output)
      expect(untimed(there.record)).toEqual(untimed(here.record))
      expect(there.record.timing).toMatchObject({ startedAt: expect.any(Number), durationMs: expect.any(Number) })
      const replayed = await replay(there.record)
      expect(replayed.match).toBe(true)
    }
  })

  test('runs many inferences at once and answers each with its own', async () => {
    const texts = Array.from({ length: 64 }, (_, i) => `${POSTS[i % 4]} #${i}`)
    const results = await Promise.all(texts.map((text) => thread.infer(text)))
    const expected = await Promise.all(texts.map((text) => local.infer(text)))
    expect(results.map((r) => r.record.inputHash)).toEqual(expected.map((r) => r.record.inputHash))
    expect(results.map((r) => r.output)).toEqual(expected.map((r) => r.output))
  })

  test('an input the runner refuses comes back as its InvalidTensorError, with the hint', async () => {
    const err = await thread.infer({ title: 'no text' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidTensorError)
    expect((err as InvalidTensorError).shortMessage).toBe('invalid tensor: moderation input must be a string or { text: string }')
    // and the thread still answers
    expect((await thread.infer('still here')).record.modelDigest).toBe(local.backend.model.digest)
  })

  test('an input that cannot be sent to a thread is refused with a clear error', async () => {
    const err = await thread.infer({ text: 'x', callback: () => 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidTensorError)
    expect((err as Error).message).toMatch(/cannot be sent to the ONNX thread/)
  })

  test('a tensor model takes tensors and checks them as createOnnxBackend does', async () => {
    const t = await startOnnxThread({ runner: 'tensors', model: 'moderation' })
    try {
      const counts = { dtype: 'float32', shape: [1, 4096], data: new Float32Array(4096).fill(1, 0, 8) }
      const { output, record } = await t.infer({ counts })
      const expected = await local.backend.run({ counts: { dtype: 'float32', shape: [1, 4096], data: new Float32Array(4096).fill(1, 0, 8) } })
      expect((output as Record<string, { data: Float32Array }>)['logits']!.data).toEqual(expected.output['logits']!.data)
      expect((output as Record<string, { data: unknown }>)['logits']!.data).toBeInstanceOf(Float32Array)
      expect(untimed(record)).toEqual(untimed(expected.record))
      const badShape = { counts: { dtype: 'float32', shape: [1, -1], data: new Float32Array(4) } }
      const there = await t.infer(badShape).catch((e: unknown) => e)
      const here = await local.backend.run(badShape as never).catch((e: unknown) => e)
      expect(here).toBeInstanceOf(InvalidTensorError)
      expect(there).toBeInstanceOf(InvalidTensorError)
      expect((there as Error).message).toBe((here as Error).message)
      const unknownInput = await t.infer({ tokens: counts }).catch((e: unknown) => e)
      expect((unknownInput as Error).message).toMatch(/missing input "counts"/)
    } finally {
      await t.close()
    }
  }, 60_000)

  test('a model that is not in the store fails at start, with the store\'s error', async () => {
    const err = await startOnnxThread({ runner: 'moderation', model: 'no-such-model' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OnnxThreadRemoteError)
    expect((err as OnnxThreadRemoteError).name).toBe('ModelNotFoundError')
    expect((err as OnnxThreadRemoteError).unrecoverable).toBe(true)
    expect((err as Error).message).toMatch(/no model "no-such-model"/)
  }, 60_000)

  test('close lets inferences under way finish, then refuses new ones', async () => {
    const t = await startOnnxThread({ runner: 'moderation', model: 'moderation' })
    const under = Array.from({ length: 8 }, (_, i) => t.infer(`post ${i}`))
    await t.close()
    expect((await Promise.all(under)).length).toBe(8)
    await expect(t.infer('late')).rejects.toBeInstanceOf(OnnxThreadClosedError)
  }, 60_000)
})

test('an idle ONNX thread does not keep a process from exiting', async () => {
  const { stdout, code, signal } = await runChildToExit(['--import', 'tsx', fileURLToPath(new URL('./onnxThread.exit-child.ts', import.meta.url))], 50_000)
  expect(stdout.trim()).toMatch(/^(ok|spam|abuse|scam)$/)
  expect({ code, signal }).toEqual({ code: 0, signal: null })
}, 60_000)
