import { z } from 'zod'
import { DTYPES, TENSOR_LAYOUTS } from './tensor.js'

/**
 * The replay record every inference returns and every inference trace step carries.
 * It says exactly what ran (backend, model digest, runtime and settings), on what, with
 * what result, and how a verifier can check it (`replay`). Owned by src/inference/;
 * other folders import the schema and the type from here.
 */
export const hex32Schema = z
  .string()
  .regex(/^0x[0-9a-f]{64}$/, 'expected 0x followed by 64 lowercase hex digits')

export const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 20-byte 0x address')

export const replayModeSchema = z
  .enum(['exact', 'tolerance', 'attested', 'none'])
  .describe('how a verifier checks this inference')

export const dtypeSchema = z.enum(DTYPES)
/** How a tensor's base64 `data` holds its elements (src/inference/tensor.ts). */
export const tensorLayoutSchema = z.enum(TENSOR_LAYOUTS)

/**
 * A tensor as JSON: canonical little-endian element bytes in base64, or with
 * `layout: "sparse-v1"` only the elements that are not all-zero bytes (src/inference/tensor.ts).
 */
export const encodedTensorSchema = z.object({
  name: z.string().min(1).max(128),
  dtype: dtypeSchema,
  shape: z.array(z.number().int().nonnegative()).max(8),
  data: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'),
  layout: tensorLayoutSchema.optional(),
})

/**
 * A receipt signed by an inference container (EIP-712, see receipt.ts). It binds the
 * container's measurement and the model to the exact request and response.
 */
export const receiptSchema = z.object({
  version: z.literal(1),
  scheme: z.literal('eip712'),
  signer: addressSchema.describe('the container key (from its attestation)'),
  measurement: hex32Schema.describe('hash of server build + model digests + runtime version + settings'),
  modelDigest: hex32Schema.describe('sha256 of the model bytes that answered; zero for responses no model produced'),
  requestHash: hex32Schema.describe('sha256 of the canonical JSON of the request'),
  responseHash: hex32Schema.describe('sha256 of the canonical JSON of the response body without covenant_receipt'),
  outputHash: hex32Schema.describe('the replay record outputHash: the deterministic part of the response'),
  issuedAt: z.number().int().nonnegative().describe('unix seconds'),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte signature'),
})

export const recordFormatSchema = z
  .enum(['tensors-v1', 'chat-completions-v1'])
  .describe('tensors-v1: request {model, inputs}, response {outputs}; chat-completions-v1: OpenAI request and response bodies')

// src/trace/stepFits.ts restates the replay record and receipt rules for the WAL's fast path:
// change both together (src/trace/stepFits.test.ts compares them).
export const replayRecordSchema = z.object({
  backend: z.enum(['onnx', 'openai-compatible']),
  modelDigest: hex32Schema,
  runtime: z.object({
    name: z.string(),
    version: z.string(),
    settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  }),
  replay: replayModeSchema,
  request: z.unknown(),
  response: z.unknown(),
  inputHash: hex32Schema,
  outputHash: hex32Schema,
  timing: z.object({ startedAt: z.number(), durationMs: z.number() }),
  /** How `request`/`response` are laid out and hashed. Absent in records written before it existed. */
  format: recordFormatSchema.optional(),
  /** The model's name, and what `modelDigest` is the hash of. */
  model: z
    .object({
      name: z.string(),
      digestOf: z.enum(['model-bytes', 'endpoint-and-name']).describe('endpoint-and-name: sha256("<url>#<model>") for endpoints that name no digest'),
    })
    .optional(),
  /** For `openai-compatible`: where the request went (no credentials) and what its attestation said. */
  endpoint: z
    .object({
      url: z.string(),
      signer: addressSchema.optional(),
      measurement: hex32Schema.optional(),
      quote: z.enum(['simulated', 'hardware', 'none']).optional(),
    })
    .optional(),
  /** The container's signed receipt, verified when the record was written. */
  receipt: receiptSchema.optional(),
  /**
   * For `openai-compatible`: the request body exactly as sent. `request` is the same JSON,
   * but a trace stores it with sorted keys, and key order (of the tools' properties) shapes
   * the prompt; replay runs these bytes, after checking they parse to `request`.
   */
  requestBody: z.string().max(4 * 1024 * 1024).optional(),
})

export type ReplayRecord = z.infer<typeof replayRecordSchema>
export type ReplayMode = z.infer<typeof replayModeSchema>
export type Receipt = z.infer<typeof receiptSchema>
export type RecordFormat = z.infer<typeof recordFormatSchema>

/** `request` / `response` of a `tensors-v1` record. */
export const tensorRequestSchema = z.object({ model: z.string(), inputs: z.array(encodedTensorSchema).min(1) })
export const tensorResponseSchema = z.object({ outputs: z.array(encodedTensorSchema).min(1) })
export type TensorRequest = z.infer<typeof tensorRequestSchema>
export type TensorResponse = z.infer<typeof tensorResponseSchema>

// ---- OpenAI-compatible chat completions ---------------------------------------------------

const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() })

export const toolCallSchema = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
})

export const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.null(), z.array(contentPartSchema)]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(toolCallSchema).optional(),
  tool_call_id: z.string().optional(),
})

export const chatToolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool names are 1-64 letters, digits, _ or -'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
})

export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1, 'messages must not be empty').max(256),
  tools: z.array(chatToolSchema).max(64).optional(),
  tool_choice: z
    .union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), function: z.object({ name: z.string() }) })])
    .optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  n: z.number().int().min(1).nullable().optional(),
  stream: z.boolean().nullable().optional(),
})
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>
export type ChatMessage = z.infer<typeof chatMessageSchema>
export type ChatTool = z.infer<typeof chatToolSchema>

export type ChatToolCall = { id: string; type: 'function'; function: { name: string; arguments: string } }

/** One token's logprob, with the most likely alternatives (OpenAI's shape). */
export type ChatTokenLogprob = {
  token: string
  logprob: number
  bytes: number[]
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>
}
/** `choices[].logprobs` when `logprobs: true` was asked: the content tokens (null for a tool-call-only turn). */
export type ChatChoiceLogprobs = { content: ChatTokenLogprob[] | null; refusal: null }

/** The assistant turn in a chat completion response. */
export type ChatCompletionMessage = {
  role: 'assistant'
  content: string | null
  refusal: null
  tool_calls?: ChatToolCall[]
}

export type ChatCompletionResponse = {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  system_fingerprint: string
  choices: Array<{ index: 0; message: ChatCompletionMessage; logprobs: ChatChoiceLogprobs | null; finish_reason: 'stop' | 'tool_calls' | 'length' }>
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }
  /** What ran and how to replay it (not part of the OpenAI schema; clients ignore it). */
  covenant: {
    model: string
    modelDigest: string
    /** The runtime and pinned settings that produced it (replay uses them). */
    runtime: { name: string; version: string; settings: Record<string, string | number | boolean> }
    /** `greedy-constrained-v1`, or `greedy` in responses written before it (see chatEngine.ts); `causal-lm-v1` for causal LMs (causalLmEngine.ts). */
    decoding: 'greedy' | 'greedy-constrained-v1' | 'causal-lm-v1'
    /**
     * What the model read: `canonical-json` — the request in its canonical form (sorted keys),
     * the very form `requestHash` is taken over, so one signed request hash is one prompt.
     * Absent in responses written before: those read the request in the order it was sent.
     */
    requestForm?: 'canonical-json' | undefined
    actions: number[]
    replay: 'exact'
  }
  covenant_receipt?: Receipt
}

/** `POST /v1/infer`: a tensor model, given text (for models with a featurizer) or tensors. */
export const inferRequestSchema = z.union([
  z.strictObject({ model: z.string().min(1), text: z.string().max(100_000) }),
  z.strictObject({
    model: z.string().min(1),
    inputs: z
      .array(
        z.object({
          name: z.string().min(1).max(128),
          dtype: dtypeSchema,
          shape: z.array(z.number().int().nonnegative()).max(8),
          data: z.union([z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'), z.array(z.number())]),
          /** How base64 `data` holds the elements (src/inference/tensor.ts); numbers are always dense. */
          layout: tensorLayoutSchema.optional(),
        }),
      )
      .min(1)
      .max(16),
  }),
])
export type InferRequest = z.infer<typeof inferRequestSchema>
