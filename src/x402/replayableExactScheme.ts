import type { PaymentPayloadResult, PaymentRequirements, SchemeNetworkClient } from '@x402/core/types'
import { authorizationTypes, type ClientEvmSigner } from '@x402/evm'
import { encodeAbiParameters, getAddress, keccak256, type Hex } from 'viem'
import { MAX_AUTHORIZATION_LIFETIME } from '../wallet/authorization.js'
import { X402PaymentRefusedError, X402ProtocolError } from './errors.js'

export type ReplayableExactSchemeParameters = {
  /** The agent account's payment signer (createAccountPaymentSigner), made when a payment is asked. */
  signer: () => ClientEvmSigner
  /** The tool call's recorded clock: unix seconds, read once per payment through `ToolContext.read`. */
  clock: () => Promise<number>
  /** What makes the nonces of this tool call unique: the agent, the action and the call's number in it. */
  seed: { agentId: string; actionId: string; callIndex: number }
}

/** Seconds an authorization's window is kept short of the account's one-day limit (clock skew between the read and the wallet). */
const LIFETIME_MARGIN = 60

/**
 * x402's `exact` scheme on EVM with EIP-3009, as `@x402/evm`'s `ExactEvmScheme` builds it —
 * the same payload (`{ authorization: { from, to, value, validAfter, validBefore, nonce },
 * signature }`), the same EIP-712 message signed through the same signer — except for the
 * two values that scheme draws from the machine, which make a payment impossible to replay:
 *
 * - the nonce is `keccak256(abi.encode("covenant.x402.nonce", agentId, actionId, callIndex,
 *   payment))` instead of 32 random bytes: unique per agent account as long as its action ids
 *   are (an id reused would make the token refuse the second authorization, never pay twice),
 *   and the same when a verifier re-runs the action;
 * - `validBefore` is the recorded clock plus the server's `maxTimeoutSeconds` (at most a day
 *   less a minute: the account refuses longer windows), instead of `Date.now()`.
 *
 * `ExactEvmScheme` takes neither from a hook, so this implements x402's public
 * `SchemeNetworkClient` with `@x402/core`'s types and `@x402/evm`'s `authorizationTypes`.
 * Only EIP-3009 (`assetTransferMethod` absent or `"eip3009"`); Permit2 is refused.
 */
export function createReplayableExactScheme(p: ReplayableExactSchemeParameters): SchemeNetworkClient {
  let payments = 0
  return {
    scheme: 'exact',
    async createPaymentPayload(x402Version: number, requirements: PaymentRequirements): Promise<PaymentPayloadResult> {
      const method = requirements.extra?.['assetTransferMethod'] ?? 'eip3009'
      if (method !== 'eip3009') throw new X402PaymentRefusedError(`the resource asks for a ${String(method)} payment; this tool pays with EIP-3009 authorizations only`)
      const name = requirements.extra?.['name']
      const version = requirements.extra?.['version']
      if (typeof name !== 'string' || typeof version !== 'string') throw new X402ProtocolError(`the payment requirements name no EIP-712 domain (extra.name, extra.version) for asset ${requirements.asset}`)
      const chain = /^eip155:([1-9][0-9]{0,15})$/.exec(requirements.network)
      if (!chain) throw new X402ProtocolError(`the payment requirements name network ${requirements.network}, not eip155:<chainId>`)
      if (!/^(0|[1-9][0-9]{0,77})$/.test(requirements.amount)) throw new X402ProtocolError(`the payment requirements ask an amount that is not a whole number (${requirements.amount.slice(0, 80)})`)
      if (!Number.isSafeInteger(requirements.maxTimeoutSeconds) || requirements.maxTimeoutSeconds <= 0) {
        throw new X402ProtocolError(`the payment requirements give maxTimeoutSeconds ${String(requirements.maxTimeoutSeconds)}, not a positive number of seconds`)
      }
      const signer = p.signer()
      const now = await p.clock()
      const lifetime = Math.min(requirements.maxTimeoutSeconds, MAX_AUTHORIZATION_LIFETIME - LIFETIME_MARGIN)
      const nonce = paymentNonce({ ...p.seed, payment: payments++ })
      const authorization = {
        from: getAddress(signer.address),
        to: getAddress(requirements.payTo),
        value: requirements.amount,
        validAfter: '0',
        validBefore: String(now + lifetime),
        nonce,
      }
      const signature = await signer.signTypedData({
        domain: { name, version, chainId: Number(chain[1]), verifyingContract: getAddress(requirements.asset) },
        types: authorizationTypes,
        primaryType: 'TransferWithAuthorization',
        message: {
          from: authorization.from,
          to: authorization.to,
          value: BigInt(authorization.value),
          validAfter: 0n,
          validBefore: BigInt(authorization.validBefore),
          nonce,
        },
      })
      return { x402Version, payload: { authorization, signature } }
    },
  }
}

/** The EIP-3009 nonce of the `payment`-th payment of tool call `callIndex` of an action. */
export function paymentNonce(p: { agentId: string; actionId: string; callIndex: number; payment: number }): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'uint256' }, { type: 'string' }, { type: 'uint256' }, { type: 'uint256' }],
      ['covenant.x402.nonce', BigInt(p.agentId), p.actionId, BigInt(p.callIndex), BigInt(p.payment)],
    ),
  )
}
