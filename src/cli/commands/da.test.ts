import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, test } from 'vitest'
import { EigenDAProxyClient, LocalDAStore, commitmentToHex } from '../../da/index.js'

const BIN = fileURLToPath(new URL('../../../bin/covenant.js', import.meta.url))
const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

test('`covenant da serve --port 0 --json` serves a local store over the eigenda-proxy API until SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'covenant-da-serve-'))
  dirs.push(dir)
  const child = spawn(process.execPath, [BIN, 'da', 'serve', '--port', '0', '--dir', dir, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = once(child, 'exit')
  let stdout = ''
  const info = await new Promise<{ url: string; port: number; dir: string }>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      try {
        resolve(JSON.parse(stdout))
      } catch {
        // not the whole document yet
      }
    })
    child.on('exit', (code) => reject(new Error(`exited early with ${code}`)))
  })
  expect(info.dir).toBe(dir)
  expect(info.url).toBe(`http://127.0.0.1:${info.port}`)

  const client = new EigenDAProxyClient({ url: info.url, retries: 0 })
  const blob = new TextEncoder().encode('{"version":1}')
  const commitment = await client.put(blob)
  expect(await client.get(commitment)).toEqual(blob)
  expect(await new LocalDAStore({ dir }).get(commitment)).toEqual(blob)
  // the OP alt-DA routes, as an OP Stack node would use them
  for (const commitmentMode of ['optimism_generic', 'optimism_keccak256'] as const) {
    const op = new EigenDAProxyClient({ url: info.url, retries: 0, commitmentMode })
    const c = await op.put(blob)
    expect(c[0], commitmentMode).toBe(commitmentMode === 'optimism_generic' ? 0x01 : 0x00)
    expect(new Uint8Array(await (await fetch(`${info.url}/get/${commitmentToHex(c)}`)).arrayBuffer())).toEqual(blob)
  }

  child.kill('SIGTERM')
  const [code] = await exited
  expect(code).toBe(0)
})

test('a bad --port is a usage error', async () => {
  const child = spawn(process.execPath, [BIN, 'da', 'serve', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const [code] = await once(child, 'exit')
  expect(code).not.toBe(0)
  expect(stderr).toMatch(/expected a port number 0-65535/)
})
