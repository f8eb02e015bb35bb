import * as ort from 'onnxruntime-node'

/**
 * The ONNX Runtime settings a replay must reproduce. They are recorded in every replay
 * record (`runtime.settings`) and an agent manifest must pin them: replaying with other
 * settings is a different computation.
 *
 * Why each is pinned:
 * - `executionProvider: 'cpu'`: GPU kernels are not bit-reproducible across devices.
 * - `intraOpNumThreads`: a kernel may split work (and, for some reductions, the order of a
 *   floating-point sum) by thread count. On this build the shipped models gave identical
 *   bits with 1 and 2 threads (determinism.test.ts measures it), but that is a property of
 *   today's kernels, not a promise, so the count is pinned and recorded anyway.
 * - `interOpNumThreads: 1`, `executionMode: 'sequential'`: nodes run one at a time in graph
 *   order.
 * - `graphOptimizationLevel`: fusions replace groups of nodes with fused kernels whose
 *   rounding differs; 'basic' (constant folding, redundant-node removal) keeps the graph's
 *   arithmetic as exported. Replays must use the recorded level.
 * - `denormalAsZero: false`: flushing denormals changes results.
 */
export type DeterministicSettings = {
  executionProvider: 'cpu'
  intraOpNumThreads: number
  interOpNumThreads: number
  executionMode: 'sequential' | 'parallel'
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all'
  denormalAsZero: boolean
}

/** @defaultValue the pinned settings every backend uses unless told otherwise */
export const DEFAULT_SETTINGS: Readonly<DeterministicSettings> = Object.freeze({
  executionProvider: 'cpu',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'basic',
  denormalAsZero: false,
})

export const RUNTIME_NAME = 'onnxruntime-node' as const

/** The ONNX Runtime version actually loaded (not the one package.json asks for). */
export function runtimeVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common
}

export function resolveSettings(overrides: Partial<DeterministicSettings> = {}): DeterministicSettings {
  const s = { ...DEFAULT_SETTINGS, ...overrides }
  // A measurement or record naming a provider the session does not use would be a false
  // claim (and would not replay): sessions run on CPU only (sessionOptions), so nothing else is accepted.
  if ((s.executionProvider as string) !== SESSION_EXECUTION_PROVIDER) {
    throw new RangeError(
      `executionProvider ${JSON.stringify(String(s.executionProvider))} is not what ONNX Runtime runs here: sessions use "${SESSION_EXECUTION_PROVIDER}" only (GPU kernels are not bit-reproducible); leave executionProvider out or set it to "${SESSION_EXECUTION_PROVIDER}"`,
    )
  }
  if (!Number.isInteger(s.intraOpNumThreads) || s.intraOpNumThreads < 1) throw new RangeError('intraOpNumThreads must be an integer of at least 1')
  if (!Number.isInteger(s.interOpNumThreads) || s.interOpNumThreads < 1) throw new RangeError('interOpNumThreads must be an integer of at least 1')
  return s
}

/** The one execution provider sessions are created with (sessionOptions). */
export const SESSION_EXECUTION_PROVIDER = 'cpu' as const

/**
 * Settings as they appear in a replay record and in the container's measurement (flat
 * string/number/boolean map). The execution provider is read from the session options
 * ONNX Runtime is actually given, never copied from what a caller asked for.
 */
export function settingsRecord(s: DeterministicSettings): Record<string, string | number | boolean> {
  const providers = sessionOptions(s).executionProviders ?? []
  const used = providers.map((p) => (typeof p === 'string' ? p : p.name))
  return { ...s, executionProvider: used.join(',') }
}

const fromRecordCache = new Map<string, DeterministicSettings>()

/** Reads settings back from a record, rejecting anything that is not a known setting. */
export function settingsFromRecord(r: Record<string, string | number | boolean>): DeterministicSettings {
  const key = JSON.stringify(r)
  const hit = fromRecordCache.get(key)
  if (hit) return { ...hit }
  const s = parseSettings(r)
  if (fromRecordCache.size < 64) fromRecordCache.set(key, s)
  return { ...s }
}

function parseSettings(r: Record<string, string | number | boolean>): DeterministicSettings {
  const s = resolveSettings({
    ...(r['intraOpNumThreads'] !== undefined ? { intraOpNumThreads: Number(r['intraOpNumThreads']) } : {}),
    ...(r['interOpNumThreads'] !== undefined ? { interOpNumThreads: Number(r['interOpNumThreads']) } : {}),
    ...(r['executionMode'] === 'parallel' || r['executionMode'] === 'sequential' ? { executionMode: r['executionMode'] } : {}),
    ...(typeof r['graphOptimizationLevel'] === 'string' &&
    ['disabled', 'basic', 'extended', 'all'].includes(r['graphOptimizationLevel'])
      ? { graphOptimizationLevel: r['graphOptimizationLevel'] as DeterministicSettings['graphOptimizationLevel'] }
      : {}),
    ...(typeof r['denormalAsZero'] === 'boolean' ? { denormalAsZero: r['denormalAsZero'] } : {}),
  })
  if (r['executionProvider'] !== undefined && r['executionProvider'] !== 'cpu') {
    throw new RangeError(`execution provider "${String(r['executionProvider'])}" is not supported for replay (cpu only)`)
  }
  return s
}

export function sessionOptions(s: DeterministicSettings): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [SESSION_EXECUTION_PROVIDER],
    intraOpNumThreads: s.intraOpNumThreads,
    interOpNumThreads: s.interOpNumThreads,
    executionMode: s.executionMode,
    graphOptimizationLevel: s.graphOptimizationLevel,
    enableCpuMemArena: true,
    enableMemPattern: true,
    logSeverityLevel: 3,
    extra: { session: { set_denormal_as_zero: s.denormalAsZero ? '1' : '0' } },
  }
}
