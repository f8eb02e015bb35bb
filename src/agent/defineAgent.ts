import type { ReplayRecord } from '../inference/schemas.js'
import type { JsonValue } from '../trace/schemas.js'
import { evaluatePolicy, type Policy, policySchema, type PolicyInput } from '../wallet/policy.js'
import { weiSchema } from '../wallet/schemas.js'
import { unbackedAgentKitTool } from './agentKitMark.js'
import { type AgentTool, deepFreeze } from './defineTool.js'
import { AgentDefinitionError, shortQuote } from './errors.js'
import { agentNameSchema, type ReplayPolicy, type ReplayPolicyInput, replayPolicySchema } from './schemas.js'

/** A tool call the model (or an ONNX decision) asks for. */
export type ToolCallRequest = { name: string; args: Record<string, unknown> }

/** An agent that reasons with a chat model behind an OpenAI-compatible endpoint. */
export type ChatModelSpec = {
  kind: 'chat'
  /** The model name the endpoint serves (e.g. `covenant-chat`). */
  model: string
  /** Any OpenAI-compatible base URL. @defaultValue the local inference container (`covenant inference serve`) */
  baseURL?: string | undefined
  /**
   * The endpoint's API key. Kept out of the manifest, traces, logs and errors (it is not even
   * an enumerable property of the definition). Prefer `apiKeyEnv` for keys you do not want
   * in source. @defaultValue `process.env[apiKeyEnv]`, else `OPENAI_API_KEY`, else the container's placeholder
   */
  apiKey?: string | undefined
  /** The environment variable that holds the API key, read when the agent runs (e.g. `OPENAI_API_KEY`). */
  apiKeyEnv?: string | undefined
}

/**
 * An agent that needs no LLM: an ONNX model's output decides the tool calls (e.g. a
 * moderation agent whose classifier label picks the action).
 */
export type OnnxModelSpec = {
  kind: 'onnx'
  /** Model name or digest (0x + 64 hex). */
  model: string
  /** Builds the model input from the task. @defaultValue the task itself */
  input?: ((task: JsonValue) => unknown) | undefined
  /** Turns the model output into tool calls (none is fine). Must be deterministic. */
  decide: (output: unknown, task: JsonValue, record: ReplayRecord) => ToolCallRequest[] | Promise<ToolCallRequest[]>
}

export type ModelSpec = ChatModelSpec | OnnxModelSpec

/** The bond the operator posts for the agent. */
export type BondInput = { eth?: bigint | string | number | undefined; token?: bigint | string | number | undefined }

export type DefineAgentParameters = {
  /** 1 to 64 letters, digits, `-` or `_`, not starting with `-` (it names files in the data dir). */
  name: string
  /** The system prompt (chat) or a description of what the agent does (ONNX). */
  instructions: string
  model: ModelSpec
  tools: readonly AgentTool[]
  /** The spending policy registered on chain; the wallet enforces exactly this. */
  policy: PolicyInput
  bond: BondInput
  /** How verifiers check its inferences. @defaultValue { mode: 'exact' } */
  replay?: ReplayPolicyInput | undefined
}

/** A frozen, validated agent definition. */
export type AgentDefinition = {
  readonly name: string
  readonly instructions: string
  readonly model: Readonly<ModelSpec>
  readonly tools: readonly AgentTool[]
  readonly policy: Readonly<Policy>
  readonly bond: { readonly eth: bigint; readonly token: bigint }
  readonly replay: Readonly<ReplayPolicy>
}

/**
 * Defines an agent. Checks the parts fit together (unique tool names, tools whose declared
 * recipients/targets/selectors the policy allows) and returns a frozen definition.
 */
export function defineAgent(p: DefineAgentParameters): AgentDefinition {
  const problems: string[] = []
  const name = agentNameSchema.safeParse(p?.name)
  if (!name.success) problems.push(`name ${shortQuote(p?.name)}: ${name.error.issues[0]?.message ?? 'invalid'}`)
  if (typeof p?.instructions !== 'string' || p.instructions.length > 65_536) problems.push('instructions must be a string of at most 65536 characters')
  const model = p?.model
  if (model?.kind === 'chat') {
    if (typeof model.model !== 'string' || model.model.length === 0) problems.push('model.model must name the chat model')
    if (model.baseURL !== undefined && !isUrl(model.baseURL)) problems.push('model.baseURL must be an http(s) URL')
    if (model.apiKey !== undefined && (typeof model.apiKey !== 'string' || model.apiKey.length === 0 || /\s/.test(model.apiKey))) problems.push('model.apiKey must be a non-empty string without spaces')
    if (model.apiKeyEnv !== undefined && (typeof model.apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(model.apiKeyEnv))) problems.push('model.apiKeyEnv must name an environment variable (letters, digits, _)')
    if (model.apiKey !== undefined && model.apiKeyEnv !== undefined) problems.push('model: give apiKey or apiKeyEnv, not both')
  } else if (model?.kind === 'onnx') {
    if (typeof model.model !== 'string' || model.model.length === 0) problems.push('model.model must name the ONNX model or give its digest')
    if (typeof model.decide !== 'function') problems.push('model.decide must be a function (output, task) → tool calls')
    if (model.input !== undefined && typeof model.input !== 'function') problems.push('model.input must be a function (task) → model input')
  } else problems.push('model.kind must be "chat" or "onnx"')

  const tools = Array.isArray(p?.tools) ? p.tools : []
  if (!Array.isArray(p?.tools)) problems.push('tools must be an array (of defineTool / wrapLangChainTool results)')
  const names = new Set<string>()
  for (const t of tools) {
    const agentKit = unbackedAgentKitTool(t)
    if (agentKit) {
      problems.push(agentKit)
      continue
    }
    if (!t || typeof t.run !== 'function' || typeof t.parseArgs !== 'function') {
      problems.push('every tool must come from defineTool(), wrapLangChainTool(), agentKitTools() or mcpTools()')
      continue
    }
    if (names.has(t.name)) problems.push(`two tools are named "${t.name}"`)
    names.add(t.name)
  }

  const policy = policySchema.safeParse(p?.policy)
  if (!policy.success) problems.push(...policy.error.issues.map((i) => `policy.${i.path.join('.')}: ${i.message}`))
  else for (const t of tools) if (t?.effect) problems.push(...effectOutsidePolicy(t, policy.data))

  const eth = weiSchema.safeParse(p?.bond?.eth ?? 0n)
  const token = weiSchema.safeParse(p?.bond?.token ?? 0n)
  if (!p?.bond || typeof p.bond !== 'object') problems.push('bond is required ({ eth?, token? } in wei)')
  if (!eth.success) problems.push('bond.eth must be wei (a non-negative bigint)')
  if (!token.success) problems.push('bond.token must be token units (a non-negative bigint)')

  const replay = replayPolicySchema.safeParse(p?.replay ?? { mode: 'exact' })
  if (!replay.success) problems.push(...replay.error.issues.map((i) => `replay.${i.path.join('.')}: ${i.message}`))

  if (problems.length > 0 || !policy.success || !eth.success || !token.success || !replay.success) {
    throw new AgentDefinitionError(`agent${typeof p?.name === 'string' ? ` ${shortQuote(p.name)}` : ''}`, problems)
  }
  // Tools are frozen by their factories; their zod schemas must not be frozen (zod caches on them).
  return Object.freeze({
    name: p.name,
    instructions: p.instructions,
    model: freezeModel(model as ModelSpec),
    tools: Object.freeze([...tools]),
    policy: deepFreeze(policy.data),
    bond: Object.freeze({ eth: eth.data, token: token.data }),
    replay: deepFreeze(replay.data),
  }) as AgentDefinition
}

/** The model spec, frozen, with an API key that is not enumerable: JSON, logs and spreads of the definition never show it. */
function freezeModel(model: ModelSpec): Readonly<ModelSpec> {
  if (model.kind !== 'chat' || model.apiKey === undefined) return Object.freeze({ ...model })
  const { apiKey, ...rest } = model
  const out = { ...rest } as ChatModelSpec
  Object.defineProperty(out, 'apiKey', { value: apiKey, enumerable: false })
  return Object.freeze(out)
}

/**
 * The API key a chat agent sends: `apiKey`, else the variable `apiKeyEnv` names (read now, at
 * run time; unset is an error naming the variable, never a value), else `OPENAI_API_KEY`,
 * else undefined (the endpoint client's default).
 */
export function resolveApiKey(model: Readonly<ChatModelSpec>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (model.apiKey !== undefined) return model.apiKey
  if (model.apiKeyEnv !== undefined) {
    const v = env[model.apiKeyEnv]
    if (v === undefined || v === '') throw new AgentDefinitionError('model.apiKeyEnv', [`the environment variable ${model.apiKeyEnv} is not set; export it with the endpoint's API key`])
    return v
  }
  return env['OPENAI_API_KEY'] || undefined
}

/** Declared capabilities the policy would refuse anyway: a tool that can never succeed is a bug. */
function effectOutsidePolicy(tool: AgentTool, policy: Policy): string[] {
  const out: string[] = []
  const e = tool.effect
  if (e.kind === 'pay') {
    for (const to of e.recipients ?? []) {
      if (evaluatePolicy(policy, { to, value: 0n, data: '0x' }) === 'TargetNotAllowed') {
        out.push(`tool "${tool.name}" may pay ${to}, which the policy's allowedTargets do not include`)
      }
    }
  } else if (e.kind === 'call') {
    for (const to of e.targets) {
      if (evaluatePolicy(policy, { to, value: 0n, data: '0x' }) === 'TargetNotAllowed') {
        out.push(`tool "${tool.name}" may call ${to}, which the policy's allowedTargets do not include`)
      }
    }
    for (const s of e.selectors) {
      if (!policy.allowedSelectors.includes(s)) out.push(`tool "${tool.name}" may call selector ${s}, which the policy's allowedSelectors do not include`)
    }
  }
  return out
}

function isUrl(s: unknown): boolean {
  if (typeof s !== 'string') return false
  try {
    const u = new URL(s)
    return u.protocol === 'http:' || u.protocol === 'https:'
  } catch {
    return false
  }
}
