// A Covenant agent served over MCP: the SDK's Client (in memory, streamable HTTP, and stdio
// against `covenant mcp serve`) lists and calls the agent; every call is a task on the
// running Covenant service, traced and committed. The MCP side holds no key: only the
// service's URL and the agent's name.
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import moderation from '../../examples/agents/moderation/agent.js'
import { withAccount } from '../../src/bonds/client.js'
import { createModerationClassifier } from '../../src/inference/moderation.js'
import { createAgentMcpServer, loadServedAgent, serveAgentMcpHttp } from '../../src/mcp/index.js'
import { createServiceClient, type ServiceClient } from '../../src/service/client.js'
import { deployAgent, DEV_FUNDING } from '../../src/service/deployAgent.js'
import { startService, type Service } from '../../src/service/service.js'
import { onStack, startLocalStack, type LocalStack } from '../../src/service/stack.js'

const PASSWORD = 'test-password'
const BIN = resolve('bin/covenant.js')
let stack: LocalStack
let service: Service
let svc: ServiceClient
let dataDir: string
let agentId: string

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-mcp-serve-'))
  stack = await startLocalStack({ dataDir, announce: false })
  const owner = withAccount(stack.client, stack.accounts[1]!)
  const { record } = await deployAgent({ owner, da: stack.da, dataDir, agent: moderation, password: PASSWORD, scrypt: { N: 1024 }, fund: DEV_FUNDING })
  agentId = record.agentId
  const classifier = await createModerationClassifier()
  service = await startService({
    agents: [{ agent: moderation, record }],
    ...onStack(stack),
    port: 0,
    password: PASSWORD,
    inference: { chat: () => undefined, onnx: async () => classifier },
    commitIntervalMs: 200,
  })
  svc = createServiceClient({ url: service.url })
}, 180_000)

afterAll(async () => {
  await service?.close()
  await stack?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

type Outcome = { actionId: string; status: string; result: unknown; txHashes: string[]; committed: boolean }
const outcomeOf = (r: Awaited<ReturnType<Client['callTool']>>): Outcome => JSON.parse((r.content as Array<{ text: string }>)[0]!.text) as Outcome

describe('covenant mcp serve', () => {
  it('lists the agent and runs a call as a task on the service: traced and committed', async () => {
    const agent = await loadServedAgent(svc, 'moderation')
    expect(agent).toMatchObject({ name: 'moderation', agentId, tools: [{ name: 'publish_decision', effect: 'none' }] })
    const server = createAgentMcpServer(agent, { service: svc, waitTimeoutMs: 60_000 })
    const [a, b] = InMemoryTransport.createLinkedPair()
    await server.connect(a)
    const client = new Client({ name: 'other-agent', version: '1.0.0' })
    await client.connect(b)
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(['run_task', 'get_action'])
    expect(tools[0]!.description).toContain('publish_decision')
    const r = await client.callTool({ name: 'run_task', arguments: { task: { postId: 'm1', text: 'Congratulations! You won a free iPhone, send your bank password to claim' } } })
    expect(r.isError).toBe(false)
    const o = outcomeOf(r)
    expect(o).toMatchObject({ status: 'completed', committed: true })
    expect(JSON.stringify(o.result)).toContain('"action":"remove"')
    // the action is the service's: its steps are in the agent's trace and committed on chain
    const task = await svc.task(o.actionId)
    expect(task).toMatchObject({ agent: 'moderation', status: 'completed', committed: true })
    expect(task.stepIndices).toHaveLength(4)
    const checked = outcomeOf(await client.callTool({ name: 'get_action', arguments: { actionId: o.actionId } })) as unknown as { steps: number; verdict: string }
    expect(checked.steps).toBe(4)
    // arguments the schema refuses never reach the service
    const bad = await client.callTool({ name: 'run_task', arguments: { task: 42 } })
    expect(bad.isError).toBe(true)
    await client.close()
    await server.close()
  })

  it('over streamable HTTP: a retried call with the same action id runs once', async () => {
    const endpoint = await serveAgentMcpHttp({ service: svc, agent: agentId, port: 0 })
    try {
      const client = new Client({ name: 'other-agent', version: '1.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url!)))
      const actionId = `${agentId}-00000000beef`
      const args = { task: { postId: 'm2', text: 'hello neighbours, the bake sale is on Sunday' }, actionId }
      const first = outcomeOf(await client.callTool({ name: 'run_task', arguments: args }))
      const again = outcomeOf(await client.callTool({ name: 'run_task', arguments: args }))
      expect([first.actionId, again.actionId]).toEqual([actionId, actionId])
      expect(JSON.stringify(first.result)).toContain('"action":"keep"')
      expect((await svc.tasks({ agent: 'moderation' })).filter((t) => t.actionId === actionId)).toHaveLength(1)
      await client.close()
      // a page that rebinds its own name to 127.0.0.1 cannot give the agent a task
      const before = (await svc.tasks({ agent: 'moderation' })).length
      const status = await new Promise<number>((done, fail) => {
        const u = new URL(endpoint.url!)
        const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'run_task', arguments: { task: 'x' } } })
        const req = httpRequest(
          { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { host: `evil.example:${u.port}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } },
          (res) => {
            res.resume()
            done(res.statusCode ?? 0)
          },
        )
        req.on('error', fail)
        req.end(body)
      })
      expect(status).toBe(403)
      expect((await svc.tasks({ agent: 'moderation' })).length).toBe(before)
    } finally {
      await endpoint.close()
    }
  })

  it('over stdio from the CLI: the MCP configuration names the service and the agent, and no key', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', 'serve', '--agent', 'moderation', '--service', service.url],
      env: { PATH: process.env.PATH ?? '' },
      stderr: 'pipe',
    })
    const client = new Client({ name: 'other-agent', version: '1.0.0' })
    await client.connect(transport)
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(['run_task', 'get_action'])
    const o = outcomeOf(await client.callTool({ name: 'run_task', arguments: { task: { postId: 'm3', text: 'Congratulations! You won a free iPhone, send your bank password to claim' } } }))
    expect(o).toMatchObject({ status: 'completed', committed: true })
    await client.close()
  }, 120_000)

  it('refuses an agent the service does not know', async () => {
    await expect(loadServedAgent(svc, 'nobody')).rejects.toMatchObject({ name: 'ServiceApiError', code: 'unknown_agent' })
  })
})
