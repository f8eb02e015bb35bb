import { randomBytes } from 'node:crypto'
import { link, open, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { syncDir } from '../../fs/syncDir.js'

/**
 * Creates `path` with `bytes` atomically and only if it does not exist: temp file, fsync,
 * link (which fails with EEXIST instead of replacing), fsync of the directory. Readers see
 * either no file or the whole file. Returns false if the file already existed.
 */
export async function createFileExclusive(path: string, bytes: Uint8Array): Promise<boolean> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlink(tmp).catch(() => {})
  }
  await syncDir(dirname(path))
  return true
}
