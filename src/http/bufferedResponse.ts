/**
 * An answer already read whole, as the part of a `Response` that a reader of whole answers
 * uses: `ok`, `status`, `statusText`, `headers`, `url`, `text()`, `json()`, `arrayBuffer()`
 * and a null `body` (viem's HTTP client and the OpenAI SDK then call `text()` / `json()`;
 * the SDK cancels a null body as nothing to cancel). Each read may be repeated.
 *
 * Why not `new Response(text)`: a web `Response` wraps its body in a `ReadableStream` that
 * its reader then drains again — about 0.2 ms of CPU an answer on the 2-core bench VMs, for
 * bytes that are already in memory. Not for streamed answers (server-sent events), whose
 * reader needs `body`.
 */
export function bufferedResponse(p: {
  status: number
  statusText: string
  headers: Headers
  url: string
  /** The body: its bytes, or its text when that is what the caller holds. */
  body: Buffer | string
}): Response {
  const { status, body } = p
  let text = typeof body === 'string' ? body : undefined
  const asText = () => (text ??= (body as Buffer).toString('utf8'))
  const asBytes = () => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
  const response = {
    ok: status >= 200 && status < 300,
    status,
    statusText: p.statusText,
    headers: p.headers,
    url: p.url,
    redirected: false,
    body: null,
    bodyUsed: false,
    text: async () => asText(),
    json: async () => JSON.parse(asText()) as unknown,
    arrayBuffer: async () => {
      const bytes = asBytes()
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    },
  }
  return response as unknown as Response
}
