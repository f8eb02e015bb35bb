// bench/da-http: DA put over HTTP against a bare node:http server doing the same disk work.
//
//   npx tsx bench/da-http.ts [--json] [--reps 30] [--sizes 1,8]   (sizes in MiB)
//
// Three servers on loopback, each fed the same blob by the same node:http client (keep-alive),
// interleaved put by put (the order rotates every round, so load changes hit every arm):
//   - bare:         node:http, the body written chunk by chunk to a new file, fdatasync, 200
//                   (the baseline: "write+fsync of the same bytes");
//   - bareDurable:  the disk work of the store's durable write, bare: the body appended to one
//                   log file (after an 80-byte header slot) chunk by chunk with a streaming
//                   SHA-256, then the header, one fdatasync, 200;
//   - covenant:     `startDAServer` over a `LocalDAStore` (`POST /put?commitment_mode=standard`).
// Per size it prints MB/s (median) for each arm and the paired ratio covenant/bare of
// throughput (bare time / covenant time: 1.00 = as fast as the bare server; goal ≥ 0.90),
// with its 95 % bootstrap interval. Benchmarks print figures; nothing here asserts a time.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { type FileHandle, mkdir, open } from 'node:fs/promises'
import { Agent, type IncomingMessage, type ServerResponse, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalDAStore, startDAServer } from '../src/da/index.js'
import { median, pairedRatios } from './lib/stats.js'
import { flag, opt } from './lib/args.js'

const json = flag('--json')
const REPS = Math.max(3, Number(opt('--reps')) || 30)
const SIZES = (opt('--sizes') ?? '1,8').split(',').map((x) => Math.round(Number(x) * 2 ** 20)).filter((x) => x > 0)
const log = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}

const root = mkdtempSync(join(tmpdir(), 'covenant-bench-da-'))
let files = 0

let segment: { fh: FileHandle; end: number } | undefined

async function bareHandler(req: IncomingMessage, res: ServerResponse, durable: boolean): Promise<void> {
  if (!durable) {
    const fh = await open(join(root, 'bare', String(++files)), 'wx', 0o644)
    let at = 0
    for await (const chunk of req as AsyncIterable<Buffer>) {
      await fh.write(chunk, 0, chunk.length, at)
      at += chunk.length
    }
    await fh.datasync()
    await fh.close()
  } else {
    segment ??= { fh: await open(join(root, 'bare-durable', 'log'), 'wx+', 0o644), end: 0 }
    const hash = createHash('sha256')
    const body = segment.end + 80
    let at = body
    for await (const chunk of req as AsyncIterable<Buffer>) {
      hash.update(chunk)
      await segment.fh.write(chunk, 0, chunk.length, at)
      at += chunk.length
    }
    const header = Buffer.alloc(80)
    header.writeUInt32BE(at - body, 8)
    hash.digest().copy(header, 12)
    await segment.fh.write(header, 0, 80, segment.end)
    await segment.fh.datasync()
    segment.end = at
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '33' })
  res.end(Buffer.alloc(33))
}

async function bareServer(durable: boolean): Promise<{ url: string; close(): Promise<void> }> {
  await mkdir(join(root, durable ? 'bare-durable' : 'bare'), { recursive: true })
  const server = createServer((req, res) => {
    bareHandler(req, res, durable).catch((err: unknown) => {
      res.writeHead(500)
      res.end(String(err))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 })
/** ms from the first byte sent to the whole answer read. */
function put(url: string, blob: Buffer): Promise<number> {
  const t = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(`${url}/put?commitment_mode=standard`, { method: 'POST', agent, headers: { 'content-length': String(blob.length), 'content-type': 'application/octet-stream' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${res.statusCode}: ${Buffer.concat(chunks).toString()}`))))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(blob)
  })
}

const ARMS = ['bare', 'bareDurable', 'covenant'] as const
type Arm = (typeof ARMS)[number]

const bare = await bareServer(false)
const bareDurable = await bareServer(true)
const covenant = await startDAServer({ store: new LocalDAStore({ dir: join(root, 'covenant') }), port: 0 })
const urls: Record<Arm, string> = { bare: bare.url, bareDurable: bareDurable.url, covenant: covenant.url }
const out: Record<string, unknown> = {}
try {
  log(`bench/da-http — node ${process.version}, ${REPS} puts per arm and size, tmp ${root}`)
  for (const size of SIZES) {
    const ms: Record<Arm, number[]> = { bare: [], bareDurable: [], covenant: [] }
    for (let w = 0; w < 3; w++) for (const arm of ARMS) await put(urls[arm], randomBytes(size)) // warm-up, untimed
    for (let r = 0; r < REPS; r++) {
      const blob = randomBytes(size) // fresh bytes for every put: no arm sees a repeat
      for (let k = 0; k < ARMS.length; k++) {
        const arm = ARMS[(r + k) % ARMS.length]!
        ms[arm].push(await put(urls[arm], blob))
      }
    }
    const mbps = (xs: number[]) => Math.round((size / 2 ** 20 / (median(xs) / 1000)) * 10) / 10
    const row = {
      blobBytes: size,
      MBps: { bare: mbps(ms.bare), bareDurable: mbps(ms.bareDurable), covenant: mbps(ms.covenant) },
      medianMs: { bare: median(ms.bare), bareDurable: median(ms.bareDurable), covenant: median(ms.covenant) },
      // throughput ratio: bare time / covenant time, put by put
      throughputVsBare: pairedRatios(ms.bare, ms.covenant),
      throughputVsBareDurable: pairedRatios(ms.bareDurable, ms.covenant),
      goal: 0.9,
    }
    out[`${size / 2 ** 20}MiB`] = row
    log(
      `  ${(size / 2 ** 20).toFixed(0).padStart(2)} MiB  bare ${row.MBps.bare} MB/s · bare with the store's durable write ${row.MBps.bareDurable} · covenant ${row.MBps.covenant}` +
        `   covenant/bare ${row.throughputVsBare.median} (95 % CI ${row.throughputVsBare.ci95.join('–')}) · covenant/bareDurable ${row.throughputVsBareDurable.median} (${row.throughputVsBareDurable.ci95.join('–')})`,
    )
  }
  if (json) console.log(JSON.stringify({ reps: REPS, sizes: out }, null, 2))
} finally {
  agent.destroy()
  await Promise.all([bare.close(), bareDurable.close(), covenant.close()])
  await segment?.fh.close()
  rmSync(root, { recursive: true, force: true })
}
