import type { ToolContext } from '../agent/defineTool.js'
import { X402ProtocolError } from './errors.js'

/** The answer headers an x402 client reads; the others are not recorded. */
const KEPT_HEADERS = ['content-type', 'payment-required', 'payment-response', 'x-payment-response'] as const

/** One HTTP exchange as the trace records it (a read of the tool call). */
export type RecordedExchange = {
  request: { method: string; url: string; paid: boolean }
  response: { status: number; headers: Record<string, string>; body: string }
}

/**
 * A `fetch` whose every exchange is a recorded read of the tool call (`ToolContext.read`,
 * label `http`): live it fetches, keeps the status, the x402 headers and at most
 * `maxBodyChars` of the body, records that, and answers a `Response` built from the record —
 * so the x402 client decides on exactly what a verifier's replay will feed back, and the
 * replay, which never fetches, answers the same `Response`. A recorded exchange for another
 * request than the code makes (a trace rewritten by hand) is refused with
 * {@link X402ProtocolError}: the replay then differs from the trace.
 */
export function recordedFetch(p: { fetch: typeof globalThis.fetch; read: ToolContext['read']; maxBodyChars: number }): typeof globalThis.fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    const asked = { method: request.method, url: request.url, paid: request.headers.has('PAYMENT-SIGNATURE') }
    const exchange = (await p.read('http', async () => {
      const res = await p.fetch(request)
      const headers: Record<string, string> = {}
      for (const h of KEPT_HEADERS) {
        const v = res.headers.get(h)
        if (v !== null) headers[h] = v
      }
      const body = (await res.text()).slice(0, p.maxBodyChars)
      return { request: asked, response: { status: res.status, headers, body } } satisfies RecordedExchange
    })) as RecordedExchange
    const r = exchange?.request
    if (!r || r.method !== asked.method || r.url !== asked.url || r.paid !== asked.paid) {
      throw new X402ProtocolError(`the recorded HTTP exchange is for ${r ? `${r.method} ${r.url}` : 'nothing'}, the tool asks ${asked.method} ${asked.url}`)
    }
    const { status, headers, body } = exchange.response
    const empty = status === 204 || status === 205 || status === 304
    return new Response(empty ? null : body, { status, headers })
  }
}
