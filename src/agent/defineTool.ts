import type { Address } from 'viem'
import { z } from 'zod'
import type { JsonValue } from '../trace/schemas.js'
import type { WalletHandleFor } from '../wallet/handles.js'
import { type Effect, effectSchema, type EffectInput } from '../wallet/schemas.js'
import { AgentDefinitionError } from './errors.js'
import { sortKeysDeep, toJsonValue } from './internal/json.js'

/** What a tool receives besides its arguments. */
export type ToolContext<E extends EffectInput = EffectInput> = {
  readonly actionId: string
  readonly agentId: string
  /** The tool-call id the model gave (empty for ONNX decisions). */
  readonly toolCallId: string
  /** This tool call's number within the action, from 0 (the same in a replay: a seed for nonces). */
  readonly callIndex: number
  /**
   * Reads the outside world from a `pay` / `call` tool (an HTTP answer, a clock): live, runs
   * `fetch` and records its JSON result (or the name and message of what it threw) in the
   * tool step; in a verifier's replay, answers the recorded result without running `fetch`.
   * The tool sees the JSON value that is recorded — never more — so its code decides the
   * same way in both. Reads are answered in order and by label; a `none` tool's whole result
   * is recorded already, so there `read` just runs `fetch`.
   */
  readonly read: <T extends JsonValue>(label: string, fetch: () => T | Promise<T>) => Promise<T>
  /**
   * The one capability the tool's `effect` grants: `{ pay }` for `pay`, `{ call }` for
   * `call`, `undefined` for `none`. Never the wallet itself.
   */
  readonly wallet: WalletHandleFor<E>
  /**
   * The agent's address on chain (its AgentAccount: where its funds are), for tools that
   * must name it (e.g. an AgentKit wallet provider's `getAddress`); `undefined` when the
   * runtime has no wallet, or a replay has not seen one. An address only, never a signer.
   */
  readonly address?: Address | undefined
}

export type ToolArgsResult = { ok: true; value: unknown } | { ok: false; issues: string[] }

/**
 * A tool as the runtime and the manifest see it, whichever way it was made (defineTool or
 * wrapLangChainTool).
 */
export type AgentTool = {
  readonly name: string
  readonly description: string
  readonly effect: Effect
  /**
   * JSON Schema of the arguments: what the model is shown and what the manifest commits to,
   * with object keys sorted (the trace stores requests canonically; replay must see the same).
   */
  readonly parameters: { readonly [key: string]: JsonValue }
  /** Validates arguments from the model. */
  readonly parseArgs: (args: unknown) => Promise<ToolArgsResult>
  /** Runs the tool on validated arguments. */
  readonly run: (args: unknown, ctx: ToolContext) => Promise<unknown>
}

export type ToolDefinition<S extends z.ZodObject = z.ZodObject, E extends EffectInput = EffectInput, R = unknown> = AgentTool & {
  readonly schema: S
  readonly invoke: (args: z.output<S>, ctx: ToolContext<E>) => R | Promise<R>
}

export type DefineToolParameters<S extends z.ZodObject, E extends EffectInput, R> = {
  /** Letters, digits, `_` and `-`, at most 64 (the OpenAI function-name rule). */
  name: string
  /** What the tool does, written for the model. */
  description: string
  /** The arguments; every field carries `.describe()` text for the model. */
  schema: S
  /** What the tool may do with the wallet. */
  effect: E
  invoke: (args: z.output<S>, ctx: ToolContext<E>) => R | Promise<R>
}

export const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Defines a tool. Its arguments are checked against `schema` before `invoke` runs; its
 * `effect` decides which wallet handle it gets (least privilege).
 *
 * ```ts
 * const payInvoice = defineTool({
 *   name: 'payInvoice',
 *   description: 'Pays an invoice in wei to its payee.',
 *   schema: z.object({ to: z.string().describe('payee address'), amountWei: z.string().describe('amount in wei') }),
 *   effect: { kind: 'pay', maxValuePerTx: 10n ** 17n },
 *   invoke: ({ to, amountWei }, { wallet }) => wallet.pay({ to, value: BigInt(amountWei) }),
 * })
 * ```
 */
export function defineTool<S extends z.ZodObject, const E extends EffectInput, R>(
  p: DefineToolParameters<S, E, R>,
): ToolDefinition<S, E, R> {
  const problems: string[] = []
  if (typeof p?.name !== 'string' || !TOOL_NAME.test(p.name)) problems.push(`name ${JSON.stringify(p?.name)} must match ${TOOL_NAME}`)
  if (typeof p?.description !== 'string' || p.description.trim().length === 0) problems.push('description is required (the model reads it)')
  else if (p.description.length > 4096) problems.push('description is longer than 4096 characters')
  if (typeof p?.invoke !== 'function') problems.push('invoke must be a function')
  const effect = effectSchema.safeParse(p?.effect)
  if (!effect.success) problems.push(...effect.error.issues.map((i) => `effect.${i.path.join('.')}: ${i.message}`))
  let parameters: Record<string, JsonValue> | undefined
  if (!(p?.schema instanceof z.ZodObject)) problems.push('schema must be a zod object (z.object({...}))')
  else {
    try {
      parameters = sortKeysDeep(toJsonValue(z.toJSONSchema(p.schema, { io: 'input', unrepresentable: 'any' }))) as Record<string, JsonValue>
      const properties = (parameters.properties ?? {}) as Record<string, Record<string, JsonValue>>
      for (const [key, prop] of Object.entries(properties)) {
        if (typeof prop.description !== 'string' || prop.description.length === 0) {
          problems.push(`schema field "${key}" has no .describe() text for the model`)
        }
      }
    } catch (err) {
      problems.push(`schema cannot be shown to the model as JSON Schema: ${(err as Error).message}`)
    }
  }
  if (problems.length > 0 || !effect.success || !parameters) {
    throw new AgentDefinitionError(`tool ${typeof p?.name === 'string' ? `"${p.name}"` : ''}`.trim(), problems)
  }
  const schema = p.schema
  const invoke = p.invoke
  return Object.freeze({
    name: p.name,
    description: p.description,
    effect: deepFreeze(effect.data),
    parameters: deepFreeze(parameters),
    schema,
    invoke,
    parseArgs: async (args: unknown): Promise<ToolArgsResult> => {
      const r = await schema.safeParseAsync(args)
      return r.success ? { ok: true, value: r.data } : { ok: false, issues: zodIssues(r.error) }
    },
    run: async (args: unknown, ctx: ToolContext) => invoke(args as z.output<S>, ctx as ToolContext<E>),
  })
}

export function zodIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(arguments)'}: ${i.message}`)
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
