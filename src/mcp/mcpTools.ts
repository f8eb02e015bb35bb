import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { AgentTool } from '../agent/defineTool.js'
import { TOOL_NAME } from '../agent/defineTool.js'
import { AgentDefinitionError } from '../agent/errors.js'
import { wrapLangChainTool } from '../agent/wrapLangChainTool.js'
import { McpToolCallError, McpToolsError } from './errors.js'

/**
 * What an MCP tool does to the outside world. Both are effect `none` for the wallet — an MCP
 * server runs elsewhere and cannot reach the agent's wallet — and both are recorded: the
 * call and its result are a tool step, and a replay takes the recorded result, never calling
 * the server again.
 * - `read`: reads only (a search, a price, a file).
 * - `write`: changes something outside the chain (posts a message, opens a ticket).
 */
export type McpToolEffect = 'read' | 'write'

/** What mcpTools needs of an MCP client: the SDK's `Client`, connected. */
export type McpClientLike = Pick<Client, 'listTools' | 'callTool'>

export type McpToolsOptions = {
  /** The effect of every tool (by its MCP name) that becomes an agent tool. A tool without one is refused. */
  effects: Readonly<Record<string, McpToolEffect>>
  /** Only these tools. @defaultValue every tool the server lists */
  include?: readonly string[] | undefined
}

type ListedTool = Awaited<ReturnType<McpClientLike['listTools']>>['tools'][number]

/**
 * An MCP server's tools as Covenant agent tools. Calls and results go through the agent's
 * tool path: arguments validated against the tool's input schema, the call and its result
 * written to the trace as a tool step, the result replayed from the trace (never fetched
 * again). Every tool needs an explicit effect; an MCP tool cannot move the agent's funds
 * (money moves only through the Covenant wallet: defineTool with `pay` / `call`, or
 * AgentKit over a CovenantWalletProvider).
 *
 * ```ts
 * const client = new Client({ name: 'my-agent', version: '1.0.0' })
 * await client.connect(new StdioClientTransport({ command: 'weather-mcp' }))
 * const tools = await mcpTools(client, { effects: { forecast: 'read' } })
 * ```
 */
export async function mcpTools(client: McpClientLike, options: McpToolsOptions): Promise<AgentTool[]> {
  if (!client || typeof client.listTools !== 'function' || typeof client.callTool !== 'function') {
    throw new McpToolsError(['expected a connected MCP client (the SDK Client: listTools, callTool)'])
  }
  const effects = options?.effects
  if (!effects || typeof effects !== 'object') throw new McpToolsError(['`effects` is required: one effect per tool'])
  const listed: ListedTool[] = []
  let cursor: string | undefined
  for (let page = 0; page < 100; page++) {
    const r = await client.listTools(cursor === undefined ? undefined : { cursor })
    listed.push(...r.tools)
    cursor = r.nextCursor
    if (!cursor) break
  }
  const names = new Set(listed.map((t) => t.name))
  const include = options.include ? new Set(options.include) : undefined
  const problems: string[] = []
  for (const n of include ?? []) if (!names.has(n)) problems.push(`include names "${n}", which the server does not list`)
  for (const n of Object.keys(effects)) if (!names.has(n)) problems.push(`effects names "${n}", which the server does not list (it lists: ${[...names].join(', ') || 'nothing'})`)
  const tools: AgentTool[] = []
  for (const t of listed) {
    if (include && !include.has(t.name)) continue
    const effect: unknown = Object.hasOwn(effects, t.name) ? effects[t.name] : undefined
    if (effect === undefined) {
      problems.push(`tool "${t.name}" has no effect: say 'read' or 'write'`)
      continue
    }
    if (effect !== 'read' && effect !== 'write') {
      problems.push(
        typeof effect === 'object' && effect !== null && 'kind' in effect && (effect.kind === 'pay' || effect.kind === 'call')
          ? `tool "${t.name}": an MCP tool cannot move the agent's funds (the server runs elsewhere, with its own keys): pay with a defineTool pay/call tool or AgentKit over a CovenantWalletProvider`
          : `tool "${t.name}": effect ${JSON.stringify(effect)?.slice(0, 40)} is not 'read' or 'write'`,
      )
      continue
    }
    if (!TOOL_NAME.test(t.name)) {
      problems.push(`tool "${t.name.slice(0, 80)}": the name must match ${TOOL_NAME} for the model to call it`)
      continue
    }
    const description = `${t.description?.trim() || t.title || t.name}`.slice(0, 4096)
    const name = t.name
    try {
      tools.push(
        wrapLangChainTool(
          {
            name,
            description,
            schema: t.inputSchema,
            invoke: async (args: unknown) => resultValue(name, await client.callTool({ name, arguments: (args ?? {}) as Record<string, unknown> })),
          },
          { effect: { kind: 'none' } },
        ),
      )
    } catch (err) {
      if (err instanceof AgentDefinitionError) problems.push(`tool "${name}": ${err.metaMessages.join(' ')}`)
      else throw err
    }
  }
  if (problems.length > 0) throw new McpToolsError(problems)
  return tools
}

type CallResult = Awaited<ReturnType<McpClientLike['callTool']>>

/** The tool's answer as the trace records it: its structured content, its text, or its content parts. */
function resultValue(tool: string, r: CallResult): unknown {
  const content = Array.isArray(r.content) ? (r.content as Array<{ type: string; text?: unknown }>) : []
  const text = content.every((c) => c.type === 'text' && typeof c.text === 'string') ? content.map((c) => c.text as string).join('\n') : undefined
  if (r.isError === true) throw new McpToolCallError(tool, text ?? JSON.stringify(content).slice(0, 2000))
  if (r.structuredContent !== undefined && r.structuredContent !== null) return r.structuredContent
  if (text !== undefined) return text
  if ('toolResult' in r) return r.toolResult
  return content
}
