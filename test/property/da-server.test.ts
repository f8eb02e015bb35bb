/**
 * The DA server (createDAApp over a LocalDAStore, in-process through app.request) against
 * generated bad requests: bodies over the limit (a 400, as eigenda-proxy answers them),
 * commitments that are malformed or name no blob in standard mode and on the OP alt-DA
 * routes (generic, keccak256, unknown commitment types), keccak puts whose body is not the
 * preimage, unknown routes and methods, URLs thousands of characters long, streamed
 * (chunked) bodies over the limit. Every answer is a 4xx with a short text message (nothing
 * echoed); the store on disk is byte-for-byte unchanged and serves a good put/get
 * afterwards. (Bad commitments over a real socket are covered by src/da/server.test.ts and
 * src/da/server.altda.test.ts.) A put in any mode but standard is not a bad request: as on
 * the proxy, it is an OP generic put.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { snapshotDir } from '../../src/da/_helpers.js'
import { commitmentToHex, localCommitment } from '../../src/da/commitment.js'
import { LocalDAStore } from '../../src/da/localStore.js'
import { createDAApp } from '../../src/da/server.js'

const RUNS = 1_000
const MAX = 4_096
let dir: string
let store: LocalDAStore
let app: ReturnType<typeof createDAApp>
let known: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-prop-da-'))
  store = new LocalDAStore({ dir })
  app = createDAApp(store, { maxBlobBytes: MAX })
  known = commitmentToHex(await store.put(new TextEncoder().encode('{"a blob":"already stored"}')))
})
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

const body = fc.uint8Array({ maxLength: 256 })
const badMode = fc.oneof(
  fc.constant(''),
  fc.constant('?'),
  fc.string({ maxLength: 20 }).filter((m) => m !== 'standard').map((m) => `?commitment_mode=${encodeURIComponent(m)}`),
  fc.constantFrom('?commitment_mode=STANDARD', '?commitment_mode=optimistic', '?commitment_mode=standard%00', '?mode=standard', '?commitment_mode='),
)
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const badCommitment = fc.oneof(
  fc.string({ minLength: 1, maxLength: 60 }),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((b) => !(b.length === 33 && b[0] === 0xc0)).map((b) => `0x${hex(b)}`),
  fc.stringMatching(/^0x[0-9a-f]{1,65}$/).filter((h) => h.length % 2 === 1),
)
// well-formed local commitments of blobs nobody stored
const unknownCommitment = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `0xc0${hex(h)}`).filter((c) => c !== known)

type Req = { method: string; path: string; body?: Uint8Array | undefined; stream?: number | undefined; allowed: number[]; oversize?: boolean; why: string }
// OP alt-DA commitments (no commitment_mode): random types, generic local commitments of
// blobs nobody stored, keccak commitments of nothing stored, malformed hex
const opCommitment = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map(hex),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `0100c0${hex(h)}`),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `00${hex(h)}`),
  fc.stringMatching(/^[0-9a-f]{1,70}$/).filter((h) => h.length % 2 === 1),
  fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
)
const request: fc.Arbitrary<Req> = fc.oneof(
  fc.tuple(fc.constantFrom('/put', '/put/', '/put?commitment_mode=standard', `/put/0x00${'ab'.repeat(32)}`), fc.integer({ min: MAX + 1, max: MAX * 4 })).map(([p, n]) => ({ method: 'POST', path: p, body: new Uint8Array(n), allowed: [400], oversize: true, why: `put ${n} bytes to ${p}` })),
  fc.tuple(opCommitment, body).map(([c, b]) => ({ method: 'POST', path: `/put/0x${c}`, body: b, allowed: [400], why: `keccak put at ${c}` })),
  opCommitment.map((c) => ({ method: 'GET', path: `/get/0x${c}`, allowed: [400, 404], why: `OP get ${c}` })),
  badCommitment.map((c) => ({ method: 'GET', path: `/get/${encodeURIComponent(c)}?commitment_mode=standard`, allowed: [400, 404], why: `get ${c}` })),
  unknownCommitment.map((c) => ({ method: 'GET', path: `/get/${c}?commitment_mode=standard`, allowed: [404], why: `get unknown ${c}` })),
  badMode.map((q) => ({ method: 'GET', path: `/get/${known}${q}`, allowed: [400], why: `get mode ${q}` })),
  fc.tuple(fc.constantFrom('PUT', 'DELETE', 'PATCH'), fc.constantFrom('/put?commitment_mode=standard', `/get/${'0x'}c0${'00'.repeat(32)}?commitment_mode=standard`, '/health')).map(([method, path]) => ({ method, path, allowed: [404], why: `${method} ${path}` })),
  fc.stringMatching(/^\/[a-z0-9/_-]{1,30}$/).filter((p) => !/^\/(put\/?|get\/.+|health)$/.test(p)).map((path) => ({ method: 'GET', path, allowed: [404], why: `route ${path}` })),
  // long URLs: the answer never echoes them
  fc.tuple(fc.integer({ min: 1_000, max: 12_000 }), fc.constantFrom('/', '/get/0x', '/get/', '/put/0x00', '/get/0xc0?commitment_mode=standard&x=')).map(([n, prefix]) => ({
    method: prefix.startsWith('/put') ? 'POST' : 'GET',
    path: `${prefix}${prefix === '/get/0x' ? 'ab' : 'u'}${'ab'.repeat(n)}`,
    allowed: [400, 404],
    why: `${prefix}… of ${n * 2} characters`,
  })),
  // bodies over the limit without a Content-Length (a stream of chunks)
  fc.tuple(fc.constantFrom('/put?commitment_mode=standard', '/put'), fc.integer({ min: MAX + 1, max: MAX * 8 })).map(([p, n]) => ({ method: 'POST', path: p, stream: n, allowed: [400], oversize: true, why: `streamed put ${n} bytes to ${p}` })),
)

/** A body of `n` bytes as a stream of chunks, so no Content-Length goes with it. */
function streamOf(n: number): ReadableStream<Uint8Array> {
  let left = n
  return new ReadableStream({
    pull(controller) {
      const k = Math.min(left, 1000)
      left -= k
      controller.enqueue(new Uint8Array(k))
      if (left === 0) controller.close()
    },
  })
}

test(`${RUNS} generated bad DA requests: 4xx with a short text message, the store on disk unchanged`, async () => {
  const before = await snapshotDir(dir)
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const res = r.stream
        ? await app.request(r.path, { method: r.method, body: streamOf(r.stream), duplex: 'half' } as RequestInit)
        : await app.request(r.path, { method: r.method, ...(r.body ? { body: r.body as Uint8Array<ArrayBuffer> } : {}) })
      const text = await res.text()
      expect(r.allowed, `${r.why} → ${res.status} ${text}`).toContain(res.status)
      expect(res.headers.get('content-type') ?? '').toMatch(/^text\/plain/)
      expect(text.length).toBeGreaterThan(2)
      expect(text.length).toBeLessThan(200)
      expect(text).not.toMatch(/\n\s+at /) // no stack
      if (r.oversize) expect(text, r.why).toMatch(/^encoded blob is larger than max blob size: blob length \d+, max payload 4096 bytes$/)
    }),
    { numRuns: RUNS },
  )
  expect(await snapshotDir(dir)).toBe(before)
  // and it still serves
  const blob = new TextEncoder().encode('after the storm')
  const put = await app.request('/put?commitment_mode=standard', { method: 'POST', body: blob })
  expect(put.status).toBe(200)
  const commitment = `0x${hex(new Uint8Array(await put.arrayBuffer()))}`
  const got = await app.request(`/get/${commitment}?commitment_mode=standard`)
  expect(new Uint8Array(await got.arrayBuffer())).toEqual(blob)
})

test(`${RUNS} generated commitment modes on put: standard gives 0xc0 ‖ sha256, any other (or none) the OP generic 0x01 0x00 ‖ 0xc0 ‖ sha256`, async () => {
  const blob = new TextEncoder().encode('one blob, many modes')
  const standard = hex(localCommitment(blob))
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('/put', '/put/'), fc.oneof(badMode, fc.constant('?commitment_mode=standard')), async (p, q) => {
      const res = await app.request(`${p}${q}`, { method: 'POST', body: blob })
      expect(res.status).toBe(200)
      const got = hex(new Uint8Array(await res.arrayBuffer()))
      expect(got).toBe(q === '?commitment_mode=standard' ? standard : `0100${standard}`)
      expect(new Uint8Array(await (await app.request(`/get/0x${got}${q === '?commitment_mode=standard' ? q : ''}`)).arrayBuffer())).toEqual(blob)
    }),
    { numRuns: RUNS },
  )
})
