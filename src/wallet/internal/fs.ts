import { randomBytes } from 'node:crypto'
import { closeSync, linkSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { fsyncFd, syncDir } from '../../fs/syncDir.js'

/**
 * Creates `path` with `bytes` atomically and only if it does not exist: temp file, fsync,
 * link (which fails with EEXIST instead of replacing), fsync of the directory. Readers see
 * either no file or the whole file. Returns false if the file already existed.
 *
 * Open, write, close, link and unlink reach only the kernel's caches: they are synchronous
 * calls (microseconds; a signed transaction is a few hundred bytes) where each would cost a
 * thread-pool round trip on the payment's path. The two fsyncs wait for the disk and stay
 * asynchronous.
 */
export async function createFileExclusive(path: string, bytes: Uint8Array): Promise<boolean> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    let written = 0
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    try {
      unlinkSync(tmp)
    } catch {
      // a temp file left behind is removed when the outbox is next opened
    }
  }
  await syncDir(dirname(path))
  return true
}
