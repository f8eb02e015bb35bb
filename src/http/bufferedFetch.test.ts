import { fileURLToPath } from 'node:url'
import { createPublicClient } from 'viem'
import { afterEach, describe, expect, test } from 'vitest'
import { chainIdServer, closeTestServers, serve } from './_fixtures.js'
import { bundleChild } from '../../test/fixtures/childBundle.js'
import { runChildToExit } from '../../test/fixtures/childExit.js'
import { createBufferedFetch } from './bufferedFetch.js'
import { rpcTransport } from './rpcTransport.js'

afterEach(closeTestServers)

describe('bufferedFetch: node:http, keep-alive, answers read whole', () => {
  test('a GET of a URL object and a POST with a Headers object: status, headers and body come back as a Response would give them', async () => {
    const seen: { method: string | undefined; auth: string | undefined; body: string }[] = []
    const s = await serve((req, body, res) => {
      if (req.url === '/bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.end(Buffer.from([0xff, 0xfe, 0x00, 0x80]))
        return
      }
      seen.push({ method: req.method, auth: req.headers.authorization, body })
      res.writeHead(req.method === 'GET' ? 200 : 418, "I'm a teapot", { 'content-type': 'application/json', 'x-seen': String(seen.length) })
      res.end(JSON.stringify({ n: seen.length }))
    })
    const f = createBufferedFetch()
    const got = await f(new URL('/attestation?nonce=0x01', s.url))
    expect({ ok: got.ok, status: got.status, seen: got.headers.get('x-seen') }).toEqual({ ok: true, status: 200, seen: '1' })
    expect(await got.json()).toEqual({ n: 1 })
    const posted = await f(s.url, { method: 'post', body: '{"a":1}', headers: new Headers({ authorization: 'Bearer k' }) })
    expect({ ok: posted.ok, status: posted.status, statusText: posted.statusText }).toEqual({ ok: false, status: 418, statusText: "I'm a teapot" })
    expect(await posted.text()).toBe('{"n":2}')
    expect(seen).toEqual([
      { method: 'GET', auth: undefined, body: '' },
      { method: 'POST', auth: 'Bearer k', body: '{"a":1}' },
    ])
    expect(s.connections()).toBe(1)
    // bytes come back as sent (not through a text decoding)
    expect([...new Uint8Array(await (await f(new URL('/bin', s.url))).arrayBuffer())]).toEqual([0xff, 0xfe, 0x00, 0x80])
    // a body that is not a string is left to the global fetch (which sends it as well)
    const bytes = await f(s.url, { method: 'POST', body: new TextEncoder().encode('{"b":2}') })
    expect(await bytes.text()).toBe('{"n":3}')
    expect(seen[2]!.body).toBe('{"b":2}')
  })

  test('a kept-alive socket the server closed is found closed as it is reused: sent once more on a fresh one; a fresh socket that fails is not retried', async () => {
    const perSocket = new WeakMap<object, number>()
    let answered = 0
    let drops = 0
    const s = await serve((req, _body, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1
      perSocket.set(req.socket, n)
      if (req.url === '/drop') drops++
      // the second request on a connection finds it closed, as after the server's idle timeout
      if (n >= 2 || req.url === '/drop') return void req.socket.destroy()
      answered++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`{"n":${answered}}`)
    })
    const f = createBufferedFetch()
    expect(await (await f(s.url, { method: 'POST', body: '{}' })).text()).toBe('{"n":1}')
    expect(await (await f(s.url, { method: 'POST', body: '{}' })).text()).toBe('{"n":2}')
    expect(s.connections()).toBe(2)
    // dropped on the idle connection (reused: sent once more) and then on the fresh one: that
    // failure is the caller's, not retried
    await expect(f(`${s.url}drop`, { method: 'POST', body: '{}' })).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect(drops).toBe(2)
    expect(answered).toBe(2)
  })

  test('an aborted signal: rejects with an AbortError before and during the exchange', async () => {
    const s = await serve(() => {})
    const f = createBufferedFetch()
    const before = new AbortController()
    before.abort()
    await expect(f(s.url, { method: 'POST', body: '{}', signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' })
    const during = new AbortController()
    const pending = f(s.url, { method: 'POST', body: '{}', signal: during.signal })
    setTimeout(() => during.abort(), 50)
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
  })
  test('an answer over the size limit is refused while it is read', async () => {
    const s = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: 'x'.repeat(10_000) }))
    })
    const f = createBufferedFetch({ maxResponseBytes: 4_096 })
    await expect(f(s.url, { method: 'POST', body: '{}' })).rejects.toThrow(/over 4096 bytes/)
    const fits = await createBufferedFetch({ maxResponseBytes: 20_000 })(s.url, { method: 'POST', body: '{}' })
    expect(((await fits.json()) as { result: string }).result).toHaveLength(10_000)
  })
  test('a redirect is followed (left to the global fetch)', async () => {
    const target = await chainIdServer()
    const s = await serve((_req, _body, res) => {
      res.writeHead(307, { location: target.url })
      res.end()
    })
    expect(await createPublicClient({ transport: rpcTransport(s.url) }).getChainId()).toBe(31337)
    expect(target.connections()).toBeGreaterThanOrEqual(1)
  })
  test('a kept-alive idle connection does not keep a process from exiting', async () => {
    const s = await chainIdServer()
    const bundle = await bundleChild(fileURLToPath(new URL('./bufferedFetch.exit-child.ts', import.meta.url)))
    try {
      const { stdout, code, signal } = await runChildToExit([bundle.path, s.url], 20_000)
      expect(stdout.trim()).toBe('31337')
      expect({ code, signal }).toEqual({ code: 0, signal: null })
      // the server still holds the connection open (keepAliveTimeout 60 s): the child left it
      expect(s.connections()).toBe(1)
    } finally {
      await bundle.dispose()
    }
  }, 30_000)
})
