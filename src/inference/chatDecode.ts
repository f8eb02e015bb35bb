import { type ChatDelta, type StepLogprob, type TokenLogprob, createChatAssembler } from './chatAssembler.js'
import { type ChatGrammar, type GrammarTool, createChatGrammar } from './chatGrammar.js'
import { type PromptSpec, type PromptToken, promptFeatures, serializeChatRequest } from './chatPrompt.js'
import type { ChatPlan } from './chatRequest.js'
import { ChatConstraintError } from './errors.js'
import type { Hash } from './hash.js'
import type { OnnxBackend } from './onnxBackend.js'
import { tokenize } from './text.js'
import type { ChatCompletionMessage, ChatCompletionRequest, ChatTool } from './schemas.js'

/**
 * One covenant-chat turn under "greedy-constrained-v1": the prompt (with the response_format
 * schema as one more tool), the grammar the request implies, and greedy decoding among the
 * actions the grammar allows (the first of equal logits). Logprobs, when asked for, are the
 * log-softmax over those same allowed actions: the distribution the decoder chose from.
 */
export type DecodedTurn = {
  actions: number[]
  /** The decoded text in the model's own format (Hermes-style tool-call blocks). */
  text: string
  message: ChatCompletionMessage
  contentLogprobs: TokenLogprob[] | null
  finishReason: 'stop' | 'tool_calls' | 'length'
  /** Decoding hit the step limit or max_tokens. */
  truncated: boolean
  promptTokens: number
}

export type DecodeTurnParameters = {
  backend: OnnxBackend
  spec: PromptSpec
  pieces: readonly string[]
  request: Pick<ChatCompletionRequest, 'messages'>
  plan: ChatPlan
  requestHash: Hash
  onDelta?: ((delta: ChatDelta) => void) | undefined
}

const EOS = 1

export async function decodeTurn(p: DecodeTurnParameters): Promise<DecodedTurn> {
  const { backend, spec, pieces, plan } = p
  const V = pieces.length
  const tokens = serializeChatRequest({ messages: p.request.messages, tools: promptTools(plan) }, spec)
  const grammar = createChatGrammar({ pieces, tokens, policy: grammarPolicy(plan) })
  assertSatisfiable(grammar, plan, tokens, spec.toolsCap)

  const feats = promptFeatures(tokens, spec)
  const L = tokens.length
  const features = new BigInt64Array(L * spec.slots)
  feats.forEach((row, i) => row.forEach((v, j) => (features[i * spec.slots + j] = BigInt(v))))
  const limit = Math.min(spec.maxSteps - 1, plan.maxTokens ?? Number.POSITIVE_INFINITY)
  const assembler = createChatAssembler({ requestHash: p.requestHash, stop: plan.stop, logprobs: plan.logprobs !== undefined, onDelta: p.onDelta })
  const actions: number[] = []
  let truncated = true
  while (actions.length < limit) {
    const prev = BigInt64Array.from([0, ...actions].map(BigInt))
    const out = await backend.runRaw({
      features: { dtype: 'int64', shape: [1, L, spec.slots], data: features },
      prev: { dtype: 'int64', shape: [1, prev.length], data: prev },
    })
    const logits = out['logits']!.data as Float32Array
    const mask = grammar.allowed()
    const next = maskedArgmax(logits, mask)
    if (next < 0) throw new ChatConstraintError('internal: the grammar allows no action', null)
    const step = plan.logprobs ? stepLogprob(logits, mask, next, plan.logprobs.top, grammar) : undefined
    if (next === EOS) {
      truncated = false
      break
    }
    const event = grammar.accept(next)!
    actions.push(next)
    assembler.push(event, step)
    if (assembler.stopped) {
      truncated = false
      break
    }
  }
  assembler.end()
  const message = assembler.message()
  const text = actions.map((a) => (a < V ? (a > EOS ? pieces[a]! : '') : tokens[a - V]?.[0] === 't' ? tokens[a - V]![1] : '')).join('')
  return {
    actions,
    text,
    message,
    contentLogprobs: assembler.contentLogprobs(),
    finishReason: truncated ? 'length' : message.tool_calls ? 'tool_calls' : 'stop',
    truncated,
    promptTokens: L,
  }
}

/**
 * The tools the model reads. tool_choice "none" leaves them out (as covenant-chat was
 * trained: with a tool in view it acts), so the answer is what it says without tools;
 * the grammar forbids calls either way. The response_format schema comes last, as a tool.
 */
export function promptTools(plan: ChatPlan): ChatTool[] {
  const tools = plan.toolChoice === 'none' ? [] : [...plan.tools]
  if (plan.structured) {
    tools.push({
      type: 'function',
      function: { name: plan.structured.name, ...(plan.structured.description ? { description: plan.structured.description } : {}), parameters: plan.structured.schema },
    })
  }
  return tools
}

export function grammarPolicy(plan: ChatPlan): { tools: GrammarTool[]; freeText: boolean; parallel: boolean } {
  const real = (names: readonly string[]) => names.map((name) => ({ name, spec: plan.toolSpecs.get(name)!, structured: false }))
  const declared = plan.tools.map((t) => t.function.name)
  const tc = plan.toolChoice
  const tools = tc === 'none' ? [] : tc === 'auto' || tc === 'required' ? real(declared) : real([tc.name])
  const forced = tc === 'required' || typeof tc === 'object'
  if (plan.structured && !forced) tools.push({ name: plan.structured.name, spec: plan.structured.spec, structured: true })
  return { tools, freeText: !forced && !plan.structured, parallel: plan.parallel }
}

/** A forced call or response_format the prompt gives the model no way to write: a clear 400 before decoding. */
function assertSatisfiable(grammar: ChatGrammar, plan: ChatPlan, tokens: readonly PromptToken[], toolsCap: number): void {
  const can = (name: string) => grammar.callable.some((t) => t.name === name)
  const why = (name: string) => {
    const words = tokenize(name)
    const texts = tokens.map(([k, x]) => (k === 't' ? x : ''))
    const inPrompt = texts.some((_, i) => words.every((w, j) => texts[i + j] === w))
    return inPrompt
      ? `a required parameter of '${name}' cannot be written from this prompt (its name cut off, or no value of its type in the messages)`
      : `'${name}' is not in the prompt the model reads (the tool list is cut at ${toolsCap} tokens)`
  }
  const tc = plan.toolChoice
  if (typeof tc === 'object' && !can(tc.name)) throw new ChatConstraintError(`tool_choice forces '${tc.name}', but covenant-chat cannot write that call: ${why(tc.name)}`, 'tool_choice')
  if (tc === 'required' && !plan.tools.some((t) => can(t.function.name))) {
    throw new ChatConstraintError(`tool_choice is "required", but covenant-chat cannot write a call to any of the tools: ${why(plan.tools[0]!.function.name)}`, 'tool_choice')
  }
  if (plan.structured && tc !== 'required' && typeof tc !== 'object' && !can(plan.structured.name)) {
    throw new ChatConstraintError(`response_format '${plan.structured.name}' cannot be written: ${why(plan.structured.name)}`, 'response_format')
  }
}

/** Index of the largest allowed logit, the first one on ties; -1 if nothing is allowed. */
export function maskedArgmax(logits: ArrayLike<number>, mask: Uint8Array): number {
  let best = -1
  for (let i = 0; i < mask.length; i++) if (mask[i] === 1 && (best < 0 || logits[i]! > logits[best]!)) best = i
  return best
}

function stepLogprob(logits: Float32Array, mask: Uint8Array, chosen: number, top: number, grammar: ChatGrammar): StepLogprob {
  const allowed: number[] = []
  for (let i = 0; i < mask.length; i++) if (mask[i] === 1) allowed.push(i)
  let max = Number.NEGATIVE_INFINITY
  for (const a of allowed) if (logits[a]! > max) max = logits[a]!
  let sum = 0
  for (const a of allowed) sum += Math.exp(logits[a]! - max)
  const lse = max + Math.log(sum)
  const ranked = top > 0 ? [...allowed].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, top) : []
  return { logprob: logits[chosen]! - lse, top_logprobs: ranked.map((a) => ({ token: grammar.preview(a), logprob: logits[a]! - lse })) }
}
