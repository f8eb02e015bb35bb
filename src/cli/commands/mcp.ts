import type { Command } from 'commander'
import { z } from 'zod'
import { serveAgentMcpHttp, serveAgentMcpStdio } from '../../mcp/agentMcpServer.js'
import { createServiceClient } from '../../service/client.js'
import { EnvError } from '../errors.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { untilSignal } from './dev.js'

type McpServeFlags = { agent: string; service?: string | undefined; http?: string | undefined; host?: string | undefined; wait?: string | undefined }

/** Where `covenant serve` listens by default. */
const DEFAULT_SERVICE_URL = 'http://127.0.0.1:8787'

/**
 * `covenant mcp serve --agent <id|name>`: a Covenant agent as an MCP server. Each call is a
 * task on the running Covenant service (`covenant serve`), so it is traced and committed like
 * any other. The MCP server holds the service URL and the agent's name: no key, no password.
 */
export function register(program: Command): void {
  const mcp = program.command('mcp').description('MCP (Model Context Protocol): serve an agent to other agents as an MCP server')
  mcp
    .command('serve')
    .description("serve an agent over MCP (stdio, or streamable HTTP with --http): each call becomes a task on the Covenant service")
    .requiredOption('--agent <id|name>', 'the agent, by name or id, as the service knows it')
    .option('--service <url>', `the Covenant service that hosts it (default: COVENANT_SERVICE_URL or ${DEFAULT_SERVICE_URL})`)
    .option('--http <port>', 'serve streamable HTTP on this port (0: any free port) instead of stdio')
    .option('--host <host>', 'the address --http listens on', '127.0.0.1')
    .option('--wait <seconds>', 'longest one run_task waits for its task', '120')
    .action(async (_o, cmd: Command) => {
      const flags = cmd.optsWithGlobals<GlobalOptions & McpServeFlags>()
      const url = z.url({ protocol: /^https?$/ }).safeParse(flags.service ?? process.env.COVENANT_SERVICE_URL ?? DEFAULT_SERVICE_URL)
      if (!url.success) throw new EnvError('--service must be the http(s) URL of `covenant serve`, e.g. http://127.0.0.1:8787.')
      const wait = Number(flags.wait ?? '120')
      if (!Number.isInteger(wait) || wait < 1 || wait > 86_400) throw new EnvError('--wait must be a whole number of seconds from 1 to 86400.')
      const service = createServiceClient({ url: url.data })
      const common = { service, agent: flags.agent, waitTimeoutMs: wait * 1000 }
      if (flags.http === undefined) {
        // stdout is the MCP channel: everything for people goes to stderr
        const endpoint = await serveAgentMcpStdio(common)
        progress(`covenant mcp: serving agent ${endpoint.agent.name} (#${endpoint.agent.agentId}) over stdio; tasks run on ${url.data}`)
        // until Ctrl-C, or until the client that started this process closes its end
        await Promise.race([untilSignal(), new Promise((done) => process.stdin.once('end', done))])
        await endpoint.close()
        return
      }
      const port = Number(flags.http)
      if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new EnvError('--http must be a port number (0 for any free port).')
      const endpoint = await serveAgentMcpHttp({ ...common, host: flags.host, port })
      printResult({ url: endpoint.url, agent: endpoint.agent.name, agentId: endpoint.agent.agentId, service: url.data }, flags, (r) =>
        [`serving agent ${r.agent} (#${r.agentId}) over MCP at ${r.url}`, `each call is a task on ${r.service}`, 'Ctrl-C stops'].join('\n'),
      )
      await untilSignal()
      await endpoint.close()
    })
}
