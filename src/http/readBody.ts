import type { IncomingMessage } from 'node:http'
import type { Context, MiddlewareHandler } from 'hono'

// HTTP request bodies for every Covenant server (DA, inference container, service API).

/**
 * What a client still sends after its body went over the limit is read and dropped, up to
 * this much and for this long, so that a client that reads the answer only once it has sent
 * everything (many do: Python's http.client, `requests`) gets the 413 instead of a reset.
 * Past either bound the connection is closed. (The refusal is a 413, or a 400 where a server
 * answers as eigenda-proxy does.)
 */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024
export const DRAIN_MAX_MS = 10_000

export type ReadBodyResult =
  | { ok: true; bytes: Uint8Array }
  /**
   * `drained` settles once the rest of the body was read and dropped, or the connection closed.
   * `size` is the whole body's size where it was read to its end (within `readOnTo`).
   */
  | { ok: false; reason: 'too_large'; drained: Promise<void>; size?: number | undefined }
  /** The body stopped arriving (the client went away or sent broken chunked framing). */
  | { ok: false; reason: 'incomplete' }

export type ReadBodyOptions = {
  /**
   * Past `maxBytes`, go on reading (and dropping) the body up to this many bytes in all, and
   * answer `too_large` with its `size` once it ended; only a body larger than this is refused
   * at once. eigenda-proxy reads a body to its end (up to 32 MiB) before it answers, and
   * Node's fetch can lose an answer sent before its upload finished on a reused connection.
   * @defaultValue `maxBytes` (refuse at once)
   */
  readOnTo?: number | undefined
  /**
   * Takes each chunk of a body within `maxBytes` as it arrives, instead of gathering them: the
   * result's `bytes` is then empty. (The DA server streams a blob to disk this way.)
   */
  sink?: ((chunk: Uint8Array) => void) | undefined
}

/**
 * Reads a request body of at most `maxBytes`, with or without a Content-Length. Over the
 * limit (or over `readOnTo`) it stops keeping what comes and returns `too_large` at once,
 * while it reads and drops the rest in the background, within the drain bounds. Answer with
 * {@link answerWhileDraining}: the client can read the answer while it is still sending, or
 * after it has sent everything, and the connection closes (or is reused) only once nothing
 * unread is left in it — closing a socket with unread data resets it, and the client loses
 * the answer.
 */
export async function readBody(c: Context, maxBytes: number, options: ReadBodyOptions = {}): Promise<ReadBodyResult> {
  const readOnTo = Math.max(maxBytes, options.readOnTo ?? maxBytes)
  const sink = options.sink
  const reader = sourceOf(c, !!sink)
  if (!reader) return { ok: true, bytes: new Uint8Array(0) }
  const declared = c.req.header('transfer-encoding') ? undefined : Number(c.req.header('content-length'))
  if (declared !== undefined && declared > readOnTo) return { ok: false, reason: 'too_large', drained: drain(reader, c) }
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    let next: ChunkRead
    try {
      next = await reader.read()
    } catch {
      return { ok: false, reason: 'incomplete' }
    }
    const { done, value } = next
    if (done) break
    size += value.byteLength
    if (size > readOnTo) {
      chunks.length = 0
      return { ok: false, reason: 'too_large', drained: drain(reader, c) }
    }
    if (size > maxBytes) chunks.length = 0
    else if (sink) sink(value)
    else chunks.push(value)
  }
  if (size > maxBytes) return { ok: false, reason: 'too_large', drained: Promise.resolve(), size }
  if (sink) return { ok: true, bytes: new Uint8Array(0) }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0]! }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return { ok: true, bytes }
}

/**
 * A text answer sent at once (headers and the whole text, with its Content-Length) whose
 * response ends only when `drained` settles: the HTTP server closes or reuses the connection
 * after the response ends, and by then the request has been read to its end.
 */
export function answerWhileDraining(
  c: Context,
  status: 400 | 413,
  text: string,
  drained: Promise<void>,
  contentType = 'text/plain; charset=UTF-8',
  headers: Record<string, string> = {},
): Response {
  const bytes = new TextEncoder().encode(text)
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes)
    },
    async pull(controller) {
      await drained
      controller.close()
    },
  })
  return c.body(stream, status, { ...headers, 'content-type': contentType, 'content-length': String(bytes.byteLength) })
}

type ChunkRead = { done: true; value?: undefined } | { done: false; value: Uint8Array }
/** Where a body's chunks come from: the web stream of the request, or the node request under it. */
type ChunkSource = { read(): Promise<ChunkRead>; cancel(): Promise<unknown> }

/**
 * The body's chunks. A streaming reader (`direct`) served by @hono/node-server reads the node
 * request itself: turning it into a web stream first costs a promise and a copy of the
 * bookkeeping per chunk, a large share of the time a fast disk takes to write it.
 */
function sourceOf(c: Context, direct: boolean): ChunkSource | undefined {
  const incoming = direct ? incomingOf(c) : undefined
  if (incoming) {
    const it = (incoming as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    return {
      read: () => it.next() as Promise<ChunkRead>,
      cancel: async () => {
        await it.return?.()
      },
    }
  }
  const body = c.req.raw.body
  if (!body) return undefined
  const reader = body.getReader()
  return { read: () => reader.read() as Promise<ChunkRead>, cancel: () => reader.cancel() }
}

async function drain(reader: ChunkSource, c: Context): Promise<void> {
  let dropped = 0
  let ended = false
  const close = () => {
    if (ended) return
    ended = true
    // cancelling the body ends the request; on a node socket, close the connection too
    reader.cancel().catch(() => {})
    incomingOf(c)?.socket?.destroy()
  }
  const timer = setTimeout(close, DRAIN_MAX_MS)
  timer.unref?.()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || ended) return
      dropped += value.byteLength
      if (dropped > DRAIN_MAX_BYTES) return close()
    }
  } catch {
    // the client went away: nothing left to drain
  } finally {
    ended = true
    clearTimeout(timer)
  }
}

/** The node request behind a hono context served by @hono/node-server (absent in app.request). */
function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
}

/**
 * Middleware: bounds a request body as {@link readBody} does — a readable 413 for an oversize
 * body, chunked or not, the rest drained so the connection survives — and hands the handlers
 * the buffered bytes (so `c.req.json()` works as before). `tooLarge` gives the 413's body (a
 * server's own error response: its text and content type are sent while the rest drains).
 */
export function boundedBody(maxBytes: number, tooLarge: (c: Context) => Response | Promise<Response>): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next()
    const body = await readBody(c, maxBytes)
    if (!body.ok) {
      if (body.reason === 'incomplete') return c.text('the request body did not arrive in full', 400)
      const answer = await tooLarge(c)
      const text = await answer.text()
      return answerWhileDraining(c, 413, text, body.drained, answer.headers.get('content-type') ?? 'text/plain; charset=UTF-8')
    }
    c.req.raw = new Request(c.req.raw, { body: body.bytes as Uint8Array<ArrayBuffer>, duplex: 'half' } as RequestInit)
    return next()
  }
}
