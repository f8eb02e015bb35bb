import { randomBytes } from 'node:crypto'
import type { ChatDelta } from './chatAssembler.js'
import type { ChatEngine } from './chatEngine.js'
import type { ChatPlan } from './chatRequest.js'
import type { ChatCompletionResponse, Receipt } from './schemas.js'

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

export type StreamChatCompletionReturnType =
  | { ok: true; response: Response }
  /** The engine refused before writing anything (a ChatConstraintError, say): answer with a JSON error instead. */
  | { ok: false; error: unknown }

const encoder = new TextEncoder()

export async function streamChatCompletion(p: StreamChatCompletionParameters): Promise<StreamChatCompletionReturnType> {
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`
  const created = Math.floor(Date.now() / 1000)
  const head = { id, object: 'chat.completion.chunk', created, model: p.engine.model.name, system_fingerprint: p.systemFingerprint }
  const chunks: Array<Record<string, unknown>> = []
  const queue: Uint8Array[] = []
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let closed = false
  let cancelled = false
  const write = (text: string) => {
    if (cancelled) return
    const bytes = encoder.encode(text)
    if (controller) controller.enqueue(bytes)
    else queue.push(bytes)
  }
  const close = () => {
    closed = true
    if (!cancelled) controller?.close()
  }
  const push = (chunk: Record<string, unknown>) => {
    chunks.push(chunk)
    write(`data: ${JSON.stringify(chunk)}\n\n`)
  }
  const choice = (delta: Record<string, unknown>, finish: string | null, logprobs: unknown = null) => ({ ...head, choices: [{ index: 0, delta, logprobs, finish_reason: finish }] })

  let contentSent = false
  let firstSettled = false
  let settleFirst: (r: { ok: true } | { ok: false; error: unknown }) => void = () => {}
  const first = new Promise<{ ok: true } | { ok: false; error: unknown }>((resolve) => (settleFirst = resolve))
  const begin = () => {
    if (firstSettled) return
    firstSettled = true
    push(choice({ role: 'assistant' }, null))
    settleFirst({ ok: true })
  }
  const onDelta = (delta: ChatDelta) => {
    if (cancelled) throw new StreamCancelled()
    begin()
    const { logprobs, ...rest } = delta
    if (rest.content !== undefined) contentSent = true
    push(choice(rest, null, p.plan.logprobs ? (logprobs ? { content: logprobs, refusal: null } : null) : null))
  }

  void p.engine
    .complete(p.raw, { id, created, systemFingerprint: p.systemFingerprint, onDelta })
    .then(async ({ output }) => {
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
      write('data: [DONE]\n\n')
      close()
    })
    .catch((error: unknown) => {
      if (!firstSettled) {
        firstSettled = true
        settleFirst({ ok: false, error })
        return
      }
      if (error instanceof StreamCancelled || closed) return
      const message = error instanceof Error && 'shortMessage' in error ? String((error as { shortMessage: unknown }).shortMessage) : 'internal error'
      write(`data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`)
      close()
    })

  const started = await first
  if (!started.ok) return started
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
      for (const bytes of queue.splice(0)) c.enqueue(bytes)
      if (closed) c.close()
    },
    cancel() {
      cancelled = true
    },
  })
  return { ok: true, response: new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } }) }
}

class StreamCancelled extends Error {
  override name = 'StreamCancelled'
}
