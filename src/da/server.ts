import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { BaseError } from '../errors/base.js'
import { type DAClient, MAX_BLOB_BYTES } from './client.js'
import { parseCommitment } from './commitment.js'
import { BlobNotFoundError, BlobTooLargeError, DAServerListenError, InvalidCommitmentError } from './errors.js'

export type DAAppOptions = {
  /** @defaultValue {@link MAX_BLOB_BYTES} (16 MiB); larger bodies get 413. */
  maxBlobBytes?: number | undefined
}

const OCTETS = { 'content-type': 'application/octet-stream' }

/**
 * An HTTP app serving a DAClient (normally a LocalDAStore) over the eigenda-proxy API in
 * standard commitment mode, so the proxy client — and anything else that speaks to
 * eigenda-proxy — can use it:
 *
 *   POST /put?commitment_mode=standard    200 commitment bytes · 400 wrong mode · 413 too large
 *   GET  /get/0x<hex>?commitment_mode=standard
 *                                         200 blob · 400 malformed commitment · 404 unknown
 *   GET  /health                          200 · 503 when the store cannot serve
 *
 * Errors are short text/plain messages, as the proxy's are; internals are never echoed.
 */
export function createDAApp(store: DAClient, options: DAAppOptions = {}): Hono {
  const maxBlobBytes = options.maxBlobBytes ?? MAX_BLOB_BYTES
  const app = new Hono()

  app.get('/health', async (c) => {
    const h = await store.health()
    return c.text(h.ok ? 'ok' : 'unavailable', h.ok ? 200 : 503)
  })

  const put = [
    bodyLimit({
      maxSize: maxBlobBytes,
      onError: (c) => c.text(`blob larger than ${maxBlobBytes} bytes`, 413),
    }),
    async (c: import('hono').Context) => {
      if (c.req.query('commitment_mode') !== 'standard') {
        return c.text('only commitment_mode=standard is served', 400)
      }
      const blob = new Uint8Array(await c.req.arrayBuffer())
      const commitment = await store.put(blob)
      return c.body(commitment as Uint8Array<ArrayBuffer>, 200, OCTETS)
    },
  ] as const
  app.post('/put', ...put)
  app.post('/put/', ...put)

  app.get('/get/:commitment', async (c) => {
    if (c.req.query('commitment_mode') !== 'standard') {
      return c.text('only commitment_mode=standard is served', 400)
    }
    const commitment = parseCommitment(c.req.param('commitment'))
    const blob = await store.get(commitment)
    return c.body(blob as Uint8Array<ArrayBuffer>, 200, OCTETS)
  })

  app.notFound((c) => c.text('not found', 404))
  app.onError((err, c) => {
    if (err instanceof InvalidCommitmentError) return c.text(err.shortMessage, 400)
    if (err instanceof BlobNotFoundError) return c.text('blob not found', 404)
    if (err instanceof BlobTooLargeError) return c.text(err.shortMessage, 413)
    return c.text(err instanceof BaseError ? err.name : 'internal error', 500)
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
    const s = serve({ fetch: app.fetch, port: wanted, hostname: host }, () => resolve(s))
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
