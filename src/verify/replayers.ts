import { replay } from '../inference/replay.js'
import type { ModelStore } from '../inference/modelStore.js'
import type { ReplayRecord } from '../inference/schemas.js'
import { decodeTensor, encodeTensor, hashEncodedTensors, type EncodedTensor } from '../inference/tensor.js'
import type { AttestationCheck, Replayer } from './inference.js'

/**
 * Replays records on this machine with src/inference (ONNX models and the chat model,
 * found by digest in the model store; the shipped models by default).
 *
 * A record that cannot even be read as a replayable inference (its request or response
 * is malformed) is a mismatch, not an error: the agent committed it, so the agent is at
 * fault. A model this machine does not have stays an error (`ModelNotFoundError`, not
 * retried): the verifier cannot judge, and says so.
 */
export function localReplayer(options: { store?: ModelStore | undefined } = {}): Replayer {
  return async (record, rule) => {
    try {
      const r = await replay(record, {
        store: options.store,
        // a receipt on the record must come from a key the manifest registered for the model
        ...(rule.signers || rule.measurement ? { registration: { signers: rule.signers, measurement: rule.measurement ?? null } } : {}),
        ...(rule.mode === 'tolerance'
          ? { mode: 'tolerance' as const, tolerance: { maxAbsDiff: rule.tolerance?.maxAbsDiff, argmaxMustAgree: rule.tolerance?.argmax } }
          : { mode: 'exact' as const }),
      })
      return { match: r.match, expectedHash: r.expectedHash, actualHash: r.actualHash, diff: r.diff }
    } catch (err) {
      if ((err as { name?: string }).name === 'InvalidReplayRecordError') {
        return {
          match: false,
          expectedHash: record.outputHash,
          actualHash: 'unreadable record',
          diff: { reason: (err as { shortMessage?: string }).shortMessage ?? String(err) },
        }
      }
      throw err
    }
  }
}

/**
 * Checks an `attested` record the way src/inference replays it: re-executes when the model
 * is here, else re-verifies the container's signed receipt against the recorded exchange.
 */
export function localAttestationCheck(options: { store?: ModelStore | undefined } = {}): AttestationCheck {
  return async (record, registration) => {
    try {
      const r = await replay(record, { store: options.store, ...(registration ? { registration } : {}) })
      return { valid: r.match, reason: r.diff?.reason ?? `${r.mode}: matches` }
    } catch (err) {
      return { valid: false, reason: (err as { shortMessage?: string }).shortMessage ?? String(err) }
    }
  }
}

/**
 * TEST AND DEMO ONLY — what a dishonest operator does to a tensor record: changes the
 * first output value and re-hashes, so the record is self-consistent but not what the
 * model computed. Exact replay catches it.
 */
export function fakeTensorOutput(record: ReplayRecord, delta = 1): ReplayRecord {
  const response = record.response as { outputs: EncodedTensor[] }
  const outputs = response.outputs.map((t, i) => {
    if (i !== 0) return t
    const v = decodeTensor(t)
    const data = Array.from(v.data as ArrayLike<number>)
    data[0] = (data[0] ?? 0) + delta
    const typed = v.dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data)
    return encodeTensor(t.name, { dtype: v.dtype, shape: v.shape, data: typed })
  })
  return { ...record, response: { ...response, outputs }, outputHash: hashEncodedTensors(outputs) }
}
