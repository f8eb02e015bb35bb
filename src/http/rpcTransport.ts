import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { http, type HttpTransport, type HttpTransportConfig } from 'viem'

// The HTTP transport of every JSON-RPC client Covenant creates (the wallet's, the bonds
// client's, the committer's reads): viem's `http` transport — its retries, timeouts, batching
// and error classes unchanged — with a leaner `fetchFn` underneath.
//
// Why: Node's global fetch (undici) costs this process 1.1–1.6 ms of CPU per JSON-RPC call on
// the 2-core bench VMs (a `Request`, a web `ReadableStream` body, an `AbortSignal` made
// transferable, per call); node:http with a keep-alive agent does the same exchange in
// 0.6–1.0 ms (bench/README.md). An agent makes four or five calls per payment and its
// committer more, so this is CPU the bare agent the bench compares against spends too; any
// viem app could make the same change. It is measured and reported as such.

/** Largest JSON-RPC answer read; viem then applies its own limit (10 MiB by default) to the text. */
export const RPC_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

const agents = {
  'http:': new HttpAgent({ keepAlive: true }),
  'https:': new HttpsAgent({ keepAlive: true }),
}

const REDIRECT = new Set([301, 302, 303, 307, 308])

/**
 * A `fetch` for JSON-RPC over http(s): node:http(s) with keep-alive sockets (idle ones do not
 * keep the process alive). It answers with the part of a `Response` viem's HTTP client reads
 * (`ok`, `status`, `statusText`, `headers`, `text()`, `json()`, a null `body`). A redirect, or a
 * URL that is not http(s), is left to the global fetch. An aborted signal rejects with its
 * reason (an `AbortError`), as fetch does: viem turns its own timeout into a `TimeoutError`.
 * An answer over `maxResponseBytes` (default {@link RPC_MAX_RESPONSE_BYTES}) is refused as it is read.
 */
export function createRpcFetch(o: { maxResponseBytes?: number | undefined } = {}): typeof fetch {
  const maxBytes = o.maxResponseBytes ?? RPC_MAX_RESPONSE_BYTES
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
    const res = await new Promise<{ message: IncomingMessage; text: string }>((resolve, reject) => {
      let settled = false
      const settle = (done: () => void) => {
        if (settled) return
        settled = true
        signal?.removeEventListener('abort', onAbort)
        done()
      }
      const fail = (err: unknown) => settle(() => reject(err))
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const req = send(url, { method: init?.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'] }, (message) => {
        const chunks: Buffer[] = []
        let size = 0
        message.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > maxBytes) {
            fail(new Error(`the JSON-RPC answer from ${url.origin} is over ${maxBytes} bytes`))
            req.destroy()
            return
          }
          chunks.push(chunk)
        })
        message.on('end', () => settle(() => resolve({ message, text: Buffer.concat(chunks).toString('utf8') })))
        message.on('error', fail)
        message.on('aborted', () => fail(new Error(`the connection to ${url.origin} closed before the JSON-RPC answer ended`)))
      })
      function onAbort() {
        fail(abortReason(signal!))
        req.destroy()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      req.on('error', fail)
      req.end(body)
    })
    const status = res.message.statusCode ?? 0
    if (REDIRECT.has(status)) return fetch(input, init)
    const responseHeaders = new Headers()
    for (const [k, v] of Object.entries(res.message.headers)) {
      if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v)
    }
    const text = res.text
    const response = {
      ok: status >= 200 && status < 300,
      status,
      statusText: res.message.statusMessage ?? '',
      headers: responseHeaders,
      url: url.toString(),
      redirected: false,
      body: null,
      bodyUsed: false,
      text: async () => text,
      json: async () => JSON.parse(text) as unknown,
    }
    return response as unknown as Response
  }
}

/** {@link createRpcFetch} with the default limit: the `fetchFn` of {@link rpcTransport}. */
export const rpcFetch: typeof fetch = createRpcFetch()

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error && reason.name === 'AbortError' ? reason : new DOMException('This operation was aborted', 'AbortError')
}

/** viem's `http` transport over {@link rpcFetch} (unless the config brings its own `fetchFn`). */
export function rpcTransport(url?: string, config: HttpTransportConfig = {}): HttpTransport {
  return http(url, { ...config, fetchFn: config.fetchFn ?? rpcFetch })
}
