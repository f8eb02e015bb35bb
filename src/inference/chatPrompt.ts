import type { ChatCompletionRequest } from './schemas.js'
import { asciiLower, codePoints, fnv1a32, shape, tokenize } from './text.js'

/**
 * covenant-chat's prompt serialisation ("covenant-chat-v1"), identical to
 * models/covenant-chat/build.py (`serialize`, `features`):
 *
 *   <tools> (<fn> name <params> (param : type enum-values… ;)*)* </tools>     ≤ toolsCap tokens
 *   then each message: <system|user|assistant|tool> content tokens
 *        (+ for assistant tool calls: <call> name <args> (key = value ;)*)      ≤ systemCap / messageCap
 *   oldest messages dropped until everything fits maxInput, then <out>.
 *
 * Markers are structural tokens, never produced from text, so a message cannot forge one.
 * Each token becomes `slots` hashed feature ids (see promptFeatures); the decoder copies
 * input tokens by position.
 */
export type PromptSpec = {
  buckets: number
  slots: number
  maxInput: number
  maxSteps: number
  toolsCap: number
  systemCap: number
  messageCap: number
}

export const CHAT_PROMPT_V1: PromptSpec = { buckets: 4096, slots: 9, maxInput: 200, maxSteps: 64, toolsCap: 96, systemCap: 32, messageCap: 96 }

/** One input token: a structural marker (`m`) or text (`t`), with its segment ("user:0" = latest message). */
export type PromptToken = [kind: 'm' | 't', text: string, segment: string]

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const t = (x: string): ['t', string] => ['t', x]

function contentText(content: unknown): string {
  if (content === null || content === undefined) return ''
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .filter((p): p is { type: string; text?: unknown } => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text')
    .map((p) => (typeof p.text === 'string' ? p.text : ''))
    .join('\n')
}

function schemaType(schema: unknown): string {
  let ty = typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? (schema as { type?: unknown }).type : undefined
  if (Array.isArray(ty)) ty = ty.find((x) => x !== 'null') ?? 'any'
  return typeof ty === 'string' ? ty : 'any'
}

/** Python's json.dumps (ensure_ascii): non-ASCII as \uXXXX. Whitespace differences vanish in tokenize(). */
function pyJson(v: unknown, compact = false): string {
  const s = compact ? JSON.stringify(v) : JSON.stringify(v)
  return (s ?? 'null').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function toolsTokens(tools: unknown, spec: PromptSpec): Array<['m' | 't', string]> {
  const toks: Array<['m' | 't', string]> = [['m', '<tools>']]
  for (const tool of Array.isArray(tools) ? tools : []) {
    const fn = (typeof tool === 'object' && tool !== null ? ((tool as { function?: unknown }).function ?? {}) : {}) as Record<string, unknown>
    toks.push(['m', '<fn>'], ...tokenize(String(fn['name'] ?? '')).map(t), ['m', '<params>'])
    const params = (fn['parameters'] ?? {}) as Record<string, unknown>
    const props = (params['properties'] ?? {}) as Record<string, unknown>
    for (const [pname, schema] of Object.entries(props)) {
      toks.push(...tokenize(pname).map(t), t(':'), ...tokenize(schemaType(schema)).map(t))
      const e = typeof schema === 'object' && schema !== null ? (schema as { enum?: unknown }).enum : undefined
      if (Array.isArray(e)) for (const v of e) toks.push(...tokenize(typeof v === 'string' ? v : pyJson(v)).map(t))
      toks.push(t(';'))
    }
  }
  const out = toks.slice(0, spec.toolsCap - 1)
  out.push(['m', '</tools>'])
  return out
}

const MARKERS: Record<string, string> = { system: '<system>', developer: '<system>', user: '<user>', assistant: '<assistant>', tool: '<tool>' }

function messageTokens(msg: Record<string, unknown>, spec: PromptSpec): [string, Array<['m' | 't', string]>] {
  const marker = MARKERS[String(msg['role'])] ?? '<user>'
  const toks: Array<['m' | 't', string]> = [['m', marker], ...tokenize(contentText(msg['content'])).map(t)]
  for (const call of Array.isArray(msg['tool_calls']) ? (msg['tool_calls'] as Array<Record<string, unknown>>) : []) {
    const fn = (call['function'] ?? {}) as Record<string, unknown>
    toks.push(['m', '<call>'], ...tokenize(String(fn['name'] ?? '')).map(t), ['m', '<args>'])
    const raw = fn['arguments'] ?? ''
    let args: unknown
    try {
      args = typeof raw === 'string' ? (JSON.parse(raw) as Json) : raw
    } catch {
      args = undefined
    }
    if (typeof args === 'object' && args !== null && !Array.isArray(args)) {
      for (const [k, v] of Object.entries(args)) {
        toks.push(...tokenize(k).map(t), t('='), ...tokenize(typeof v === 'string' ? v : pyJson(v, true)).map(t), t(';'))
      }
    } else {
      toks.push(...tokenize(String(raw)).map(t))
    }
  }
  const cap = marker === '<system>' ? spec.systemCap : spec.messageCap
  return [marker.slice(1, -1), toks.slice(0, cap)]
}

/** The model input for a request, token by token. */
export function serializeChatRequest(request: Pick<ChatCompletionRequest, 'messages' | 'tools'>, spec: PromptSpec = CHAT_PROMPT_V1): PromptToken[] {
  const tools: PromptToken[] = toolsTokens(request.tools, spec).map(([k, x]) => [k, x, 'tools:t'])
  const raw = request.messages.map((m) => messageTokens(m as Record<string, unknown>, spec))
  const n = raw.length
  const msgs: PromptToken[][] = raw.map(([seg, toks], i) => toks.map(([k, x]) => [k, x, `${seg}:${Math.min(3, n - 1 - i)}`]))
  const budget = spec.maxInput - tools.length - 1
  while (msgs.length > 1 && msgs.reduce((a, m) => a + m.length, 0) > budget) msgs.shift()
  const body = msgs.flat().slice(0, budget)
  return [...tools, ...body, ['m', '<out>', 'out:0']]
}

/**
 * Hashed feature ids, `slots` per token (0 = empty slot): word, lowercase word, shape,
 * prefix, suffix, length, previous token, "seen earlier in the input", segment:age.
 */
export function promptFeatures(tokens: readonly PromptToken[], spec: PromptSpec = CHAT_PROMPT_V1): number[][] {
  const h = (f: string) => 1 + (fnv1a32(f) % (spec.buckets - 1))
  const seen = new Set<string>()
  let prev = '^'
  return tokens.map(([kind, text, seg]) => {
    const role = h(`r:${seg}`)
    if (kind === 'm') {
      prev = text
      return [h(`m:${text}`), 0, 0, 0, 0, 0, 0, 0, role]
    }
    const cps = codePoints(text)
    const low = asciiLower(text)
    const lcps = codePoints(low)
    const row = [
      h(`w:${text}`),
      h(`l:${low}`),
      h(`s:${codePoints(shape(text)).slice(0, 8).join('')}`),
      h(`p:${lcps.slice(0, 2).join('')}`),
      h(`x:${lcps.slice(-3).join('')}`),
      h(`n:${Math.min(cps.length, 16)}`),
      h(`b:${prev}`),
      h(`d:${seen.has(text) ? 1 : 0}`),
      role,
    ]
    seen.add(text)
    prev = low
    return row
  })
}
