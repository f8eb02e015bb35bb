import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { syncDir } from './syncDir.js'

test('syncs an existing directory and refuses a missing one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'covenant-syncdir-'))
  try {
    writeFileSync(join(dir, 'a'), 'x')
    await expect(syncDir(dir)).resolves.toBeUndefined()
    await expect(syncDir(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('src/fs is a leaf: it imports only node built-ins (the trace, DA and wallet rooms all sit above it)', () => {
  const dir = new URL('.', import.meta.url).pathname
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/from '([^']+)'/g)) expect(m[1]!.startsWith('node:'), `${file} imports ${m[1]}`).toBe(true)
  }
})
