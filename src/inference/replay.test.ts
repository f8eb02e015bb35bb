import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { createChatEngine } from './chatEngine.js'
import { type ModelStore, SHIPPED_MODELS_DIR, createModelStore } from './modelStore.js'
import { createModerationClassifier } from './moderation.js'
import { releaseSessions } from './onnxBackend.js'
import { replay } from './replay.js'
import type { ReplayRecord } from './schemas.js'

const SPAM = 'BEST replica sneakers ONLINE, huge discount today only at promo77.biz'

/** A private copy of the moderation model, so the test can swap its file. */
function copiedStore(): { dir: string; store: ModelStore; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'covenant-models-'))
  mkdirSync(join(dir, 'moderation'))
  for (const f of ['model.onnx', 'meta.json']) copyFileSync(join(SHIPPED_MODELS_DIR, 'moderation', f), join(dir, 'moderation', f))
  return { dir, store: createModelStore({ root: dir }), file: join(dir, 'moderation', 'model.onnx') }
}

function flipBit(base64: string, byte: number, bit: number): string {
  const b = Buffer.from(base64, 'base64')
  b[byte]! ^= 1 << bit
  return b.toString('base64')
}

const clone = <T>(x: T): T => structuredClone(x)

afterEach(async () => {
  await releaseSessions()
})

describe('replay of tensor records', () => {
  test('a record replays bit for bit', async () => {
    const { record, output } = await (await createModerationClassifier()).classify(SPAM)
    expect(output.label).toBe('spam')
    const r = await replay(record)
    expect(r).toEqual({ match: true, mode: 'exact', expectedHash: record.outputHash, actualHash: record.outputHash, diff: null })
  })

  test('a single flipped output bit is detected (in the bytes, or in bytes and hash together)', async () => {
    const { record } = await (await createModerationClassifier()).classify(SPAM)
    const response = record.response as { outputs: Array<{ data: string }> }

    // 1. Bytes changed, hash left: the record contradicts itself.
    const a = clone(record)
    ;(a.response as typeof response).outputs[0]!.data = flipBit(response.outputs[0]!.data, 0, 0)
    const ra = await replay(a)
    expect(ra.match).toBe(false)
    expect(ra.diff?.recordConsistent).toBe(false)
    expect(ra.diff?.tensors?.[0]).toMatchObject({ name: 'logits', differing: 1, firstDifference: { index: 0 } })

    // 2. A consistent lie: flipped bytes and their hash. Re-execution disagrees.
    const { hashEncodedTensors } = await import('./tensor.js')
    const b = clone(a)
    b.outputHash = hashEncodedTensors((b.response as typeof response).outputs as never)
    const rb = await replay(b)
    expect(rb.match).toBe(false)
    expect(rb.diff?.recordConsistent).toBe(true)
    expect(rb.actualHash).toBe(record.outputHash)
    expect(rb.diff?.reason).toMatch(/outputs differ: logits 1\/4 elements/)
  })

  test('a changed input is detected', async () => {
    const { record } = await (await createModerationClassifier()).classify(SPAM)
    const r = clone(record)
    const req = r.request as { inputs: Array<{ data: string; layout?: string }> }
    // the bag-of-words input is recorded sparse: flip a bit of its last value
    expect(req.inputs[0]!.layout).toBe('sparse-v1')
    req.inputs[0]!.data = flipBit(req.inputs[0]!.data, Buffer.from(req.inputs[0]!.data, 'base64').length - 1, 6)
    const res = await replay(r)
    expect(res.match).toBe(false)
    expect(res.diff?.reason).toMatch(/inputs do not hash/)
  })

  test('an input that does not decode makes the record unreadable (InvalidReplayRecordError, which verifiers count a mismatch)', async () => {
    const { record } = await (await createModerationClassifier()).classify(SPAM)
    const r = clone(record)
    const req = r.request as { inputs: Array<{ data: string }> }
    // the count of listed elements, raised: the payload no longer has that many
    req.inputs[0]!.data = flipBit(req.inputs[0]!.data, 0, 6)
    await expect(replay(r)).rejects.toThrow(/invalid replay record: request input "counts" does not decode/)
  })

  test('tolerance mode: thresholds decide, argmax must agree', async () => {
    const { record } = await (await createModerationClassifier()).classify(SPAM)
    const { hashEncodedTensors } = await import('./tensor.js')
    const lie = clone(record)
    const out = (lie.response as { outputs: Array<{ data: string }> }).outputs[0]!
    const logits = new Float32Array(Uint8Array.from(Buffer.from(out.data, 'base64')).buffer)
    logits[0] = logits[0]! + 1e-3
    out.data = Buffer.from(logits.buffer).toString('base64')
    lie.outputHash = hashEncodedTensors([out as never])
    expect((await replay(lie, { mode: 'exact' })).match).toBe(false)
    const loose = await replay(lie, { mode: 'tolerance', tolerance: { maxAbsDiff: 1e-2, argmaxMustAgree: true } })
    expect(loose.match).toBe(true)
    expect(loose.diff?.tensors?.[0]?.maxAbsDiff).toBeGreaterThan(0)
    expect((await replay(lie, { mode: 'tolerance', tolerance: { maxAbsDiff: 1e-5 } })).match).toBe(false)
  })

  test('a swapped model file is never a silent pass', async () => {
    const { store, file, dir } = copiedStore()
    const { record } = await (await createModerationClassifier({ store })).classify(SPAM)
    await releaseSessions()

    // Swapped after the store indexed it: the bytes no longer hash to the digest.
    const original = readFileSync(file)
    const swapped = Buffer.from(original)
    for (let i = Math.floor(swapped.length * 0.3); i < swapped.length * 0.7; i += 4) swapped[i]! ^= 0x01
    writeFileSync(file, swapped)
    await expect(replay(record, { store })).rejects.toMatchObject({ name: 'ModelDigestMismatchError' })

    // A verifier that indexes the swapped file does not know the recorded digest.
    const fresh = createModelStore({ root: dir })
    const err = (await replay(record, { store: fresh }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error | undefined
    expect(err).toMatchObject({ name: 'ModelNotFoundError' })
    expect(err?.message).toContain(record.modelDigest)

    // A record that names the swapped model's digest for the original's output: mismatch.
    const renamed = { ...clone(record), modelDigest: fresh.get('moderation').digest }
    const r = await replay(renamed, { store: fresh })
    expect(r.match).toBe(false)
    expect(r.diff?.reason).toMatch(/outputs differ/)
  })

  test('records that cannot be replayed say so', async () => {
    const { record } = await (await createModerationClassifier()).classify(SPAM)
    await expect(replay({ ...record, replay: 'none' })).rejects.toMatchObject({ name: 'ReplayNotPossibleError' })
    await expect(replay({ ...record, modelDigest: 'sha256:abc' })).rejects.toMatchObject({ name: 'InvalidReplayRecordError' })
    await expect(replay({ ...record, request: { inputs: [] } })).rejects.toMatchObject({ name: 'InvalidReplayRecordError' })
    await expect(replay({ ...record, modelDigest: `0x${'ab'.repeat(32)}` })).rejects.toMatchObject({ name: 'ModelNotFoundError' })
  })

  test('replay uses the recorded settings; other settings are a different computation', async () => {
    const engine = await createChatEngine()
    const { record } = await engine.complete({ model: 'covenant-chat', messages: [{ role: 'user', content: 'hello' }] })
    expect(record.runtime.settings).toMatchObject({ intraOpNumThreads: 1, graphOptimizationLevel: 'basic', executionMode: 'sequential' })
    const r = await replay(record)
    expect(r.match).toBe(true)
  })
})

describe('replay of chat records', () => {
  const request = {
    model: 'covenant-chat',
    messages: [{ role: 'user', content: 'Invoice INV-2041 from Northwind Ltd: please pay 0.25 ETH to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed for GPU hours.' }],
    tools: [{ type: 'function', function: { name: 'pay_invoice', parameters: { type: 'object', properties: { invoiceId: { type: 'string' }, to: { type: 'string' }, amountEth: { type: 'string' } } } } }],
  }

  test('re-executes the model named by the digest and compares the assistant message', async () => {
    const engine = await createChatEngine()
    const { record, output } = await engine.complete(request)
    // the model reads the canonical form (no `required` here: properties in key order)
    expect(output.choices[0]!.message.tool_calls?.[0]?.function).toEqual({
      name: 'pay_invoice',
      arguments: '{"amountEth":"0.25","invoiceId":"INV-2041","to":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}',
    })
    expect(await replay(record)).toMatchObject({ match: true, diff: null })
    expect(await replay(record, { mode: 'tolerance', tolerance: { argmaxMustAgree: true } })).toMatchObject({ match: true })
  })

  test('a changed tool call in the record is a mismatch, with where it diverged', async () => {
    const engine = await createChatEngine()
    const { record } = await engine.complete(request)
    const lie = clone(record) as ReplayRecord & { response: { choices: Array<{ message: { tool_calls: Array<{ function: { arguments: string } }> } }>; covenant: { actions: number[] } } }
    lie.response.choices[0]!.message.tool_calls[0]!.function.arguments = '{"invoiceId":"INV-2041","to":"0x0000000000000000000000000000000000000bad","amountEth":"25"}'
    const { chatOutputHash } = await import('./chatOutput.js')
    lie.outputHash = chatOutputHash(lie.response)
    lie.response.covenant.actions[9] = 0
    const r = await replay(lie)
    expect(r.match).toBe(false)
    expect(r.diff?.recordConsistent).toBe(true)
    const t = await replay(lie, { mode: 'tolerance', tolerance: { argmaxMustAgree: true } })
    expect(t.match).toBe(false)
    expect(t.diff?.chat?.firstDifferentStep).toBe(9)
  })
})
