import { type FileHandle, mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * An exclusive lock on a file, held by the kernel for as long as this process keeps it:
 * an open-file-description lock (`fcntl(F_OFD_SETLK)` on Linux, `flock` on macOS,
 * `LockFileEx` on Windows) through `fs-native-extensions`.
 *
 * Why not a pid file: "read the pid, see it dead, unlink, create" cannot be made atomic —
 * two stand-bys that both saw the dead pid can each unlink the other's fresh lock and both
 * believe they hold it (issue 17: two hosts wrote one agent's WAL). Here taking the lock is
 * one system call that exactly one contender wins; the kernel drops it when the holder's
 * descriptor closes, including on kill -9, so there is nothing stale to take over.
 *
 * The lock file is never unlinked: unlinking would let a contender that opened the old
 * inode and one that creates a new inode both hold "the" lock. The pid written into it is
 * for messages only and decides nothing.
 *
 * Locks are per open file description, so two handles in one process also exclude each
 * other. Child processes do not inherit the descriptor (Node opens files close-on-exec).
 */
export class ProcessLock {
  readonly path: string
  #fh: FileHandle | null

  private constructor(path: string, fh: FileHandle) {
    this.path = path
    this.#fh = fh
  }

  /**
   * Takes the lock at `path` (creating the file and its directory if needed), or reports
   * the pid recorded by the process that holds it (null when unreadable).
   */
  static async tryAcquire(path: string): Promise<{ lock: ProcessLock } | { heldBy: number | null }> {
    await mkdir(dirname(path), { recursive: true })
    // the native addon loads on first use: a process that never takes a lock (the verifier's
    // replay sandbox, where addons are forbidden) can import the trace room without it
    const { tryLock } = await import('fs-native-extensions')
    const fh = await open(path, 'a+', 0o600)
    let locked = false
    try {
      locked = tryLock(fh.fd)
      if (!locked) {
        const heldBy = await readPid(fh)
        await fh.close()
        return { heldBy }
      }
      await fh.truncate(0)
      await fh.write(`${process.pid}\n`, 0)
      await fh.datasync()
      return { lock: new ProcessLock(path, fh) }
    } catch (err) {
      await fh.close().catch(() => {})
      throw err
    }
  }

  get held(): boolean {
    return this.#fh !== null
  }

  /** Releases the lock (closing the descriptor releases it). Safe to call twice. */
  async release(): Promise<void> {
    const fh = this.#fh
    if (!fh) return
    this.#fh = null
    await fh.truncate(0).catch(() => {})
    await fh.close()
  }
}

async function readPid(fh: FileHandle): Promise<number | null> {
  const buf = Buffer.alloc(32)
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0).catch(() => ({ bytesRead: 0 }))
  const text = buf.subarray(0, bytesRead).toString('utf8')
  return /^\d+\n$/.test(text) ? Number(text.trim()) : null
}
