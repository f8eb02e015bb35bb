import type { CreateChatModelParameters } from '../inference/openaiBackend.js'
import { type AgentDefinition, resolveApiKey } from './defineAgent.js'

/**
 * How a chat agent's model is called, from its definition: the endpoint, the model name,
 * the API key (resolved now, at run time) and — for a model registered `none` or `attested`
 * — that replay mode, so every record names the model the way the manifest registered it
 * (by endpoint and name, src/inference/endpointDigest.ts).
 */
export function chatModelOptions(agent: AgentDefinition, defaultBaseURL: string): CreateChatModelParameters {
  if (agent.model.kind !== 'chat') throw new TypeError(`agent ${agent.name} has no chat model`)
  const apiKey = resolveApiKey(agent.model)
  const baseURL = agent.model.baseURL ?? defaultBaseURL
  const declared = agent.model.baseURL && (agent.replay.mode === 'none' || agent.replay.mode === 'attested') ? agent.replay.mode : undefined
  return {
    baseURL,
    model: agent.model.model,
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(declared ? { replay: declared } : {}),
    // an endpoint registered `none` owes no receipts; a missing one is not an error there
    ...(declared === 'attested' ? { receipts: 'require' as const, attestation: false as const } : {}),
  }
}
