import * as ort from 'onnxruntime-node'
import type { InferenceBackend, InferenceResult } from './backend.js'
import { InvalidTensorError, ModelLoadError } from './errors.js'
import { type ModelStore, type StoredModel, shippedModelStore } from './modelStore.js'
import type { ReplayRecord } from './schemas.js'
import {
  type DeterministicSettings,
  RUNTIME_NAME,
  resolveSettings,
  runtimeVersion,
  sessionOptions,
  settingsRecord,
} from './settings.js'
import { type DType, type TensorValue, assertShape, encodeTensor, hashTensors, isDType } from './tensor.js'

export type TensorMap = Record<string, TensorValue>

export type CreateOnnxBackendParameters = {
  /** A model from a store, or its name / digest in `store`. */
  model: StoredModel | string
  /** @defaultValue the shipped models */
  store?: ModelStore | undefined
  /** @defaultValue DEFAULT_SETTINGS (1 thread, sequential, 'basic' optimisation) */
  settings?: Partial<DeterministicSettings> | undefined
  /** How verifiers check records from this backend. @defaultValue 'exact' */
  replay?: 'exact' | 'tolerance' | undefined
}

export type OnnxBackend = InferenceBackend<TensorMap, TensorMap> & {
  readonly kind: 'onnx'
  readonly model: StoredModel
  readonly settings: DeterministicSettings
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  /** Runs the model without building a record (the chat engine's inner loop records once per completion). */
  runRaw(feeds: TensorMap): Promise<TensorMap>
}

const sessions = new Map<string, Promise<ort.InferenceSession>>()

/** One session per (model digest, settings), shared by backends and replays in this process. */
async function session(store: ModelStore, model: StoredModel, settings: DeterministicSettings, key = sessionKey(model, settings)): Promise<ort.InferenceSession> {
  let s = sessions.get(key)
  if (!s) {
    // read() re-hashes the bytes: the session runs exactly the bytes the digest names.
    const { bytes } = store.read(model.digest)
    s = ort.InferenceSession.create(bytes, sessionOptions(settings)).catch((cause: unknown) => {
      sessions.delete(key)
      throw new ModelLoadError({ model: model.name, cause })
    })
    sessions.set(key, s)
  }
  return s
}

function sessionKey(model: StoredModel, settings: DeterministicSettings): string {
  return `${model.digest}|${JSON.stringify(settings)}`
}

let shared = new WeakMap<ModelStore, Map<string, Promise<OnnxBackend>>>()

/** A backend shared per (store, model, settings), for callers that run many records of one model (replay). */
export function sharedOnnxBackend(store: ModelStore, model: StoredModel, settings: DeterministicSettings): Promise<OnnxBackend> {
  let m = shared.get(store)
  if (!m) shared.set(store, (m = new Map()))
  const key = sessionKey(model, settings)
  let b = m.get(key)
  if (!b) {
    const map = m
    b = createOnnxBackend({ model, store, settings })
    b.catch(() => map.delete(key))
    m.set(key, b)
  }
  return b
}

/**
 * Forgets cached sessions and shared backends (tests that swap model files call this). A
 * backend made before keeps working: each run takes its session from the cache, so the next
 * run after this opens a new one (and re-reads and re-hashes the model's bytes).
 */
export async function releaseSessions(): Promise<void> {
  const all = [...sessions.values()]
  sessions.clear()
  shared = new WeakMap()
  await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.release()))
}

export async function createOnnxBackend(p: CreateOnnxBackendParameters): Promise<OnnxBackend> {
  const store = p.store ?? shippedModelStore()
  const model = typeof p.model === 'string' ? store.get(p.model) : p.model
  const settings = resolveSettings(p.settings)
  const key = sessionKey(model, settings)
  const sess = await session(store, model, settings, key)
  const replay = p.replay ?? 'exact'
  const runtime = { name: RUNTIME_NAME, version: runtimeVersion(), settings: settingsRecord(settings) }

  const runRaw = async (feeds: TensorMap): Promise<TensorMap> => {
    // the cached session (a map lookup), or a new one if releaseSessions() dropped it
    const live = await session(store, model, settings, key)
    const ortFeeds: Record<string, ort.Tensor> = {}
    for (const name of sess.inputNames) {
      const t = feeds[name]
      if (!t) throw new InvalidTensorError(`missing input "${name}"`, { hint: `Model ${model.name} takes ${sess.inputNames.join(', ')}.` })
      assertShape(t.shape, `input "${name}"`)
      ortFeeds[name] = new ort.Tensor(t.dtype, t.data, t.shape)
    }
    for (const name of Object.keys(feeds)) {
      if (!sess.inputNames.includes(name)) {
        throw new InvalidTensorError(`unknown input "${name}"`, { hint: `Model ${model.name} takes ${sess.inputNames.join(', ')}.` })
      }
    }
    let out: ort.InferenceSession.ReturnType
    try {
      out = await live.run(ortFeeds)
    } catch (cause) {
      throw new InvalidTensorError(`model ${model.name} rejected the inputs`, { hint: cause instanceof Error ? cause.message : String(cause) })
    }
    const result: TensorMap = {}
    for (const name of sess.outputNames) {
      const t = out[name]!
      if (!isDType(t.type)) throw new InvalidTensorError(`output "${name}" has unsupported type ${t.type}`)
      result[name] = { dtype: t.type as DType, shape: [...t.dims], data: t.data as TensorValue['data'] }
    }
    return result
  }

  return {
    kind: 'onnx',
    model,
    settings,
    inputNames: sess.inputNames,
    outputNames: sess.outputNames,
    runRaw,
    async run(feeds: TensorMap): Promise<InferenceResult<TensorMap>> {
      const startedAt = Date.now()
      const t0 = performance.now()
      const output = await runRaw(feeds)
      const durationMs = performance.now() - t0
      const record: ReplayRecord = {
        backend: 'onnx',
        format: 'tensors-v1',
        modelDigest: model.digest,
        model: { name: model.name, digestOf: 'model-bytes' },
        runtime,
        replay,
        // sparse where it is at most half the size: a bag-of-words input is 16 KiB dense
        request: { model: model.name, inputs: sortedNames(feeds).map((n) => encodeTensor(n, feeds[n]!, 'auto')) },
        response: { outputs: sortedNames(output).map((n) => encodeTensor(n, output[n]!, 'auto')) },
        inputHash: hashTensors(feeds),
        outputHash: hashTensors(output),
        timing: { startedAt, durationMs: Math.round(durationMs * 1000) / 1000 },
      }
      return { output, record }
    },
  }
}

function sortedNames(m: TensorMap): string[] {
  return Object.keys(m).sort()
}
