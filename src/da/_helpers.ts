// Test helpers for src/da (not exported from index.ts).
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Hex, bytesToHex, hexToBytes, numberToHex, toRlp } from 'viem'

type RlpFields = Hex | readonly RlpFields[]

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

/**
 * Certificates laid out as eigenda-proxy returns them in standard mode: the version byte,
 * then the RLP encoding of EigenDA's certificate struct, with field values of the right
 * sizes (bn254 points, hashes, block numbers). 0x00: a V1 `BlobInfo` (blob header with its
 * KZG commitment and quorum parameters; verification proof with the batch metadata); 0x01:
 * an `EigenDACertV2` (blob inclusion info, batch header, non-signer stakes and signature,
 * signed quorums); 0x02: an `EigenDACertV3` (the same fields, batch header first).
 */
export function realisticCert(version: 0 | 1 | 2, seed = 1): Uint8Array {
  let n = seed
  const h = (len: number): Hex => bytesToHex(bytesOf(len, n++))
  const u = (v: number): Hex => numberToHex(v)
  const g1 = (): RlpFields => [h(32), h(32)]
  const g2 = (): RlpFields => [[h(32), h(32)], [h(32), h(32)]]
  let fields: RlpFields
  if (version === 0) {
    const blobHeader: RlpFields = [g1(), u(120_000), [[u(0), u(33), u(55), u(64)], [u(1), u(33), u(55), u(64)]]]
    const batchHeader: RlpFields = [h(32), '0x0001', '0x3737', u(2_104_512)]
    const batchMetadata: RlpFields = [batchHeader, h(32), '0x00', u(2_104_530), h(32)]
    fields = [blobHeader, [u(9_001), u(17), batchMetadata, h(32 * 9), '0x0001']]
  } else {
    const blobHeader: RlpFields = [u(0), '0x0001', [g1(), g2(), g2(), u(4096)], h(32)]
    const inclusion: RlpFields = [[blobHeader, h(65), [u(0), u(1)]], u(3), h(32 * 7)]
    const batchHeader: RlpFields = [h(32), u(7_650_001)]
    const nonSigners: RlpFields = [[u(1), u(2)], [g1(), g1()], [g1(), g1()], g2(), g1(), [u(5), u(6)], [u(7), u(8)], [[u(9), u(10)], [u(11), u(12)]]]
    fields = version === 1 ? [inclusion, batchHeader, nonSigners, '0x0001'] : [batchHeader, inclusion, nonSigners, '0x0001']
  }
  const rlp = hexToBytes(toRlp(fields))
  const out = new Uint8Array(rlp.length + 1)
  out[0] = version
  out.set(rlp, 1)
  return out
}

/** The bytes a LocalDAStore's log holds for a blob, where they are (to damage them in tests). */
export async function storedCopy(store: { locate(c: Uint8Array): Promise<{ path: string; offset: number; length: number } | null> }, commitment: Uint8Array) {
  const at = await store.locate(commitment)
  if (!at) throw new Error('storedCopy: the log does not hold this blob')
  const { open } = await import('node:fs/promises')
  const fh = await open(at.path, 'r+')
  try {
    const bytes = Buffer.alloc(at.length)
    await fh.read(bytes, 0, at.length, at.offset)
    return {
      ...at,
      bytes,
      /** Overwrites the blob's bytes in place (at most its length). */
      async overwrite(with_: Uint8Array): Promise<void> {
        const f = await open(at.path, 'r+')
        try {
          await f.write(with_, 0, Math.min(with_.length, at.length), at.offset)
        } finally {
          await f.close()
        }
      },
    }
  } finally {
    await fh.close()
  }
}
