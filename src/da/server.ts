import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { BaseError } from '../errors/base.js'
import { answerWhileDraining, readBody } from '../http/readBody.js'
import { MAX_BLOB_BYTES, MAX_REQUEST_BODY_BYTES } from './blobSize.js'
import type { DAClient } from './client.js'
import {
  OP_GENERIC_COMMITMENT_TYPE,
  decodeCommitment,
  OP_KECCAK_COMMITMENT_TYPE,
  fromGenericCommitment,
  parseCommitment,
  toGenericCommitment,
} from './commitment.js'
import {
  BlobNotFoundError,
  BlobTooLargeError,
  DAServerListenError,
  InvalidCommitmentError,
  KeccakCommitmentMismatchError,
} from './errors.js'
import type { BlobUpload, KeccakDAStore, StreamingDAStore } from './localStore.js'

export type DAAppOptions = {
  /**
   * Largest payload taken. @defaultValue {@link MAX_BLOB_BYTES} (16,252,897 bytes: the most
   * a 16 MiB encoded blob holds, as eigenda-proxy's default `max-blob-length` allows)
   */
  maxBlobBytes?: number | undefined
}

const OCTETS = { 'content-type': 'application/octet-stream' }
/** Longest error text: errors say what is wrong, they never echo a request back at length. */
export const MAX_ERROR_TEXT = 200
/** The text eigenda-proxy's oversize answer starts with (`proxyerrors.ErrProxyOversizedBlob`); clients match it. */
export const OVERSIZED_BLOB_TEXT = 'encoded blob is larger than max blob size'

function errorText(c: Context, text: string, status: 400 | 404 | 500 | 503) {
  return c.text(text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT - 1)}…` : text, status)
}

function hasKeccakIndex(store: DAClient): store is DAClient & KeccakDAStore {
  const s = store as Partial<KeccakDAStore>
  return typeof s.putKeccak === 'function' && typeof s.getKeccak === 'function'
}

function streams(store: DAClient): store is DAClient & StreamingDAStore {
  return typeof (store as Partial<StreamingDAStore>).beginPut === 'function'
}

/**
 * An HTTP app serving a DAClient (normally a LocalDAStore) over the eigenda-proxy API, with
 * the routes the proxy serves (server/routing.go there), so the proxy client, OP Stack's
 * alt-DA client and anything else built for eigenda-proxy can use it:
 *
 *   POST /put?commitment_mode=standard    200 `0xc0 ‖ sha256` (standard commitment)
 *   POST /put (or /put/, any other mode)  200 `0x01 0x00 0xc0 ‖ sha256` (OP generic commitment)
 *   POST /put/0x00<keccak256(body)>       200, empty body (OP keccak256 commitment; the hash is
 *                                         checked: another body is 400)
 *   GET  /get/0x<commitment>?commitment_mode=standard
 *   GET  /get/0x01 00 <version> <cert>    (OP generic)
 *   GET  /get/0x00<keccak256>             (OP keccak256)
 *                                         200 blob · 400 malformed or unsupported commitment
 *                                         type · 404 unknown
 *   GET  /health                          200 · 503 when the store cannot serve
 *
 * Oversize is a 400 as the proxy answers it: a payload whose encoded blob would pass the
 * limit ("encoded blob is larger than max blob size: …", once the body — at most 32 MiB — was
 * read to its end, kept only up to the limit), a body over 32 MiB ("reading at most 33554432
 * bytes from body: http: request body too large", sent as soon as 32 MiB is passed, with or
 * without a Content-Length, with `Connection: close`; what the client still sends is dropped —
 * within bounds — so that it can read the answer, see readBody.ts).
 *
 * Errors are short text/plain messages (at most MAX_ERROR_TEXT characters), as the proxy's
 * are; internals and long input are never echoed.
 */
export function createDAApp(store: DAClient, options: DAAppOptions = {}): Hono {
  const maxBlobBytes = options.maxBlobBytes ?? MAX_BLOB_BYTES
  const bodyLimit = Math.min(maxBlobBytes, MAX_REQUEST_BODY_BYTES)
  const app = new Hono()

  app.get('/health', async (c) => {
    const h = await store.health()
    return c.text(h.ok ? 'ok' : 'unavailable', h.ok ? 200 : 503)
  })

  /**
   * The body, or the answer to send. As eigenda-proxy: a body of at most 32 MiB is read to
   * its end, and over the payload limit answered 400 "encoded blob is larger than max blob
   * size" (the connection stays usable); a larger one is answered 400 as the proxy's
   * MaxBytesReader answers it, at once and with `Connection: close`, while the rest is drained
   * so the client can read the answer.
   */
  const body = async (c: Context, sink?: (chunk: Uint8Array) => void): Promise<Uint8Array | Response> => {
    const read = await readBody(c, bodyLimit, { readOnTo: MAX_REQUEST_BODY_BYTES, sink })
    if (read.ok) return read.bytes
    if (read.reason === 'incomplete') return errorText(c, 'the request body did not arrive in full', 400)
    if (read.size !== undefined) {
      return errorText(c, `${OVERSIZED_BLOB_TEXT}: blob length ${read.size}, max payload ${maxBlobBytes} bytes`, 400)
    }
    const text = `reading at most ${MAX_REQUEST_BODY_BYTES} bytes from body: http: request body too large`
    return answerWhileDraining(c, 400, text, read.drained, undefined, { connection: 'close' })
  }

  /**
   * A store that streams (LocalDAStore) gets the body chunk by chunk as it arrives: hashed and
   * written at once, never gathered in memory; an oversize or broken body is dropped from disk.
   */
  const putBody = async (c: Context): Promise<Uint8Array | Response> => {
    if (!streams(store)) {
      const bytes = await body(c)
      return bytes instanceof Response ? bytes : store.put(bytes)
    }
    const upload: BlobUpload = await store.beginPut()
    // a store whose own limit is lower refuses a chunk: the body is still read to its end, so
    // the answer (a 400, from onError) reaches the client on a connection that stays usable
    let refused: { error: unknown } | undefined
    const write = (chunk: Uint8Array) => {
      if (refused) return
      try {
        upload.write(chunk)
      } catch (error) {
        refused = { error }
      }
    }
    let answer: Uint8Array | Response
    try {
      answer = await body(c, write)
    } catch (err) {
      await upload.abort()
      throw err
    }
    if (answer instanceof Response || refused) {
      await upload.abort()
      if (refused) throw refused.error
      return answer
    }
    return upload.finish()
  }

  const put = async (c: Context) => {
    const commitment = await putBody(c)
    if (commitment instanceof Response) return commitment
    const answer = c.req.query('commitment_mode') === 'standard' ? commitment : toGenericCommitment(commitment)
    return c.body(answer as Uint8Array<ArrayBuffer>, 200, OCTETS)
  }
  app.post('/put', put)
  app.post('/put/', put)

  app.post('/put/:commitment', async (c) => {
    const bytes = await body(c)
    if (bytes instanceof Response) return bytes
    const commitment = decodeCommitment(c.req.param('commitment'))
    if (commitment[0] !== OP_KECCAK_COMMITMENT_TYPE) {
      return errorText(c, `unsupported commitment type ${hex2(commitment[0])}: only keccak256 commitments (0x00) are put by commitment`, 400)
    }
    if (!hasKeccakIndex(store)) return errorText(c, 'this store keeps no keccak256 index', 500)
    await store.putKeccak(parseCommitment(commitment, 'optimism_keccak256'), bytes)
    // as the proxy: 200 with nothing in it (the client knows its commitment)
    return c.body(new Uint8Array(0), 200, { 'content-length': '0' })
  })

  app.get('/get/:commitment', async (c) => {
    const param = c.req.param('commitment')
    let blob: Uint8Array
    if (c.req.query('commitment_mode') === 'standard') {
      blob = await store.get(parseCommitment(param))
    } else {
      const commitment = decodeCommitment(param)
      if (commitment[0] === OP_KECCAK_COMMITMENT_TYPE) {
        if (!hasKeccakIndex(store)) return errorText(c, 'this store keeps no keccak256 index', 500)
        blob = await store.getKeccak(parseCommitment(commitment, 'optimism_keccak256'))
      } else if (commitment[0] === OP_GENERIC_COMMITMENT_TYPE) {
        blob = await store.get(fromGenericCommitment(commitment))
      } else {
        return errorText(c, `unsupported commitment type ${hex2(commitment[0])}`, 400)
      }
    }
    return c.body(blob as Uint8Array<ArrayBuffer>, 200, OCTETS)
  })

  app.notFound((c) => errorText(c, 'not found', 404))
  app.onError((err, c) => {
    if (err instanceof InvalidCommitmentError) return errorText(c, err.shortMessage, 400)
    if (err instanceof KeccakCommitmentMismatchError) return errorText(c, err.shortMessage, 400)
    if (err instanceof BlobNotFoundError) return errorText(c, 'blob not found', 404)
    if (err instanceof BlobTooLargeError) return errorText(c, `${OVERSIZED_BLOB_TEXT}: ${err.shortMessage}`, 400)
    return errorText(c, err instanceof BaseError ? err.name : 'internal error', 500)
  })
  return app
}

function hex2(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0')
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
