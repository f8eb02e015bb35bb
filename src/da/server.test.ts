import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MAX_BLOB_BYTES } from './blobSize.js'
import { commitmentToHex, localCommitment } from './commitment.js'
import { EigenDAProxyClient } from './eigendaProxyClient.js'
import {
  BlobNotFoundError,
  BlobTooLargeError,
  DAServerListenError,
  DAUnavailableError,
  InvalidCommitmentError,
} from './errors.js'
import { LocalDAStore } from './localStore.js'
import { type DAServer, startDAServer } from './server.js'
import { bytesOf, sameBytes, snapshotDir, storedCopy } from './_helpers.js'

// The proxy client against `covenant da serve`'s server on a real port.
let dir: string
let store: LocalDAStore
let server: DAServer
let client: EigenDAProxyClient

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-http-'))
  store = new LocalDAStore({ dir })
  server = await startDAServer({ store, port: 0 })
  client = new EigenDAProxyClient({ url: server.url, retries: 1, backoffMs: 1 })
})
afterAll(async () => {
  await server.close()
  await store.close() // the server leaves its store to its owner
  await rm(dir, { recursive: true, force: true })
})

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected an error')
    },
    (e: unknown) => e,
  )
}

describe('EigenDAProxyClient ⇄ covenant da server', () => {
  test('put and get round-trip blobs up to what a 16 MiB EigenDA blob holds', async () => {
    for (const size of [0, 1, 100_000, MAX_BLOB_BYTES]) {
      const blob = bytesOf(size, size + 1)
      const c = await client.put(blob)
      expect(c).toEqual(localCommitment(blob))
      expect(sameBytes(await client.get(c), blob)).toBe(true)
      expect(sameBytes(await store.get(c), blob)).toBe(true)
    }
    expect(await client.health()).toMatchObject({ ok: true })
  })

  test('12 concurrent streamed puts (4 of them one blob): every one answered, each blob stored once, all read back by a fresh store', async () => {
    const blobs = Array.from({ length: 9 }, (_, i) => bytesOf(200_000 + i * 70_001, 900 + i))
    const puts = [...blobs, blobs[0]!, blobs[0]!, blobs[0]!]
    const segs = async () => {
      const names = await readdir(join(dir, 'segments'))
      return { count: names.length, bytes: (await Promise.all(names.map(async (n) => (await stat(join(dir, 'segments', n))).size))).reduce((a, b) => a + b, 0) }
    }
    const before = await segs()
    const cs = await Promise.all(puts.map((b) => client.put(b)))
    const after = await segs()
    // one record (80-byte header and body) per distinct blob, 8 bytes of magic per new segment
    expect(after.bytes - before.bytes - 8 * (after.count - before.count)).toBe(blobs.reduce((a, b) => a + 80 + b.length, 0))
    for (const [i, c] of cs.entries()) expect(c).toEqual(localCommitment(puts[i]!))
    const fresh = new LocalDAStore({ dir })
    try {
      for (const b of blobs) expect(sameBytes(await fresh.get(localCommitment(b)), b)).toBe(true)
      const where = await Promise.all(blobs.map((b) => fresh.locate(localCommitment(b))))
      expect(new Set(where.map((w) => `${w!.path}@${w!.offset}`)).size).toBe(blobs.length)
    } finally {
      await fresh.close()
    }
  })

  test('the wire format is the eigenda-proxy one', async () => {
    const blob = bytesOf(77)
    const put = await fetch(`${server.url}/put?commitment_mode=standard`, { method: 'POST', body: blob as Uint8Array<ArrayBuffer> })
    expect(put.status).toBe(200)
    expect(put.headers.get('content-type')).toBe('application/octet-stream')
    const commitment = new Uint8Array(await put.arrayBuffer())
    expect(commitment).toEqual(localCommitment(blob))
    const get = await fetch(`${server.url}/get/${commitmentToHex(commitment)}?commitment_mode=standard`)
    expect(get.status).toBe(200)
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(blob)
    expect((await fetch(`${server.url}/put/?commitment_mode=standard`, { method: 'POST', body: blob as Uint8Array<ArrayBuffer> })).status).toBe(200)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  })

  test('statuses: 400 too large (as the proxy answers it), 404 unknown, 400 malformed', async () => {
    const big = new Uint8Array(MAX_BLOB_BYTES + 1)
    const raw = await fetch(`${server.url}/put?commitment_mode=standard`, { method: 'POST', body: big as Uint8Array<ArrayBuffer> })
    expect(raw.status).toBe(400)
    expect(await raw.text()).toBe(
      `encoded blob is larger than max blob size: blob length ${MAX_BLOB_BYTES + 1}, max payload ${MAX_BLOB_BYTES} bytes`,
    )
    // without a Content-Length (chunked), the limit holds while streaming: past it the server
    // keeps nothing more, reads the body to its end (it is under 32 MiB) and answers 400
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/put?commitment_mode=standard`, { method: 'POST' }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body })
          req.destroy()
        })
      })
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)))
      const chunk = new Uint8Array(1 << 20)
      let sent = 0
      const pump = () => {
        while (sent <= MAX_BLOB_BYTES + (1 << 20) && !req.destroyed) {
          sent += chunk.length
          if (!req.write(chunk)) return req.once('drain', pump)
        }
        if (!req.destroyed) req.end()
      }
      pump()
    })
    expect(chunked).toEqual({
      status: 400,
      body: `encoded blob is larger than max blob size: blob length ${17 * (1 << 20)}, max payload ${MAX_BLOB_BYTES} bytes`,
    })
    const unknown = commitmentToHex(localCommitment(bytesOf(5, 5)))
    expect((await fetch(`${server.url}/get/${unknown}?commitment_mode=standard`)).status).toBe(404)
    for (const bad of ['0xzz', '0xc01', `0xc0${'11'.repeat(31)}`, '0x']) {
      expect((await fetch(`${server.url}/get/${bad}?commitment_mode=standard`)).status).toBe(400)
    }
    // without commitment_mode=standard, the first byte is an OP commitment type: 0xc0 is none
    const opGet = await fetch(`${server.url}/get/${unknown}`)
    expect([opGet.status, await opGet.text()]).toEqual([400, 'unsupported commitment type c0'])
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404)
  })

  test('the client maps them to typed errors', async () => {
    const small = await startDAServer({ store, port: 0, maxBlobBytes: 1024 })
    try {
      const c = new EigenDAProxyClient({ url: small.url, retries: 0 })
      expect(await caught(c.put(new Uint8Array(2048)))).toBeInstanceOf(BlobTooLargeError)
    } finally {
      await small.close()
    }
    expect(await caught(client.put(new Uint8Array(MAX_BLOB_BYTES + 1)))).toBeInstanceOf(BlobTooLargeError)
    expect(await caught(client.get(localCommitment(bytesOf(9, 9))))).toBeInstanceOf(BlobNotFoundError)
    expect(await caught(client.get(`0x01${'ab'.repeat(40)}`))).toBeInstanceOf(InvalidCommitmentError)
    expect(await caught(client.get('0xc0'))).toBeInstanceOf(InvalidCommitmentError)
  })

  test('a blob damaged on the server is never returned', async () => {
    const blob = bytesOf(4096, 44)
    const c = await client.put(blob)
    const copy = await storedCopy(store, c)
    const good = copy.bytes
    const bad = Buffer.from(good)
    bad[100]! ^= 1
    await copy.overwrite(bad)
    const err = await caught(client.get(c))
    // the server refuses to serve it (500), so the client retries and reports the store unavailable
    expect(err).toBeInstanceOf(DAUnavailableError)
    expect((err as DAUnavailableError).status).toBe(500)
    await copy.overwrite(good)
    expect(await client.get(c)).toEqual(blob)
  })

  test('1,000 generated bad commitments over HTTP: only 400, 404 or 431, the store unchanged, the server healthy', async () => {
    const before = await snapshotDir(dir)
    const segment = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => `0x${Buffer.from(b).toString('hex')}`),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `0xc0${Buffer.from(h).toString('hex')}`),
      fc.constantFrom('..', '%2e%2e%2f', '0xc0%00', `0x${'0'.repeat(20_000)}`),
    )
    await fc.assert(
      fc.asyncProperty(segment, async (s) => {
        const res = await fetch(`${server.url}/get/${encodeURIComponent(s)}?commitment_mode=standard`)
        await res.arrayBuffer()
        // 431: Node's HTTP parser refuses a request line over 16 KiB before the app sees it
        expect([400, 404, 431]).toContain(res.status)
        try {
          await client.get(s as `0x${string}`)
        } catch (err) {
          expect(err).toBeInstanceOf(BaseError)
        }
      }),
      { numRuns: 1000 },
    )
    expect(await snapshotDir(dir)).toBe(before)
    expect(await client.health()).toMatchObject({ ok: true })
  })

  test('a taken port is a clear error', async () => {
    const err = await caught(startDAServer({ store, port: server.port }))
    expect(err).toBeInstanceOf(DAServerListenError)
  })
})

/**
 * Uploads over the limit without a Content-Length (chunked). As eigenda-proxy, the server
 * reads a body of up to 32 MiB to its end (keeping nothing past the limit) and answers 400;
 * past 32 MiB it answers 400 at once, with `Connection: close`, and drops what the client
 * still sends (within bounds) before it closes, so the client reads the answer — whether it
 * reads while sending or only after.
 */
describe('an oversize chunked upload gets a 400 the client can read', () => {
  const tooLarge = (n: number) => `encoded blob is larger than max blob size: blob length ${n}, max payload 4096 bytes`
  const BODY_TOO_LARGE = 'reading at most 33554432 bytes from body: http: request body too large'
  const LIMIT = 4096
  let small: DAServer
  let before: string
  beforeAll(async () => {
    small = await startDAServer({ store, port: 0, maxBlobBytes: LIMIT })
    before = await snapshotDir(dir)
  })
  afterAll(async () => {
    await small.close()
  })

  /**
   * A node:http chunked upload of `total` bytes in `chunk`-byte writes, `pauseMs` apart (or
   * all at once: node's request emits no 'drain' once its response has ended, so waiting
   * for one would stall the client, not the server). Settles once the answer was read and the
   * request finished sending or was closed (node stops sending once a `Connection: close`
   * answer has ended).
   */
  function upload(o: { total: number; chunk: number; pauseMs?: number; agent: Agent | false }) {
    return new Promise<{ status: number; body: string; connection?: string | undefined; sent: number; finished: boolean; error: string | undefined }>((resolve) => {
      let sent = 0
      let finished = false
      let closed = false
      let response: { status: number; body: string; connection: string | undefined } | undefined
      let error: string | undefined
      const done = () => response && (finished || closed || error) && resolve({ ...response, sent, finished, error })
      const req = request(`${small.url}/put?commitment_mode=standard`, { method: 'POST', agent: o.agent }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => {
          response = { status: res.statusCode ?? 0, body, connection: res.headers.connection }
          done()
        })
      })
      req.on('error', (e) => {
        error = e.message
        if (!response) resolve({ status: 0, body: '', sent, finished, error })
        else done()
      })
      req.on('finish', () => {
        finished = true
        done()
      })
      req.on('close', () => {
        closed = true
        done()
      })
      const bytes = new Uint8Array(o.chunk).fill(7)
      const pump = () => {
        while (sent < o.total && !req.destroyed) {
          sent += bytes.length
          req.write(bytes)
          if (o.pauseMs) return setTimeout(pump, o.pauseMs)
        }
        if (!req.destroyed) req.end()
      }
      pump()
    })
  }

  test('node:http, chunked, 1,000 × the limit: 400 with the proxy\'s text, the whole body sent without a reset, nothing stored', async () => {
    const agent = new Agent({ keepAlive: true })
    try {
      const r = await upload({ total: LIMIT * 1000, chunk: 16 * 1024, agent })
      expect(r).toMatchObject({ status: 400, body: tooLarge(LIMIT * 1000), finished: true, error: undefined })
      expect(r.sent).toBe(LIMIT * 1000)
    } finally {
      agent.destroy()
    }
    const once = await upload({ total: LIMIT * 1000, chunk: 16 * 1024, agent: false })
    expect(once).toMatchObject({ status: 400, body: tooLarge(LIMIT * 1000), error: undefined })
    expect(await snapshotDir(dir)).toBe(before)
  })

  test('a keep-alive connection that carried a refused upload serves the next request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      for (let i = 0; i < 5; i++) {
        const r = await upload({ total: LIMIT * 64, chunk: 8 * 1024, agent })
        expect(r, `upload ${i}`).toMatchObject({ status: 400, body: tooLarge(LIMIT * 64), finished: true, error: undefined })
      }
      const ok = await upload({ total: 1024, chunk: 1024, agent })
      expect(ok).toMatchObject({ status: 200, finished: true, error: undefined })
    } finally {
      agent.destroy()
    }
  })

  test('over 32 MiB: 400 at once with Connection: close, the rest drained, no reset, nothing stored', async () => {
    const before = await snapshotDir(dir)
    const agent = new Agent({ keepAlive: true })
    try {
      const r = await upload({ total: 40 * 1024 * 1024, chunk: 256 * 1024, agent })
      expect(r).toMatchObject({ status: 400, body: BODY_TOO_LARGE, error: undefined })
      expect(r.connection).toBe('close')
    } finally {
      agent.destroy()
    }
    expect(await snapshotDir(dir)).toBe(before)
  })

  test('a slow client (over a second of sending past the limit) is not cut off', async () => {
    const agent = new Agent({ keepAlive: true })
    try {
      const r = await upload({ total: 64 * 1024 * 24, chunk: 64 * 1024, pauseMs: 60, agent })
      expect(r).toMatchObject({ status: 400, body: tooLarge(64 * 1024 * 24), finished: true, error: undefined })
    } finally {
      agent.destroy()
    }
  })

  test('a client that reads only after sending everything (as Python http.client does) reads the 400', async () => {
    // 48 MiB, more than the kernel's socket buffers hold: the server must keep reading to let it finish
    const total = 48 * 1024 * 1024
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(small.port, '127.0.0.1')
      const chunk = Buffer.alloc(256 * 1024, 1)
      const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
      let sent = 0
      let received = ''
      socket.on('error', (e) => reject(new Error(`after ${sent} bytes sent: ${e.message}`)))
      socket.on('connect', () => {
        socket.write(`POST /put?commitment_mode=standard HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`)
        const pump = () => {
          while (sent < total) {
            sent += chunk.length
            if (!socket.write(frame)) return socket.once('drain', pump)
          }
          socket.write('0\r\n\r\n', () => {
            // only now start reading, as a write-then-read client does
            socket.on('data', (d: Buffer) => (received += d.toString('latin1')))
            socket.on('end', () => resolve(received))
            socket.resume()
          })
        }
        socket.pause()
        pump()
      })
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toMatch(/\r\nconnection: close\r\n/i)
    expect(answer.endsWith(BODY_TOO_LARGE)).toBe(true)
  })
})
