import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of the AgentKit adapter. Each class has a literal `name`.
 */

/**
 * Raw signing (`sign`, `signMessage`, `signTypedData`, `signTransaction`) through the
 * Covenant wallet provider. A raw signature would bypass the agent account: no policy check,
 * no wallet step, nothing a verifier could see. Refused.
 */
export class RawSigningRefusedError extends UnrecoverableCovenantError {
  override name = 'RawSigningRefusedError' as const
  readonly method: string
  constructor(method: string) {
    super(`The Covenant wallet provider does not sign raw data (${method}): a raw signature would bypass the agent account, its policy and its trace.`, {
      metaMessages: [
        'Move funds with sendTransaction / nativeTransfer: they go through the agent account, policy-checked and traced.',
        method === 'signTypedData'
          ? 'For EIP-712 authorizations, pass an `authorizer` to CovenantWalletProvider (policy-checked authorizations through the account).'
          : 'Covenant agents hold no key that could sign for the account off the trace.',
      ],
      docsPath: 'src/agentkit/README.md',
    })
    this.method = method
  }
}

/** A provider method that acts for the agent was called outside a Covenant tool call (no action to trace it in). */
export class OutsideToolCallError extends UnrecoverableCovenantError {
  override name = 'OutsideToolCallError' as const
  constructor(method: string) {
    super(`CovenantWalletProvider.${method} was called outside a Covenant tool call.`, {
      metaMessages: [
        'The provider acts only inside an agent action, where every transaction becomes a wallet step.',
        'Give the AgentKit actions to the agent with agentKitTools(agentKit, { effects }) and let the agent call them.',
      ],
      docsPath: 'src/agentkit/README.md',
    })
  }
}

/** An AgentKit action asked for more than the effect declared for it. */
export class AgentKitEffectError extends UnrecoverableCovenantError {
  override name = 'AgentKitEffectError' as const
  readonly tool: string
  constructor(tool: string, effect: string, asked: string) {
    super(`AgentKit action "${tool}" (effect ${effect}) asked to ${asked}; nothing was signed and no wallet step was written.`, {
      metaMessages: [
        'Declare the effect the action needs in agentKitTools(agentKit, { effects }):',
        '- a native transfer: { kind: "pay", maxValuePerTx?, recipients? }',
        '- a contract call (ERC-20 transfer…): { kind: "call", targets: [token], selectors: ["0xa9059cbb"] }',
        'The policy registered on chain still applies on top of the effect.',
      ],
      docsPath: 'src/agentkit/README.md',
    })
    this.tool = tool
  }
}

/** The provider was built or used wrongly (bad options, a read without an RPC URL). */
export class CovenantWalletProviderError extends BaseError {
  override name = 'CovenantWalletProviderError' as const
  constructor(message: string, hints: readonly string[] = []) {
    super(message, { metaMessages: hints, docsPath: 'src/agentkit/README.md' })
  }
}

/** `covenant/agentkit` was imported where `@coinbase/agentkit` is not installed (it is an optional peer). */
export class AgentKitMissingError extends UnrecoverableCovenantError {
  override name = 'AgentKitMissingError' as const
  constructor(cause: unknown) {
    super('covenant/agentkit needs the package @coinbase/agentkit, which is not installed.', {
      metaMessages: ['Install it next to covenant: npm install @coinbase/agentkit (0.10.x).', 'The rest of covenant works without it.'],
      details: (cause as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND' ? 'ERR_MODULE_NOT_FOUND' : undefined,
      docsPath: 'src/agentkit/README.md',
    })
  }
}
