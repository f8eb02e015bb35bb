// MCP (Model Context Protocol): an MCP server's tools as Covenant agent tools (traced,
// replayed from the trace), and a Covenant agent served as an MCP server whose every call
// is a task on the Covenant service. Imports from src/agent and the service's client.
export { mcpTools } from './mcpTools.js'
export type { McpClientLike, McpToolEffect, McpToolsOptions } from './mcpTools.js'
export { createAgentMcpServer, loadServedAgent, serveAgentMcpHttp, serveAgentMcpStdio } from './agentMcpServer.js'
export type { AgentMcpEndpoint, AgentMcpParameters, ServedAgent } from './agentMcpServer.js'
export { McpServeError, McpToolCallError, McpToolsError } from './errors.js'
