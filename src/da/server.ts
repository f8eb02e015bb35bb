import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { BaseError } from '../errors/base.js'
import { type DAClient, MAX_BLOB_BYTES } from './client.js'
import { parseCommitment } from './commitment.js'
import { BlobNotFoundError, BlobTooLargeError, DAServerListenError, InvalidCommitmentError } from './errors.js'
import { answerWhileDraining, readBody } from '../http/readBody.js'

export type DAAppOptions = {
  /** @defaultValue {@link MAX_BLOB_BYTES} (16 MiB); larger bodies get 413. */
  maxBlobBytes?: number | undefined
}

const OCTETS = { 'content-type': 'application/octet-stream' }
/** Longest error text: errors say what is wrong, they never echo a request back at length. */
export const MAX_ERROR_TEXT = 200

function errorText(c: Context, text: string, status: 400 | 404 | 413 | 500 | 503) {
  return c.text(text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT - 1)}…` : text, status)
}

/**
 * An HTTP app serving a DAClient (normally a LocalDAStore) over the eigenda-proxy API in
 * standard commitment mode, so the proxy client — and anything else that speaks to
 * eigenda-proxy — can use it:
 *
 *   POST /put?commitment_mode=standard    200 commitment bytes · 400 wrong mode · 413 too large
 *                                         (with or without Content-Length: the 413 is sent
 *                                         as soon as the limit is passed, and what the client
 *                                         still sends is dropped — within bounds — so that it
 *                                         can read the answer; see readBody.ts)
 *   GET  /get/0x<hex>?commitment_mode=standard
 *                                         200 blob · 400 malformed commitment · 404 unknown
 *   GET  /health                          200 · 503 when the store cannot serve
 *
 * Errors are short text/plain messages (at most MAX_ERROR_TEXT characters), as the proxy's
 * are; internals and long input are never echoed.
 */
export function createDAApp(store: DAClient, options: DAAppOptions = {}): Hono {
  const maxBlobBytes = options.maxBlobBytes ?? MAX_BLOB_BYTES
  const app = new Hono()

  app.get('/health', async (c) => {
    const h = await store.health()
    return c.text(h.ok ? 'ok' : 'unavailable', h.ok ? 200 : 503)
  })

  const put = async (c: Context) => {
    const body = await readBody(c, maxBlobBytes)
    if (!body.ok) {
      if (body.reason === 'incomplete') return errorText(c, 'the request body did not arrive in full', 400)
      return answerWhileDraining(c, 413, `blob larger than ${maxBlobBytes} bytes`, body.drained)
    }
    if (c.req.query('commitment_mode') !== 'standard') return errorText(c, 'only commitment_mode=standard is served', 400)
    const commitment = await store.put(body.bytes)
    return c.body(commitment as Uint8Array<ArrayBuffer>, 200, OCTETS)
  }
  app.post('/put', put)
  app.post('/put/', put)

  app.get('/get/:commitment', async (c) => {
    if (c.req.query('commitment_mode') !== 'standard') return errorText(c, 'only commitment_mode=standard is served', 400)
    const commitment = parseCommitment(c.req.param('commitment'))
    const blob = await store.get(commitment)
    return c.body(blob as Uint8Array<ArrayBuffer>, 200, OCTETS)
  })

  app.notFound((c) => errorText(c, 'not found', 404))
  app.onError((err, c) => {
    if (err instanceof InvalidCommitmentError) return errorText(c, err.shortMessage, 400)
    if (err instanceof BlobNotFoundError) return errorText(c, 'blob not found', 404)
    if (err instanceof BlobTooLargeError) return errorText(c, err.shortMessage, 413)
    return errorText(c, err instanceof BaseError ? err.name : 'internal error', 500)
  })
  return app
}

export type StartDAServerOptions = DAAppOptions & {
  store: DAClient
  /** 0 picks a free port. @defaultValue 3100 (eigenda-proxy's default) */
  port?: number | undefined
  /** @defaultValue '127.0.0.1' */
  host?: string | undefined
}

export type DAServer = {
  /** Base URL for an EigenDAProxyClient, e.g. `http://127.0.0.1:3100`. */
  url: string
  host: string
  port: number
  close(): Promise<void>
}

/** Starts {@link createDAApp} on a port and resolves once it listens. */
export async function startDAServer(options: StartDAServerOptions): Promise<DAServer> {
  const host = options.host ?? '127.0.0.1'
  const app = createDAApp(options.store, options)
  const wanted = options.port ?? 3100
  const server: ServerType = await new Promise((resolve, reject) => {
    // autoCleanupIncoming off: readBody drains what a refused upload still sends, for longer
    // than the adapter's own 500 ms clean-up would (that one cut slow clients off mid-upload)
    const s = serve({ fetch: app.fetch, port: wanted, hostname: host, autoCleanupIncoming: false }, () => resolve(s))
    s.once('error', (cause) => reject(new DAServerListenError({ host, port: wanted, cause })))
  })
  const { port } = server.address() as AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}
