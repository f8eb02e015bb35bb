import { mkdtemp, rm } from 'node:fs/promises'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { localCommitment } from './commitment.js'
import { BlobNotFoundError } from './errors.js'
import { LocalDAStore } from './localStore.js'

// The store's directory listings, counted: a lookup that misses its index lists the segments
// directory to find what other writers appended.
vi.mock('node:fs/promises', async (importOriginal) => {
  const m = await importOriginal<typeof import('node:fs/promises')>()
  return { ...m, readdir: vi.fn(m.readdir) }
})
const readdirCalls = () => (fsp.readdir as unknown as { mock: { calls: unknown[][] } }).mock.calls.filter((c) => String(c[0]).endsWith('segments')).length

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
