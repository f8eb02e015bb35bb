import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { bufferedResponse } from './bufferedResponse.js'

// A `fetch` for HTTP exchanges whose answer is read whole: the JSON-RPC calls of every viem
// client Covenant creates (rpcTransport.ts) and the agent's calls to an OpenAI-compatible
// inference endpoint (src/inference/openaiBackend.ts, whose recorder reads each answer whole
// to check its receipt and record it).
//
// Why: Node's global fetch (undici) costs this process 1.1–1.6 ms of CPU per exchange on the
// 2-core bench VMs (a `Request`, a web `ReadableStream` body, an `AbortSignal` made
// transferable, per call); node:http with a keep-alive agent does the same exchange in
// 0.6–1.0 ms (bench/rpc-transport.ts). This is CPU a bare agent spends too, and any app could
// make the same change: the overhead bench reports it apart (bench/README.md).

/** Largest answer read (viem then applies its own limit, 10 MiB by default, to a JSON-RPC answer's text). */
export const BUFFERED_FETCH_MAX_BYTES = 64 * 1024 * 1024

const agents = {
  'http:': new HttpAgent({ keepAlive: true }),
  'https:': new HttpsAgent({ keepAlive: true }),
}

const REDIRECT = new Set([301, 302, 303, 307, 308])
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'])
/** How a request on a kept-alive socket the server had closed fails. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE'])

class StaleSocketError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message)
  }
}

/**
 * A `fetch` over node:http(s) with keep-alive sockets (idle ones do not keep the process
 * alive) for answers read whole. It answers with the part of a `Response` such a reader uses
 * ({@link bufferedResponse}: a null `body`; viem's HTTP client then calls `text()`). A request on a reused socket that the server had closed is sent
 * once more on a fresh one. A redirect, a `Request` or a body that is not a string, and a
 * URL that is not http(s), are left to the global fetch. An aborted signal rejects with its
 * reason (an `AbortError`), as fetch does (viem turns its own timeout into a `TimeoutError`).
 * An answer over `maxResponseBytes` (default {@link BUFFERED_FETCH_MAX_BYTES}) is refused as
 * it is read.
 */
export function createBufferedFetch(o: { maxResponseBytes?: number | undefined } = {}): typeof fetch {
  const maxBytes = o.maxResponseBytes ?? BUFFERED_FETCH_MAX_BYTES
  return async (input, init) => {
    const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : undefined
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || (init?.body !== undefined && init.body !== null && typeof init.body !== 'string')) {
      return fetch(input, init)
    }
    const signal = init?.signal ?? undefined
    if (signal?.aborted) throw abortReason(signal)
    const body = init?.body ?? undefined
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v
    })
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
    // as fetch does: the standard methods are sent upper-case whatever case they were given in
    const given = init?.method ?? 'GET'
    const method = NORMALIZED_METHODS.has(given.toUpperCase()) ? given.toUpperCase() : given
    const exchange = () =>
      new Promise<{ message: IncomingMessage; bytes: Buffer }>((resolve, reject) => {
        let settled = false
        let answered = false
        const settle = (done: () => void) => {
          if (settled) return
          settled = true
          signal?.removeEventListener('abort', onAbort)
          done()
        }
        const fail = (err: unknown) => settle(() => reject(err))
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest
        const req = send(url, { method, headers, agent: agents[url.protocol as 'http:' | 'https:'] }, (message) => {
          answered = true
          const chunks: Buffer[] = []
          let size = 0
          message.on('data', (chunk: Buffer) => {
            size += chunk.length
            if (size > maxBytes) {
              fail(new Error(`the answer from ${url.origin} is over ${maxBytes} bytes`))
              req.destroy()
              return
            }
            chunks.push(chunk)
          })
          message.on('end', () => settle(() => resolve({ message, bytes: Buffer.concat(chunks) })))
          message.on('error', fail)
          // closed before its end (`aborted` is deprecated): 'end' has settled it otherwise
          message.on('close', () => fail(new Error(`the connection to ${url.origin} closed before its answer ended`)))
        })
        function onAbort() {
          fail(abortReason(signal!))
          req.destroy()
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        req.on('error', (err: NodeJS.ErrnoException) => {
          // a kept-alive socket the server closed while it sat idle fails as it is reused,
          // before any answer: the request never reached a live connection (Node's docs)
          fail(req.reusedSocket && !answered && STALE_SOCKET.has(err.code ?? '') ? new StaleSocketError(err) : err)
        })
        req.end(body)
      })
    // one more try, on a fresh socket, when a reused one turned out closed
    const res = await exchange().catch((err: unknown) => {
      if (err instanceof StaleSocketError && !signal?.aborted) return exchange()
      throw err instanceof StaleSocketError ? err.cause : err
    })
    const status = res.message.statusCode ?? 0
    if (REDIRECT.has(status)) return fetch(input, init)
    const responseHeaders = new Headers()
    for (const [k, v] of Object.entries(res.message.headers)) {
      if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v)
    }
    return bufferedResponse({ status, statusText: res.message.statusMessage ?? '', headers: responseHeaders, url: url.toString(), body: res.bytes })
  }
}

/** {@link createBufferedFetch} with the default limit. */
export const bufferedFetch: typeof fetch = createBufferedFetch()

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error && reason.name === 'AbortError' ? reason : new DOMException('This operation was aborted', 'AbortError')
}
