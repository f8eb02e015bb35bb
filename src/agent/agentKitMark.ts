import type { AgentTool } from './defineTool.js'

/**
 * Coinbase AgentKit names its actions `<ActionProviderClass>_<action>`
 * (`WalletActionProvider_native_transfer`, `ERC20ActionProvider_transfer`); its LangChain and
 * MCP adapters keep those names. Such a tool pays from whatever wallet provider its AgentKit
 * was built with — unless it came from `agentKitTools` over a `CovenantWalletProvider`.
 */
export const AGENTKIT_ACTION_NAME = /^[A-Za-z0-9]*ActionProvider_[A-Za-z0-9_]+$/

const backed = new WeakSet<object>()

/** Marks a tool made by `agentKitTools` over a CovenantWalletProvider (its funds move through the Covenant wallet). */
export function markCovenantBacked<T extends AgentTool>(tool: T): T {
  backed.add(tool)
  return tool
}

/** Why `tool` looks like an AgentKit action that pays from AgentKit's own wallet, or undefined. */
export function unbackedAgentKitTool(tool: unknown): string | undefined {
  const name = (tool as { name?: unknown } | null)?.name
  if (typeof name !== 'string' || !AGENTKIT_ACTION_NAME.test(name)) return undefined
  if (typeof tool === 'object' && tool !== null && backed.has(tool)) return undefined
  return (
    `tool "${name}" is a Coinbase AgentKit action that pays from AgentKit's own wallet provider, around the agent's policy and trace: ` +
    "build AgentKit with `new CovenantWalletProvider({ chainId, rpcUrl })` and give the agent `agentKitTools(agentKit, { effects })` (covenant/agentkit)"
  )
}
