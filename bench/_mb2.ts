import { Agent, request as httpRequest } from 'node:http'
import { createPublicClient, http } from 'viem'
import { startTestChain } from '/work/main/test/fixtures/chain.js'
const chain = await startTestChain({})
const url = chain.anvil.rpcUrl
const agent = new Agent({ keepAlive: true, maxSockets: 16 })
const nodeFetch = (async (u: string | URL, init?: RequestInit) => {
  const body = typeof init?.body === 'string' ? init.body : ''
  return await new Promise<Response>((resolve, reject) => {
    const req = httpRequest(u, { method: init?.method ?? 'POST', agent, headers: { ...(init?.headers as Record<string, string>), 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: res.headers as Record<string, string> })))
      res.on('error', reject)
    })
    req.on('error', reject)
    init?.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true })
    req.end(body)
  })
}) as typeof fetch
const addr = chain.account(1).address
for (const [name, fetchFn] of [['fetch', undefined], ['node:http', nodeFetch], ['fetch', undefined], ['node:http', nodeFetch]] as const) {
  const c = createPublicClient({ transport: http(url, fetchFn ? { fetchFn } : {}), cacheTime: 0 })
  for (let w = 0; w < 100; w++) await c.getBalance({ address: addr })
  const c0 = process.cpuUsage(); const t = performance.now(); const N = 500
  for (let i = 0; i < N; i++) await c.getBalance({ address: addr })
  const d = process.cpuUsage(c0)
  console.log(`${name}: wall ${((performance.now() - t) / N).toFixed(3)} ms, cpu ${((d.user + d.system) / 1000 / N).toFixed(3)} ms per read`)
}
process.exit(0)
