import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { commitmentToHex, keccakCommitment, localCommitment, toGenericCommitment } from './commitment.js'
import { EigenDAProxyClient } from './eigendaProxyClient.js'
import {
  BlobCorruptedError,
  BlobNotFoundError,
  BlobTooLargeError,
  DARequestRejectedError,
  DAResponseError,
  DAUnavailableError,
  InvalidCommitmentError,
} from './errors.js'
import { bytesOf, deadUrl, realisticCert } from './_helpers.js'

// A hostile or broken "proxy": each test sets how it answers.
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void
let handler: Handler
let requests: { method: string; url: string; bytes: number }[]
let server: Server
let url: string

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      requests.push({ method: req.method ?? '', url: req.url ?? '', bytes: body.length })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})
beforeEach(() => {
  requests = []
})

const blob = bytesOf(1000, 3)
const good = localCommitment(blob)
const client = (extra: Partial<ConstructorParameters<typeof EigenDAProxyClient>[0]> = {}) =>
  new EigenDAProxyClient({ url, retries: 2, backoffMs: 1, getTimeoutMs: 2_000, putTimeoutMs: 2_000, ...extra })
const reply =
  (status: number, body: Uint8Array | string = '', headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, headers)
    res.end(body)
  }

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected an error')
    },
    (e: unknown) => e,
  )
}

describe('requests', () => {
  test('put posts the raw blob to /put?commitment_mode=standard; get asks /get/0x<hex>?commitment_mode=standard', async () => {
    handler = (req, res, body) => {
      if (req.method === 'POST') {
        expect(req.headers['content-type']).toBe('application/octet-stream')
        res.end(localCommitment(body))
      } else res.end(blob)
    }
    expect(await client().put(blob)).toEqual(good)
    expect(await client().get(good)).toEqual(blob)
    expect(requests).toEqual([
      { method: 'POST', url: '/put?commitment_mode=standard', bytes: 1000 },
      { method: 'GET', url: `/get/${commitmentToHex(good)}?commitment_mode=standard`, bytes: 0 },
    ])
  })

  test('other commitment formats pass through untouched (an EigenDA cert is opaque to the client)', async () => {
    const cert = new Uint8Array([0x01, ...bytesOf(300, 8)])
    handler = (req, res) => res.end(req.method === 'POST' ? cert : blob)
    expect(await client().put(blob)).toEqual(cert)
    expect(await client().get(cert)).toEqual(blob)
  })

  test('real proxy certificates (V1, V2, V3) pass through in standard and generic modes', async () => {
    for (const version of [0, 1, 2] as const) {
      const cert = realisticCert(version, version + 10)
      handler = (req, res) => res.end(req.method === 'POST' ? cert : blob)
      expect(await client().put(blob)).toEqual(cert)
      expect(await client().get(cert)).toEqual(blob)
      const generic = toGenericCommitment(cert)
      handler = (req, res) => res.end(req.method === 'POST' ? generic : blob)
      expect(await client({ commitmentMode: 'optimism_generic' }).put(blob)).toEqual(generic)
      expect(await client({ commitmentMode: 'optimism_generic' }).get(generic)).toEqual(blob)
    }
    expect(requests.at(-1)?.url).toBe(`/get/${commitmentToHex(toGenericCommitment(realisticCert(2, 12)))}`)
  })

  test('optimism_generic: POST /put and GET /get/0x<commitment> without a commitment_mode; the local form is checked', async () => {
    const generic = toGenericCommitment(good)
    handler = (req, res, body) => res.end(req.method === 'POST' ? toGenericCommitment(localCommitment(body)) : blob)
    const c = client({ commitmentMode: 'optimism_generic' })
    expect(await c.put(blob)).toEqual(generic)
    expect(await c.get(generic)).toEqual(blob)
    expect(requests).toEqual([
      { method: 'POST', url: '/put', bytes: 1000 },
      { method: 'GET', url: `/get/${commitmentToHex(generic)}`, bytes: 0 },
    ])
    // a standard commitment where a generic one was asked for, or one of other bytes, is refused
    handler = reply(200, good)
    expect(await caught(c.put(blob))).toBeInstanceOf(DAResponseError)
    handler = reply(200, toGenericCommitment(localCommitment(bytesOf(5, 5))))
    expect(await caught(c.put(blob))).toBeInstanceOf(DAResponseError)
    handler = reply(200, bytesOf(1000, 4))
    expect(await caught(c.get(generic))).toBeInstanceOf(BlobCorruptedError)
    expect(await caught(c.get(good))).toBeInstanceOf(InvalidCommitmentError)
  })

  test('optimism_keccak256: POST /put/0x00<keccak256> (200, empty) and GET /get/0x00<keccak256>; the hash is checked', async () => {
    const k = keccakCommitment(blob)
    handler = (req, res) => res.end(req.method === 'POST' ? '' : blob)
    const c = client({ commitmentMode: 'optimism_keccak256' })
    expect(await c.put(blob)).toEqual(k)
    expect(await c.get(k)).toEqual(blob)
    expect(requests).toEqual([
      { method: 'POST', url: `/put/${commitmentToHex(k)}`, bytes: 1000 },
      { method: 'GET', url: `/get/${commitmentToHex(k)}`, bytes: 0 },
    ])
    handler = reply(200, bytesOf(1000, 4))
    const err = await caught(c.get(k))
    expect(err).toBeInstanceOf(BlobCorruptedError)
    expect((err as Error).message).toMatch(/keccak256 does not match/)
    handler = reply(400, 'key!=keccak(value): key=00 keccak(value)=0x11')
    expect(await caught(c.put(blob))).toBeInstanceOf(DARequestRejectedError)
  })

  test('bad commitmentMode is refused up front', () => {
    expect(() => client({ commitmentMode: 'simple' as never })).toThrow(/commitmentMode must be one of standard, optimism_generic, optimism_keccak256/)
  })

  test('Go-sniffed text/plain and a missing content type are accepted', async () => {
    handler = reply(200, blob, { 'content-type': 'text/plain; charset=utf-8' })
    expect(await client().get(good)).toEqual(blob)
    handler = (_req, res) => {
      res.removeHeader('content-type')
      res.end(blob)
    }
    expect(await client().get(good)).toEqual(blob)
  })
})

describe('a hostile server cannot crash or mislead the client', () => {
  const cases: [string, Handler, 'put' | 'get', new (...a: never[]) => BaseError][] = [
    ['HTML instead of a commitment', reply(200, '<html>hi</html>', { 'content-type': 'text/html' }), 'put', DAResponseError],
    ['an empty commitment', reply(200, ''), 'put', DAResponseError],
    ['a 9 KiB commitment', reply(200, new Uint8Array(9 * 1024).fill(1)), 'put', DAResponseError],
    ['a local commitment of other bytes', reply(200, localCommitment(bytesOf(5, 5))), 'put', DAResponseError],
    ['a malformed local commitment', reply(200, new Uint8Array([0xc0, 1, 2])), 'put', DAResponseError],
    ['a redirect', reply(302, '', { location: 'http://example.invalid/' }), 'get', DAResponseError],
    ['204 No Content', reply(204), 'put', DAResponseError],
    ['a blob that does not match its local commitment', reply(200, bytesOf(1000, 4)), 'get', BlobCorruptedError],
    ['a JSON error page', reply(200, '{"error":1}', { 'content-type': 'application/json' }), 'get', DAResponseError],
    ['a declared 20 MiB body', (_q, res) => {
      res.writeHead(200, { 'content-length': String(20 * 1024 * 1024) })
      res.write(new Uint8Array(1024))
    }, 'get', DAResponseError],
    ['an endless chunked body', (_q, res) => {
      res.writeHead(200)
      const chunk = new Uint8Array(1 << 20)
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', pump)
      }
      pump()
    }, 'get', DAResponseError],
    ['404', reply(404, 'not found'), 'get', BlobNotFoundError],
    ['400 on get', reply(400, 'bad commitment'), 'get', InvalidCommitmentError],
    ['418 on get (invalid certificate)', reply(418, 'cert invalid'), 'get', InvalidCommitmentError],
    ['400 on put', reply(400, 'bad \u0000 request'), 'put', DARequestRejectedError],
    // eigenda-proxy's oversize answers (Go's http.Error: text/plain, a trailing newline)
    ['400 encoded blob too large', reply(400, 'post request failed: encoded blob is larger than max blob size: blob length 16252898, max blob size 16777216\n', { 'content-type': 'text/plain; charset=utf-8' }), 'put', BlobTooLargeError],
    ['400 body too large', reply(400, 'reading at most 33554432 bytes from body: http: request body too large\n'), 'put', BlobTooLargeError],
    ['413 from an older server', reply(413, 'blob larger than 16777216 bytes'), 'put', BlobTooLargeError],
    ['an unexpected 401', reply(401, 'who are you'), 'get', DAResponseError],
  ]
  test.each(cases)('%s', async (_name, h, op, type) => {
    handler = h
    const err = await caught(op === 'put' ? client().put(blob) : client().get(good))
    expect(err).toBeInstanceOf(type)
  })

  test('a blob over the limit is refused while streaming, not after buffering it all', async () => {
    handler = cases.find(([n]) => n === 'an endless chunked body')![1]
    // reads take at least 16 MiB: blobs put before the limit moved to the encoded blob
    const err = await caught(client({ maxBlobBytes: 4 * 1024 * 1024 }).get(good))
    expect(err).toBeInstanceOf(DAResponseError)
    expect((err as Error).message).toMatch(/more than 16777216 bytes/)
    const larger = await caught(client({ maxBlobBytes: 20 * 1024 * 1024 }).get(good))
    expect((larger as Error).message).toMatch(/more than 20971520 bytes/)
  })

  test('error bodies are cut short and stripped of control characters', async () => {
    handler = reply(400, `${'\u001b[31m'}${'x'.repeat(5000)}`)
    const err = (await caught(client().put(blob))) as DARequestRejectedError
    expect(err.shortMessage.length).toBeLessThan(400)
    expect(err.shortMessage).not.toMatch(/\u001b/)
  })
})

describe('availability', () => {
  test('503 is retried with backoff, then DAUnavailableError (the failover signal)', async () => {
    handler = reply(503, 'eigenda is down')
    const err = (await caught(client({ retries: 3 }).put(blob))) as DAUnavailableError
    expect(err).toBeInstanceOf(DAUnavailableError)
    expect(err.status).toBe(503)
    expect(err.attempts).toBe(4)
    expect(requests).toHaveLength(4)
    expect(err.shortMessage).toMatch(/eigenda is down/)
  })

  test('a transient 503 or 429 is ridden out', async () => {
    let n = 0
    handler = (req, res, body) => {
      n++
      if (n === 1) return reply(503)(req, res, body)
      if (n === 2) return reply(429)(req, res, body)
      res.end(localCommitment(body))
    }
    expect(await client().put(blob)).toEqual(good)
    expect(requests).toHaveLength(3)
  })

  test('a server that never answers times out', async () => {
    handler = () => {}
    const err = (await caught(client({ retries: 1, getTimeoutMs: 150 }).get(good))) as DAUnavailableError
    expect(err).toBeInstanceOf(DAUnavailableError)
    expect(err.shortMessage).toMatch(/no answer within 150 ms/)
  })

  test('a connection cut mid-body is retried, then unavailable', async () => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-length': '1000' })
      res.write(new Uint8Array(10))
      setTimeout(() => res.socket?.destroy(), 5)
    }
    expect(await caught(client({ retries: 1 }).get(good))).toBeInstanceOf(DAUnavailableError)
    expect(requests).toHaveLength(2)
  })

  test('nobody listening: DAUnavailableError; health says why without throwing', async () => {
    const dead = new EigenDAProxyClient({ url: await deadUrl(), retries: 1, backoffMs: 1 })
    const err = (await caught(dead.get(good))) as DAUnavailableError
    expect(err).toBeInstanceOf(DAUnavailableError)
    expect(err.message.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:<port>')).toMatchInlineSnapshot(`
      "DA at http://127.0.0.1:<port>/get/0xc0ca0fc1e1f87b2e1edc813cf6f63e1165fe57d3517f27d9ced1f306f429a5f63e?commitment_mode=standard is unavailable after 2 attempts: fetch failed (ECONNREFUSED).

      eigenda-proxy answers 503 when EigenDA cannot take blobs right now: fail over to another DA client
      (FailoverDAClient) or retry later. Check the URL and that the server runs (\`covenant da serve\`).

      Details: fetch failed
      Docs: src/da/README.md#eigendaproxyclient"
    `)
    expect(await dead.health()).toMatchObject({ ok: false })
    handler = reply(503)
    expect(await client().health()).toMatchObject({ ok: false })
    handler = reply(200, 'ok')
    expect(await client().health()).toMatchObject({ ok: true })
  })

  test('bad options are refused up front', () => {
    expect(() => new EigenDAProxyClient({ url: 'not a url' })).toThrow(DARequestRejectedError)
    expect(() => new EigenDAProxyClient({ url: 'ftp://x' })).toThrow(DARequestRejectedError)
    expect(() => new EigenDAProxyClient({ url, retries: -1 })).toThrow(/retries must be a non-negative integer/)
  })
})
