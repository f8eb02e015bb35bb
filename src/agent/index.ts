// Agents: defineTool / wrapLangChainTool, defineAgent, the manifest, and the runtime that
// turns every inference, tool call and transaction into a trace step. Imports from
// src/inference, src/wallet and src/trace only.
export { defineTool } from './defineTool.js'
export type { AgentTool, DefineToolParameters, ToolArgsResult, ToolContext, ToolDefinition } from './defineTool.js'
export { wrapLangChainTool } from './wrapLangChainTool.js'
export type { LangChainToolLike, WrapLangChainToolOptions } from './wrapLangChainTool.js'
export { defineAgent } from './defineAgent.js'
export type {
  AgentDefinition,
  BondInput,
  ChatModelSpec,
  DefineAgentParameters,
  ModelSpec,
  OnnxModelSpec,
  ToolCallRequest,
} from './defineAgent.js'
export { MAX_MANIFEST_BYTES, buildManifest, parseManifest } from './manifest.js'
export { CODE_BUNDLE_FORMAT, MAX_BUNDLE_BYTES, assertBundleHash, bundleAgentFile } from './bundle.js'
export type { AgentBundle } from './bundle.js'
export type { BuildManifestParameters, BuiltManifest } from './manifest.js'
export { agentNameSchema, bondManifestSchema, codeBundleManifestSchema, manifestSchema, replayPolicySchema } from './schemas.js'
export { assertAgentName } from './agentName.js'
export type { Manifest, ReplayPolicy, ReplayPolicyInput } from './schemas.js'
export { DEFAULT_INFERENCE_URL, createAgentRuntime } from './runtime.js'
export type {
  AgentRuntime,
  AgentRuntimeUnsafeOptions,
  ChatInference,
  CreateAgentRuntimeParameters,
  OnnxInference,
  RecoveredAction,
  RunOptions,
  RunResult,
  RuntimeTraceLog,
  RuntimeWallet,
} from './runtime.js'
export {
  ActionInterruptedError,
  AgentBundleError,
  AgentConfigError,
  AgentDefinitionError,
  AgentMaxRoundsError,
  InferenceNotRecordedError,
  InvalidAgentNameError,
  ManifestError,
  ToolArgumentsError,
  ToolNotFoundError,
  ToolResultError,
} from './errors.js'
