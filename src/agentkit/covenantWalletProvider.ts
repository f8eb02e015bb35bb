import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type * as AgentKitModule from '@coinbase/agentkit'
import {
  createPublicClient,
  zeroAddress,
  type Hex,
  type PublicClient,
} from 'viem'
import { z } from 'zod'
import type { ToolContext } from '../agent/defineTool.js'
import { rpcTransport } from '../http/rpcTransport.js'
import type { SentTransaction } from '../wallet/agentWallet.js'
import type { CallHandle, PayHandle } from '../wallet/handles.js'
import type { Effect } from '../wallet/schemas.js'
import { AgentKitEffectError, AgentKitMissingError, CovenantWalletProviderError, OutsideToolCallError, RawSigningRefusedError } from './errors.js'

// The one module that loads AgentKit: `covenant/agentkit` needs it, nothing else does, and it
// is an optional peer — without it this entry says what to install instead of a bare resolve error.
const { EvmWalletProvider } = await import('@coinbase/agentkit').catch((err: unknown): typeof AgentKitModule => {
  throw new AgentKitMissingError(err)
})
type EvmWalletProvider = AgentKitModule.EvmWalletProvider

/**
 * Signs EIP-712 authorizations for the agent: the extension point for policy-checked
 * authorizations through the agent account (e.g. x402 payments). Without one, the provider
 * refuses `signTypedData`.
 */
export type TypedDataAuthorizer = {
  signTypedData(typedData: unknown, call: { actionId: string; agentId: string; tool: string; effect: Effect }): Promise<Hex>
}

export type CovenantWalletProviderOptions = {
  /** The chain the agent is registered on. */
  chainId: number
  /** A JSON-RPC URL for reads (balances, contract reads). @defaultValue none: reads are refused */
  rpcUrl?: string | undefined
  /** Policy-checked EIP-712 authorizations. @defaultValue none: `signTypedData` is refused */
  authorizer?: TypedDataAuthorizer | undefined
}

const optionsSchema = z.strictObject({
  chainId: z.number().int().positive(),
  rpcUrl: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
  authorizer: z.custom<TypedDataAuthorizer>((v) => typeof (v as TypedDataAuthorizer | undefined)?.signTypedData === 'function', 'expected { signTypedData(typedData, call) }').optional(),
})

/** One AgentKit action running as a Covenant tool call. */
export type ProviderCall = {
  readonly tool: string
  readonly effect: Effect
  readonly ctx: ToolContext
  /** Transactions sent in this call, by hash (their receipts answer waitForTransactionReceipt). */
  readonly sent: Map<string, SentTransaction>
  /** The first wallet refusal: AgentKit actions turn errors into strings; the tool rethrows it. */
  refusal: Error | undefined
}

type Enter = <T>(call: ProviderCall, fn: () => Promise<T>) => Promise<T>
const entries = new WeakMap<object, Enter>()

/** Runs `fn` (an AgentKit action) as the tool call `call`. For agentKitTools only. */
export function enterToolCall<T>(provider: CovenantWalletProvider, call: ProviderCall, fn: () => Promise<T>): Promise<T> {
  const enter = entries.get(provider)
  if (!enter) throw new CovenantWalletProviderError('Not a CovenantWalletProvider.')
  return enter(call, fn)
}

/** Whether `value` is a CovenantWalletProvider (of this copy of covenant). */
export function isCovenantWalletProvider(value: unknown): value is CovenantWalletProvider {
  return typeof value === 'object' && value !== null && entries.has(value)
}

/**
 * An AgentKit `EvmWalletProvider` that moves funds only through the agent's Covenant wallet:
 * every `sendTransaction` / `nativeTransfer` of an AgentKit action is the tool's wallet
 * handle — policy-checked, written to the trace as a wallet step before signing, executed
 * by the agent's AgentAccount — so it is in the trace and visible to verifiers. It holds
 * no key. Raw signing is refused ({@link RawSigningRefusedError}).
 *
 * ```ts
 * const walletProvider = new CovenantWalletProvider({ chainId: 8453, rpcUrl })
 * const agentKit = await AgentKit.from({ walletProvider, actionProviders: [walletActionProvider()] })
 * const tools = agentKitTools(agentKit, { effects: { WalletActionProvider_native_transfer: { kind: 'pay' } } })
 * ```
 */
export class CovenantWalletProvider extends EvmWalletProvider {
  readonly #calls = new AsyncLocalStorage<ProviderCall>()
  readonly #chainId: number
  readonly #rpcUrl: string | undefined
  readonly #authorizer: TypedDataAuthorizer | undefined
  #client: PublicClient | undefined

  constructor(options: CovenantWalletProviderOptions) {
    super()
    // AgentKit's base class posts the wallet's address to Coinbase's analytics on the next tick
    Object.defineProperty(this, 'trackInitialization', { value: () => {} })
    const o = optionsSchema.safeParse(options)
    if (!o.success) {
      throw new CovenantWalletProviderError(
        'Invalid CovenantWalletProvider options.',
        o.error.issues.map((i) => `- ${i.path.join('.') || '(options)'}: ${i.message}`),
      )
    }
    this.#chainId = o.data.chainId
    this.#rpcUrl = o.data.rpcUrl
    this.#authorizer = o.data.authorizer
    entries.set(this, (call, fn) => this.#calls.run(call, fn))
  }

  #call(method: string): ProviderCall {
    const call = this.#calls.getStore()
    if (!call) throw new OutsideToolCallError(method)
    return call
  }

  /** The agent's account (where its funds are); the zero address in a replay that saw no wallet step. */
  override getAddress(): string {
    return this.#call('getAddress').ctx.address ?? zeroAddress
  }

  override getNetwork(): { protocolFamily: string; chainId: string; networkId?: string } {
    return { protocolFamily: 'evm', chainId: String(this.#chainId), ...networkIdOf(this.#chainId) }
  }

  override getName(): string {
    return 'covenant_wallet_provider'
  }

  override getPublicClient(): ReturnType<EvmWalletProvider['getPublicClient']> {
    if (!this.#rpcUrl) {
      throw new CovenantWalletProviderError('This AgentKit action reads the chain, and the CovenantWalletProvider has no rpcUrl.', [
        'Pass { rpcUrl } to new CovenantWalletProvider(...).',
      ])
    }
    this.#client ??= createPublicClient({ transport: rpcTransport(this.#rpcUrl) })
    return this.#client as unknown as ReturnType<EvmWalletProvider['getPublicClient']>
  }

  override async getBalance(): Promise<bigint> {
    const address = this.getAddress() as Hex
    return (this.getPublicClient() as unknown as PublicClient).getBalance({ address })
  }

  /**
   * Reads a contract on the chain (AgentKit's generic signature, whose viem copy is not
   * Covenant's: the parameters are viem's `ReadContractParameters`).
   */
  override async readContract(params: never): Promise<never> {
    return (await (this.getPublicClient() as unknown as PublicClient).readContract(params)) as never
  }

  override async nativeTransfer(to: string, value: string): Promise<string> {
    if (!/^\d+$/.test(String(value))) throw new CovenantWalletProviderError(`nativeTransfer: value must be wei as a decimal string, got ${JSON.stringify(String(value)).slice(0, 40)}.`)
    return this.sendTransaction({ to: to as Hex, value: BigInt(value) })
  }

  /** Sends through the tool's wallet handle: policy check, wallet step, the agent account. */
  override async sendTransaction(transaction: Parameters<EvmWalletProvider['sendTransaction']>[0]): Promise<Hex> {
    const call = this.#call('sendTransaction')
    try {
      const to = transaction.to
      if (typeof to !== 'string') throw new AgentKitEffectError(call.tool, call.effect.kind, 'deploy a contract (a transaction without `to`)')
      const value = transaction.value ?? 0n
      const data = (transaction.data ?? '0x') as Hex
      const handle = call.ctx.wallet as PayHandle | CallHandle | undefined
      let sent: SentTransaction
      if (handle && 'call' in handle) sent = await handle.call({ to: to as Hex, data, value })
      else if (handle && 'pay' in handle) {
        if (data !== '0x') throw new AgentKitEffectError(call.tool, 'pay', `call a contract (${to}, selector ${data.slice(0, 10)})`)
        sent = await handle.pay({ to: to as Hex, value })
      } else throw new AgentKitEffectError(call.tool, call.effect.kind, `send a transaction (to ${to})`)
      call.sent.set(sent.hash.toLowerCase(), sent)
      return sent.hash
    } catch (err) {
      call.refusal ??= err instanceof Error ? err : new Error(String(err))
      throw err
    }
  }

  /** The receipt the wallet already waited for (the same answer live and in a replay). */
  override async waitForTransactionReceipt(txHash: Hex): Promise<{ transactionHash: Hex; status: 'success' | 'reverted'; blockNumber: bigint; blockHash: Hex; gasUsed: bigint }> {
    const sent = this.#call('waitForTransactionReceipt').sent.get(String(txHash).toLowerCase())
    if (!sent) throw new CovenantWalletProviderError(`waitForTransactionReceipt: ${String(txHash).slice(0, 66)} was not sent by this tool call.`)
    return { transactionHash: sent.hash, ...sent.receipt }
  }

  override async sign(_hash: Hex): Promise<Hex> {
    throw new RawSigningRefusedError('sign')
  }

  override async signMessage(_message: string | Uint8Array): Promise<Hex> {
    throw new RawSigningRefusedError('signMessage')
  }

  override async signTransaction(_transaction: Parameters<EvmWalletProvider['signTransaction']>[0]): Promise<Hex> {
    throw new RawSigningRefusedError('signTransaction')
  }

  override async signTypedData(typedData: unknown): Promise<Hex> {
    if (!this.#authorizer) throw new RawSigningRefusedError('signTypedData')
    const call = this.#call('signTypedData')
    return this.#authorizer.signTypedData(typedData, { actionId: call.ctx.actionId, agentId: call.ctx.agentId, tool: call.tool, effect: call.effect })
  }

  toJSON(): { provider: string; chainId: number } {
    return { provider: this.getName(), chainId: this.#chainId }
  }
}

function networkIdOf(chainId: number): { networkId?: string } {
  const ids: Record<number, string> = { 1: 'ethereum-mainnet', 8453: 'base-mainnet', 84532: 'base-sepolia', 11155111: 'ethereum-sepolia' }
  return ids[chainId] ? { networkId: ids[chainId] } : {}
}

/**
 * AgentKit's telemetry posts the wallet's address and every action's name to Coinbase
 * (cca-lite.coinbase.com) and does not catch its own failure: offline, each action leaves an
 * unhandled rejection that ends a Node process. Covenant agents talk to the outside world
 * through traced tools only, so importing this module switches it off.
 */
function silenceAgentKitTelemetry(): void {
  try {
    const require = createRequire(import.meta.url)
    const telemetry = require(join(dirname(require.resolve('@coinbase/agentkit')), 'analytics', 'sendAnalyticsEvent.js')) as { sendAnalyticsEvent?: unknown }
    if (typeof telemetry.sendAnalyticsEvent === 'function') telemetry.sendAnalyticsEvent = async () => {}
  } catch {
    // another AgentKit layout: nothing to switch off here (see src/agentkit/README.md)
  }
}
silenceAgentKitTelemetry()
