import { spawn } from 'node:child_process'
import { type FileHandle, mkdtemp, open, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Hex } from 'viem'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { commitmentToHex, localCommitment } from './commitment.js'
import { BlobTooLargeError } from './errors.js'
import { LocalDAStore } from './localStore.js'
import { bytesOf } from './_helpers.js'

// The store's promises, and what it costs to keep them: one fdatasync of the blob, one fsync
// of the directory that gains its name, nothing read before it is written; a blob whose put
// resolved survives a kill -9, and a kill -9 at any moment leaves no partial blob under a key.

const CHILD = fileURLToPath(new URL('./localStore.crash-child.ts', import.meta.url))

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-dur-'))
})
afterEach(async () => {
  vi.restoreAllMocks()
  await rm(dir, { recursive: true, force: true })
})

/** Counts the FileHandle calls a put makes (on the class behind fs/promises `open`, which node does not export). */
async function countCalls() {
  const fh = await open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(fh) as Pick<FileHandle, 'datasync' | 'sync' | 'read'>
  await fh.close()
  await rm(join(dir, 'probe'))
  const counts = { datasync: 0, sync: 0, read: 0 }
  for (const name of ['datasync', 'sync', 'read'] as const) {
    const original = proto[name] as (...a: unknown[]) => Promise<unknown>
    vi.spyOn(proto, name).mockImplementation(function (this: FileHandle, ...a: unknown[]) {
      counts[name]++
      return original.apply(this, a)
    } as never)
  }
  return counts
}

describe('LocalDAStore durability', () => {
  test('a new blob costs one fdatasync and one directory fsync (two when its directory is new), and reads nothing', async () => {
    const store = new LocalDAStore({ dir })
    await store.put(bytesOf(10, 1)) // creates the store's directory (its parent is fsynced once)
    const first = bytesOf(300_000, 2)
    const prefix = commitmentToHex(localCommitment(first)).slice(4, 6)
    // another blob whose key falls in the same subdirectory
    let seed = 3
    while (commitmentToHex(localCommitment(bytesOf(1000, seed))).slice(4, 6) !== prefix || prefix === commitmentToHex(localCommitment(bytesOf(10, 1))).slice(4, 6)) seed++
    const counts = await countCalls()
    const c = await store.put(first)
    // the subdirectory is new: its name is made durable too (an fsync of the store's directory)
    expect(counts).toEqual({ datasync: 1, sync: 2, read: 0 })
    await store.put(bytesOf(1000, seed))
    expect(counts).toEqual({ datasync: 2, sync: 3, read: 0 })
    // a second put of the same bytes writes again (nothing is read first) and stays one blob
    await store.put(first)
    expect(counts).toEqual({ datasync: 3, sync: 4, read: 0 })
    expect(await store.get(c)).toEqual(first)
  })

  test('a streamed put is the same blob as a whole put, and an aborted one leaves nothing', async () => {
    const store = new LocalDAStore({ dir })
    const blob = bytesOf(200_000, 3)
    const upload = await store.beginPut()
    for (let at = 0; at < blob.length; at += 4096) upload.write(blob.slice(at, at + 4096))
    const c = await upload.finish()
    expect(c).toEqual(await store.put(blob))
    const aborted = await store.beginPut()
    aborted.write(bytesOf(1000, 4))
    await aborted.abort()
    const files = (await readdir(dir, { recursive: true })).map(String)
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([])
    expect(files.filter((f) => /[0-9a-f]{66}$/.test(f))).toHaveLength(1)
  })

  test('a streamed put past the limit throws at the chunk that passes it, and nothing is stored', async () => {
    const store = new LocalDAStore({ dir, maxBlobBytes: 10_000 })
    const upload = await store.beginPut()
    upload.write(bytesOf(6_000, 5))
    expect(() => upload.write(bytesOf(6_000, 6))).toThrow(BlobTooLargeError)
    await upload.abort()
    expect((await readdir(dir, { recursive: true })).map(String).filter((f) => !f.endsWith('/'))).toEqual([])
  })

  test('kill -9 while putting, 4 times: every acknowledged blob reads back, no key holds a partial blob', async () => {
    const acknowledged: Hex[] = []
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      // kill once a few puts were acknowledged, at a moment that moves from round to round
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (out.split('\n').length > 3 + round) {
            clearInterval(t)
            setTimeout(resolve, 7 * round)
          }
        }, 5)
        child.once('exit', (code) => {
          clearInterval(t)
          reject(new Error(`the child exited with ${code}`))
        })
      })
      child.removeAllListeners('exit')
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await exited
      // a line is only complete (acknowledged) once its newline was printed
      acknowledged.push(...(out.split('\n').filter((l) => /^0x[0-9a-f]{66}$/.test(l)) as Hex[]))
    }
    const store = new LocalDAStore({ dir })
    expect(acknowledged.length).toBeGreaterThan(10)
    for (const c of acknowledged) expect((await store.get(c)).length).toBeGreaterThan(0)
    // every file under a key holds the whole blob of that key (get recomputes its SHA-256)
    const keys = (await readdir(dir, { recursive: true })).map(String).filter((f) => /(^|\/)c0[0-9a-f]{64}$/.test(f))
    expect(keys.length).toBeGreaterThanOrEqual(new Set(acknowledged).size)
    for (const k of keys) await store.get(`0x${k.split('/').pop()}` as Hex)
  }, 120_000)
})
