import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { BaseError } from '../errors/base.js'
import { MAX_BLOB_BYTES } from './blobSize.js'
import { commitmentToHex, localCommitment } from './commitment.js'
import { BlobCorruptedError, BlobNotFoundError, BlobTooLargeError, InvalidCommitmentError } from './errors.js'
import { LocalDAStore } from './localStore.js'
import { bytesOf, sameBytes, snapshotDir } from './_helpers.js'

let dir: string
let store: LocalDAStore
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-'))
  store = new LocalDAStore({ dir })
})
afterEach(async () => {
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

describe('LocalDAStore', () => {
  test('put returns the content address; get returns the same bytes', async () => {
    const blob = bytesOf(100_000)
    const c = await store.put(blob)
    expect(c).toEqual(localCommitment(blob))
    expect(await store.get(c)).toEqual(blob)
    expect(await store.get(commitmentToHex(c))).toEqual(blob)
    expect(await store.put(blob)).toEqual(c)
    expect(await store.get(await store.put(new Uint8Array(0)))).toEqual(new Uint8Array(0))
    const files = await readdir(join(dir, commitmentToHex(c).slice(4, 6)))
    expect(files).toEqual([commitmentToHex(c).slice(2)])
  })

  test('takes 16 MiB and refuses one byte more', async () => {
    const big = bytesOf(MAX_BLOB_BYTES, 7)
    expect(sameBytes(await store.get(await store.put(big)), big)).toBe(true)
    const err = await caught(store.put(new Uint8Array(MAX_BLOB_BYTES + 1)))
    expect(err).toBeInstanceOf(BlobTooLargeError)
    expect((err as Error).message).toMatchInlineSnapshot(`
      "The blob is 16777217 bytes; a DA blob holds at most 16777216 bytes.

      Split trace batches with splitIntoBatches(steps, maxBytes) from covenant/trace before putting them.
      Docs: src/da/README.md#limits"
    `)
  })

  test('a missing blob is BlobNotFoundError; a foreign commitment is InvalidCommitmentError', async () => {
    expect(await caught(store.get(localCommitment(bytesOf(3))))).toBeInstanceOf(BlobNotFoundError)
    expect(await caught(store.get(`0x01${'ab'.repeat(40)}`))).toBeInstanceOf(InvalidCommitmentError)
  })

  test('a damaged or truncated file is rejected on read and repaired by the next put', async () => {
    const blob = bytesOf(5_000)
    const c = await store.put(blob)
    const path = store.pathOf(c)
    const bytes = await readFile(path)
    bytes[1234] ^= 0xff
    await writeFile(path, bytes)
    const err = await caught(store.get(c))
    expect(err).toBeInstanceOf(BlobCorruptedError)
    expect((err as Error).message.replace(dir, '<dir>')).toMatchInlineSnapshot(`
      "The blob for 0xc0e290b22bd5…a60c9d4a from <dir>/e2/c0e290b22bd54aa35b41cd0568dd7deae8b9fc45fcef0aa438fc3f8b7da60c9d4a is corrupted: its SHA-256 does not match the commitment.

      The data was rejected, not used. Read it from another DA replica (FailoverDAClient does this),
      and for a local store, delete the damaged file so the next put() rewrites it.
      Docs: src/da/README.md#eigendaproxyclient"
    `)
    await truncate(path, 10)
    expect(await caught(store.get(c))).toBeInstanceOf(BlobCorruptedError)
    await store.put(blob)
    expect(await store.get(c)).toEqual(blob)
  })

  test('leaves no temporary files', async () => {
    await Promise.all([1, 2, 3, 4].map((n) => store.put(bytesOf(1000 * n, n))))
    await Promise.all([1, 2].map(() => store.put(bytesOf(10, 9))))
    const all = (await readdir(dir, { recursive: true })).map(String)
    expect(all.filter((f) => f.includes('.tmp-'))).toEqual([])
  })

  test('health', async () => {
    expect(await store.health()).toMatchObject({ ok: true })
    await writeFile(join(dir, 'file'), 'x')
    expect(await new LocalDAStore({ dir: join(dir, 'file', 'sub') }).health()).toMatchObject({ ok: false })
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
