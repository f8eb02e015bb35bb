import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MAX_BLOB_BYTES } from './client.js'
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
import { bytesOf, sameBytes, snapshotDir } from './_helpers.js'

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
  test('put and get round-trip blobs up to 16 MiB', async () => {
    for (const size of [0, 1, 100_000, MAX_BLOB_BYTES]) {
      const blob = bytesOf(size, size + 1)
      const c = await client.put(blob)
      expect(c).toEqual(localCommitment(blob))
      expect(sameBytes(await client.get(c), blob)).toBe(true)
      expect(sameBytes(await store.get(c), blob)).toBe(true)
    }
    expect(await client.health()).toMatchObject({ ok: true })
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

  test('statuses: 413 too large, 404 unknown, 400 malformed or wrong mode', async () => {
    const big = new Uint8Array(MAX_BLOB_BYTES + 1)
    const raw = await fetch(`${server.url}/put?commitment_mode=standard`, { method: 'POST', body: big as Uint8Array<ArrayBuffer> })
    expect(raw.status).toBe(413)
    // without a Content-Length (chunked), the limit holds while streaming: the server answers
    // 413 once it has seen too much, without waiting for (or storing) the rest
    const chunkedStatus = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/put?commitment_mode=standard`, { method: 'POST' }, (res) => {
        resolve(res.statusCode ?? 0)
        res.resume()
        req.destroy()
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
    expect(chunkedStatus).toBe(413)
    const unknown = commitmentToHex(localCommitment(bytesOf(5, 5)))
    expect((await fetch(`${server.url}/get/${unknown}?commitment_mode=standard`)).status).toBe(404)
    for (const bad of ['0xzz', '0xc01', `0xc0${'11'.repeat(31)}`, '0x']) {
      expect((await fetch(`${server.url}/get/${bad}?commitment_mode=standard`)).status).toBe(400)
    }
    expect((await fetch(`${server.url}/get/${unknown}`)).status).toBe(400)
    expect((await fetch(`${server.url}/put?commitment_mode=optimism_generic`, { method: 'POST', body: 'x' })).status).toBe(400)
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
    const path = store.pathOf(c)
    const good = await readFile(path)
    const bad = Buffer.from(good)
    bad[100] ^= 1
    await writeFile(path, bad)
    const err = await caught(client.get(c))
    // the server refuses to serve it (500), so the client retries and reports the store unavailable
    expect(err).toBeInstanceOf(DAUnavailableError)
    expect((err as DAUnavailableError).status).toBe(500)
    await writeFile(path, good)
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
