import { z } from 'zod'
import { type FlatObjectSpec, compileFlatSchema } from './chatSchema.js'
import { type ChatCompletionRequest, type ChatTool, chatCompletionRequestSchema } from './schemas.js'

/**
 * Every field of an OpenAI chat completion request, honoured or refused: the container
 * never accepts a field and then ignores it. What is honoured, and how, is in the plan the
 * decoder follows; what is refused gets OpenAI's error shape (`message`, `param`, `code`).
 * The table in src/inference/README.md says why for each field.
 */
export type ChatToolChoice = 'auto' | 'none' | 'required' | { name: string }

export type ChatPlan = {
  toolChoice: ChatToolChoice
  tools: readonly ChatTool[]
  /** Each tool's parameters as the decoder can enforce them. */
  toolSpecs: ReadonlyMap<string, FlatObjectSpec>
  /** response_format json_schema: the content must be this object. */
  structured: { name: string; description: string | undefined; schema: Record<string, unknown>; spec: FlatObjectSpec } | undefined
  parallel: boolean
  /** undefined: no logprobs; otherwise how many alternatives per token (top_logprobs). */
  logprobs: { top: number } | undefined
  stop: readonly string[]
  maxTokens: number | undefined
  stream: boolean
  includeUsage: boolean
}

export type ChatRequestIssue = { message: string; param: string | null; code: string | null }

export type PlanChatRequestReturnType = { ok: true; request: ChatCompletionRequest; plan: ChatPlan } | { ok: false; issue: ChatRequestIssue }

/** Honoured (or accepted because they cannot change the output; see README). */
const KNOWN = new Set([
  'model',
  'messages',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'logprobs',
  'top_logprobs',
  'n',
  'stop',
  'max_tokens',
  'max_completion_tokens',
  'stream',
  'stream_options',
  'temperature',
  'top_p',
  'seed',
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'service_tier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'modalities',
])
/** OpenAI fields this model has no use for: refused, never ignored. */
const UNSUPPORTED: Record<string, string> = {
  audio: 'covenant-chat reads and writes text only',
  prediction: 'predicted outputs are not supported: covenant-chat decodes every step',
  web_search_options: 'this container has no web search',
  reasoning_effort: 'covenant-chat is not a reasoning model',
  verbosity: 'covenant-chat writes one fixed style of answer',
  functions: "the deprecated 'functions' field is not supported; send 'tools'",
  function_call: "the deprecated 'function_call' field is not supported; send 'tool_choice'",
}

const fieldsSchema = z.object({
  response_format: z
    .union([
      z.looseObject({ type: z.literal('text') }),
      z.looseObject({ type: z.literal('json_object') }),
      z.looseObject({
        type: z.literal('json_schema'),
        json_schema: z.looseObject({
          name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'json_schema.name must be 1-64 letters, digits, _ or -'),
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        }),
      }),
    ])
    .nullable()
    .optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4, 'at most 4 stop sequences')]).nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  user: z.string().optional(),
  safety_identifier: z.string().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  service_tier: z.string().nullable().optional(),
  prompt_cache_key: z.string().optional(),
  prompt_cache_retention: z.string().nullable().optional(),
  modalities: z.array(z.string()).nullable().optional(),
})

const fail = (message: string, param: string | null, code: string | null = 'invalid_value'): PlanChatRequestReturnType => ({ ok: false, issue: { message, param, code } })

/** `['messages', 0, 'role']` → `messages[0].role`, as OpenAI writes params. */
/** The first key OpenAI would refuse: one this API does not support (with why), or one it does not know. */
export function refusedKey(body: Record<string, unknown>, known: ReadonlySet<string>, unsupported: Readonly<Record<string, string>>): ChatRequestIssue | undefined {
  for (const key of Object.keys(body)) {
    if (unsupported[key] !== undefined && body[key] !== null) return { message: `Unsupported parameter: '${key}': ${unsupported[key]}.`, param: key, code: 'unsupported_parameter' }
    if (!known.has(key) && unsupported[key] === undefined) return { message: `Unrecognized request argument supplied: ${key}`, param: key, code: 'unknown_parameter' }
  }
  return undefined
}

export function paramPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('')
}

export function planChatRequest(raw: unknown): PlanChatRequestReturnType {
  const base = chatCompletionRequestSchema.safeParse(raw)
  if (!base.success) {
    const first = base.error.issues[0]!
    const issues = base.error.issues.map((i) => `${paramPath(i.path) || 'body'}: ${i.message}`)
    return fail(`invalid chat completion request: ${issues.join('; ')}`, paramPath(first.path) || null, null)
  }
  const request = base.data
  const body = raw as Record<string, unknown>
  const unknown = refusedKey(body, KNOWN, UNSUPPORTED)
  if (unknown) return { ok: false, issue: unknown }
  const fields = fieldsSchema.safeParse(body)
  if (!fields.success) {
    const first = fields.error.issues[0]!
    return fail(`invalid chat completion request: ${fields.error.issues.map((i) => `${paramPath(i.path)}: ${i.message}`).join('; ')}`, paramPath(first.path), null)
  }
  const f = fields.data

  // Sampling: greedy decoding is what makes an answer replay bit for bit.
  if ((request.temperature ?? 0) > 0) {
    return fail(`Unsupported value: 'temperature' must be 0 (or omitted): covenant-chat decodes greedily so that every answer replays exactly; got ${request.temperature}.`, 'temperature', 'unsupported_value')
  }
  if ((request.n ?? 1) !== 1) return fail(`Unsupported value: 'n' must be 1: greedy decoding gives one answer (n copies would be identical); got ${request.n}.`, 'n', 'unsupported_value')
  for (const k of ['frequency_penalty', 'presence_penalty'] as const) {
    if ((f[k] ?? 0) !== 0) return fail(`Unsupported value: '${k}' must be 0: covenant-chat decodes without penalties.`, k, 'unsupported_value')
  }
  if (f.logit_bias && Object.keys(f.logit_bias).length > 0) return fail("Unsupported value: 'logit_bias' must be empty: covenant-chat's vocabulary is its output pieces and prompt positions, not OpenAI token ids.", 'logit_bias', 'unsupported_value')
  if (f.store === true) return fail("Unsupported value: 'store' must be false: this container keeps no completions (the receipt and replay record are the copy).", 'store', 'unsupported_value')
  if (f.service_tier != null && f.service_tier !== 'auto' && f.service_tier !== 'default') return fail(`Unsupported value: 'service_tier' must be 'auto' or 'default'; this container has one tier.`, 'service_tier', 'unsupported_value')
  if (f.modalities && f.modalities.some((m) => m !== 'text')) return fail("Unsupported value: 'modalities' must be [\"text\"].", 'modalities', 'unsupported_value')

  // Messages: text only (other content parts would be dropped from the prompt unseen).
  for (const [i, m] of request.messages.entries()) {
    if (!Array.isArray(m.content)) continue
    for (const [j, part] of m.content.entries()) {
      const ok = part.type === 'text' || (part.type === 'refusal' && m.role === 'assistant')
      if (!ok) return fail(`Invalid content part type '${part.type}': covenant-chat reads text only (send parts of type 'text').`, `messages[${i}].content[${j}].type`, 'unsupported_value')
    }
  }

  // Tools and tool_choice.
  const tools = request.tools ?? []
  const toolSpecs = new Map<string, FlatObjectSpec>()
  for (const [i, t] of tools.entries()) {
    if (toolSpecs.has(t.function.name)) return fail(`Invalid 'tools': the name '${t.function.name}' is declared twice.`, `tools[${i}].function.name`)
    const { spec, issues } = compileFlatSchema(t.function.parameters)
    if (t.function.strict === true && issues.length > 0) {
      return fail(`Invalid schema for function '${t.function.name}' (strict): ${issues.map((x) => `${x.path || 'schema'}: ${x.message}`).join('; ')}`, `tools[${i}].function.parameters`)
    }
    toolSpecs.set(t.function.name, spec)
  }
  const rawChoice = request.tool_choice ?? 'auto'
  const toolChoice: ChatToolChoice = typeof rawChoice === 'string' ? rawChoice : { name: rawChoice.function.name }
  if ((toolChoice === 'required' || typeof toolChoice === 'object') && tools.length === 0) {
    return fail("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice')
  }
  if (typeof toolChoice === 'object' && !toolSpecs.has(toolChoice.name)) {
    return fail(`Invalid value for 'tool_choice': function '${clip(toolChoice.name)}' is not in 'tools' (declared: ${[...toolSpecs.keys()].join(', ')}).`, 'tool_choice')
  }

  // response_format.
  let structured: ChatPlan['structured']
  const rf = f.response_format
  if (rf?.type === 'json_object') {
    return fail(
      "Unsupported value: response_format {\"type\": \"json_object\"}: covenant-chat cannot write free-form JSON. Send {\"type\": \"json_schema\"} with a flat object schema (its output is then guaranteed to fit), or use tools.",
      'response_format.type',
      'unsupported_value',
    )
  }
  if (rf?.type === 'json_schema') {
    const js = rf.json_schema
    if (toolSpecs.has(js.name)) return fail(`Invalid 'response_format': json_schema.name '${js.name}' is also a tool name; rename one.`, 'response_format.json_schema.name')
    const schema = js.schema ?? { type: 'object', properties: {} }
    const { spec, issues } = compileFlatSchema(schema)
    if (issues.length > 0) {
      return fail(
        `Invalid schema for response_format '${js.name}': ${issues.map((x) => `${x.path || 'schema'}: ${x.message}`).join('; ')}. covenant-chat guarantees flat objects of string, number, integer, boolean and enum fields.`,
        'response_format.json_schema.schema',
        'unsupported_value',
      )
    }
    if (spec.unwritable.length > 0) return fail(`Invalid schema for response_format '${js.name}': ${spec.unwritable.join(', ')} cannot be written`, 'response_format.json_schema.schema', 'unsupported_value')
    structured = { name: js.name, description: js.description, schema, spec }
  }

  // logprobs.
  if (f.top_logprobs != null && f.logprobs !== true) return fail("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", 'top_logprobs')
  const logprobs = f.logprobs === true ? { top: f.top_logprobs ?? 0 } : undefined

  // stop.
  const stop = f.stop == null ? [] : typeof f.stop === 'string' ? [f.stop] : f.stop
  if (stop.some((s) => s === '')) return fail("Invalid value for 'stop': stop sequences must not be empty.", 'stop')

  // stream.
  const stream = request.stream === true
  if (f.stream_options != null && !stream) return fail("Invalid value for 'stream_options': 'stream_options' is only allowed when 'stream' is true.", 'stream_options')

  return {
    ok: true,
    request,
    plan: {
      toolChoice,
      tools,
      toolSpecs,
      structured,
      parallel: f.parallel_tool_calls ?? true,
      logprobs,
      stop,
      maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
      stream,
      includeUsage: f.stream_options?.include_usage === true,
    },
  }
}

/** The plan of a bare turn: these tools, tool_choice auto, nothing else asked (ChatEngine.generate). */
export function autoPlan(tools: readonly ChatTool[] = []): ChatPlan {
  const toolSpecs = new Map<string, FlatObjectSpec>()
  for (const t of tools) if (!toolSpecs.has(t.function.name)) toolSpecs.set(t.function.name, compileFlatSchema(t.function.parameters).spec)
  return { toolChoice: 'auto', tools, toolSpecs, structured: undefined, parallel: true, logprobs: undefined, stop: [], maxTokens: undefined, stream: false, includeUsage: false }
}

function clip(s: string): string {
  return s.length <= 40 ? s : `${s.slice(0, 39)}…`
}
