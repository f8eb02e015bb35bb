import { Agent } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startInferenceServer, type InferenceServer } from '../../src/inference/server.js'
import { createServiceApp } from '../../src/service/api.js'
import { createTaskStore } from '../../src/service/taskStore.js'
import { chunkedUpload } from '../fixtures/chunkedUpload.js'

// Issue 17 (and 13): an oversize chunked upload to the inference container or the service API
// ended with the connection reset, and after a 413 a keep-alive connection was closed under
// the client's next pooled request. Both servers now answer 413 with their own JSON error,
// drain the rest, and keep the connection usable.
let inference: InferenceServer
let server: ServerType
let serviceUrl: string

beforeAll(async () => {
  inference = await startInferenceServer({ port: 0, host: '127.0.0.1', maxBodyBytes: 64 * 1024 })
  // the service's HTTP API on a real socket (no agent, no chain: a bad body never gets that far)
  const untouchable = new Proxy({}, { get: () => { throw new Error('touched the chain or DA for a bad request') } })
  const app = createServiceApp({ agents: [], queues: new Map(), store: createTaskStore(), client: untouchable as never, da: untouchable as never })
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  serviceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()))
  await inference?.close()
})

describe('an oversize chunked upload gets a 413 the client can read, and the connection stays usable', () => {
  it('the inference container: an OpenAI-shaped 413, then the next pooled request is served', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const r = await chunkedUpload(`${inference.url}/v1/chat/completions`, 2 * 1024 * 1024, agent)
      expect(r.status).toBe(413)
      expect(JSON.parse(r.body)).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/larger than 65536 bytes/) } })
      const next = await chunkedUpload(`${inference.url}/v1/chat/completions`, 10, agent)
      expect(next.status).toBe(400) // a small (bad) request on the same connection is answered
    } finally {
      agent.destroy()
    }
  })

  it('the service API: a 413 too_large, then the next pooled request is served', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const r = await chunkedUpload(`${serviceUrl}/tasks`, 2 * 1024 * 1024, agent)
      expect(r.status).toBe(413)
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'too_large' } })
      const next = await chunkedUpload(`${serviceUrl}/tasks`, 10, agent)
      expect(next.status).toBeGreaterThanOrEqual(400)
      expect(next.status).toBeLessThan(500)
    } finally {
      agent.destroy()
    }
  })
})
