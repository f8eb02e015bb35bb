import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'
import type { ServiceClient, TaskView } from '../service/client.js'
import { McpServeError } from './errors.js'

/** What the MCP server knows of the agent: read once from the service (its manifest). */
export type ServedAgent = {
  name: string
  agentId: string
  instructions: string
  tools: Array<{ name: string; description: string; effect: string }>
}

const agentDetailSchema = z
  .object({
    name: z.string().nullable(),
    agentId: z.string(),
    hosted: z.boolean(),
    manifest: z
      .object({
        name: z.string(),
        instructions: z.string(),
        tools: z.array(z.object({ name: z.string(), description: z.string(), effect: z.object({ kind: z.string() }).loose() }).loose()),
      })
      .loose()
      .nullable(),
  })
  .loose()

export type AgentMcpParameters = {
  /** The running Covenant service (`covenant serve`) that hosts the agent. Only its URL: no key. */
  service: ServiceClient
  /** The agent's name or id, as the service knows it. */
  agent: string
  /** How long one `run_task` waits for the task to finish and commit. @defaultValue 120000 */
  waitTimeoutMs?: number | undefined
}

/** Reads the agent from the service; refuses one the service does not host. */
export async function loadServedAgent(service: ServiceClient, key: string): Promise<ServedAgent> {
  const raw = await service.agent(key)
  const d = agentDetailSchema.safeParse(raw)
  if (!d.success) throw new McpServeError(`The service's answer for agent ${JSON.stringify(key).slice(0, 80)} is not an agent.`)
  if (!d.data.hosted || !d.data.manifest) {
    throw new McpServeError(`Agent ${JSON.stringify(key).slice(0, 80)} is on the chain, but this service does not host it: its tasks cannot run here.`, [
      'Point --service at the `covenant serve` that hosts it, or deploy it there (`covenant deploy`).',
    ])
  }
  const m = d.data.manifest
  return {
    name: d.data.name ?? m.name,
    agentId: d.data.agentId,
    instructions: m.instructions,
    tools: m.tools.map((t) => ({ name: t.name, description: t.description, effect: t.effect.kind })),
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])
const ACTION_ID = /^[0-9]{1,78}-[0-9a-f]{12}$/

/**
 * An MCP server for one Covenant agent. Its tools:
 * - `run_task`: gives the agent a task on the Covenant service — the task runs there, as any
 *   other task: every inference, tool call and payment traced, committed, verifiable — and
 *   answers with the outcome (action id, result, transactions, whether it is committed);
 * - `get_action`: an action's committed steps checked against the chain, with a verdict.
 * The server holds the service's URL and the agent's name only; keys stay in the service's
 * encrypted keystore.
 */
export function createAgentMcpServer(agent: ServedAgent, p: Pick<AgentMcpParameters, 'service' | 'waitTimeoutMs'>): McpServer {
  const server = new McpServer({ name: `covenant-${agent.name}`, version: '1.0.0' })
  const abilities = agent.tools.map((t) => `- ${t.name} (${t.effect}): ${t.description.slice(0, 200)}`).join('\n')
  server.registerTool(
    'run_task',
    {
      title: `Give ${agent.name} a task`,
      description: [
        `Gives Covenant agent "${agent.name}" (#${agent.agentId}) a task and waits for its answer.`,
        `What it does: ${agent.instructions.slice(0, 600)}`,
        ...(abilities ? [`Its tools:\n${abilities}`] : []),
        'Every step is traced and committed on chain; it moves money only within the policy it registered, and its bond answers for it.',
      ].join('\n'),
      inputSchema: {
        task: z.union([z.string().min(1).max(65_536), z.record(z.string(), z.unknown())]).describe('the task: text, or a JSON object the agent expects'),
        actionId: z.string().regex(ACTION_ID).optional().describe('an action id (<agentId>-<12 hex>) to make a retry idempotent: the same id never runs twice'),
      },
    },
    async ({ task, actionId }) => {
      const { taskId } = await p.service.submit({ agent: agent.name, task, actionId })
      const t = await p.service.wait(taskId, { timeoutMs: p.waitTimeoutMs ?? 120_000 })
      const outcome = taskOutcome(t)
      return { content: [{ type: 'text' as const, text: JSON.stringify(outcome) }], isError: t.status === 'failed' }
    },
  )
  server.registerTool(
    'get_action',
    {
      title: `Check an action of ${agent.name}`,
      description: `An action of agent "${agent.name}": its committed steps checked against the chain, and the verdict (honest, faulty, unverifiable, incomplete).`,
      inputSchema: { actionId: z.string().regex(ACTION_ID).describe('the action id run_task answered') },
    },
    async ({ actionId }) => {
      const r = await p.service.action(actionId)
      return { content: [{ type: 'text' as const, text: JSON.stringify({ actionId: r.actionId, verdict: r.verdict, reasons: r.reasons, steps: r.steps.length }) }] }
    },
  )
  return server
}

function taskOutcome(t: TaskView) {
  return {
    actionId: t.actionId,
    status: t.status,
    result: t.result,
    txHashes: t.txHashes,
    committed: t.committed,
    ...(t.error ? { error: { name: t.error.name, message: t.error.message } } : {}),
  }
}

/** A running MCP endpoint for an agent. */
export type AgentMcpEndpoint = {
  readonly agent: ServedAgent
  /** The streamable HTTP endpoint (`http://host:port/mcp`); undefined on stdio. */
  readonly url: string | undefined
  close(): Promise<void>
}

/** Serves the agent over stdio (one client: the process that started this one). */
export async function serveAgentMcpStdio(p: AgentMcpParameters): Promise<AgentMcpEndpoint> {
  const agent = await loadServedAgent(p.service, p.agent)
  const server = createAgentMcpServer(agent, p)
  await server.connect(new StdioServerTransport())
  return { agent, url: undefined, close: () => server.close() }
}

/**
 * Serves the agent over MCP's streamable HTTP transport at `/mcp`, stateless (each request
 * its own server and transport). No authentication: bind it to a loopback address (the
 * default) or put it behind one. On a loopback address it answers only requests whose `Host`
 * is that address (a DNS-rebinding page gets 403).
 */
export async function serveAgentMcpHttp(p: AgentMcpParameters & { host?: string | undefined; port?: number | undefined }): Promise<AgentMcpEndpoint> {
  const agent = await loadServedAgent(p.service, p.agent)
  const host = p.host ?? '127.0.0.1'
  let allowedHosts: Set<string> | undefined
  const http: HttpServer = createServer((req, res) => {
    // a web page that rebinds its own name to 127.0.0.1 could otherwise give the agent tasks
    if (allowedHosts && !allowedHosts.has(String(req.headers.host ?? '').toLowerCase())) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'this MCP endpoint answers only requests addressed to its loopback address' }))
      return
    }
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found: the MCP endpoint is /mcp' }))
      return
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'POST' }).end(JSON.stringify({ error: 'stateless MCP endpoint: POST only' }))
      return
    }
    const server = createAgentMcpServer(agent, p)
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }) // no sessionIdGenerator: stateless
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as Error).message?.slice(0, 300) }))
      })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(p.port ?? 0, host, () => resolve())
  })
  const { port } = http.address() as AddressInfo
  if (LOOPBACK.has(host)) allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
  return {
    agent,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/mcp`,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  }
}
