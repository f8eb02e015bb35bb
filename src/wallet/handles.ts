import type { Address, Hex } from 'viem'
import type { AgentWallet, SentTransaction } from './agentWallet.js'
import { CapabilityExceededError, InvalidTransactionError } from './errors.js'
import { addressSchema, type Effect, effectSchema, type EffectInput, weiSchema } from './schemas.js'

/**
 * Least-privilege wallet handles. A tool never sees the wallet: it gets the one capability
 * its declared `effect` grants, as a frozen, prototype-less object whose only property is
 * that function. The function closes over the wallet, so the account, the signer and the
 * wallet's other methods cannot be reached from the handle. Each handle checks its own,
 * narrower limits first; the wallet then applies the agent's registered policy.
 */

/** The handle of a `pay` tool: native transfers only. */
export type PayHandle = {
  readonly pay: (p: { to: Address; value: bigint }) => Promise<SentTransaction>
}

/**
 * The handle of a `call` tool: calls to declared targets and selectors. A call whose data
 * has a token authorization's shape (an EIP-3009 transfer or EIP-2612 permit from the
 * agent's account, see authorization.ts) is authorized by the account instead of executed;
 * `account` is the address such an authorization names as `from` / `owner` (undefined where
 * the wallet does not say, e.g. in a replay).
 */
export type CallHandle = {
  readonly call: (p: { to: Address; data: Hex; value?: bigint | undefined }) => Promise<SentTransaction>
  readonly account: Address | undefined
}

/** The handle a tool with effect `E` receives. */
export type WalletHandleFor<E extends EffectInput> = E extends { kind: 'pay' }
  ? PayHandle
  : E extends { kind: 'call' }
    ? CallHandle
    : undefined

export type CreateWalletHandleParameters = {
  /** The action the tool runs in; written into every wallet step the handle causes. */
  actionId: string
  /** The tool's name, for error messages. */
  tool?: string | undefined
  /** Called with each transaction the handle sent (the runtime records them in the tool step). */
  onSent?: ((tx: SentTransaction) => void) | undefined
}

/** Builds the handle an `effect` grants; `undefined` for `{ kind: 'none' }`. */
export function createWalletHandle<const E extends EffectInput>(
  wallet: Pick<AgentWallet, 'sendTransaction'> & { readonly address?: Address | undefined },
  effect: E,
  p: CreateWalletHandleParameters,
): WalletHandleFor<E>
export function createWalletHandle(wallet: Pick<AgentWallet, 'sendTransaction'> & { readonly address?: Address | undefined }, effectInput: EffectInput, p: CreateWalletHandleParameters): PayHandle | CallHandle | undefined {
  const effect: Effect = parseEffect(effectInput)
  const { actionId, tool, onSent } = p
  const sent = (tx: SentTransaction) => {
    onSent?.(tx)
    return tx
  }
  if (effect.kind === 'none') return undefined
  if (effect.kind === 'pay') {
    const recipients = effect.recipients
    const cap = effect.maxValuePerTx
    const pay = async (args: { to: Address; value: bigint }): Promise<SentTransaction> => {
      const to = parseAddress(args?.to)
      const value = parseWei(args?.value)
      if (cap !== undefined && value > cap) throw new CapabilityExceededError({ tool, rule: 'HandleValueCap', limit: cap, attempted: value })
      if (recipients !== undefined && !recipients.includes(to)) {
        throw new CapabilityExceededError({ tool, rule: 'RecipientNotAllowed', limit: recipients, attempted: to })
      }
      return sent(await wallet.sendTransaction({ to, value, data: '0x' }, { actionId }))
    }
    return seal({ pay })
  }
  const { targets, selectors } = effect
  const maxValue = effect.maxValue ?? 0n
  const call = async (args: { to: Address; data: Hex; value?: bigint | undefined }): Promise<SentTransaction> => {
    const to = parseAddress(args?.to)
    const value = parseWei(args?.value ?? 0n)
    const data = args?.data
    if (typeof data !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(data)) {
      throw new InvalidTransactionError('data: expected 0x-prefixed hex of whole bytes')
    }
    if (!targets.includes(to)) throw new CapabilityExceededError({ tool, rule: 'TargetNotAllowed', limit: targets, attempted: to })
    const selector = data.slice(0, 10).toLowerCase() as Hex
    if (data.length < 10 || !selectors.includes(selector)) {
      throw new CapabilityExceededError({ tool, rule: 'SelectorNotAllowed', limit: selectors, attempted: selector })
    }
    if (value > maxValue) throw new CapabilityExceededError({ tool, rule: 'HandleValueCap', limit: maxValue, attempted: value })
    return sent(await wallet.sendTransaction({ to, value, data: data as Hex }, { actionId }))
  }
  return seal({ call, account: wallet.address })
}

/** A frozen object with no prototype: nothing to reach but its own function. */
function seal<T extends object>(fields: T): T {
  return Object.freeze(Object.assign(Object.create(null) as object, fields)) as T
}

function parseAddress(value: unknown): Address {
  const r = addressSchema.safeParse(value)
  if (!r.success) throw new InvalidTransactionError(`to: ${r.error.issues[0]?.message ?? 'invalid address'}`)
  return r.data
}

function parseWei(value: unknown): bigint {
  const r = weiSchema.safeParse(value)
  if (!r.success) throw new InvalidTransactionError(`value: ${r.error.issues[0]?.message ?? 'invalid wei amount'}`)
  return r.data
}

/**
 * Effects parsed before, by object: the runtime asks for a handle on every tool call with the
 * tool's effect, which defineTool parsed and deep-froze once. Only frozen objects are kept
 * (a mutable one could change after it was checked); anything else is parsed every time.
 */
const parsedEffects = new WeakMap<object, Effect>()

function parseEffect(input: EffectInput): Effect {
  const frozen = typeof input === 'object' && input !== null && Object.isFrozen(input)
  const known = frozen ? parsedEffects.get(input) : undefined
  if (known) return known
  const effect = effectSchema.parse(input)
  if (frozen && deeplyFrozen(input)) parsedEffects.set(input, effect)
  return effect
}

function deeplyFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  return Object.isFrozen(value) && Object.values(value).every(deeplyFrozen)
}

