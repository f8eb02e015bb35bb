import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { startLocalStack } from '../../src/service/stack.js'

// Issue 14: a second `covenant dev` silently deleted the first one's keystores, DA store and
// WAL. One local stack per data dir, by a kernel lock: the second is refused, touching nothing.
const dir = mkdtempSync(join(tmpdir(), 'covenant-dev-lock-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('a second stack on the same data dir is refused and deletes nothing; after the first stops it starts', async () => {
  const first = await startLocalStack({ dataDir: dir, idleBlockMs: false })
  // what a deploy against the first stack left: a keystore the second must not wipe
  const keystore = join(dir, 'agents', 'a', 'wallet.json')
  mkdirSync(join(dir, 'agents', 'a'), { recursive: true })
  writeFileSync(keystore, '{}')
  try {
    const err = await startLocalStack({ dataDir: dir, idleBlockMs: false }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'DevStackRunningError' })
    expect((err as Error).message).toContain(`process ${process.pid}`)
    expect((err as Error).message).toContain(first.rpcUrl)
    expect(existsSync(keystore)).toBe(true)
  } finally {
    await first.stop()
  }
  const second = await startLocalStack({ dataDir: dir, idleBlockMs: false })
  // a blob put through the stack's DA server holds a segment of its store open (and locked)…
  await second.da.put(new TextEncoder().encode('a blob'))
  expect(openUnder(join(dir, 'da')).length).toBeGreaterThan(0)
  await second.stop()
  // …until the stack stops: then the store is closed, not left to garbage collection
  expect(openUnder(join(dir, 'da'))).toEqual([])
})

/** Files under `root` this process holds open (Linux /proc). */
function openUnder(root: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`)
      } catch {
        return ''
      }
    })
    .filter((target) => target.startsWith(`${root}/`))
}
