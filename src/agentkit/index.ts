// Coinbase AgentKit, accountable: a wallet provider that moves funds only through the agent's
// Covenant wallet, and AgentKit actions as Covenant tools. The one entry that imports
// @coinbase/agentkit (an optional peer: install it to use this entry).
export { CovenantWalletProvider } from './covenantWalletProvider.js'
export type { CovenantWalletProviderOptions, TypedDataAuthorizer } from './covenantWalletProvider.js'
export { AGENTKIT_ARGUMENT_CHECKS, KNOWN_AGENTKIT_EFFECTS, agentKitTools, isUnbackedAgentKitTool } from './agentKitTools.js'
export type { AgentKitToolsOptions } from './agentKitTools.js'
export { AgentKitEffectError, AgentKitMissingError, CovenantWalletProviderError, OutsideToolCallError, RawSigningRefusedError } from './errors.js'
