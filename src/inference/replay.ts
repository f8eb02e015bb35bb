import { z } from 'zod'
import { CHAT_DECODING } from './chatEngine.js'
import { chatEngineForModel, decodingsOf } from './chatEngines.js'
import { assembleChatStream, chatOutputHash } from './chatOutput.js'
import { InvalidReplayRecordError, InvalidTensorError, ReplayNotPossibleError } from './errors.js'
import { type Hash, hashJson } from './hash.js'
import { type ModelStore, shippedModelStore } from './modelStore.js'
import { type OnnxBackend, sharedOnnxBackend } from './onnxBackend.js'
import { verifyReceipt } from './receipt.js'
import {
  type ReplayRecord,
  type TensorRequest,
  type TensorResponse,
  dtypeSchema,
  tensorLayoutSchema,
  replayRecordSchema,
} from './schemas.js'
import { type DeterministicSettings, DEFAULT_SETTINGS, resolveSettings, settingsFromRecord } from './settings.js'
import { type TensorValue, decodeTensor, elementAt, elementCount, hashEncodedTensors, hashTensors } from './tensor.js'

/**
 * Replay: re-execute a recorded inference and say whether it gives the recorded output.
 *
 * - `exact`: the re-computed output hash must equal the record's `outputHash`, and the
 *   record must be self-consistent (its inline input/output bytes hash to its hashes).
 * - `tolerance` (replays on other hardware, thresholds from the agent manifest): every
 *   output value within `maxAbsDiff` of the recorded one and, if `argmaxMustAgree`, the
 *   same argmax per row (for chat: the same decoded action at every step).
 * - `attested` records whose model this machine does not have are not re-executed: the
 *   receipt is re-verified against the recorded exchange instead (`mode: "attested"`).
 *
 * The model is found by digest; an unknown digest throws ModelNotFoundError and a model
 * file whose bytes changed throws ModelDigestMismatchError. Nothing passes silently.
 */
export type ReplayOptions = {
  /** @defaultValue 'tolerance' if the record says so, else 'exact' */
  mode?: 'exact' | 'tolerance' | undefined
  /** Thresholds for `tolerance` (the manifest's replay policy). */
  tolerance?: { maxAbsDiff?: number | undefined; argmaxMustAgree?: boolean | undefined } | undefined
  /** @defaultValue the shipped models */
  store?: ModelStore | undefined
  /** Replace recorded runtime settings (to measure, e.g., another thread count). @defaultValue the recorded ones */
  settings?: Partial<DeterministicSettings> | undefined
  /**
   * The endpoint registration the record is judged against (the agent manifest's, see
   * src/agent/manifest.ts): the receipt keys and the container measurement the operator
   * registered. An `attested` record matches only with a receipt from a registered key
   * (and measurement, when one is registered): without a registration there is nothing
   * its signature could attest, and it does not match. A receipt on a record replayed
   * exactly is checked too, against the registration when given.
   */
  registration?: ReceiptRegistration | undefined
}

/** Who may sign receipts for an agent's inferences. */
export type ReceiptRegistration = {
  /** Receipt keys registered for the endpoint (empty: none). */
  signers?: readonly string[] | undefined
  /** The container measurement registered; null or absent: any. */
  measurement?: string | null | undefined
}

export type TensorDiff = {
  name: string
  dtype: string
  shape: number[]
  elements: number
  /** Elements whose bits differ. */
  differing: number
  firstDifference: { index: number; expected: number; actual: number } | null
  maxAbsDiff: number
  argmaxAgree: boolean
}

export type ReplayDiff = {
  /** One line a person can read: why it matched or not. */
  reason: string
  /** The record's inline output (and input) bytes hash to its outputHash (inputHash). */
  recordConsistent: boolean
  tensors?: TensorDiff[] | undefined
  chat?: { firstDifferentStep: number | null; expected: unknown; actual: unknown } | undefined
}

export type ReplayResult = {
  match: boolean
  mode: 'exact' | 'tolerance' | 'attested'
  expectedHash: Hash
  actualHash: Hash
  /** null when everything matched bit for bit. */
  diff: ReplayDiff | null
}

export async function replay(record: ReplayRecord | unknown, options: ReplayOptions = {}): Promise<ReplayResult> {
  const parsed = replayRecordSchema.safeParse(record)
  if (!parsed.success) throw new InvalidReplayRecordError('it does not match replayRecordSchema', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  const r = parsed.data
  if (r.replay === 'none') {
    throw new ReplayNotPossibleError(
      'the record says replay: "none" (an endpoint with no receipt and no known model)',
      'Only the record itself can be checked. Use the Covenant inference container, or declare the endpoint in the manifest.',
    )
  }
  const store = options.store ?? shippedModelStore()
  const mode = options.mode ?? (r.replay === 'tolerance' ? 'tolerance' : 'exact')
  const format = r.format ?? (r.backend === 'openai-compatible' || hasMessages(r.request) ? 'chat-completions-v1' : 'tensors-v1')
  if (format === 'tensors-v1') return replayTensors(r, store, mode, options)
  return replayChat(r, store, mode, options)
}

function hasMessages(x: unknown): boolean {
  return typeof x === 'object' && x !== null && Array.isArray((x as { messages?: unknown }).messages)
}

async function replayTensors(r: ReplayRecord, store: ModelStore, mode: 'exact' | 'tolerance', options: ReplayOptions): Promise<ReplayResult> {
  // Shape only: decodeTensor checks the base64 strictly (once, not twice).
  const req = tensorRequestShape.safeParse(r.request)
  const res = tensorResponseShape.safeParse(r.response)
  if (!req.success) throw new InvalidReplayRecordError('request is not { model, inputs: [tensor…] }', req.error.issues.map((i) => `request.${i.path.join('.')}: ${i.message}`))
  if (!res.success) throw new InvalidReplayRecordError('response is not { outputs: [tensor…] }', res.error.issues.map((i) => `response.${i.path.join('.')}: ${i.message}`))
  const request: TensorRequest = req.data
  const response: TensorResponse = res.data
  const settings = { ...settingsFromRecord(r.runtime.settings), ...options.settings }
  const backend = await cachedBackend(store, r.modelDigest, settings)

  // A tensor whose data does not decode (not canonical base64, a malformed sparse layout) makes
  // the record unreadable: a verifier reports that as a mismatch, never as its own failure.
  const readable = <T>(where: string, f: () => T): T => {
    try {
      return f()
    } catch (err) {
      if (err instanceof InvalidTensorError) throw new InvalidReplayRecordError(`${where} does not decode`, [err.shortMessage])
      throw err
    }
  }
  const inputs: Record<string, TensorValue> = {}
  for (const t of request.inputs) inputs[t.name] = readable(`request input "${t.name}"`, () => decodeTensor(t))
  const expectedHash = r.outputHash as Hash
  const inputsConsistent = hashTensors(inputs) === r.inputHash
  const recordedHash = readable('a response output', () => hashEncodedTensors(response.outputs))
  const outputsConsistent = recordedHash === r.outputHash
  const actual = await backend.runRaw(inputs)
  const actualHash = hashTensors(actual)

  const identicalBits = inputsConsistent && outputsConsistent && actualHash === expectedHash
  if (identicalBits) return { match: true, mode, expectedHash, actualHash, diff: null }
  const recorded: Record<string, TensorValue> = {}
  for (const t of response.outputs) recorded[t.name] = readable(`response output "${t.name}"`, () => decodeTensor(t))
  const tensors = Object.keys(actual)
    .sort()
    .map((name) => tensorDiff(name, recorded[name], actual[name]!))

  const consistent = inputsConsistent && outputsConsistent
  let match: boolean
  let reason: string
  if (!inputsConsistent) {
    match = false
    reason = 'the recorded inputs do not hash to inputHash: the record was altered'
  } else if (!outputsConsistent) {
    match = false
    reason = `the recorded output bytes hash to ${recordedHash}, not to outputHash: the record was altered`
  } else if (mode === 'exact') {
    match = actualHash === expectedHash
    reason = match ? 'bit-identical outputs' : `outputs differ: ${tensors.map((t) => `${t.name} ${t.differing}/${t.elements} elements, max |Δ| ${t.maxAbsDiff}`).join('; ')}`
  } else {
    const maxAbs = options.tolerance?.maxAbsDiff ?? 0
    const argmax = options.tolerance?.argmaxMustAgree ?? true
    const missing = tensors.some((t) => !recorded[t.name])
    match = !missing && tensors.every((t) => t.maxAbsDiff <= maxAbs && (!argmax || t.argmaxAgree))
    reason = match
      ? `within tolerance (max |Δ| ${Math.max(0, ...tensors.map((t) => t.maxAbsDiff))} ≤ ${maxAbs}${argmax ? ', argmax agrees' : ''})`
      : `outside tolerance (max |Δ| ≤ ${maxAbs}${argmax ? ', argmax must agree' : ''}): ${tensors.map((t) => `${t.name} max |Δ| ${t.maxAbsDiff}, argmax ${t.argmaxAgree ? 'agrees' : 'differs'}`).join('; ')}`
  }
  const identical = match && actualHash === expectedHash && consistent
  return { match, mode, expectedHash, actualHash, diff: identical ? null : { reason, recordConsistent: consistent, tensors } }
}

const tensorShape = z.object({ name: z.string(), dtype: dtypeSchema, shape: z.array(z.number().int().nonnegative()).max(8), data: z.string(), layout: tensorLayoutSchema.optional() })
const tensorRequestShape = z.object({ model: z.string(), inputs: z.array(tensorShape).min(1) })
const tensorResponseShape = z.object({ outputs: z.array(tensorShape).min(1) })

/** Backends per (store, digest, settings): a verifier replays many records of one model. */
function cachedBackend(store: ModelStore, digest: string, settings: DeterministicSettings): Promise<OnnxBackend> {
  return sharedOnnxBackend(store, store.get(digest), settings)
}

function tensorDiff(name: string, expected: TensorValue | undefined, actual: TensorValue): TensorDiff {
  const n = elementCount(actual.shape)
  const base = { name, dtype: actual.dtype, shape: [...actual.shape], elements: n }
  if (!expected || expected.dtype !== actual.dtype || expected.shape.join() !== actual.shape.join()) {
    return { ...base, differing: n, firstDifference: null, maxAbsDiff: Number.POSITIVE_INFINITY, argmaxAgree: false }
  }
  const eb = new Uint8Array(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength)
  const ab = new Uint8Array(actual.data.buffer, actual.data.byteOffset, actual.data.byteLength)
  const width = eb.length / Math.max(1, n)
  let differing = 0
  let first: TensorDiff['firstDifference'] = null
  let maxAbs = 0
  for (let i = 0; i < n; i++) {
    let same = true
    for (let j = 0; j < width; j++) if (eb[i * width + j] !== ab[i * width + j]) same = false
    if (same) continue
    differing++
    const e = elementAt(expected, i)
    const a = elementAt(actual, i)
    first ??= { index: i, expected: e, actual: a }
    const d = Number.isNaN(e) || Number.isNaN(a) ? Number.POSITIVE_INFINITY : Math.abs(e - a)
    if (d > maxAbs) maxAbs = d
  }
  // argmax along the last axis, row by row
  const last = actual.shape.at(-1) ?? 1
  let argmaxAgree = true
  for (let row = 0; last > 0 && row < n / last; row++) {
    let be = 0
    let ba = 0
    for (let k = 1; k < last; k++) {
      if (elementAt(expected, row * last + k) > elementAt(expected, row * last + be)) be = k
      if (elementAt(actual, row * last + k) > elementAt(actual, row * last + ba)) ba = k
    }
    if (be !== ba) argmaxAgree = false
  }
  return { ...base, differing, firstDifference: first, maxAbsDiff: maxAbs, argmaxAgree }
}

async function replayChat(r: ReplayRecord, store: ModelStore, mode: 'exact' | 'tolerance', options: ReplayOptions): Promise<ReplayResult> {
  if (!hasMessages(r.request)) throw new InvalidReplayRecordError('a chat record needs the request body with messages')
  const rawResponse = r.response as Record<string, unknown> | null
  const chunks = rawResponse?.['object'] === 'chat.completion.stream' && Array.isArray(rawResponse['chunks']) ? (rawResponse['chunks'] as unknown[]) : undefined
  const recorded = chunks ? assembleChatStream(chunks) : rawResponse
  const expectedHash = r.outputHash as Hash
  const recordedHash = chatOutputHash(recorded)
  // Replay the bytes that were sent (key order shapes the prompt) — but only if they are the request the record states.
  let sent: unknown = r.request
  let bodyMatches = true
  if (r.requestBody !== undefined) {
    try {
      sent = JSON.parse(r.requestBody)
      bodyMatches = hashJson(sent) === hashJson(r.request)
    } catch {
      bodyMatches = false
    }
    if (!bodyMatches) sent = r.request
  }
  const consistent = recordedHash === r.outputHash && hashJson(r.request) === r.inputHash && bodyMatches
  const local = r.model?.digestOf !== 'endpoint-and-name' ? store.find(r.modelDigest) : undefined
  // Every mode checks the receipt: it is what binds the endpoint to this exchange.
  const receiptProblem = await recordReceiptProblem(r, chunks ?? rawResponse, options.registration, r.replay === 'attested' && !local)
  if (receiptProblem) {
    return { match: false, mode: r.replay === 'attested' && !local ? 'attested' : mode, expectedHash, actualHash: recordedHash, diff: { reason: receiptProblem, recordConsistent: consistent } }
  }

  if (!local) {
    if (r.replay === 'attested' && r.receipt) {
      const reason = consistent
        ? `receipt from registered key ${r.receipt.signer} verifies and the record is consistent; not re-executed (model not on this machine)`
        : 'the recorded response does not hash to outputHash: the record was altered'
      return { match: consistent, mode: 'attested', expectedHash, actualHash: recordedHash, diff: { reason, recordConsistent: consistent } }
    }
    // Throws ModelNotFoundError with the known digests.
    store.get(r.modelDigest)
  }
  // The container states its settings in the (signed) response; the local engine in the record.
  const served = ((chunks?.at(-1) ?? recorded) as { covenant?: { runtime?: { settings?: unknown } } } | null)?.covenant?.runtime?.settings
  const settings: Partial<DeterministicSettings> = {
    ...(r.backend === 'onnx'
      ? settingsFromRecord(r.runtime.settings)
      : served && typeof served === 'object'
        ? settingsFromRecord(served as Record<string, string | number | boolean>)
        : DEFAULT_SETTINGS),
    ...options.settings,
  }
  // …and how it decoded (records from before constrained decoding say "greedy", or nothing).
  const stated = ((chunks?.at(-1) ?? recorded) as { covenant?: { decoding?: unknown } } | null)?.covenant?.decoding ?? (r.backend === 'onnx' ? r.runtime.settings['decoding'] : undefined) ?? 'greedy'
  const model = local ?? store.get(r.modelDigest)
  if (!decodingsOf(model).includes(String(stated))) {
    throw new ReplayNotPossibleError(
      `the record was decoded with ${JSON.stringify(stated)}, which this version does not know for this model (it knows ${decodingsOf(model).map((d) => `"${d}"`).join(', ')})`,
      'Replay it with the Covenant version that wrote it, or a newer one.',
    )
  }
  // …and in what form the model read the request: since `requestForm: "canonical-json"` (signed
  // in the response) a function of the request hash alone, so the record replays however it
  // was stored; responses written before read the bytes as sent (requestBody, if kept).
  const form = ((chunks?.at(-1) ?? recorded) as { covenant?: { requestForm?: unknown } } | null)?.covenant?.requestForm
  if (form !== undefined && form !== 'canonical-json') {
    throw new ReplayNotPossibleError(`the record's model read the request as ${JSON.stringify(form)}, a form this version does not know`, 'Replay it with the Covenant version that wrote it, or a newer one.')
  }
  const engine = await chatEngineForModel(store, model, resolveSettings(settings))
  const { output } = await engine.complete(form === 'canonical-json' ? r.request : sent, {
    decoding: stated === 'greedy' ? 'greedy' : CHAT_DECODING,
    requestForm: form === 'canonical-json' ? 'canonical-json' : 'as-sent',
  })
  const actualHash = chatOutputHash(output)
  const recordedActions = ((recorded as { covenant?: { actions?: unknown } } | null)?.covenant?.actions ??
    (chunks?.at(-1) as { covenant?: { actions?: unknown } } | undefined)?.covenant?.actions) as number[] | undefined
  const actions = output.covenant.actions
  let firstDifferentStep: number | null = null
  if (recordedActions) {
    for (let i = 0; i < Math.max(actions.length, recordedActions.length); i++) {
      if (actions[i] !== recordedActions[i]) {
        firstDifferentStep = i
        break
      }
    }
  }
  let match: boolean
  let reason: string
  if (!consistent) {
    match = false
    reason = 'the recorded request or response does not hash to inputHash/outputHash: the record was altered'
  } else if (mode === 'exact' || !recordedActions) {
    match = actualHash === expectedHash
    reason = match ? 'identical assistant message' : 'the re-executed model gives another assistant message'
  } else {
    // Greedy decoding: argmax agreement at every step is agreement of the action sequences.
    match = firstDifferentStep === null && actualHash === expectedHash
    reason = match ? 'same decoded action at every step' : `decoding diverges at step ${firstDifferentStep ?? '?'}`
    if (options.tolerance?.maxAbsDiff !== undefined) reason += ' (maxAbsDiff does not apply to chat records: their logits are not recorded)'
  }
  const message = (x: unknown) => ((x as { choices?: Array<{ message?: unknown }> } | null)?.choices?.[0]?.message ?? null)
  return {
    match,
    mode,
    expectedHash,
    actualHash,
    diff:
      match && actualHash === expectedHash && consistent
        ? null
        : { reason, recordConsistent: consistent, chat: { firstDifferentStep, expected: message(recorded), actual: message(output) } },
  }
}

/**
 * Why the record's receipt does not bind it to a registered endpoint, or undefined when it
 * does (or when the record comes from a local engine, which signs nothing). `attested`: the
 * record rests on the receipt alone, so a registration is required.
 */
async function recordReceiptProblem(r: ReplayRecord, response: unknown, registration: ReceiptRegistration | undefined, attested: boolean): Promise<string | undefined> {
  if (!r.receipt) {
    if (attested) return 'the record claims an attested inference but carries no receipt'
    if (r.backend === 'openai-compatible' && r.replay !== 'none') return `the record claims ${r.replay} replay of an endpoint's answer but carries no receipt from the endpoint`
    return undefined
  }
  try {
    await verifyReceipt({ receipt: r.receipt, request: r.request, response })
  } catch (err) {
    return `receipt does not verify: ${(err as Error).message.split('\n')[0]}`
  }
  if (r.model?.digestOf !== 'endpoint-and-name' && r.receipt.modelDigest.toLowerCase() !== r.modelDigest.toLowerCase()) {
    return `the receipt is for model ${r.receipt.modelDigest}, the record names ${r.modelDigest}`
  }
  const signers = (registration?.signers ?? []).map((a) => a.toLowerCase())
  const measurement = registration?.measurement ?? null
  if (attested && signers.length === 0 && measurement === null) {
    return `receipt signed by ${r.receipt.signer}, but no receipt key or measurement is registered to check it against: an unregistered key attests nothing`
  }
  if (signers.length > 0 && !signers.includes(r.receipt.signer.toLowerCase())) {
    return `receipt signed by ${r.receipt.signer}, which is not a registered receipt key (${signers.join(', ')})`
  }
  if (measurement !== null && r.receipt.measurement.toLowerCase() !== measurement.toLowerCase()) {
    return `the receipt's measurement ${r.receipt.measurement} is not the registered ${measurement}`
  }
  return undefined
}
