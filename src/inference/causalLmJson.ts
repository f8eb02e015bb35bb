import type { CausalLm } from './causalLm.js'
import type { FlatObjectSpec } from './chatSchema.js'
import { FlatJsonPrefix } from './flatJson.js'

/**
 * `response_format: json_schema` on a causal LM: constrained decoding. Before each token the
 * decoder keeps only the tokens whose text keeps the answer a prefix of a conforming object
 * (flatJson.ts), and the stop token once the object is whole — so the answer is an object that
 * fits the schema, or is cut off by max_tokens (finish_reason "length") as OpenAI's is. With
 * `tool_choice: "auto"` and tools, the first token may instead open a tool call, after which
 * the call is written as without a schema. Deterministic: a function of the logits, so it
 * replays exactly like the rest of `causal-lm-v1`.
 */
export type JsonConstraint = {
  /** Which tokens may come next. */
  allowed(id: number): boolean
  /** The token the decoder chose. */
  chosen(id: number): void
}

/** Each token's text as it reads inside an answer: '' for special tokens (never allowed in JSON). */
const texts = new WeakMap<CausalLm, readonly string[]>()
function tokenTexts(lm: CausalLm, size: number): readonly string[] {
  let t = texts.get(lm)
  if (!t || t.length < size) {
    t = Array.from({ length: size }, (_, id) =>
      id === lm.toolCallOpen || id === lm.toolCallClose ? '' : lm.tokenizer.decode([id], { skip_special_tokens: true }),
    )
    texts.set(lm, t)
  }
  return t
}

export function jsonConstraint(lm: CausalLm, spec: FlatObjectSpec, o: { vocabSize: number; toolCallFirst: boolean }): JsonConstraint {
  const json = new FlatJsonPrefix(spec)
  const text = tokenTexts(lm, o.vocabSize)
  let started = false
  let toolCall = false
  return {
    allowed(id) {
      if (toolCall) return true
      if (lm.eosIds.has(id)) return json.done
      if (!started && o.toolCallFirst && id === lm.toolCallOpen) return true
      const t = text[id]
      // a token that ends mid-character (byte-level BPE) reads as U+FFFD: never part of the object
      return t !== undefined && t.length > 0 && !json.done && !t.includes('\uFFFD') && json.accepts(t)
    },
    chosen(id) {
      if (!started && id === lm.toolCallOpen) toolCall = true
      started = true
      if (!toolCall && !lm.eosIds.has(id)) json.feed(text[id]!)
    },
  }
}
