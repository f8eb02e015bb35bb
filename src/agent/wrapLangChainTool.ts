import { toJsonSchema, Validator } from '@langchain/core/utils/json_schema'
import { interopSafeParseAsync, isInteropZodSchema } from '@langchain/core/utils/types'
import type { JsonValue } from '../trace/schemas.js'
import { effectSchema, type EffectInput } from '../wallet/schemas.js'
import { type AgentTool, deepFreeze, TOOL_NAME, type ToolArgsResult, type ToolContext, zodIssues } from './defineTool.js'
import { AgentDefinitionError } from './errors.js'
import { sortKeysDeep, toJsonValue } from './internal/json.js'

/** What is needed of a LangChain tool (StructuredTool, DynamicStructuredTool, DynamicTool, `tool(...)`). */
export type LangChainToolLike = {
  name: string
  description: string
  schema: unknown
  // biome-ignore lint: LangChain's own signatures are this loose
  invoke(input: any, config?: any): Promise<unknown>
}

export type WrapLangChainToolOptions<E extends EffectInput> = {
  /** What the tool may do with the wallet. @defaultValue { kind: 'none' } */
  effect?: E | undefined
}

/**
 * Makes any LangChain tool (a `StructuredTool`, `tool(...)`, `DynamicStructuredTool`) an
 * agent tool. Its arguments are validated with its own schema (zod 3, zod 4 or JSON
 * Schema). A LangChain tool cannot take Covenant's context as a parameter, so it finds it
 * in the run config: `config.configurable.covenant` is the {@link ToolContext}, whose
 * `wallet` is the handle its `effect` grants.
 */
export function wrapLangChainTool<const E extends EffectInput = { kind: 'none' }>(
  tool: LangChainToolLike,
  options: WrapLangChainToolOptions<E> = {},
): AgentTool {
  const problems: string[] = []
  if (!tool || typeof tool.invoke !== 'function') problems.push('expected a LangChain tool (with invoke)')
  const name = tool?.name
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) problems.push(`name ${JSON.stringify(name)} must match ${TOOL_NAME}`)
  const description = tool?.description
  if (typeof description !== 'string' || description.trim().length === 0) problems.push('description is required (the model reads it)')
  const effect = effectSchema.safeParse(options.effect ?? { kind: 'none' })
  if (!effect.success) problems.push(...effect.error.issues.map((i) => `effect.${i.path.join('.')}: ${i.message}`))
  let parameters: Record<string, JsonValue> | undefined
  try {
    parameters = sortKeysDeep(toJsonValue(toJsonSchema(tool?.schema as Parameters<typeof toJsonSchema>[0]))) as Record<string, JsonValue>
  } catch (err) {
    problems.push(`its schema cannot be shown as JSON Schema: ${(err as Error).message}`)
  }
  if (problems.length > 0 || !effect.success || !parameters) {
    throw new AgentDefinitionError(`LangChain tool ${typeof name === 'string' ? `"${name}"` : ''}`.trim(), problems)
  }
  const schema = tool.schema
  const validator = isInteropZodSchema(schema) ? undefined : new Validator(parameters as never)
  return Object.freeze({
    name: name as string,
    description: description as string,
    effect: deepFreeze(effect.data),
    parameters: deepFreeze(parameters),
    parseArgs: async (args: unknown): Promise<ToolArgsResult> => {
      if (isInteropZodSchema(schema)) {
        const r = await interopSafeParseAsync(schema, args)
        return r.success ? { ok: true, value: r.data } : { ok: false, issues: zodIssues(r.error as never) }
      }
      const r = validator!.validate(args)
      return r.valid
        ? { ok: true, value: args }
        : { ok: false, issues: r.errors.map((e) => `${e.instanceLocation.replace(/^#\/?/, '') || '(arguments)'}: ${e.error}`) }
    },
    run: (args: unknown, ctx: ToolContext) => tool.invoke(args as never, { configurable: { covenant: ctx } }),
  })
}
