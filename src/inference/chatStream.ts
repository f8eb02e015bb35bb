import { randomBytes } from 'node:crypto'
import type { ChatDelta } from './chatAssembler.js'
import type { ChatEngine } from './chatEngine.js'
import type { ChatPlan } from './chatRequest.js'
import type { ChatCompletionResponse, Receipt } from './schemas.js'
import { type SseStartReturnType, startSseStream } from './sseStream.js'

/**
 * A chat completion as server-sent events, written while the model decodes: a chunk with
 * the role, one chunk per piece of the answer (a content token, a tool call's name, an
 * arguments fragment), a chunk with `finish_reason`, with `stream_options.include_usage` a
 * chunk with `usage` and no choices, then `data: [DONE]`. All chunks share one id.
 *
 * The receipt covers the whole stream (requestHash over the request, responseHash over
 * every chunk in order, outputHash over the assembled message), so it can only be signed
 * at the end: it travels in the last chunk (`covenant_receipt`, beside `covenant`: actions,
 * decoding, runtime), not in the `x-covenant-receipt` header, which left long before.
 */
export type StreamChatCompletionParameters = {
  engine: Pick<ChatEngine, 'model' | 'complete'>
  raw: unknown
  plan: ChatPlan
  systemFingerprint: string
  /** Signs the finished stream (chunks without receipt, the full completion); absent: no receipt. */
  sign?: ((chunks: ReadonlyArray<Record<string, unknown>>, completion: ChatCompletionResponse) => Promise<Receipt>) | undefined
}

export type StreamChatCompletionReturnType = SseStartReturnType

export async function streamChatCompletion(p: StreamChatCompletionParameters): Promise<StreamChatCompletionReturnType> {
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`
  const created = Math.floor(Date.now() / 1000)
  const head = { id, object: 'chat.completion.chunk', created, model: p.engine.model.name, system_fingerprint: p.systemFingerprint }
  const choice = (delta: Record<string, unknown>, finish: string | null, logprobs: unknown = null) => ({ ...head, choices: [{ index: 0, delta, logprobs, finish_reason: finish }] })

  return startSseStream(
    async (sse) => {
      const chunks: Array<Record<string, unknown>> = []
      const push = (chunk: Record<string, unknown>) => {
        chunks.push(chunk)
        sse.write(`data: ${JSON.stringify(chunk)}\n\n`)
      }
      const begin = () => {
        if (sse.begin()) push(choice({ role: 'assistant' }, null))
      }
      let contentSent = false
      const onDelta = (delta: ChatDelta) => {
        sse.checkCancelled()
        begin()
        const { logprobs, ...rest } = delta
        if (rest.content !== undefined) contentSent = true
        push(choice(rest, null, p.plan.logprobs ? (logprobs ? { content: logprobs, refusal: null } : null) : null))
      }
      const { output } = await p.engine.complete(p.raw, { id, created, systemFingerprint: p.systemFingerprint, onDelta })
      begin()
      const c = output.choices[0]!
      // an empty answer still says it is empty (content "" rather than absent)
      const last = choice(!contentSent && !c.message.tool_calls ? { content: '' } : {}, c.finish_reason)
      const trailer: Record<string, unknown> = p.plan.includeUsage ? { ...head, choices: [], usage: output.usage } : last
      if (p.plan.includeUsage) push(last)
      trailer['covenant'] = output.covenant
      if (p.sign) {
        const receipt = await p.sign([...chunks, trailer], output)
        trailer['covenant_receipt'] = receipt
      }
      push(trailer)
      sse.write('data: [DONE]\n\n')
      sse.close()
    },
    (message, write) => write(`data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`),
  )
}
