import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/** Errors of the MCP adapters. Each class has a literal `name`. */

/** An MCP server's tools cannot become agent tools as given (a missing or wrong effect, a name the model cannot call). */
export class McpToolsError extends UnrecoverableCovenantError {
  override name = 'McpToolsError' as const
  constructor(problems: readonly string[]) {
    super("The MCP server's tools cannot be given to the agent as they are.", {
      metaMessages: [
        ...problems.slice(0, 12).map((p) => `- ${p}`),
        "Give every tool an effect: mcpTools(client, { effects: { <tool>: 'read' | 'write' } }), or pick some with `include`.",
      ],
      docsPath: 'src/mcp/README.md',
    })
  }
}

/** The MCP server answered a tool call with an error (`isError`): the tool step's error outcome, shown to the model. */
export class McpToolCallError extends BaseError {
  override name = 'McpToolCallError' as const
  readonly tool: string
  constructor(tool: string, message: string) {
    super(`MCP tool "${tool}" failed: ${message.slice(0, 2000)}`, { docsPath: 'src/mcp/README.md' })
    this.tool = tool
  }
}

/** `covenant mcp serve` cannot serve the agent (the service does not know it, or has no manifest for it). */
export class McpServeError extends UnrecoverableCovenantError {
  override name = 'McpServeError' as const
  constructor(message: string, hints: readonly string[] = []) {
    super(message, { metaMessages: hints, docsPath: 'src/mcp/README.md' })
  }
}
