import { randomBytes } from 'node:crypto'
import { type Hash, hashJson, sha256Hex } from './hash.js'
import type { ResponsesRequest } from './responsesRequest.js'
import type { ChatCompletionResponse } from './schemas.js'

/**
 * A chat completion as an OpenAI Responses API `response` object: the assistant's text as a
 * `message` output item (one `output_text` part), each tool call as a `function_call` item
 * (its `call_id` is the chat tool call id, derived from the request, so it replays), usage in
 * the Responses shape, `covenant` (what ran: model digest, decoding, actions) beside.
 */
export type ResponsesOutputItem =
  | { type: 'message'; id: string; status: 'in_progress' | 'completed' | 'incomplete'; role: 'assistant'; content: Array<{ type: 'output_text'; text: string; annotations: []; logprobs: [] }> }
  | { type: 'function_call'; id: string; call_id: string; name: string; arguments: string; status: 'in_progress' | 'completed' }

export type ResponsesResponse = {
  id: string
  object: 'response'
  created_at: number
  status: 'completed' | 'incomplete'
  model: string
  output: ResponsesOutputItem[]
  [field: string]: unknown
}

/** `resp_` + 48 random hex digits: unique per response. */
export function newResponseId(): string {
  return `resp_${randomBytes(24).toString('hex')}`
}

/** The id of the i-th output item of a response: derived from the response id, so a stream and its final object agree. */
export function outputItemId(responseId: string, kind: 'msg' | 'fc', index: number): string {
  return `${kind}_${sha256Hex(`${responseId}:${kind}:${index}`).slice(2, 50)}`
}

/** The output items of a chat completion: the message (when it has text), then the calls. */
export function responsesOutput(completion: ChatCompletionResponse, responseId: string): ResponsesOutputItem[] {
  const choice = completion.choices[0]!
  const out: ResponsesOutputItem[] = []
  const text = choice.message.content ?? ''
  const calls = choice.message.tool_calls ?? []
  if (text !== '' || calls.length === 0) {
    out.push({
      type: 'message',
      id: outputItemId(responseId, 'msg', out.length),
      status: choice.finish_reason === 'length' ? 'incomplete' : 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
    })
  }
  for (const c of calls) {
    out.push({ type: 'function_call', id: outputItemId(responseId, 'fc', out.length), call_id: c.id, name: c.function.name, arguments: c.function.arguments, status: 'completed' })
  }
  return out
}

/** The request's settings, echoed as OpenAI echoes them in a response object. */
export function responsesEcho(r: ResponsesRequest): Record<string, unknown> {
  return {
    instructions: r.instructions ?? null,
    max_output_tokens: r.max_output_tokens ?? null,
    metadata: r.metadata ?? {},
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: r.temperature ?? 0,
    text: { format: r.text?.format ?? { type: 'text' } },
    tool_choice: r.tool_choice ?? 'auto',
    tools: r.tools ?? [],
    top_p: r.top_p ?? 1,
    truncation: 'disabled',
    user: r.user ?? null,
  }
}

/** The whole response object for a finished chat completion (no receipt). */
export function toResponsesBody(p: { completion: ChatCompletionResponse; request: ResponsesRequest; id: string; createdAt: number }): ResponsesResponse {
  const { completion } = p
  const incomplete = completion.choices[0]!.finish_reason === 'length'
  return {
    id: p.id,
    object: 'response',
    created_at: p.createdAt,
    status: incomplete ? 'incomplete' : 'completed',
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    model: completion.model,
    output: responsesOutput(completion, p.id),
    ...responsesEcho(p.request),
    usage: {
      input_tokens: completion.usage.prompt_tokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: completion.usage.completion_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: completion.usage.total_tokens,
    },
    covenant: completion.covenant,
  }
}

/**
 * A response's `outputHash`: what the model computed — its status and output items, without
 * the item ids (drawn per response). Ids, timestamps, usage and the echoed settings are left
 * out, as for chat completions.
 */
export function responsesOutputHash(response: unknown): Hash {
  const r = response as { status?: unknown; output?: unknown } | null
  const output = Array.isArray(r?.output) ? r.output.map((item: Record<string, unknown>) => Object.fromEntries(Object.entries(item).filter(([k]) => k !== 'id'))) : null
  return hashJson({ status: r?.status ?? null, output })
}
