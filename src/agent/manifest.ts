import { type Hex, keccak256 } from 'viem'
import { canonicalBytes, canonicalize, parseCanonical } from '../trace/canonical.js'
import type { Effect } from '../wallet/schemas.js'
import type { AgentBundle } from './bundle.js'
import type { AgentDefinition } from './defineAgent.js'
import { ManifestError } from './errors.js'
import { type Manifest, manifestSchema } from './schemas.js'

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
  manifest: Manifest
  /** Canonical bytes (src/trace canonical JSON). What goes to DA and is hashed. */
  bytes: Uint8Array
  /** keccak256(bytes): registered on chain as the agent's manifest hash. */
  manifestHash: Hex
}

const DIGEST = /^0x[0-9a-fA-F]{64}$/

/** Builds the agent's manifest, validates it, and returns its canonical bytes and hash. */
export function buildManifest(agent: AgentDefinition, p: BuildManifestParameters = {}): BuiltManifest {
  const modelName = agent.model.model
  const digest = DIGEST.test(modelName) ? modelName : p.modelDigests?.[modelName]
  if (!digest) {
    throw new ManifestError(`no digest for model "${modelName}"`, ['Pass modelDigests: { [name]: digest } (src/inference reports the digest of every model it serves).'])
  }
  const baseURL = agent.model.kind === 'chat' ? (agent.model.baseURL ?? null) : null
  const candidate = {
    version: 2,
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
    replay: { ...agent.replay },
  }
  const parsed = manifestSchema.safeParse(candidate)
  if (!parsed.success) throw new ManifestError('the agent does not make a valid manifest', issuesOf(parsed.error))
  const bytes = canonicalBytes(parsed.data)
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestError(`it is ${bytes.length} bytes, more than ${MAX_MANIFEST_BYTES}`)
  return { manifest: parsed.data, bytes, manifestHash: keccak256(bytes) }
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
  const parsed = manifestSchema.safeParse(value)
  if (!parsed.success) throw new ManifestError('it does not match the manifest schema', issuesOf(parsed.error))
  if (canonicalize(parsed.data) !== new TextDecoder().decode(bytes)) {
    throw new ManifestError('it relies on default values; a manifest must state every field')
  }
  return { manifest: parsed.data, bytes, manifestHash: keccak256(bytes) }
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
