// Test servers for src/http's tests: an HTTP server on 127.0.0.1 (closed by closeTestServers,
// from an afterEach) and a JSON-RPC node stub answering chain id 31337.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void

const servers: Server[] = []

/** Closes the servers {@link serve} started (call it from afterEach). */
export async function closeTestServers(): Promise<void> {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((done) => s.close(done))
  }
}

/** An HTTP server on 127.0.0.1 that hands each request (body read) to `handle`; counts connections. */
export async function serve(handle: Handler): Promise<{ url: string; connections: () => number; server: Server }> {
  let connections = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res))
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', () => connections++)
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, connections: () => connections, server }
}

/** Closes one server {@link serve} started, before the test ends (a node that went down). */
export async function stopServer(server: Server): Promise<void> {
  servers.splice(servers.indexOf(server), 1)
  server.closeAllConnections()
  await new Promise((done) => server.close(done))
}

/** A JSON-RPC answer. */
export function answer(res: ServerResponse, id: unknown, result: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', id, result }))
}

/** A node that answers every call, batched or not, with chain id 31337. */
export function chainIdServer(): ReturnType<typeof serve> {
  return serve((_req, body, res) => {
    const r = JSON.parse(body) as { id: number; method: string } | { id: number; method: string }[]
    if (Array.isArray(r)) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(r.map((x) => ({ jsonrpc: '2.0', id: x.id, result: '0x7a69' }))))
      return
    }
    answer(res, r.id, r.method === 'eth_chainId' ? '0x7a69' : null)
  })
}
