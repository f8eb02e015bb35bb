import { z } from 'zod'
import { type ChatPlan, type ChatRequestIssue, paramPath, planChatRequest, refusedKey } from './chatRequest.js'
import type { ChatCompletionRequest } from './schemas.js'

/**
 * A subset of OpenAI's Responses API (`POST /v1/responses`), read as the chat completion the
 * model runs: `input` (a string, or message / function_call / function_call_output items),
 * `instructions` (a system message first), function `tools`, `tool_choice`,
 * `parallel_tool_calls`, `max_output_tokens`, `text.format` (text, json_object, json_schema)
 * and `stream`. The chat planner then honours or refuses every field as for
 * /v1/chat/completions (greedy only, text only…); everything else is refused with OpenAI's
 * error shape, never accepted and ignored. The chat request is a pure function of the
 * request's canonical JSON, so the receipt's requestHash over the Responses request pins
 * what the model read (issue #13).
 */
export type ResponsesRequest = z.output<typeof responsesRequestSchema>

export type PlanResponsesRequestReturnType =
  | { ok: true; request: ResponsesRequest; chat: ChatCompletionRequest; plan: ChatPlan }
  | { ok: false; issue: ChatRequestIssue }

/** Honoured, or accepted because they cannot change the output (as for chat completions). */
const KNOWN = new Set([
  'model',
  'input',
  'instructions',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'max_output_tokens',
  'text',
  'stream',
  'temperature',
  'top_p',
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'service_tier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'truncation',
])
const UNSUPPORTED: Record<string, string> = {
  previous_response_id: 'this container stores no responses; send the whole conversation in input',
  conversation: 'this container stores no conversations; send the whole conversation in input',
  background: 'responses are computed while the request waits; background mode is not supported',
  include: 'no extra output data is available here (token logprobs: use /v1/chat/completions with logprobs)',
  reasoning: 'covenant-chat is not a reasoning model',
  prompt: 'stored prompt templates are not supported; send instructions and input',
  top_logprobs: 'token logprobs are served by /v1/chat/completions only',
  max_tool_calls: 'covenant-chat writes its tool calls in one turn; limit them with parallel_tool_calls',
  stream_options: 'stream options are not supported on /v1/responses',
}

const textPart = z.looseObject({ type: z.string(), text: z.string().optional() })
const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(textPart)]),
})
const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
})
const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(textPart)]),
})
const functionTool = z.looseObject({
  type: z.string(),
  name: z.string().optional(),
  description: z.string().nullable().optional(),
  parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  strict: z.boolean().nullable().optional(),
})

export const responsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.looseObject({ type: z.string().optional() })).min(1, 'input must not be empty').max(256)]),
  instructions: z.string().nullable().optional(),
  tools: z.array(functionTool).max(64).optional(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.string(), name: z.string().optional() })]).optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  max_output_tokens: z.number().int().positive().nullable().optional(),
  text: z
    .looseObject({
      format: z
        .looseObject({ type: z.enum(['text', 'json_object', 'json_schema']), name: z.string().optional(), schema: z.record(z.string(), z.unknown()).optional(), description: z.string().optional(), strict: z.boolean().nullable().optional() })
        .optional(),
      verbosity: z.null().optional(),
    })
    .nullable()
    .optional(),
  stream: z.boolean().nullable().optional(),
  temperature: z.number().nullable().optional(),
  top_p: z.number().nullable().optional(),
  user: z.string().optional(),
  safety_identifier: z.string().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  service_tier: z.string().nullable().optional(),
  prompt_cache_key: z.string().optional(),
  prompt_cache_retention: z.string().nullable().optional(),
  truncation: z.enum(['disabled']).nullable().optional(),
})

const fail = (message: string, param: string | null, code: string | null = 'invalid_value'): PlanResponsesRequestReturnType => ({ ok: false, issue: { message, param, code } })

type ChatMessage = ChatCompletionRequest['messages'][number]

/** Parses a Responses request and plans the chat completion it is; refusals in OpenAI's shape, with Responses param names. */
export function planResponsesRequest(raw: unknown): PlanResponsesRequestReturnType {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('the request body must be a JSON object', null, null)
  const body = raw as Record<string, unknown>
  const unknown = refusedKey(body, KNOWN, UNSUPPORTED)
  if (unknown) return { ok: false, issue: unknown }
  const parsed = responsesRequestSchema.safeParse(raw)
  if (!parsed.success) {
    const first = parsed.error.issues[0]!
    return fail(`invalid response request: ${parsed.error.issues.map((i) => `${paramPath(i.path) || 'body'}: ${i.message}`).join('; ')}`, paramPath(first.path) || null, null)
  }
  const r = parsed.data
  if (r.store === true) return fail("Unsupported value: 'store' must be false: this container keeps no responses (the receipt is the copy).", 'store', 'unsupported_value')

  // input → messages
  const messages: ChatMessage[] = []
  if (r.instructions) messages.push({ role: 'system', content: r.instructions })
  const items = typeof r.input === 'string' ? [{ type: 'message', role: 'user', content: r.input }] : r.input
  for (const [i, item] of items.entries()) {
    const type = item.type ?? 'message'
    if (type === 'message') {
      const m = messageItem.safeParse(item)
      if (!m.success) return fail(`invalid message item: ${m.error.issues.map((x) => `${paramPath(x.path) || 'item'}: ${x.message}`).join('; ')}`, `input[${i}]`, null)
      let content: string
      if (typeof m.data.content === 'string') content = m.data.content
      else {
        const texts: string[] = []
        for (const [j, part] of m.data.content.entries()) {
          if ((part.type !== 'input_text' && part.type !== 'output_text') || part.text === undefined) {
            return fail(`Invalid content part type '${part.type}': covenant-chat reads text only (send parts of type 'input_text').`, `input[${i}].content[${j}].type`, 'unsupported_value')
          }
          texts.push(part.text)
        }
        content = texts.join('')
      }
      messages.push({ role: m.data.role, content })
    } else if (type === 'function_call') {
      const c = functionCallItem.safeParse(item)
      if (!c.success) return fail(`invalid function_call item: ${c.error.issues.map((x) => `${paramPath(x.path) || 'item'}: ${x.message}`).join('; ')}`, `input[${i}]`, null)
      const call = { id: c.data.call_id, type: 'function' as const, function: { name: c.data.name, arguments: c.data.arguments } }
      // the calls of one turn follow its message (or each other): one assistant message with tool_calls
      const prev = messages.at(-1)
      if (prev?.role === 'assistant') prev.tool_calls = [...(prev.tool_calls ?? []), call]
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] })
    } else if (type === 'function_call_output') {
      const o = functionCallOutputItem.safeParse(item)
      if (!o.success) return fail(`invalid function_call_output item: ${o.error.issues.map((x) => `${paramPath(x.path) || 'item'}: ${x.message}`).join('; ')}`, `input[${i}]`, null)
      const out = o.data.output
      const content = typeof out === 'string' ? out : out.map((p) => p.text ?? '').join('')
      messages.push({ role: 'tool', tool_call_id: o.data.call_id, content })
    } else {
      return fail(`Unsupported input item type '${type}': send message, function_call or function_call_output items.`, `input[${i}].type`, 'unsupported_value')
    }
  }
  if (messages.length === 0) return fail('input must not be empty', 'input', null)

  // tools and tool_choice, in chat's shape
  const tools: NonNullable<ChatCompletionRequest['tools']> = []
  for (const [i, t] of (r.tools ?? []).entries()) {
    if (t.type !== 'function') return fail(`Unsupported tool type '${t.type}': this container runs no hosted tools; send function tools.`, `tools[${i}].type`, 'unsupported_value')
    if (!t.name) return fail("a function tool needs a 'name'", `tools[${i}].name`, null)
    tools.push({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description != null ? { description: t.description } : {}),
        ...(t.parameters != null ? { parameters: t.parameters } : {}),
        ...(t.strict != null ? { strict: t.strict } : {}),
      },
    })
  }
  let toolChoice: ChatCompletionRequest['tool_choice']
  if (typeof r.tool_choice === 'string') toolChoice = r.tool_choice
  else if (r.tool_choice) {
    if (r.tool_choice.type !== 'function' || !r.tool_choice.name) {
      return fail(`Unsupported tool_choice type '${r.tool_choice.type}': use 'auto', 'none', 'required' or { type: 'function', name }.`, 'tool_choice', 'unsupported_value')
    }
    toolChoice = { type: 'function', function: { name: r.tool_choice.name } }
  }
  const format = r.text?.format
  const responseFormat =
    !format || format.type === 'text'
      ? undefined
      : format.type === 'json_object'
        ? { type: 'json_object' }
        : { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, ...(format.description ? { description: format.description } : {}), ...(format.strict != null ? { strict: format.strict } : {}) } }

  const chat: Record<string, unknown> = {
    model: r.model,
    messages,
    ...(tools.length > 0 ? { tools } : {}),
    ...(toolChoice !== undefined ? { tool_choice: toolChoice } : {}),
    ...(r.parallel_tool_calls != null ? { parallel_tool_calls: r.parallel_tool_calls } : {}),
    ...(r.max_output_tokens != null ? { max_completion_tokens: r.max_output_tokens } : {}),
    ...(responseFormat ? { response_format: responseFormat } : {}),
    ...(r.temperature != null ? { temperature: r.temperature } : {}),
    ...(r.top_p != null ? { top_p: r.top_p } : {}),
  }
  const planned = planChatRequest(chat)
  if (!planned.ok) return { ok: false, issue: { ...planned.issue, param: responsesParam(planned.issue.param), message: responsesMessage(planned.issue.message) } }
  return { ok: true, request: r, chat: planned.request, plan: { ...planned.plan, stream: r.stream === true, includeUsage: false } }
}

/** A chat completion param, as the Responses request names it. */
export function responsesParam(param: string | null): string | null {
  if (param === null) return null
  return param
    .replace(/^messages(\[\d+\])?/, 'input')
    .replace(/^response_format(\.json_schema)?/, 'text.format')
    .replace(/^max_completion_tokens/, 'max_output_tokens')
    .replace(/^tools(\[\d+\])\.function/, 'tools$1')
    .replace(/^tool_choice\.function\.name/, 'tool_choice.name')
}

function responsesMessage(message: string): string {
  return message.replaceAll('response_format', 'text.format').replaceAll('max_completion_tokens', 'max_output_tokens').replace(/^invalid chat completion request/, 'invalid response request')
}
