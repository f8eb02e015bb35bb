import { createHash } from 'node:crypto'
import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { commitmentToHex, localCommitment } from './commitment.js'
import { BlobNotFoundError } from './errors.js'
import { LocalDAStore } from './localStore.js'
import { RECORD_BLOB, encodeRecordHeader } from './segmentFormat.js'
import { bytesOf } from './_helpers.js'

// Random sequences of puts (whole, streamed, concurrent), gets, clean reopens and crashes that
// leave a torn record at the end of the segment the last put wrote (every shape a kill -9 or a
// power cut can leave: a record cut anywhere, a header without its body, a body without its
// header, a wrong body byte): after each step, exactly the acknowledged blobs read back, and
// a blob never acknowledged is not found — never a wrong blob.

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covenant-da-rec-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

const blobOf = (seed: number, size: number) => bytesOf(size, seed + 1)

type Op =
  | { op: 'put'; seed: number; size: number; streamed: boolean; chunk: number }
  | { op: 'putTwo'; a: number; b: number; size: number }
  | { op: 'get'; seed: number; size: number }
  | { op: 'reopen' }
  | { op: 'crash'; seed: number; size: number; shape: 'cut' | 'headerOnly' | 'bodyOnly' | 'flip'; at: number }

const size = fc.integer({ min: 0, max: 6_000 })
const seed = fc.integer({ min: 0, max: 20 })
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), seed, size, streamed: fc.boolean(), chunk: fc.integer({ min: 1, max: 4096 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('putTwo' as const), a: seed, b: seed, size }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), seed, size }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('crash' as const),
      seed: fc.integer({ min: 100, max: 120 }),
      size: fc.integer({ min: 1, max: 6_000 }),
      shape: fc.constantFrom('cut' as const, 'headerOnly' as const, 'bodyOnly' as const, 'flip' as const),
      at: fc.nat(),
    }),
  },
)

function tornTail(blob: Uint8Array, shape: 'cut' | 'headerOnly' | 'bodyOnly' | 'flip', at: number): Buffer {
  const sha256 = createHash('sha256').update(blob).digest()
  const header = encodeRecordHeader({ kind: RECORD_BLOB, length: blob.length, sha256, keccak256: null })
  const rec = Buffer.concat([header, blob])
  if (shape === 'cut') return rec.subarray(0, at % rec.length) // anything short of the whole record
  if (shape === 'headerOnly') return Buffer.concat([header, Buffer.alloc(blob.length)])
  if (shape === 'bodyOnly') return Buffer.concat([Buffer.alloc(header.length), blob])
  const flipped = Buffer.from(rec)
  const i = header.length + (at % blob.length)
  flipped[i] = flipped[i]! ^ 0xff
  return flipped
}

test('random put / get / reopen / crash sequences: exactly the acknowledged blobs read back', async () => {
  let run = 0
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.constantFrom(2_000, 9_000, 1 << 20), async (ops, segmentBytes) => {
      const dir = join(root, `r${run++}`)
      let store = new LocalDAStore({ dir, segmentBytes })
      const acked = new Map<string, Uint8Array>()
      let last: Uint8Array | null = null
      const check = async (s: LocalDAStore, blob: Uint8Array) => {
        const c = localCommitment(blob)
        const key = commitmentToHex(c)
        if (acked.has(key)) expect(Buffer.from(await s.get(c)).equals(Buffer.from(blob))).toBe(true)
        else await expect(s.get(c)).rejects.toBeInstanceOf(BlobNotFoundError)
      }
      // segments that end in a torn record (path → where it starts) until a writer adopts them
      const torn = new Map<string, number>()
      const ack = async (blob: Uint8Array, c: Uint8Array) => {
        expect(c).toEqual(localCommitment(blob))
        acked.set(commitmentToHex(c), blob)
        last = c
        const at = (await store.locate(c))!
        // a record past a torn tail's start: the writer adopted the segment, and cut the tail
        if ((torn.get(at.path) ?? Number.POSITIVE_INFINITY) < at.offset) torn.delete(at.path)
      }
      try {
        for (const o of ops) {
          if (o.op === 'put') {
            const blob = blobOf(o.seed, o.size)
            if (!o.streamed) await ack(blob, await store.put(blob))
            else {
              const up = await store.beginPut()
              for (let at = 0; at < blob.length; at += o.chunk) up.write(blob.subarray(at, at + o.chunk))
              await ack(blob, await up.finish())
            }
          } else if (o.op === 'putTwo') {
            const [x, y] = [blobOf(o.a, o.size), blobOf(o.b, o.size + 1)]
            const [cx, cy] = await Promise.all([store.put(x), store.put(y)])
            await ack(x, cx)
            await ack(y, cy)
          } else if (o.op === 'get') {
            await check(store, blobOf(o.seed, o.size))
          } else if (o.op === 'reopen') {
            await store.close()
            store = new LocalDAStore({ dir, segmentBytes })
          } else {
            // the process dies mid-put: the segment its last put wrote ends in a torn record (a
            // segment whose torn tail no writer has cut yet was not being written: left as it is)
            await store.close()
            const blob = blobOf(o.seed, o.size)
            const at = last ? await store.locate(last) : null
            if (at && !torn.has(at.path) && !acked.has(commitmentToHex(localCommitment(blob)))) {
              torn.set(at.path, (await stat(at.path)).size)
              await appendFile(at.path, tornTail(blob, o.shape, o.at))
            }
            store = new LocalDAStore({ dir, segmentBytes })
          }
        }
        // a fresh instance (a restart) reads exactly what was acknowledged
        await store.close()
        store = new LocalDAStore({ dir, segmentBytes })
        for (const blob of acked.values()) await check(store, blob)
        for (let s = 0; s <= 20; s++) for (const n of [0, 1, 2, 3]) await check(store, blobOf(s, n))
        for (let s = 100; s <= 120; s++) for (const o of ops) if (o.op === 'crash' && o.seed === s) await check(store, blobOf(s, o.size))
      } finally {
        await store.close()
        await rm(dir, { recursive: true, force: true })
      }
    }),
    { numRuns: 60 },
  )
}, 240_000)
