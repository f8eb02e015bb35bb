import { open } from 'node:fs/promises'

/**
 * fsync of a directory, so that a name created, linked or renamed in it survives a power
 * cut. The trace WAL, the wallet's outbox and keystore, and the DA store's segments all rely
 * on it.
 */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
