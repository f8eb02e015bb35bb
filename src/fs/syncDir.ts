import { closeSync, fsync, openSync } from 'node:fs'

/**
 * fsync of a directory, so that a name created, linked or renamed in it survives a power
 * cut. The trace WAL, the wallet's outbox and keystore, and the DA store's segments all rely
 * on it.
 *
 * Opening and closing the directory only touch the kernel's caches, so they are synchronous
 * calls (microseconds) where each would cost a thread-pool round trip; the fsync, which
 * waits for the disk, runs on the thread pool ({@link fsyncFd}).
 */
export async function syncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r')
  try {
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}

/** fsync(2) of an open file descriptor, on the thread pool. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())))
}
