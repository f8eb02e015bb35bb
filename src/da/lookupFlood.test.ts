import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest'
import { localCommitment } from './commitment.js'
import { BlobNotFoundError } from './errors.js'
import { LocalDAStore } from './localStore.js'

// The store's directory listings, counted: a lookup that misses its index lists the segments
// directory to find what other writers appended. fs/promises' `readdir` is wrapped on the
// builtin module and synced into its ES exports (live bindings), so the store sees the
// wrapper however long ago it was imported (the test workers share loaded modules).
const fsPromises = createRequire(import.meta.url)('node:fs/promises') as { readdir: (path: unknown, ...rest: unknown[]) => Promise<unknown> }
const realReaddir = fsPromises.readdir
let listings = 0
fsPromises.readdir = (path, ...rest) => {
  if (String(path).endsWith('segments')) listings++
  return realReaddir(path, ...rest)
}
syncBuiltinESMExports()
afterAll(() => {
  fsPromises.readdir = realReaddir
  syncBuiltinESMExports()
})
const readdirCalls = () => listings

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covenant-da-flood-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('LocalDAStore lookups of commitments no one stored', () => {
  test('200 at once cost at most two directory listings (the scan running and the one they join), and each is still answered "not found"', async () => {
    const store = new LocalDAStore({ dir })
    const kept = new TextEncoder().encode('a blob this store holds')
    await store.put(kept)
    const before = readdirCalls()
    const misses = Array.from({ length: 200 }, (_, i) => store.get(localCommitment(new TextEncoder().encode(`never stored ${i}`))))
    const answers = await Promise.allSettled(misses)
    expect(answers.every((a) => a.status === 'rejected' && a.reason instanceof BlobNotFoundError)).toBe(true)
    expect(readdirCalls() - before).toBeLessThanOrEqual(2)
    expect(readdirCalls() - before).toBeGreaterThanOrEqual(1)
    await store.close()
  })

  test('a blob another writer stored meanwhile is still found: a joined scan starts after the lookup', async () => {
    const a = new LocalDAStore({ dir })
    const b = new LocalDAStore({ dir })
    await a.put(new TextEncoder().encode('warm a'))
    await b.get(localCommitment(new TextEncoder().encode('warm a')))
    const blob = new TextEncoder().encode('written by a, read by b')
    const c = await a.put(blob)
    const [found] = await Promise.all([b.get(c), b.get(localCommitment(new TextEncoder().encode('nobody')))].map((p) => p.catch((e: unknown) => e)))
    expect(found).toEqual(blob)
    await a.close()
    await b.close()
  })
})
