// Child of localStore.durability.test.ts: puts blobs into a LocalDAStore as fast as it can,
// from `writers` concurrent loops (each streamed in 64 KiB chunks, as the DA server does, or
// whole), and prints each commitment once its put resolved (acknowledged), until it is killed
// with SIGKILL.
import { randomBytes } from 'node:crypto'
import { bytesToHex } from 'viem'
import { LocalDAStore } from './localStore.js'

const dir = process.argv[2]
const writers = Number(process.argv[3] ?? 1)
if (!dir || !(writers >= 1)) throw new Error('usage: localStore.crash-child.ts <dir> [writers]')
const store = new LocalDAStore({ dir })

async function loop(w: number): Promise<never> {
  for (let n = w; ; n += writers) {
    const blob = randomBytes(256 * 1024 + ((n * 7919) % (3 * 1024 * 1024)))
    let commitment: Uint8Array
    if (n % 2 === 0) {
      commitment = await store.put(blob)
    } else {
      const upload = await store.beginPut()
      for (let at = 0; at < blob.length; at += 65_536) upload.write(blob.subarray(at, at + 65_536))
      commitment = await upload.finish()
    }
    process.stdout.write(`${bytesToHex(commitment)}\n`)
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => loop(w)))
