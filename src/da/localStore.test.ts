import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MAX_BLOB_BYTES } from './blobSize.js'
import { commitmentToHex, keccakCommitment, localCommitment, toGenericCommitment } from './commitment.js'
import { BlobCorruptedError, BlobNotFoundError, BlobTooLargeError, InvalidCommitmentError, KeccakCommitmentMismatchError } from './errors.js'
import { LocalDAStore } from './localStore.js'
import { bytesOf, sameBytes, snapshotDir, storedCopy } from './_helpers.js'

let dir: string
let store: LocalDAStore
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-'))
  store = new LocalDAStore({ dir })
})
afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

/** The segment files of the store in `dir`, with their sizes. */
async function segments(): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const f of await readdir(join(dir, 'segments')).catch(() => [])) out[f] = (await stat(join(dir, 'segments', f))).size
  return out
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected an error')
    },
    (e: unknown) => e,
  )
}

describe('LocalDAStore', () => {
  test('put returns the content address; get returns the same bytes', async () => {
    const blob = bytesOf(100_000)
    const c = await store.put(blob)
    expect(c).toEqual(localCommitment(blob))
    expect(await store.get(c)).toEqual(blob)
    expect(await store.get(commitmentToHex(c))).toEqual(blob)
    const once = await segments()
    // one segment: its magic (8 bytes), then one record (an 80-byte header and the blob)
    expect(Object.values(once)).toEqual([8 + 80 + 100_000])
    expect(await store.put(blob)).toEqual(c)
    expect(await segments()).toEqual(once) // stored once
    expect(await store.get(await store.put(new Uint8Array(0)))).toEqual(new Uint8Array(0))
    expect(await readdir(dir)).toEqual(['segments'])
  })

  test('takes what a 16 MiB EigenDA blob holds (16,252,897 bytes) and refuses one byte more', async () => {
    const big = bytesOf(MAX_BLOB_BYTES, 7)
    expect(sameBytes(await store.get(await store.put(big)), big)).toBe(true)
    const err = await caught(store.put(new Uint8Array(MAX_BLOB_BYTES + 1)))
    expect(err).toBeInstanceOf(BlobTooLargeError)
    expect((err as Error).message).toMatchInlineSnapshot(`
      "The blob is 16252898 bytes; a DA blob holds at most 16252897 bytes.

      EigenDA limits the encoded blob (31 payload bytes in every 32, after a 32-byte header): 16 MiB holds 16,252,897 bytes.
      Split trace batches with splitIntoBatches(steps, maxBytes) from covenant/trace before putting them.
      Docs: src/da/README.md#limits"
    `)
  })

  test('a blob put under the earlier 16 MiB payload limit, in the earlier layout (a file per blob), stays readable', async () => {
    const old = bytesOf(16 * 1024 * 1024, 8)
    const c = localCommitment(old)
    await mkdir(dirname(store.legacyPathOf(c)), { recursive: true })
    await writeFile(store.legacyPathOf(c), old)
    expect(sameBytes(await store.get(c), old)).toBe(true)
    await writeFile(store.legacyPathOf(c), Buffer.concat([old, Buffer.from([1])]))
    expect(await caught(store.get(c))).toBeInstanceOf(BlobCorruptedError)
  })

  test('a store in the earlier layout reads on: old blobs from their files, new ones from the log, a new instance both', async () => {
    const old = bytesOf(3_000, 11)
    const oldC = localCommitment(old)
    await mkdir(dirname(store.legacyPathOf(oldC)), { recursive: true })
    await writeFile(store.legacyPathOf(oldC), old)
    const fresh = bytesOf(4_000, 12)
    const freshC = await store.put(fresh)
    expect(await store.get(oldC)).toEqual(old)
    expect(await store.get(freshC)).toEqual(fresh)
    const other = new LocalDAStore({ dir })
    try {
      expect(await other.get(oldC)).toEqual(old)
      expect(await other.get(freshC)).toEqual(fresh)
    } finally {
      await other.close()
    }
  })

  test('the OP generic form of a local commitment names the same blob', async () => {
    const blob = bytesOf(300, 30)
    const c = await store.put(blob)
    expect(await store.get(toGenericCommitment(c))).toEqual(blob)
    expect(await store.get(commitmentToHex(toGenericCommitment(c)))).toEqual(blob)
  })

  test('a missing blob is BlobNotFoundError; a foreign commitment is InvalidCommitmentError', async () => {
    expect(await caught(store.get(localCommitment(bytesOf(3))))).toBeInstanceOf(BlobNotFoundError)
    expect(await caught(store.get(`0x01${'ab'.repeat(40)}`))).toBeInstanceOf(InvalidCommitmentError)
  })

  test('a damaged copy is rejected on read and repaired by the next put', async () => {
    const blob = bytesOf(5_000)
    const c = await store.put(blob)
    const copy = await storedCopy(store, c)
    const bad = Buffer.from(copy.bytes)
    bad[1234]! ^= 0xff
    await copy.overwrite(bad)
    const err = await caught(store.get(c))
    expect(err).toBeInstanceOf(BlobCorruptedError)
    expect((err as Error).message.replace(dir, '<dir>').replace(/segments\/[^ ]+\.seg/, 'segments/<segment>')).toMatchInlineSnapshot(`
      "The blob for 0xc0e290b22bd5…a60c9d4a from <dir>/segments/<segment> at byte 88 is corrupted: its SHA-256 does not match the commitment.

      The data was rejected, not used. Read it from another DA replica (FailoverDAClient does this),
      and for a local store, put() the blob again: it writes a fresh copy, read from then on.
      Docs: src/da/README.md#eigendaproxyclient"
    `)
    expect(await caught(store.get(c))).toBeInstanceOf(BlobCorruptedError)
    // the next put writes a fresh copy (the damaged one is not taken for stored), and reads use it
    expect(await store.put(blob)).toEqual(c)
    expect(await store.get(c)).toEqual(blob)
    expect((await store.locate(c))!.offset).toBeGreaterThan(copy.offset)
  })

  test('a damaged copy is re-checked by another instance\'s put, which writes a fresh one that a reader then finds', async () => {
    const blob = bytesOf(7_000, 31)
    const c = await store.put(blob)
    await store.put(bytesOf(100, 32)) // not the segment's last record (a damaged last one is cut off as torn)
    await store.close()
    const reader = new LocalDAStore({ dir })
    expect(await reader.get(c)).toEqual(blob)
    const copy = await storedCopy(reader, c)
    await copy.overwrite(Buffer.alloc(10, 0xee))
    expect(await caught(reader.get(c))).toBeInstanceOf(BlobCorruptedError)
    const writer = new LocalDAStore({ dir })
    try {
      // the copy on disk is another writer's: it is hashed before it counts as stored, fails, and is written again
      expect(await writer.put(blob)).toEqual(c)
      expect((await writer.locate(c))!.offset).toBeGreaterThan(copy.offset)
      expect(await reader.get(c)).toEqual(blob)
    } finally {
      await Promise.all([reader.close(), writer.close()])
    }
    store = new LocalDAStore({ dir })
  })

  test('concurrent puts each take a segment; the same blob put twice at once is stored once', async () => {
    const blobs = [1, 2, 3, 4].map((n) => bytesOf(1000 * n, n))
    const cs = await Promise.all(blobs.map((b) => store.put(b)))
    await Promise.all([1, 2].map(() => store.put(bytesOf(10, 9))))
    const sizes = await segments()
    expect(Object.keys(sizes).length).toBeGreaterThanOrEqual(1)
    const total = Object.values(sizes).reduce((a, b) => a + b, 0)
    expect(total).toBe(Object.keys(sizes).length * 8 + 5 * 80 + 1000 + 2000 + 3000 + 4000 + 10)
    for (const [i, c] of cs.entries()) expect(await store.get(c)).toEqual(blobs[i])
    expect((await readdir(dir, { recursive: true })).map(String).filter((f) => !f.startsWith('segments'))).toEqual([])
  })

  test('health', async () => {
    expect(await store.health()).toMatchObject({ ok: true })
    await writeFile(join(dir, 'file'), 'x')
    expect(await new LocalDAStore({ dir: join(dir, 'file', 'sub') }).health()).toMatchObject({ ok: false })
  })

  test('1,000 generated bad keccak puts and gets: typed errors only, the store unchanged', async () => {
    await store.putKeccak(keccakCommitment(bytesOf(64)), bytesOf(64))
    const before = await snapshotDir(dir)
    const bad = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `0x00${Buffer.from(h).toString('hex')}`),
      fc.constantFrom('../../etc/passwd', '0x00/../..', '%2e%2e', '0x'),
    )
    await fc.assert(
      fc.asyncProperty(bad, fc.uint8Array({ maxLength: 100 }), async (input, body) => {
        expect(await caught(store.getKeccak(input as `0x${string}`))).toBeInstanceOf(BaseError)
        expect(await caught(store.putKeccak(input as `0x${string}`, body))).toBeInstanceOf(BaseError)
      }),
      { numRuns: 1000 },
    )
    expect(await snapshotDir(dir)).toBe(before)
  })

  test('1,000 generated bad commitments: typed errors only, the store unchanged', async () => {
    await store.put(bytesOf(64))
    const before = await snapshotDir(dir)
    const bad = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((h) => `0xc0${Buffer.from(h).toString('hex')}`),
      fc.constantFrom('../../etc/passwd', '0xc0/../..', '%2e%2e', '0x'),
    )
    await fc.assert(
      fc.asyncProperty(bad, async (input) => {
        const err = await caught(store.get(input as `0x${string}`))
        expect(err).toBeInstanceOf(BaseError)
      }),
      { numRuns: 1000 },
    )
    expect(await snapshotDir(dir)).toBe(before)
  })
})

describe('LocalDAStore by OP keccak256 commitment', () => {
  test('putKeccak stores the blob and an index; getKeccak returns it; putting again is a no-op', async () => {
    const blob = bytesOf(2_000, 21)
    const k = keccakCommitment(blob)
    await store.putKeccak(k, blob)
    expect(await store.getKeccak(k)).toEqual(blob)
    expect(await store.getKeccak(commitmentToHex(k))).toEqual(blob)
    // the blob is the content-addressed one (one record, with its keccak256 in the header)
    expect(await store.get(localCommitment(blob))).toEqual(blob)
    expect(Object.values(await segments())).toEqual([8 + 80 + 2_000])
    const other = new LocalDAStore({ dir })
    expect(await other.getKeccak(k)).toEqual(blob)
    await other.close()
    const before = await snapshotDir(dir)
    await store.putKeccak(k, blob)
    expect(await snapshotDir(dir)).toBe(before)
    expect((await readdir(dir, { recursive: true })).map(String).filter((f) => f.includes('.tmp-'))).toEqual([])
  })

  test('a commitment that is not the keccak256 of the body is refused and nothing is written', async () => {
    const blob = bytesOf(100, 22)
    const before = await snapshotDir(dir)
    const err = await caught(store.putKeccak(keccakCommitment(bytesOf(100, 23)), blob))
    expect(err).toBeInstanceOf(KeccakCommitmentMismatchError)
    expect((err as Error).message).toMatch(/^key!=keccak\(value\): key=0x[0-9a-f]{64} keccak\(value\)=0x[0-9a-f]{64}\n/)
    expect(await snapshotDir(dir)).toBe(before)
    expect(await caught(store.getKeccak(keccakCommitment(blob)))).toBeInstanceOf(BlobNotFoundError)
  })

  test('a blob stored already gets a header-only alias record; a new instance reads both', async () => {
    const blob = bytesOf(500, 24)
    const k = keccakCommitment(blob)
    await store.put(blob)
    expect(await caught(store.getKeccak(k))).toBeInstanceOf(BlobNotFoundError)
    await store.putKeccak(k, blob)
    expect(await store.getKeccak(k)).toEqual(blob)
    expect(Object.values(await segments())).toEqual([8 + 80 + 500 + 80])
    const other = new LocalDAStore({ dir })
    expect(await other.getKeccak(k)).toEqual(blob)
    // a repeat through another instance: the blob is checked, not written again; the alias is rewritten (80 bytes)
    await other.putKeccak(k, blob)
    await other.close()
    // (the first segment is still held by `store`: `other` made its own)
    expect(Object.values(await segments()).reduce((a, b) => a + b, 0)).toBe(8 + 80 + 500 + 80 + 8 + 80)
  })

  test('earlier layout: a damaged index file, or one that names another blob, is BlobCorruptedError; a missing blob is not found', async () => {
    const blob = bytesOf(500, 25)
    const k = keccakCommitment(blob)
    const index = store.legacyKeccakIndexPathOf(k)
    await mkdir(dirname(index), { recursive: true })
    await mkdir(dirname(store.legacyPathOf(localCommitment(blob))), { recursive: true })
    await writeFile(store.legacyPathOf(localCommitment(blob)), blob)
    await writeFile(index, localCommitment(blob))
    expect(await store.getKeccak(k)).toEqual(blob)
    expect(store.legacyKeccakIndexPathOf(k)).toBe(join(dir, 'keccak', commitmentToHex(k).slice(4, 6), commitmentToHex(k).slice(4)))
    await writeFile(index, 'garbage')
    expect(await caught(store.getKeccak(k))).toBeInstanceOf(BlobCorruptedError)
    await writeFile(index, Buffer.concat([localCommitment(blob), Buffer.from([0])]))
    expect(await caught(store.getKeccak(k))).toBeInstanceOf(BlobCorruptedError)
    // an index pointing at another (whole) blob: its sha256 checks out, its keccak256 does not
    const other = bytesOf(500, 26)
    await store.put(other)
    await writeFile(index, localCommitment(other))
    const err = await caught(store.getKeccak(k))
    expect(err).toBeInstanceOf(BlobCorruptedError)
    expect((err as Error).message).toMatch(/keccak256 does not match/)
    // an index naming a blob that is nowhere: not found
    await writeFile(index, localCommitment(bytesOf(500, 27)))
    expect(await caught(store.getKeccak(k))).toBeInstanceOf(BlobNotFoundError)
    // the next put stores it in the log, which is read first
    await store.putKeccak(k, blob)
    expect(await store.getKeccak(k)).toEqual(blob)
  })

  test('over the size limit is BlobTooLargeError, as put', async () => {
    const small = new LocalDAStore({ dir, maxBlobBytes: 100 })
    const blob = bytesOf(101, 27)
    expect(await caught(small.putKeccak(keccakCommitment(blob), blob))).toBeInstanceOf(BlobTooLargeError)
  })
})
