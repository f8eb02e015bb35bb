import { type Hex, keccak256 } from 'viem'
import { canonicalBytes, canonicalize, parseCanonical } from '../trace/canonical.js'
import type { Effect } from '../wallet/schemas.js'
import type { AgentBundle } from './bundle.js'
import type { AgentDefinition } from './defineAgent.js'
import { ManifestError } from './errors.js'
import { endpointModelDigest } from '../inference/endpointDigest.js'
import { type Manifest, type ManifestV2, type ModelRegistration, manifestSchema, manifestV2Schema } from './schemas.js'

/** The largest manifest accepted, in bytes. */
export const MAX_MANIFEST_BYTES = 1 << 20

export type BuildManifestParameters = {
  /**
   * Digest (sha256 of the model bytes, as src/inference reports it) per model name. Not
   * needed when `agent.model.model` is itself a digest.
   */
  modelDigests?: Readonly<Record<string, Hex>> | undefined
  /** The inference container's measurement (from its attestation). */
  inferenceMeasurement?: Hex | undefined
  /** Inference endpoints a verifier may use. @defaultValue the chat model's baseURL, if any */
  endpoints?: readonly string[] | undefined
  /**
   * The agent's code bundle ({@link bundleAgentFile}) and its DA commitment: `codeHash` and
   * `codeBundle`. Without it the manifest registers no code and verifiers cannot replay the
   * agent's own logic (they say so; `covenant verify` never calls such an action honest).
   */
  code?: { bundle: Pick<AgentBundle, 'bytes' | 'codeHash' | 'format'>; commitment: Hex } | undefined
}

export type BuiltManifest = {
  /** The manifest; a version 2 manifest read by parseManifest comes migrated ({@link migrateManifestV2}), its bytes and hash unchanged. */
  manifest: Manifest
  /** The version the bytes are written in. */
  version: 2 | 3
  /** Canonical bytes (src/trace canonical JSON). What goes to DA and is hashed. */
  bytes: Uint8Array
  /** keccak256(bytes): registered on chain as the agent's manifest hash. */
  manifestHash: Hex
}

const DIGEST = /^0x[0-9a-fA-F]{64}$/

/**
 * What the manifest registers for the agent's model: digest, endpoint and the check the
 * operator can honour (`agent.replay`). A remote model declared `none` or `attested` is named
 * by endpoint and name (no bytes to hash); any other needs its digest — deploy refuses
 * `exact`/`tolerance` for a model Covenant cannot run.
 */
export function modelRegistration(agent: AgentDefinition, p: Pick<BuildManifestParameters, 'modelDigests'> = {}): ModelRegistration {
  const modelName = agent.model.model
  const baseURL = agent.model.kind === 'chat' ? (agent.model.baseURL ?? null) : null
  const r = agent.replay
  const common = {
    name: modelName,
    endpoint: baseURL,
    replay: r.mode,
    tolerance: r.mode === 'tolerance' ? { maxAbsDiff: r.tolerance.maxAbsDiff, argmax: r.tolerance.argmax } : null,
    receiptSigners: r.mode === 'attested' ? r.signers.map((a) => a.toLowerCase() as Hex) : [],
    measurement: r.mode === 'attested' ? ((r.measurement?.toLowerCase() as Hex | undefined) ?? null) : null,
  }
  if (baseURL && (r.mode === 'none' || r.mode === 'attested')) {
    return { ...common, digest: endpointModelDigest(baseURL, modelName), digestOf: 'endpoint-and-name' }
  }
  const digest = DIGEST.test(modelName) ? modelName : p.modelDigests?.[modelName]
  if (!digest) {
    throw new ManifestError(`no digest for model "${modelName}"`, [
      'Pass modelDigests: { [name]: digest } (src/inference reports the digest of every model it serves).',
      ...(baseURL ? [`A remote model Covenant cannot run is declared with replay: { mode: 'none' } or { mode: 'attested', signers: [...] }.`] : []),
    ])
  }
  return { ...common, digest: digest.toLowerCase() as Hex, digestOf: 'model-bytes' }
}

/** Builds the agent's manifest, validates it, and returns its canonical bytes and hash. */
export function buildManifest(agent: AgentDefinition, p: BuildManifestParameters = {}): BuiltManifest {
  const modelName = agent.model.model
  const registration = modelRegistration(agent, p)
  const digest = registration.digest
  const baseURL = agent.model.kind === 'chat' ? (agent.model.baseURL ?? null) : null
  const candidate = {
    version: 3,
    name: agent.name,
    instructions: agent.instructions,
    codeHash: p.code ? keccak256(p.code.bundle.bytes) : null,
    codeBundle: p.code ? { format: p.code.bundle.format, commitment: p.code.commitment.toLowerCase(), size: p.code.bundle.bytes.length } : null,
    model:
      agent.model.kind === 'chat'
        ? { kind: 'chat', name: modelName, digest: digest.toLowerCase(), baseURL }
        : { kind: 'onnx', name: modelName, digest: digest.toLowerCase() },
    inference: {
      measurement: p.inferenceMeasurement?.toLowerCase() ?? null,
      endpoints: [...(p.endpoints ?? (baseURL ? [baseURL] : []))],
    },
    tools: agent.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters, effect: effectJson(t.effect) })),
    policy: {
      maxValuePerTx: agent.policy.maxValuePerTx.toString(),
      dailyBudget: agent.policy.dailyBudget?.toString() ?? null,
      challengeWindow: agent.policy.challengeWindow,
      commitDeadline: agent.policy.commitDeadline,
      allowedTargets: agent.policy.allowedTargets.map((a) => a.toLowerCase()),
      allowedSelectors: agent.policy.allowedSelectors.map((s) => s.toLowerCase()),
    },
    bond: { eth: agent.bond.eth.toString(), token: agent.bond.token.toString() },
    models: [registration],
    replay: { ...agent.replay },
  }
  const parsed = manifestSchema.safeParse(candidate)
  if (!parsed.success) throw new ManifestError('the agent does not make a valid manifest', issuesOf(parsed.error))
  const bytes = canonicalBytes(parsed.data)
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestError(`it is ${bytes.length} bytes, more than ${MAX_MANIFEST_BYTES}`)
  return { manifest: parsed.data, version: 3, bytes, manifestHash: keccak256(bytes) }
}

/**
 * Parses manifest bytes (e.g. fetched from DA). Rejects anything that is not exactly the
 * canonical encoding of a valid manifest, so bytes ↔ manifest ↔ hash is one to one.
 */
export function parseManifest(input: Uint8Array | string): BuiltManifest {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
  if (!(bytes instanceof Uint8Array)) throw new ManifestError('expected bytes or a string')
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestError(`it is ${bytes.length} bytes, more than ${MAX_MANIFEST_BYTES}`)
  let value: unknown
  try {
    value = parseCanonical(bytes)
  } catch (err) {
    throw new ManifestError('not canonical JSON', [(err as Error).message.split('\n')[0] ?? ''])
  }
  const v2 = (value as { version?: unknown } | null)?.version === 2
  const parsed = v2 ? manifestV2Schema.safeParse(value) : manifestSchema.safeParse(value)
  if (!parsed.success) throw new ManifestError('it does not match the manifest schema', issuesOf(parsed.error))
  if (canonicalize(parsed.data) !== new TextDecoder().decode(bytes)) {
    throw new ManifestError('it relies on default values; a manifest must state every field')
  }
  const manifest = v2 ? migrateManifestV2(parsed.data as ManifestV2) : (parsed.data as Manifest)
  return { manifest, version: v2 ? 2 : 3, bytes, manifestHash: keccak256(bytes) }
}

/**
 * A version 2 manifest read as version 3: its one model registered with the replay mode it
 * stated (v2 had no `none`, and `attested` named no key: such a model's receipts are checked
 * against `inference.measurement`).
 */
export function migrateManifestV2(m: ManifestV2): Manifest {
  const r = m.replay
  const registration: ModelRegistration = {
    name: m.model.name,
    digest: m.model.digest,
    digestOf: 'model-bytes',
    endpoint: m.model.kind === 'chat' ? m.model.baseURL : null,
    replay: r.mode,
    tolerance: r.mode === 'tolerance' ? { maxAbsDiff: r.tolerance.maxAbsDiff, argmax: r.tolerance.argmax } : null,
    receiptSigners: [],
    measurement: r.mode === 'attested' ? m.inference.measurement : null,
  }
  // the agent-wide policy keeps what v2 said; the registration above is what verifiers judge by
  return { ...m, version: 3, models: [registration] } as unknown as Manifest
}

function effectJson(e: Effect) {
  if (e.kind === 'none') return { kind: 'none' }
  if (e.kind === 'pay') {
    return {
      kind: 'pay',
      maxValuePerTx: e.maxValuePerTx?.toString() ?? null,
      recipients: e.recipients?.map((a) => a.toLowerCase()) ?? null,
    }
  }
  return {
    kind: 'call',
    targets: e.targets.map((a) => a.toLowerCase()),
    selectors: [...e.selectors],
    maxValue: (e.maxValue ?? 0n).toString(),
  }
}

function issuesOf(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string[] {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(manifest)'}: ${i.message}`)
}
