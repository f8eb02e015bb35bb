/**
 * The scaffolding both streamed APIs (chat completions, Responses) share: a server-sent-event
 * response that is only answered once the model has produced something. Until `begin()`, an
 * error (the engine refusing the request) comes back as `{ ok: false, error }`, so the caller
 * can still answer with a JSON error and a 4xx; after it, an error is written into the stream
 * with `onLateError` and the stream is closed. A client that goes away cancels the stream: its
 * writes stop and the next delta throws {@link StreamCancelled}, which ends the decoding.
 */
export type SseWriter = {
  write(text: string): void
  close(): void
  /** Starts the answer; true the first time (write the opening events then). */
  begin(): boolean
  /** Throws {@link StreamCancelled} once the client has gone. */
  checkCancelled(): void
}

export type SseStartReturnType = { ok: true; response: Response } | { ok: false; error: unknown }

export class StreamCancelled extends Error {
  override name = 'StreamCancelled'
}

const encoder = new TextEncoder()

export async function startSseStream(run: (sse: SseWriter) => Promise<void>, onLateError: (message: string, write: (text: string) => void) => void): Promise<SseStartReturnType> {
  const queue: Uint8Array[] = []
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let closed = false
  let cancelled = false
  let firstSettled = false
  let settleFirst: (r: { ok: true } | { ok: false; error: unknown }) => void = () => {}
  const first = new Promise<{ ok: true } | { ok: false; error: unknown }>((resolve) => (settleFirst = resolve))
  const sse: SseWriter = {
    write(text) {
      if (cancelled) return
      const bytes = encoder.encode(text)
      if (controller) controller.enqueue(bytes)
      else queue.push(bytes)
    },
    close() {
      closed = true
      if (!cancelled) controller?.close()
    },
    begin() {
      if (firstSettled) return false
      firstSettled = true
      settleFirst({ ok: true })
      return true
    },
    checkCancelled() {
      if (cancelled) throw new StreamCancelled()
    },
  }
  void run(sse).catch((error: unknown) => {
    if (!firstSettled) {
      firstSettled = true
      settleFirst({ ok: false, error })
      return
    }
    if (error instanceof StreamCancelled || closed) return
    const message = error instanceof Error && 'shortMessage' in error ? String((error as { shortMessage: unknown }).shortMessage) : 'internal error'
    onLateError(message, sse.write)
    sse.close()
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
