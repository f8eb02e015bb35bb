import type { PromptToken } from './chatPrompt.js'
import { type FlatObjectSpec, type FlatProperty, valueFits } from './chatSchema.js'
import { ChatConstraintError } from './errors.js'

/**
 * Constrained decoding for covenant-chat ("greedy-constrained-v1"): at each step the
 * decoder may pick only actions that keep the output inside this grammar, so what the
 * request asks for — no tool call, a tool call, that tool, arguments that fit the
 * schema — holds by construction, not by hope.
 *
 *   turn    := text* | (text* call)+ text*          (which parts are allowed: the policy)
 *   call    := OPEN name (EMPTY | ARGS pair (SEP pair)* CLOSE)
 *   pair    := key (STR_SEP string | VAL_SEP value)
 *
 * Names, keys and values are written with the text pieces and with tokens copied from the
 * prompt (the model's only way to write names). A continuation is allowed only if what it
 * starts can still be finished with the texts available (`canBuild`), so a name or enum
 * value is never left half-written. Text never starts or ends with a space (the content is
 * exactly the concatenation of its tokens, nothing trimmed afterwards).
 *
 * Actions: index < pieces.length emits a piece; otherwise copies prompt token
 * (index − pieces.length). Markers (`<user>`, …) cannot be copied.
 */
export type GrammarTool = {
  name: string
  spec: FlatObjectSpec
  /** The response_format schema dressed as a tool: its arguments become the message content. */
  structured: boolean
}

export type GrammarPolicy = {
  /** What the turn may call. */
  tools: readonly GrammarTool[]
  /** Plain text allowed (tool_choice auto/none without response_format). Without it the turn starts with a call. */
  freeText: boolean
  /** More than one call (parallel_tool_calls). */
  parallel: boolean
}

export type GrammarEvent =
  /** Message text. */
  | { type: 'text'; text: string }
  /** A call started; its name follows (nothing visible yet). */
  | { type: 'open' }
  /** Part of the called name (visible once complete). */
  | { type: 'name'; text: string }
  /** The name is complete; `args` is the first fragment of the arguments JSON. */
  | { type: 'call'; name: string; structured: boolean; args: string; closed: boolean }
  /** More of the arguments JSON; `closed` on the last one. */
  | { type: 'args'; text: string; closed: boolean }

export type ChatGrammar = {
  /** 1 where the action may be chosen next (the same array until the next accept: do not modify it). */
  allowed(): Uint8Array
  /** Moves past `action` (which must be allowed); undefined for <eos>. */
  accept(action: number): GrammarEvent | undefined
  /** What `action` would add to the visible output here (for logprobs' alternatives). */
  preview(action: number): string
  /** The tools this prompt lets the model call (see `callable`). */
  readonly callable: readonly GrammarTool[]
}

/** The structural pieces of the covenant-chat-v1 output format, by their text. */
export const STRUCTURE = {
  EOS: '<eos>',
  OPEN: '<tool_call>{"name":"',
  ARGS: '","arguments":{"',
  EMPTY: '","arguments":{}}</tool_call>',
  STR_SEP: '":"',
  VAL_SEP: '":',
  STR_NEXT: '","',
  VAL_NEXT: ',"',
  STR_CLOSE: '"}}</tool_call>',
  VAL_CLOSE: '}}</tool_call>',
} as const
type Structural = keyof typeof STRUCTURE

/** What each structural piece adds to the arguments JSON (the call's wrapper stripped). */
const ARGS_TEXT: Partial<Record<Structural, string>> = {
  ARGS: '{"',
  EMPTY: '{}',
  STR_SEP: '":"',
  VAL_SEP: '":',
  STR_NEXT: '","',
  VAL_NEXT: ',"',
  STR_CLOSE: '"}',
  VAL_CLOSE: '}',
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const INTEGER = /^-?(?:0|[1-9]\d*)$/
/** Text that can sit inside a JSON string as it is. */
const STRING_SAFE = /^[^"\\\u0000-\u001f]+$/

/**
 * A number as JSON.stringify writes it (`1.30` → `1.3`, `1e3` → `1000`): arguments are the
 * JSON of the values, as they were before constrained decoding, whatever spelling was copied.
 */
function canonicalScalar(text: string): string {
  return NUMBER.test(text) ? JSON.stringify(Number(text)) : text
}

type State =
  | { at: 'text'; lastSpace: boolean }
  | { at: 'name'; sofar: string }
  | { at: 'key'; tool: GrammarTool; used: Set<string>; sofar: string }
  | { at: 'str'; tool: GrammarTool; used: Set<string>; prop: FlatProperty; sofar: string }
  | { at: 'val'; tool: GrammarTool; used: Set<string>; prop: FlatProperty; sofar: string }

export function createChatGrammar({ pieces, tokens, policy }: { pieces: readonly string[]; tokens: readonly PromptToken[]; policy: GrammarPolicy }): ChatGrammar {
  const V = pieces.length
  const n = V + tokens.length
  const index = {} as Record<Structural, number>
  for (const [k, text] of Object.entries(STRUCTURE) as Array<[Structural, string]>) {
    const i = pieces.indexOf(text)
    if (i < 0) throw new ChatConstraintError(`the model's output pieces lack ${JSON.stringify(text)}; it cannot be decoded with constraints`, null)
    index[k] = i
  }
  const structural = new Map<number, Structural>(Object.entries(index).map(([k, i]) => [i, k as Structural]))
  const SPACE = pieces.indexOf(' ')

  /** The text of every action that writes text (text pieces and copyable tokens); undefined for the rest. */
  const texts: Array<string | undefined> = Array.from({ length: n }, (_, a) => {
    if (a < V) return a <= 1 || structural.has(a) ? undefined : pieces[a]
    const tok = tokens[a - V]!
    return tok[0] === 't' && tok[1] !== '' ? tok[1] : undefined
  })
  const safe = [...new Set(texts.filter((t): t is string => t !== undefined && STRING_SAFE.test(t)))]

  const built = new Map<string, boolean>()
  /** Whether `s` can be written as a sequence of string-safe texts. */
  const canBuild = (s: string): boolean => {
    if (s === '') return true
    const hit = built.get(s)
    if (hit !== undefined) return hit
    built.set(s, false)
    const ok = safe.some((t) => s.startsWith(t) && canBuild(s.slice(t.length)))
    built.set(s, ok)
    return ok
  }
  /** `sofar + t` is a prefix of some target whose rest can still be written. */
  const toward = (sofar: string, t: string, targets: readonly string[]): boolean => {
    const next = sofar + t
    return targets.some((x) => x.startsWith(next) && canBuild(x.slice(next.length)))
  }

  const numberTexts = safe.filter((t) => NUMBER.test(t))
  const scalarOk = (p: FlatProperty, text: string): boolean => {
    if (text === 'true' || text === 'false') return valueFits(p, text === 'true')
    return NUMBER.test(text) && (p.number !== 'integer' || INTEGER.test(text)) && valueFits(p, Number(text))
  }
  const writable = (p: FlatProperty): { string: boolean; scalar: boolean } => {
    const strings = p.enum ? p.enum.filter((e): e is string => typeof e === 'string') : undefined
    return {
      string: p.string && (strings === undefined || strings.some(canBuild)),
      scalar: safe.some((t) => scalarOk(p, t)) || numberTexts.some((t) => !t.startsWith('-') && safe.includes('-') && scalarOk(p, `-${t}`)),
    }
  }
  const keyWritable = (p: FlatProperty) => {
    const w = writable(p)
    return canBuild(p.name) && (w.string || w.scalar)
  }
  const callable = policy.tools.filter(
    (t) => canBuild(t.name) && t.spec.unwritable.every((u) => !t.spec.required.includes(u)) && t.spec.required.every((r) => t.spec.properties.some((p) => p.name === r && keyWritable(p))),
  )
  const keysOf = (tool: GrammarTool, used: Set<string>) => tool.spec.properties.filter((p) => !used.has(p.name) && keyWritable(p))
  const requiredDone = (tool: GrammarTool, used: Set<string>) => tool.spec.required.every((r) => used.has(r))

  let state: State = { at: 'text', lastSpace: false }
  /** Some text was written (a space may follow). */
  let started = false
  let calls = 0
  let structuredDone = false
  const namesNow = () => callable.filter((t) => calls === 0 || !t.structured).map((t) => t.name)

  /** The mask for the current state (computed once per step: the decoder asks, then accept checks). */
  let cached: Uint8Array | undefined
  const allowed = (): Uint8Array => (cached ??= computeAllowed())
  const computeAllowed = (): Uint8Array => {
    const m = new Uint8Array(n)
    const each = (ok: (t: string) => boolean) => {
      for (let a = 0; a < n; a++) {
        const t = texts[a]
        if (t !== undefined && ok(t)) m[a] = 1
      }
    }
    const s = state
    switch (s.at) {
      case 'text': {
        if (structuredDone) {
          m[index.EOS] = 1
          break
        }
        const mayOpen = namesNow().length > 0 && (calls === 0 || policy.parallel)
        if (!policy.freeText && calls === 0) {
          if (mayOpen) m[index.OPEN] = 1
          break
        }
        if (!s.lastSpace) {
          m[index.EOS] = 1
          if (mayOpen) m[index.OPEN] = 1
        }
        if (policy.freeText) {
          each(() => true)
          if (SPACE >= 0 && !started) m[SPACE] = 0
        }
        break
      }
      case 'name': {
        const names = namesNow()
        each((t) => STRING_SAFE.test(t) && toward(s.sofar, t, names))
        const tool = callable.find((t) => t.name === s.sofar && names.includes(t.name))
        if (tool) {
          if (keysOf(tool, new Set()).length > 0) m[index.ARGS] = 1
          if (tool.spec.required.length === 0) m[index.EMPTY] = 1
        }
        break
      }
      case 'key': {
        const keys = keysOf(s.tool, s.used)
        each((t) => STRING_SAFE.test(t) && toward(s.sofar, t, keys.map((p) => p.name)))
        const p = keys.find((k) => k.name === s.sofar)
        if (p) {
          const w = writable(p)
          if (w.string) m[index.STR_SEP] = 1
          if (w.scalar) m[index.VAL_SEP] = 1
        }
        break
      }
      case 'str': {
        const strings = s.prop.enum?.filter((e): e is string => typeof e === 'string')
        const max = s.prop.maxLength
        each((t) => STRING_SAFE.test(t) && (strings === undefined || toward(s.sofar, t, strings)) && (max === undefined || Array.from(s.sofar + t).length <= max))
        if (valueFits(s.prop, s.sofar)) {
          if (keysOf(s.tool, s.used).length > 0) m[index.STR_NEXT] = 1
          if (requiredDone(s.tool, s.used)) m[index.STR_CLOSE] = 1
        }
        break
      }
      case 'val': {
        if (s.sofar === '') each((t) => scalarOk(s.prop, t) || (t === '-' && numberTexts.some((x) => !x.startsWith('-') && scalarOk(s.prop, `-${x}`))))
        else if (s.sofar === '-') each((t) => !t.startsWith('-') && scalarOk(s.prop, `-${t}`))
        else {
          if (keysOf(s.tool, s.used).length > 0) m[index.VAL_NEXT] = 1
          if (requiredDone(s.tool, s.used)) m[index.VAL_CLOSE] = 1
        }
        break
      }
    }
    return m
  }

  const closeCall = (tool: GrammarTool) => {
    calls++
    if (tool.structured) structuredDone = true
    state = { at: 'text', lastSpace: false }
  }

  const accept = (action: number): GrammarEvent | undefined => {
    if (allowed()[action] !== 1) throw new ChatConstraintError(`internal: action ${action} is outside the grammar in state "${state.at}"`, null)
    if (action === index.EOS) return undefined
    cached = undefined
    const kind = structural.get(action)
    const text = texts[action] ?? ''
    const s = state
    switch (s.at) {
      case 'text':
        if (kind === 'OPEN') {
          state = { at: 'name', sofar: '' }
          return { type: 'open' }
        }
        started = true
        state = { at: 'text', lastSpace: action === SPACE }
        return { type: 'text', text }
      case 'name': {
        if (kind === undefined) {
          state = { at: 'name', sofar: s.sofar + text }
          return { type: 'name', text }
        }
        const tool = callable.find((t) => t.name === s.sofar)!
        if (kind === 'EMPTY') {
          closeCall(tool)
          return { type: 'call', name: tool.name, structured: tool.structured, args: ARGS_TEXT.EMPTY!, closed: true }
        }
        state = { at: 'key', tool, used: new Set(), sofar: '' }
        return { type: 'call', name: tool.name, structured: tool.structured, args: ARGS_TEXT.ARGS!, closed: false }
      }
      case 'key': {
        if (kind === undefined) {
          state = { ...s, sofar: s.sofar + text }
          return { type: 'args', text, closed: false }
        }
        const prop = s.tool.spec.properties.find((p) => p.name === s.sofar)!
        const used = new Set(s.used).add(prop.name)
        state = kind === 'STR_SEP' ? { at: 'str', tool: s.tool, used, prop, sofar: '' } : { at: 'val', tool: s.tool, used, prop, sofar: '' }
        return { type: 'args', text: ARGS_TEXT[kind]!, closed: false }
      }
      case 'str':
      case 'val': {
        if (kind === undefined) {
          state = { ...s, sofar: s.sofar + text }
          return { type: 'args', text: s.at === 'val' ? canonicalScalar(text) : text, closed: false }
        }
        if (kind === 'STR_NEXT' || kind === 'VAL_NEXT') {
          state = { at: 'key', tool: s.tool, used: s.used, sofar: '' }
          return { type: 'args', text: ARGS_TEXT[kind]!, closed: false }
        }
        closeCall(s.tool)
        return { type: 'args', text: ARGS_TEXT[kind]!, closed: true }
      }
    }
  }

  const preview = (action: number): string => {
    if (action === index.EOS) return STRUCTURE.EOS
    const kind = structural.get(action)
    if (kind === undefined) return state.at === 'val' ? canonicalScalar(texts[action] ?? '') : (texts[action] ?? '')
    if (kind === 'OPEN') return STRUCTURE.OPEN
    return state.at === 'text' || state.at === 'name' ? (kind === 'ARGS' || kind === 'EMPTY' ? ARGS_TEXT[kind]! : STRUCTURE[kind]) : (ARGS_TEXT[kind] ?? STRUCTURE[kind])
  }

  return { allowed, accept, preview, callable }
}
