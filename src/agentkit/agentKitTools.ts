// Type-only: AgentKit itself is loaded by covenantWalletProvider.ts, the one module that needs its classes.
import type { AgentKit } from '@coinbase/agentkit'
import { markCovenantBacked, unbackedAgentKitTool } from '../agent/agentKitMark.js'
import { zodIssues, type AgentTool, type ToolArgsResult, type ToolContext } from '../agent/defineTool.js'
import { AgentDefinitionError } from '../agent/errors.js'
import { wrapLangChainTool } from '../agent/wrapLangChainTool.js'
import { z } from 'zod'
import { addressSchema, effectSchema, ethAmountSchema, type Effect, type EffectInput } from '../wallet/schemas.js'
import { enterToolCall, isCovenantWalletProvider, type ProviderCall } from './covenantWalletProvider.js'

/**
 * The effects Covenant knows for AgentKit's own wallet actions. Any other action needs its
 * effect given in `effects`: Covenant cannot tell what an action does from its name.
 */
export const KNOWN_AGENTKIT_EFFECTS: Readonly<Record<string, EffectInput>> = Object.freeze({
  WalletActionProvider_get_wallet_details: { kind: 'none' },
  WalletActionProvider_native_transfer: { kind: 'pay' },
  ERC20ActionProvider_get_balance: { kind: 'none' },
})

/**
 * Covenant's own checks of the arguments of AgentKit actions that move funds, on top of
 * AgentKit's schemas (which take any string as an amount: "-1", "0" and "1e3" would reach the
 * action). A call these refuse is a ToolArgumentsError: the action never runs.
 */
export const AGENTKIT_ARGUMENT_CHECKS: Readonly<Record<string, z.ZodType>> = Object.freeze({
  WalletActionProvider_native_transfer: z.looseObject({ to: addressSchema, value: ethAmountSchema }),
  ERC20ActionProvider_transfer: z.looseObject({
    amount: z.string().regex(/^(0|[1-9][0-9]*)(\.[0-9]{1,36})?$/, 'expected a positive decimal amount such as "12.5"').refine((v) => !/^[0.]*$/.test(v), 'must be more than 0'),
    tokenAddress: addressSchema,
    destinationAddress: addressSchema,
  }),
})

export type AgentKitToolsOptions = {
  /**
   * The effect of each action, by its AgentKit name (`ERC20ActionProvider_transfer`): what
   * the action may do with the agent's wallet (`pay`, `call` with targets and selectors), or
   * `none` for reads (their results are recorded and never re-fetched on replay). Overrides
   * {@link KNOWN_AGENTKIT_EFFECTS}; an action with neither is refused.
   */
  effects?: Readonly<Record<string, EffectInput>> | undefined
  /** Only these actions become tools. @defaultValue every action of the AgentKit */
  include?: readonly string[] | undefined
}

/**
 * The actions of an AgentKit built over a {@link CovenantWalletProvider}, as Covenant tools:
 * each runs the AgentKit action inside its tool call, so a transaction it sends is that
 * tool's wallet handle (policy, wallet step, agent account). An AgentKit with any other
 * wallet provider is refused: its actions would pay from a wallet no policy or trace covers.
 */
export function agentKitTools(agentKit: AgentKit, options: AgentKitToolsOptions = {}): AgentTool[] {
  const provider = (agentKit as unknown as { walletProvider?: unknown } | null)?.walletProvider
  if (!isCovenantWalletProvider(provider)) {
    const name = (provider as { getName?: () => string } | undefined)?.getName?.()
    throw new AgentDefinitionError('AgentKit tools', [
      `the AgentKit's wallet provider is ${typeof name === 'string' ? `"${name}"` : 'not a CovenantWalletProvider'}: its actions would pay from that wallet, around the agent's policy and trace`,
      'build it with AgentKit.from({ walletProvider: new CovenantWalletProvider({ chainId, rpcUrl }), actionProviders })',
    ])
  }
  const actions = agentKit.getActions()
  const include = options.include ? new Set(options.include) : undefined
  const problems: string[] = []
  const names = new Set(actions.map((a) => a.name))
  for (const n of include ?? []) if (!names.has(n)) problems.push(`include names "${n}", which this AgentKit has no action for (it has: ${[...names].join(', ')})`)
  for (const n of Object.keys(options.effects ?? {})) if (!names.has(n)) problems.push(`effects names "${n}", which this AgentKit has no action for`)
  const tools: AgentTool[] = []
  for (const action of actions) {
    if (include && !include.has(action.name)) continue
    const given = options.effects?.[action.name] ?? KNOWN_AGENTKIT_EFFECTS[action.name]
    if (given === undefined) {
      problems.push(`action "${action.name}" has no effect: give effects["${action.name}"] ({ kind: 'none' } for a read, 'pay' or 'call' for what moves funds)`)
      continue
    }
    const parsed = effectSchema.safeParse(given)
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `effects["${action.name}"].${i.path.join('.')}: ${i.message}`))
      continue
    }
    const effect: Effect = parsed.data
    const tool = wrapLangChainTool(
      {
        name: action.name,
        description: action.description,
        schema: action.schema,
        invoke: async (args: unknown, config?: { configurable?: { covenant?: ToolContext } }) => {
          const ctx = config?.configurable?.covenant
          if (!ctx) throw new AgentDefinitionError(`AgentKit tool "${action.name}"`, ['it runs only as a tool of a Covenant agent'])
          const call: ProviderCall = { tool: action.name, effect, ctx, sent: new Map(), refusal: undefined }
          const out = await enterToolCall(provider, call, () => action.invoke(args as never))
          // AgentKit actions turn every error into a string: a wallet refusal must still end the action
          if (call.refusal) throw call.refusal
          return out
        },
      },
      { effect: given },
    )
    const check = AGENTKIT_ARGUMENT_CHECKS[action.name]
    tools.push(markCovenantBacked(check ? withArgumentCheck(tool, check) : tool))
  }
  if (problems.length > 0) throw new AgentDefinitionError('AgentKit tools', problems)
  return tools
}

function withArgumentCheck(tool: AgentTool, check: z.ZodType): AgentTool {
  return Object.freeze({
    ...tool,
    parseArgs: async (args: unknown): Promise<ToolArgsResult> => {
      const own = await tool.parseArgs(args)
      if (!own.ok) return own
      const r = await check.safeParseAsync(own.value)
      return r.success ? own : { ok: false, issues: zodIssues(r.error) }
    },
  })
}

/** Whether a tool is an AgentKit action that would pay from AgentKit's own wallet (what defineAgent refuses). */
export function isUnbackedAgentKitTool(tool: unknown): boolean {
  return unbackedAgentKitTool(tool) !== undefined
}
