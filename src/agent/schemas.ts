import { z } from 'zod'
import {
  addressSchema as lowerAddressSchema,
  bytes32Schema,
  jsonValueSchema,
  safeUintSchema,
  uint256StringSchema,
} from '../trace/schemas.js'

/**
 * How a verifier must check the agent's inferences (the manifest states it; nothing is
 * assumed). The shape is the one src/verify reads (`replay: { mode, tolerance }`):
 * - `exact`: replay gives the same output bytes (CPU ONNX Runtime, greedy decoding).
 * - `tolerance`: replay on other hardware may differ by at most `maxAbsDiff` per output
 *   value and (if `argmax`) must pick the same class / token in every row.
 * - `attested`: no replay; the endpoint's signed receipt is checked instead, and it must be
 *   signed by one of the registered `signers` (and name the registered `measurement`, if set).
 * - `none`: the operator promises no check of the model's answers (any remote API without
 *   receipts). Verifiers never slash for such an inference; the policy, the agent's own logic
 *   replayed on the recorded answers, and the trace are still checked.
 */
export const replayPolicySchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('exact') }),
  z.strictObject({
    mode: z.literal('tolerance'),
    tolerance: z.strictObject({
      maxAbsDiff: z.number().finite().nonnegative().describe('largest allowed |expected - actual| of one output value'),
      argmax: z.boolean().default(true).describe('the argmax of every output row must agree'),
    }),
  }),
  z.strictObject({
    mode: z.literal('attested'),
    signers: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address').transform((a) => a.toLowerCase() as `0x${string}`)).min(1, 'attested needs the receipt key(s) the endpoint signs with (GET /attestation: address)').max(16).describe("the endpoint's receipt keys"),
    measurement: bytes32Schema.nullable().default(null).describe("the endpoint's container measurement; null: any build signed by a registered key"),
  }),
  z.strictObject({ mode: z.literal('none') }),
])
export type ReplayPolicy = z.output<typeof replayPolicySchema>
export type ReplayPolicyInput = z.input<typeof replayPolicySchema>

const weiString = uint256StringSchema

/** The longest agent name: names become file names and CLI arguments. */
export const MAX_AGENT_NAME_LENGTH = 64

/**
 * The one rule for agent names, everywhere a name is accepted (defineAgent, the manifest,
 * deploy, the data dir's records and keystores): 1 to 64 letters, digits, `-` or `_`, not
 * starting with `-`. A name is then always one safe path component (never `.`, `..`, a
 * separator or a space) and never reads as a command-line flag.
 */
const AGENT_NAME_RULE = `an agent name is 1 to ${MAX_AGENT_NAME_LENGTH} letters, digits, "-" or "_", not starting with "-"`
export const agentNameSchema = z.string({ error: AGENT_NAME_RULE }).regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/, AGENT_NAME_RULE)

/** The bond the operator posts for the agent (BondVault), in wei / token units. */
export const bondManifestSchema = z.strictObject({
  eth: weiString,
  token: weiString,
})

const effectManifestSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('none') }),
  z.strictObject({
    kind: z.literal('pay'),
    maxValuePerTx: weiString.nullable(),
    recipients: z.array(lowerAddressSchema).max(256).nullable(),
  }),
  z.strictObject({
    kind: z.literal('call'),
    targets: z.array(lowerAddressSchema).min(1).max(256),
    selectors: z.array(z.string().regex(/^0x[0-9a-f]{8}$/, 'expected a lowercase 4-byte selector')).min(1).max(256),
    maxValue: weiString,
  }),
])

const toolManifestSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  description: z.string().min(1).max(4096),
  parameters: z.record(z.string(), jsonValueSchema).describe('JSON Schema of the arguments'),
  effect: effectManifestSchema,
})

const modelManifestSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('chat'),
    name: z.string().min(1).max(256),
    digest: bytes32Schema.describe('sha256 of the model bytes (as src/inference computes it)'),
    baseURL: z.string().max(2048).nullable().describe('the OpenAI-compatible endpoint; null for the local container'),
  }),
  z.strictObject({
    kind: z.literal('onnx'),
    name: z.string().min(1).max(256),
    digest: bytes32Schema,
  }),
])

const policyManifestSchema = z.strictObject({
  maxValuePerTx: weiString,
  dailyBudget: weiString.nullable(),
  challengeWindow: safeUintSchema,
  commitDeadline: safeUintSchema,
  allowedTargets: z.array(lowerAddressSchema).max(256),
  allowedSelectors: z.array(z.string().regex(/^0x[0-9a-f]{8}$/, 'expected a lowercase 4-byte selector')).max(256),
})

/**
 * The agent manifest: what the agent is, committed on chain by its hash. Every field is
 * JSON (wei as decimal strings, addresses and hex lowercase) so that it has exactly one
 * canonical encoding (src/trace/canonical.ts), and `manifestHash = keccak256(bytes)`.
 */
/**
 * Where the agent's code bundle lives (src/agent/bundle.ts): one ESM file with the user's
 * code, on DA. A verifier fetches it by `commitment`, checks keccak256(bytes) = codeHash and
 * re-runs the agent's loop on the recorded steps (whole-action replay).
 */
export const codeBundleManifestSchema = z.strictObject({
  format: z.literal('esm-bundle/v1').describe('one ESM file, npm packages (covenant included) left as imports'),
  commitment: z
    .string()
    .regex(/^0x(?:[0-9a-f]{2}){1,8192}$/, 'expected the lowercase 0x-hex DA commitment')
    .describe('the DA commitment of the bundle bytes'),
  size: safeUintSchema.describe('the bundle size in bytes'),
})

/**
 * One model the agent uses, as registered (manifest v3): where it is served, by what name,
 * under which digest (`sha256` of the model bytes, or for a remote model Covenant cannot run
 * sha256("<baseURL>#<model>"), src/inference/endpointDigest.ts), and the check the operator
 * can honour for it. Verifiers judge each inference by this entry, never by a default.
 */
export const modelRegistrationSchema = z.strictObject({
  name: z.string().min(1).max(256),
  digest: bytes32Schema,
  digestOf: z.enum(['model-bytes', 'endpoint-and-name']),
  endpoint: z.string().max(2048).nullable().describe('the OpenAI-compatible base URL; null for the local container'),
  replay: z.enum(['exact', 'tolerance', 'attested', 'none']),
  tolerance: z.strictObject({ maxAbsDiff: z.number().finite().nonnegative(), argmax: z.boolean() }).nullable(),
  receiptSigners: z.array(lowerAddressSchema).max(16).describe('keys whose receipts count (attested: at least one)'),
  measurement: bytes32Schema.nullable(),
})
export type ModelRegistration = z.infer<typeof modelRegistrationSchema>

const manifestFields = {
  name: agentNameSchema,
  instructions: z.string().max(65_536),
  codeHash: bytes32Schema.nullable().describe("keccak256 of the agent's code bundle; null: registered without code (its logic cannot be replayed)"),
  codeBundle: codeBundleManifestSchema.nullable().describe('where the code bundle is on DA; set exactly when codeHash is'),
  model: modelManifestSchema,
  inference: z.strictObject({
    measurement: bytes32Schema.nullable().describe("the inference container's measurement (GET /attestation)"),
    endpoints: z.array(z.string().min(1).max(2048)).max(16),
  }),
  tools: z.array(toolManifestSchema).max(128),
  policy: policyManifestSchema,
  bond: bondManifestSchema,
}

/** Manifests registered before per-model registrations (read for compatibility: {@link parseManifest} migrates them). */
export const manifestV2Schema = z
  .strictObject({
    version: z.literal(2),
    ...manifestFields,
    replay: z.discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('exact') }),
      z.strictObject({ mode: z.literal('tolerance'), tolerance: z.strictObject({ maxAbsDiff: z.number().finite().nonnegative(), argmax: z.boolean().default(true) }) }),
      z.strictObject({ mode: z.literal('attested') }),
    ]),
  })
  .refine((m) => (m.codeHash === null) === (m.codeBundle === null), {
    message: 'codeHash and codeBundle are set together: a manifest whose codeHash is set must say where the bundle is on DA',
    path: ['codeBundle'],
  })
export type ManifestV2 = z.infer<typeof manifestV2Schema>

export const manifestSchema = z
  .strictObject({
    version: z.literal(3),
    ...manifestFields,
    models: z.array(modelRegistrationSchema).min(1).max(16).describe('every model the agent uses, and how its inferences are checked'),
    replay: replayPolicySchema,
  })
  .refine((m) => (m.codeHash === null) === (m.codeBundle === null), {
    message: 'codeHash and codeBundle are set together: a manifest whose codeHash is set must say where the bundle is on DA',
    path: ['codeBundle'],
  })
  .refine((m) => m.models.every((r) => r.replay !== 'attested' || r.receiptSigners.length > 0), {
    message: 'an attested model registers at least one receipt key',
    path: ['models'],
  })
export type Manifest = z.infer<typeof manifestSchema>
