import { createPublicClient, HttpRequestError, RpcRequestError, TimeoutError } from 'viem'
import { afterEach, describe, expect, test } from 'vitest'
import { answer, chainIdServer, closeTestServers, serve, stopServer } from './_fixtures.js'
import { rpcTransport } from './rpcTransport.js'

afterEach(closeTestServers)

describe('rpcTransport: viem http over node:http', () => {
  test('a JSON-RPC call goes out as a JSON POST and its answer comes back; calls reuse one kept-alive connection', async () => {
    const seen: { method: string | undefined; type: string | undefined; length: string | undefined; body: string }[] = []
    const s = await serve((req, body, res) => {
      seen.push({ method: req.method, type: req.headers['content-type'], length: req.headers['content-length'], body })
      answer(res, (JSON.parse(body) as { id: number }).id, '0x7a69')
    })
    const client = createPublicClient({ transport: rpcTransport(s.url), cacheTime: 0 })
    for (let i = 0; i < 5; i++) expect(await client.getChainId()).toBe(31337)
    expect(seen).toHaveLength(5)
    expect(seen[0]).toMatchObject({ method: 'POST', type: 'application/json', length: String(Buffer.byteLength(seen[0]!.body)) })
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ jsonrpc: '2.0', method: 'eth_chainId' })
    expect(s.connections()).toBe(1)
  })

  test('batching (viem `batch: true`) sends one request for calls made together', async () => {
    const s = await chainIdServer()
    const client = createPublicClient({ transport: rpcTransport(s.url, { batch: true }), cacheTime: 0 })
    const ids = await Promise.all(Array.from({ length: 8 }, () => client.getChainId()))
    expect(ids).toEqual(Array(8).fill(31337))
    expect(s.connections()).toBe(1)
  })

  test('credentials in the URL become a Basic Authorization header, not part of the request line', async () => {
    let auth: string | undefined
    let path: string | undefined
    const s = await serve((req, body, res) => {
      auth = req.headers.authorization
      path = req.url
      answer(res, (JSON.parse(body) as { id: number }).id, '0x1')
    })
    const url = s.url.replace('http://', 'http://alice:s3cret@')
    expect(await createPublicClient({ transport: rpcTransport(url) }).getChainId()).toBe(1)
    expect(auth).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
    expect(path).toBe('/')
  })

  test('a JSON-RPC error answer is viem’s RpcRequestError; a 502 page is an HttpRequestError with its status', async () => {
    const s = await serve((req, body, res) => {
      if (req.url === '/rpcerror') {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(body) as { id: number }).id, error: { code: -32000, message: 'no such thing' } }))
        return
      }
      res.writeHead(502, 'Bad Gateway', { 'content-type': 'text/html' })
      res.end('<html>bad gateway</html>')
    })
    const rpcErr = await createPublicClient({ transport: rpcTransport(`${s.url}rpcerror`, { retryCount: 0 }) }).getChainId().catch((e: unknown) => e)
    expect(String(rpcErr)).toContain('no such thing')
    expect((rpcErr as { walk: (f: (e: unknown) => boolean) => unknown }).walk((e) => e instanceof RpcRequestError)).toBeInstanceOf(RpcRequestError)
    const httpErr = await createPublicClient({ transport: rpcTransport(s.url, { retryCount: 0 }) }).getChainId().catch((e: unknown) => e)
    const inner = (httpErr as { walk: (f: (e: unknown) => boolean) => unknown }).walk((e) => e instanceof HttpRequestError) as HttpRequestError
    expect(inner).toBeInstanceOf(HttpRequestError)
    expect(inner.status).toBe(502)
  })

  test('a node that does not answer: viem’s TimeoutError at the timeout, and the connection is closed', async () => {
    let closed = false
    const s = await serve((req) => {
      req.socket.on('close', () => (closed = true))
    })
    const t = performance.now()
    const err = await createPublicClient({ transport: rpcTransport(s.url, { timeout: 300, retryCount: 0 }) }).getChainId().catch((e: unknown) => e)
    expect((err as { walk: (f: (e: unknown) => boolean) => unknown }).walk((e) => e instanceof TimeoutError)).toBeInstanceOf(TimeoutError)
    expect(performance.now() - t).toBeGreaterThanOrEqual(250)
    await expect.poll(() => closed).toBe(true)
  })

  test('a node that is down: an HttpRequestError naming the URL (what the wallet reports as unreachable)', async () => {
    const s = await serve(() => {})
    const url = s.url
    await stopServer(s.server)
    const err = await createPublicClient({ transport: rpcTransport(url, { retryCount: 0 }) }).getChainId().catch((e: unknown) => e)
    const inner = (err as { walk: (f: (e: unknown) => boolean) => unknown }).walk((e) => e instanceof HttpRequestError) as HttpRequestError
    expect(inner).toBeInstanceOf(HttpRequestError)
    expect(inner.url).toBe(url)
  })





})
