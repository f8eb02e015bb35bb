import { type Hash, hashJson, sha256Hex } from './hash.js'
import type { ChatCompletionMessage, ChatToolCall } from './schemas.js'

/**
 * Turning covenant-chat's decoded text into an OpenAI assistant message, and the hash of
 * the part of a chat completion that replay must reproduce.
 *
 * The model writes Hermes-style blocks, `<tool_call>{"name":…,"arguments":{…}}</tool_call>`;
 * text outside them is the content. If any block is not valid JSON of that shape, the
 * whole text is returned as content (never a half-parsed call).
 */
export type ParsedOutput = { content: string; toolCalls: Array<{ name: string; arguments: Record<string, unknown> }> }

const BLOCK = /<tool_call>([\s\S]*?)<\/tool_call>/g

export function parseModelOutput(text: string): ParsedOutput {
  const toolCalls: ParsedOutput['toolCalls'] = []
  for (const m of text.matchAll(BLOCK)) {
    let obj: unknown
    try {
      obj = JSON.parse(m[1]!)
    } catch {
      return { content: text.trim(), toolCalls: [] }
    }
    const o = obj as { name?: unknown; arguments?: unknown }
    const args = o.arguments ?? {}
    if (typeof obj !== 'object' || obj === null || typeof o.name !== 'string' || typeof args !== 'object' || args === null || Array.isArray(args)) {
      return { content: text.trim(), toolCalls: [] }
    }
    toolCalls.push({ name: o.name, arguments: args as Record<string, unknown> })
  }
  return { content: text.replace(BLOCK, '').trim(), toolCalls }
}

/** Tool call ids derived from the request hash, so a replay reproduces them. */
export function toolCallId(requestHash: Hash, index: number): string {
  return `call_${sha256Hex(`${requestHash}:${index}`).slice(2, 26)}`
}

export function toAssistantMessage(parsed: ParsedOutput, requestHash: Hash): ChatCompletionMessage {
  if (parsed.toolCalls.length === 0) return { role: 'assistant', content: parsed.content, refusal: null }
  const tool_calls: ChatToolCall[] = parsed.toolCalls.map((c, i) => ({
    id: toolCallId(requestHash, i),
    type: 'function',
    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
  }))
  return { role: 'assistant', content: parsed.content === '' ? null : parsed.content, refusal: null, tool_calls }
}

/**
 * The replay record's `outputHash` for a chat completion: the choices' messages and finish
 * reasons (canonical JSON). Ids, timestamps, usage and the receipt are left out: they are
 * not what the model computed.
 */
export function chatOutputHash(response: unknown): Hash {
  const choices = (response as { choices?: unknown })?.choices
  if (!Array.isArray(choices)) return hashJson({ choices: null })
  return hashJson({
    choices: choices.map((c: Record<string, unknown>) => {
      const m = (c['message'] ?? {}) as Record<string, unknown>
      return {
        index: c['index'] ?? null,
        finish_reason: c['finish_reason'] ?? null,
        message: { role: m['role'] ?? null, content: m['content'] ?? null, tool_calls: m['tool_calls'] ?? null },
      }
    }),
  })
}

/**
 * A streamed completion (its `chat.completion.chunk` objects) put back together as a
 * completion, enough for chatOutputHash: content concatenated, tool calls merged by index.
 */
export function assembleChatStream(chunks: readonly unknown[]): { object: 'chat.completion'; choices: unknown[] } {
  const choices = new Map<number, { content: string | null; role: string; tool_calls: Map<number, ChatToolCall>; finish_reason: unknown }>()
  for (const chunk of chunks) {
    for (const c of ((chunk as { choices?: unknown[] })?.choices ?? []) as Array<Record<string, unknown>>) {
      const index = typeof c['index'] === 'number' ? c['index'] : 0
      const acc = choices.get(index) ?? { content: null, role: 'assistant', tool_calls: new Map(), finish_reason: null }
      const delta = (c['delta'] ?? {}) as Record<string, unknown>
      if (typeof delta['role'] === 'string') acc.role = delta['role']
      if (typeof delta['content'] === 'string') acc.content = (acc.content ?? '') + delta['content']
      for (const t of (Array.isArray(delta['tool_calls']) ? delta['tool_calls'] : []) as Array<Record<string, unknown>>) {
        const i = typeof t['index'] === 'number' ? t['index'] : 0
        const fn = (t['function'] ?? {}) as { name?: string; arguments?: string }
        const prev = acc.tool_calls.get(i)
        acc.tool_calls.set(i, {
          id: (t['id'] as string | undefined) ?? prev?.id ?? '',
          type: 'function',
          function: { name: (prev?.function.name ?? '') + (fn.name ?? ''), arguments: (prev?.function.arguments ?? '') + (fn.arguments ?? '') },
        })
      }
      if (c['finish_reason'] !== null && c['finish_reason'] !== undefined) acc.finish_reason = c['finish_reason']
      choices.set(index, acc)
    }
  }
  return {
    object: 'chat.completion',
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({
        index,
        finish_reason: c.finish_reason,
        message: {
          role: c.role,
          content: c.content,
          ...(c.tool_calls.size > 0 ? { tool_calls: [...c.tool_calls.entries()].sort(([a], [b]) => a - b).map(([, t]) => t) } : {}),
        },
      })),
  }
}
