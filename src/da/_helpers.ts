// Test helpers for src/da (not exported from index.ts).
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** A digest of every file under `dir` (names and contents), to prove nothing changed. */
export async function snapshotDir(dir: string): Promise<string> {
  const hash = createHash('sha256')
  async function walk(d: string): Promise<void> {
    let entries: string[]
    try {
      entries = (await readdir(d)).sort()
    } catch {
      return
    }
    for (const name of entries) {
      const p = join(d, name)
      hash.update(`${p}\n`)
      try {
        hash.update(await readFile(p))
      } catch {
        await walk(p)
      }
    }
  }
  await walk(dir)
  return hash.digest('hex')
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Byte equality without vitest's per-index deep comparison (which cannot cope with MiBs). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/** A URL where nothing listens (a port that was free a moment ago): connections are refused. */
export async function deadUrl(): Promise<string> {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as import('node:net').AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}
