import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { keccak256 } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { MAX_BLOB_BYTES, MAX_REQUEST_BODY_BYTES } from './blobSize.js'
import { commitmentToHex, keccakCommitment, localCommitment, toGenericCommitment } from './commitment.js'
import { EigenDAProxyClient } from './eigendaProxyClient.js'
import { BlobNotFoundError, BlobTooLargeError, DAUnavailableError, InvalidCommitmentError } from './errors.js'
import { LocalDAStore } from './localStore.js'
import { type DAServer, startDAServer } from './server.js'
import { bytesOf, realisticCert, sameBytes, snapshotDir, storedCopy } from './_helpers.js'

// The OP alt-DA routes of `covenant da serve`, as eigenda-proxy serves them, over a real port.
let dir: string
let store: LocalDAStore
let server: DAServer

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-altda-'))
  store = new LocalDAStore({ dir })
  server = await startDAServer({ store, port: 0 })
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
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
/**
 * One request on its own connection (node:http, no agent): big uploads over pooled keep-alive
 * connections race Node's 5 s idle timeout in a process as busy as this test's.
 */
function http(method: 'GET' | 'POST', path: string, body?: Uint8Array | string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const headers = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v)
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}
const post = (path: string, body: Uint8Array | string) => http('POST', path, body)
async function answer(res: Response): Promise<{ status: number; type: string | null; body: string }> {
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() }
}

/**
 * A client that does what OP Stack's op-alt-da DAClient does (op-alt-da/daclient.go):
 * generic commitments come back from `POST /put` as raw bytes whose first byte is the
 * commitment type (0x01); keccak commitments are computed by the client and put at
 * `POST /put/0x<commitment>`; both are read at `GET /get/0x<commitment>`, where 404 is
 * "not found" and anything else but 200 an error.
 */
const opClient = {
  async setInputGeneric(img: Uint8Array): Promise<Uint8Array> {
    const res = await post('/put', img)
    if (res.status !== 200) throw new Error(`failed to store data: ${res.status}`)
    const comm = new Uint8Array(await res.arrayBuffer())
    if (comm.length === 0) throw new Error('invalid commitment: empty')
    if (comm[0] !== 0x01) throw new Error(`invalid commitment type ${comm[0]}`)
    return comm
  },
  async setInputKeccak(img: Uint8Array): Promise<Uint8Array> {
    const comm = new Uint8Array([0x00, ...Buffer.from(keccak256(img).slice(2), 'hex')])
    const res = await post(`/put/0x${hex(comm)}`, img)
    if (res.status !== 200) throw new Error(`failed to store preimage: ${res.status}`)
    return comm
  },
  async getInput(comm: Uint8Array): Promise<Uint8Array | 'not found'> {
    const res = await http('GET', `/get/0x${hex(comm)}`)
    if (res.status === 404) return 'not found'
    if (res.status !== 200) throw new Error(`failed to get preimage: ${res.status}`)
    return new Uint8Array(await res.arrayBuffer())
  },
}

describe('OP generic commitments', () => {
  test('POST /put (no commitment_mode) answers 0x01 0x00 ‖ 0xc0 ‖ sha256 as raw bytes; GET /get/0x<that> the blob', async () => {
    const blob = bytesOf(777, 1)
    for (const path of ['/put', '/put/', '/put?commitment_mode=optimism_generic', '/put?commitment_mode=simple']) {
      const res = await post(path, blob)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/octet-stream')
      const comm = new Uint8Array(await res.arrayBuffer())
      expect(comm, path).toEqual(toGenericCommitment(localCommitment(blob)))
      expect(hex(comm).slice(0, 6)).toBe('0100c0')
    }
    const comm = toGenericCommitment(localCommitment(blob))
    for (const path of [`/get/0x${hex(comm)}`, `/get/${hex(comm)}`, `/get/0x${hex(comm).toUpperCase()}`]) {
      const res = await http('GET', `${path}`)
      expect(res.status, path).toBe(200)
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob)
    }
  })

  test('unknown 404; another da_layer, an EigenDA certificate this store cannot hold, a malformed one 400', async () => {
    const unknown = toGenericCommitment(localCommitment(bytesOf(5, 99)))
    expect(await answer(await http('GET', `/get/0x${hex(unknown)}`))).toMatchObject({ status: 404, body: 'blob not found' })
    const otherLayer = `0x010c${hex(localCommitment(bytesOf(5, 99)))}`
    expect(await answer(await http('GET', `/get/${otherLayer}`))).toMatchObject({ status: 400, body: expect.stringMatching(/da_layer byte 0x0c is not EigenDA/) })
    const eigenda = toGenericCommitment(realisticCert(1))
    expect((await http('GET', `/get/0x${hex(eigenda)}`)).status).toBe(400)
    for (const bad of ['0x0100c0ab', '0x01', '0x010', '0x01zz']) {
      expect((await http('GET', `/get/${bad}`)).status, bad).toBe(400)
    }
  })
})

describe('OP keccak256 commitments', () => {
  test('POST /put/0x00<keccak256(body)> answers 200 with an empty body; GET /get/0x00<keccak256> the blob', async () => {
    const blob = bytesOf(5_000, 2)
    const comm = keccakCommitment(blob)
    const put = await post(`/put/0x${hex(comm)}`, blob)
    expect(put.status).toBe(200)
    expect(put.headers.get('content-length')).toBe('0')
    expect(put.headers.get('content-type')).toBeNull()
    expect(await put.text()).toBe('')
    for (const path of [`/get/0x${hex(comm)}`, `/get/${hex(comm)}`]) {
      const get = await http('GET', `${path}`)
      expect(get.status, path).toBe(200)
      expect(get.headers.get('content-type')).toBe('application/octet-stream')
      expect(new Uint8Array(await get.arrayBuffer())).toEqual(blob)
    }
    expect(await store.getKeccak(comm)).toEqual(blob)
  })

  test('a body that does not hash to the commitment is a 400 and nothing is stored', async () => {
    const blob = bytesOf(100, 3)
    const wrong = keccakCommitment(bytesOf(100, 4))
    const before = await snapshotDir(dir)
    const res = await answer(await post(`/put/0x${hex(wrong)}`, blob))
    expect(res.status).toBe(400)
    expect(res.body).toBe(`key!=keccak(value): key=0x${hex(wrong.subarray(1))} keccak(value)=${keccak256(blob)}`)
    expect(await snapshotDir(dir)).toBe(before)
    expect((await http('GET', `/get/0x${hex(wrong)}`)).status).toBe(404)
  })

  test('malformed keccak commitments and other commitment types on /put/<commitment> are 400', async () => {
    const blob = bytesOf(10, 5)
    for (const path of [`/put/0x00${'ab'.repeat(31)}`, `/put/0x00${'ab'.repeat(33)}`, `/put/0x01${keccak256(blob).slice(2)}`, '/put/0xzz', `/put/0x${hex(keccakCommitment(blob))}0`]) {
      const res = await answer(await post(path, blob))
      expect(res.status, path).toBe(400)
    }
    expect((await answer(await post(`/put/0x01${keccak256(blob).slice(2)}`, blob))).body).toMatch(/^unsupported commitment type 01/)
    for (const path of [`/get/0x00${'ab'.repeat(31)}`, `/get/0x00${'ab'.repeat(33)}`]) {
      expect((await http('GET', `${path}`)).status, path).toBe(400)
    }
  })
})

describe('routing as eigenda-proxy routes', () => {
  test('an unknown commitment type is 400 "unsupported commitment type XX"; commitment_mode=standard reads the version byte instead', async () => {
    for (const type of ['02', 'c0', 'ff']) {
      const res = await answer(await http('GET', `/get/0x${type}${'11'.repeat(32)}`))
      expect(res, type).toMatchObject({ status: 400, type: expect.stringMatching(/^text\/plain/), body: `unsupported commitment type ${type}` })
    }
    const blob = bytesOf(64, 6)
    const standard = await store.put(blob)
    const res = await http('GET', `/get/${commitmentToHex(standard)}?commitment_mode=standard`)
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob)
  })

  test('1,000 generated OP gets and puts: 200 only for what was stored, otherwise 400 or 404 with a short text; nothing stored by a refused put', async () => {
    const stored = bytesOf(50, 7)
    const generic = await opClient.setInputGeneric(stored)
    const before = await snapshotDir(dir)
    const commitment = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map(hex),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `00${hex(h)}`),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `0100c0${hex(h)}`),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([t, b]) => `${t.toString(16).padStart(2, '0')}${hex(b)}`),
      // "." and ".." are dot segments: the URL resolves `/put/.` to `/put/`, a valid generic put
      fc.string({ minLength: 1, maxLength: 30 }).map(encodeURIComponent).filter((s) => s !== '.' && s !== '..'),
    )
    await fc.assert(
      fc.asyncProperty(commitment, fc.boolean(), async (c, prefixed) => {
        const path = `${prefixed ? '0x' : ''}${c}`
        const get = await answer(await http('GET', `/get/${path}`))
        expect([400, 404], `GET ${path} → ${get.status} ${get.body}`).toContain(get.status)
        expect(get.body.length).toBeLessThanOrEqual(200)
        const put = await answer(await post(`/put/${path}`, stored))
        expect([400, 404], `POST ${path} → ${put.status} ${put.body}`).toContain(put.status)
      }),
      { numRuns: 1000 },
    )
    expect(await snapshotDir(dir)).toBe(before)
    expect(await opClient.getInput(generic)).toEqual(stored)
  }, 120_000) // 1,000 requests over real sockets: minutes when the whole suite loads 2 cores
})

describe('an OP Stack client (op-alt-da) against the server', () => {
  test('put generic → get generic; put keccak → get keccak; a wrong keccak is refused; unknown is not found', async () => {
    const frame = new TextEncoder().encode(`{"channel":"${'a'.repeat(2000)}"}`)
    const g = await opClient.setInputGeneric(frame)
    expect(await opClient.getInput(g)).toEqual(frame)
    const k = await opClient.setInputKeccak(frame)
    expect(await opClient.getInput(k)).toEqual(frame)
    const tampered = Uint8Array.from(k)
    tampered[5] ^= 1
    expect((await post(`/put/0x${hex(tampered)}`, frame)).status).toBe(400)
    expect(await opClient.getInput(tampered)).toBe('not found')
    expect(await opClient.getInput(toGenericCommitment(localCommitment(new Uint8Array([9]))))).toBe('not found')
  })

  test('EigenDAProxyClient in optimism_generic and optimism_keccak256 modes round-trips and checks what it reads', async () => {
    const blob = bytesOf(3_000, 8)
    const generic = new EigenDAProxyClient({ url: server.url, retries: 2, backoffMs: 1, commitmentMode: 'optimism_generic' })
    const g = await generic.put(blob)
    expect(g).toEqual(toGenericCommitment(localCommitment(blob)))
    expect(await generic.get(g)).toEqual(blob)
    expect(await opClient.getInput(g)).toEqual(blob)
    const keccak = new EigenDAProxyClient({ url: server.url, retries: 2, backoffMs: 1, commitmentMode: 'optimism_keccak256' })
    const k = await keccak.put(blob)
    expect(k).toEqual(keccakCommitment(blob))
    expect(await keccak.get(k)).toEqual(blob)
    expect(await caught(keccak.get(keccakCommitment(bytesOf(3, 9))))).toBeInstanceOf(BlobNotFoundError)
    // a commitment of one form is not taken for another
    expect(await caught(keccak.get(g))).toBeInstanceOf(InvalidCommitmentError)
    expect(await caught(generic.get(k))).toBeInstanceOf(InvalidCommitmentError)
    // a blob damaged on disk is never served for a keccak commitment either
    const copy = await storedCopy(store, localCommitment(blob))
    const good = copy.bytes
    const bad = Buffer.from(good)
    bad[10]! ^= 1
    await copy.overwrite(bad)
    // the server refuses to serve it (500), so the client reports the store unavailable
    const err = (await caught(keccak.get(k))) as DAUnavailableError
    expect(err).toBeInstanceOf(DAUnavailableError)
    expect(err.status).toBe(500)
    expect((await http('GET', `/get/${commitmentToHex(k)}`)).status).toBe(500)
    await copy.overwrite(good)
    expect(await keccak.get(k)).toEqual(blob)
  })
})

describe('the encoded-size limit, on every route', () => {
  test('exactly the largest payload passes; one byte more is 400 "encoded blob is larger than max blob size"', async () => {
    const max = bytesOf(MAX_BLOB_BYTES, 10)
    const over = bytesOf(MAX_BLOB_BYTES + 1, 10)
    const comm = new Uint8Array(await (await post('/put', max)).arrayBuffer())
    expect(comm).toEqual(toGenericCommitment(localCommitment(max)))
    expect(sameBytes(new Uint8Array(await (await http('GET', `/get/0x${hex(comm)}`)).arrayBuffer()), max)).toBe(true)
    for (const path of ['/put', '/put?commitment_mode=standard', `/put/0x${hex(keccakCommitment(over))}`]) {
      const res = await answer(await post(path, over))
      expect(res.status, path).toBe(400)
      expect(res.body, path).toBe(`encoded blob is larger than max blob size: blob length ${MAX_BLOB_BYTES + 1}, max payload ${MAX_BLOB_BYTES} bytes`)
    }
    expect((await post(`/put/0x${hex(keccakCommitment(max))}`, max)).status).toBe(200)
  })

  test('a body over 32 MiB is 400 "request body too large", as the proxy\'s MaxBytesReader answers', async () => {
    const res = await answer(await post('/put', new Uint8Array(MAX_REQUEST_BODY_BYTES + 1)))
    expect(res).toMatchObject({ status: 400, body: 'reading at most 33554432 bytes from body: http: request body too large' })
  })

  test('the client refuses one byte more before sending, and reads the proxy\'s 400 as BlobTooLargeError', async () => {
    const client = new EigenDAProxyClient({ url: server.url, retries: 2, backoffMs: 1 })
    expect(sameBytes(await client.get(await client.put(bytesOf(MAX_BLOB_BYTES, 11))), bytesOf(MAX_BLOB_BYTES, 11))).toBe(true)
    const err = (await caught(client.put(new Uint8Array(MAX_BLOB_BYTES + 1)))) as BlobTooLargeError
    expect(err).toBeInstanceOf(BlobTooLargeError)
    expect(err.maxBytes).toBe(MAX_BLOB_BYTES)
    // a client that allows more (configured for a larger proxy) hears the server's 400
    for (const commitmentMode of ['standard', 'optimism_generic', 'optimism_keccak256'] as const) {
      const lenient = new EigenDAProxyClient({ url: server.url, retries: 2, backoffMs: 1, maxBlobBytes: 2 * MAX_BLOB_BYTES, commitmentMode })
      expect(await caught(lenient.put(new Uint8Array(MAX_BLOB_BYTES + 1))), commitmentMode).toBeInstanceOf(BlobTooLargeError)
    }
  })
})
