import type { GrammarEvent } from './chatGrammar.js'
import { toolCallId } from './chatOutput.js'
import type { Hash } from './hash.js'
import type { ChatCompletionMessage, ChatToolCall } from './schemas.js'

/**
 * Turns decoding events into what a client sees: content text, tool calls, their logprobs.
 * It emits deltas as the model writes (the SSE stream sends each one as a chunk) and the
 * non-streamed message is the sum of the same deltas, so a streamed answer and a plain one
 * are equal by construction.
 *
 * - Content: each text event as it comes. With `stop` sequences, text that might be the
 *   start of one is held back until it is not (then sent) or is (then cut, and decoding
 *   stops): a stop sequence is never sent, as with OpenAI. Stops apply to content only.
 * - Tool calls: the first delta once the name is complete (`id`, `type`, `name`, the first
 *   arguments fragment), then each arguments fragment. Ids derive from the request hash.
 * - The response_format object is content: its arguments fragments are the content.
 */
export type TopLogprob = { token: string; logprob: number; bytes: number[] }
export type TokenLogprob = TopLogprob & { top_logprobs: TopLogprob[] }

export type ChatDelta = {
  content?: string
  tool_calls?: Array<{ index: number; id?: string; type?: 'function'; function: { name?: string; arguments: string } }>
  /** Logprobs of the content tokens in this delta (only when requested). */
  logprobs?: TokenLogprob[]
}

export type StepLogprob = { logprob: number; top_logprobs: Array<{ token: string; logprob: number }> }

export type ChatAssembler = {
  /** One decoded action's event, with its logprob when requested. */
  push(event: GrammarEvent, logprob?: StepLogprob): void
  /** Decoding ended: sends what was held back. */
  end(): void
  /** A stop sequence was written: decoding must end. */
  readonly stopped: boolean
  message(): ChatCompletionMessage
  /** The content tokens' logprobs (null when there is no content and there are tool calls). */
  contentLogprobs(): TokenLogprob[] | null
}

export type CreateChatAssemblerParameters = {
  requestHash: Hash
  stop?: readonly string[] | undefined
  /** Logprobs were requested: every content delta carries its (possibly empty) list. */
  logprobs?: boolean | undefined
  onDelta?: ((delta: ChatDelta) => void) | undefined
}

const encoder = new TextEncoder()
const withBytes = (token: string, logprob: number): TopLogprob => ({ token, logprob, bytes: [...encoder.encode(token)] })

export function createChatAssembler({ requestHash, stop = [], logprobs = false, onDelta }: CreateChatAssemblerParameters): ChatAssembler {
  let content = ''
  const lps: TokenLogprob[] = []
  const calls: ChatToolCall[] = []
  let current: { structured: boolean; index: number } | undefined
  let pending: Array<{ text: string; lp: TokenLogprob | undefined }> = []
  let stopped = false

  const emit = (delta: ChatDelta) => onDelta?.(delta)

  /** Sends the first `chars` characters of the held-back text. */
  const release = (chars: number) => {
    let text = ''
    const entries: TokenLogprob[] = []
    let left = chars
    while (pending.length > 0 && left > 0) {
      const item = pending[0]!
      if (item.lp) entries.push(item.lp)
      if (item.text.length <= left) {
        text += item.text
        left -= item.text.length
        pending.shift()
      } else {
        text += item.text.slice(0, left)
        pending[0] = { text: item.text.slice(left), lp: undefined }
        left = 0
      }
    }
    if (text === '') return
    content += text
    lps.push(...entries)
    emit(logprobs ? { content: text, logprobs: entries } : { content: text })
  }

  const contentText = (text: string, step: StepLogprob | undefined) => {
    if (stopped || text === '') return
    const lp = step ? { ...withBytes(text, step.logprob), top_logprobs: step.top_logprobs.map((t) => withBytes(t.token, t.logprob)) } : undefined
    pending.push({ text, lp })
    if (stop.length === 0) return release(text.length)
    const held = pending.map((p) => p.text).join('')
    let cut = -1
    for (const s of stop) {
      const i = held.indexOf(s)
      if (i >= 0 && (cut < 0 || i < cut)) cut = i
    }
    if (cut >= 0) {
      release(cut)
      pending = []
      stopped = true
      return
    }
    let hold = 0
    for (const s of stop) {
      for (let k = Math.min(s.length - 1, held.length); k > hold; k--) {
        if (held.endsWith(s.slice(0, k))) {
          hold = k
          break
        }
      }
    }
    release(held.length - hold)
  }

  return {
    push(event, step) {
      if (stopped) return
      switch (event.type) {
        case 'text':
          return contentText(event.text, step)
        case 'open':
          // a stop sequence cannot span a tool call: what was held back is content
          return release(Number.POSITIVE_INFINITY)
        case 'name':
          return
        case 'call': {
          if (event.structured) {
            current = { structured: true, index: -1 }
            contentText(event.args, step)
          } else {
            const index = calls.length
            const id = toolCallId(requestHash, index)
            calls.push({ id, type: 'function', function: { name: event.name, arguments: event.args } })
            current = { structured: false, index }
            emit({ tool_calls: [{ index, id, type: 'function', function: { name: event.name, arguments: event.args } }] })
          }
          if (event.closed) current = undefined
          return
        }
        case 'args': {
          if (!current) return
          if (current.structured) contentText(event.text, step)
          else {
            calls[current.index]!.function.arguments += event.text
            emit({ tool_calls: [{ index: current.index, function: { arguments: event.text } }] })
          }
          if (event.closed) current = undefined
          return
        }
      }
    },
    end() {
      if (!stopped) release(Number.POSITIVE_INFINITY)
    },
    get stopped() {
      return stopped
    },
    message() {
      if (calls.length === 0) return { role: 'assistant', content, refusal: null }
      return { role: 'assistant', content: content === '' ? null : content, refusal: null, tool_calls: calls.map((c) => ({ ...c, function: { ...c.function } })) }
    },
    contentLogprobs() {
      return lps.length === 0 && calls.length > 0 ? null : [...lps]
    },
  }
}
