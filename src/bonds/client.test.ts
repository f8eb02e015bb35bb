import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { encodeAbiParameters, zeroAddress } from 'viem'
import { afterEach, describe, expect, test } from 'vitest'
import { agentAccountAbi } from './generated/abis.js'
import { batchingReader, createCovenantClient } from './client.js'
import type { CovenantDeployment } from './deployment.js'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((done) => s.close(done))
  }
})

/** A node stub: every eth_call answers callCount = 7; counts HTTP requests and the JSON-RPC calls in them. */
async function stubNode() {
  const seen = { requests: 0, calls: 0 }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.requests++
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number; method: string } | { id: number; method: string }[]
      const one = (r: { id: number; method: string }) => {
        seen.calls++
        return { jsonrpc: '2.0', id: r.id, result: r.method === 'eth_chainId' ? '0x7a69' : encodeAbiParameters([{ type: 'uint32' }], [7]) }
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(Array.isArray(body) ? body.map(one) : one(body)))
    })
  })
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server }
}

const deployment = { chainId: 31337, contracts: {} } as unknown as CovenantDeployment
const callCount = { address: zeroAddress, abi: agentAccountAbi, functionName: 'callCount' } as const

describe('batchingReader', () => {
  test('reads made together go out as one HTTP request; the client’s own reader sends one each', async () => {
    const node = await stubNode()
    const client = createCovenantClient({ rpcUrl: node.url, deployment })
    const reader = batchingReader(client)
    expect(await Promise.all(Array.from({ length: 12 }, () => reader.readContract(callCount)))).toEqual(Array(12).fill(7))
    expect(node.seen).toEqual({ requests: 1, calls: 12 })
    await Promise.all(Array.from({ length: 3 }, () => client.publicClient.readContract(callCount)))
    expect(node.seen).toEqual({ requests: 4, calls: 15 })
  })

  test('a node that cannot be reached: RpcError naming the URL, as the client’s reads', async () => {
    const node = await stubNode()
    const reader = batchingReader(createCovenantClient({ rpcUrl: node.url, deployment }))
    servers.splice(0)
    node.server.closeAllConnections()
    await new Promise((done) => node.server.close(done))
    const err = await reader.readContract(callCount).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RpcError' })
    expect(String((err as Error).message)).toContain(`Cannot reach the chain at ${node.url}`)
  }, 20_000)
})
