// Covenant: economically accountable AI agents. The main entry exports what most users
// call; each room has its own subpath with its whole API (covenant/agent, covenant/wallet,
// covenant/inference, covenant/trace, covenant/da, covenant/bonds, covenant/verify,
// covenant/service).

// define agents
export { defineAgent, defineTool, wrapLangChainTool, createAgentRuntime, buildManifest, parseManifest } from './agent/index.js'
export type { AgentDefinition, AgentRuntime, AgentTool, Manifest, RunResult, ToolContext } from './agent/index.js'

// wallets and policies
export { createAgentWallet, createKeystore, loadKeystore, saveKeystore, evaluatePolicy, policySchema } from './wallet/index.js'
export type { AgentWallet, Breach, Policy, PolicyInput } from './wallet/index.js'

// inference
export { createChatModel, createModerationClassifier, createOnnxBackend, replay, startInferenceServer, verifyReceipt } from './inference/index.js'
export type { ReplayRecord, ReplayResult } from './inference/index.js'

// traces and DA
export { TraceWal, stepLeaf, merkleRoot, merkleProof, verifyMerkleProof, encodeBatch, decodeBatch } from './trace/index.js'
export type { Step, StepBody, Batch } from './trace/index.js'
export { LocalDAStore, EigenDAProxyClient, FailoverDAClient, startDAServer } from './da/index.js'
export type { DAClient } from './da/index.js'

// the chain
export {
  startAnvil,
  deployCovenant,
  createCovenantClient,
  Committer,
  registerAgent,
  depositBond,
  getBond,
  commitBatch,
  provePolicyBreach,
  proveEquivocation,
  openDispute,
  submitVerdicts,
  listDisputes,
} from './bonds/index.js'
export type { CovenantClient, CovenantDeployment } from './bonds/index.js'

// verification and disputes
export { VerifierNode, verifyAction, disputeAction } from './verify/index.js'

// services
export { startLocalStack, deployAgent, startService } from './service/index.js'

export { BaseError, UnrecoverableCovenantError, isUnrecoverable } from './errors/index.js'
