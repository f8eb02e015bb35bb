import { concat, decodeAbiParameters, encodeAbiParameters, keccak256, size, slice, toFunctionSelector, type Address, type Hex } from 'viem'
import { z } from 'zod'
import { addressSchema, weiSchema } from './schemas.js'

/**
 * Signatures that move money, as account calls. An EIP-3009 `transferWithAuthorization` or an
 * EIP-2612 `permit` from the agent's account is authorized by the account itself
 * (`AgentAccount.authorizeTransfer` / `authorizePermit`), under the policy, as a numbered
 * call whose wallet step is an ordinary wallet step: `to` = the token, `value` = 0, `data` =
 * the token function's selector followed by the EIP-712 message fields in type order (the
 * first field is the account). Such data can never be a successful `execute` (the real
 * function also takes the signature), so its shape alone says "authorization": the wallet's
 * envelope, recovery and outbox checks, the verifiers and the slashing path treat it like any
 * other call. `contracts/src/AgentAccount.sol` builds the same bytes; the integration tests
 * compare the leaf the account stores with the wallet step's.
 */

/** `transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)` (EIP-3009). */
export const TRANSFER_WITH_AUTHORIZATION_SELECTOR = toFunctionSelector(
  'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)',
)
/** `permit(address,address,uint256,uint256,uint8,bytes32,bytes32)` (EIP-2612). */
export const PERMIT_SELECTOR = toFunctionSelector('permit(address,address,uint256,uint256,uint8,bytes32,bytes32)')

/** The longest an authorization may stay valid (AgentAccount.MAX_AUTHORIZATION_LIFETIME), seconds. */
export const MAX_AUTHORIZATION_LIFETIME = 86_400

const TRANSFER_TYPEHASH = keccak256(
  new TextEncoder().encode('TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)'),
)
const PERMIT_TYPEHASH = keccak256(new TextEncoder().encode('Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)'))

const TRANSFER_FIELDS = [
  { type: 'address' }, // from
  { type: 'address' }, // to
  { type: 'uint256' }, // value
  { type: 'uint256' }, // validAfter
  { type: 'uint256' }, // validBefore
  { type: 'bytes32' }, // nonce
] as const
const PERMIT_FIELDS = [
  { type: 'address' }, // owner
  { type: 'address' }, // spender
  { type: 'uint256' }, // value
  { type: 'uint256' }, // nonce
  { type: 'uint256' }, // deadline
] as const

const seconds = z.union([z.bigint(), z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform((v) => BigInt(v))
const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 32-byte 0x-hex nonce')
  .transform((v) => v.toLowerCase() as Hex)

/** An EIP-3009 transfer the agent's account authorizes (`from` is always the account). */
export const transferAuthorizationSchema = z.strictObject({
  token: addressSchema.describe('the EIP-3009 token (an allowed target of the policy)'),
  to: addressSchema.describe('the recipient (an allowed target of the policy)'),
  value: weiSchema.describe("amount in the token's smallest unit"),
  validAfter: seconds.default(0n).describe('unix seconds after which it may be settled'),
  validBefore: seconds.describe('unix seconds before which it must be settled (at most a day ahead)'),
  nonce: bytes32.describe('the EIP-3009 authorization nonce (random 32 bytes)'),
})
export type TransferAuthorization = z.output<typeof transferAuthorizationSchema>
export type TransferAuthorizationInput = z.input<typeof transferAuthorizationSchema>

/** An EIP-2612 permit the agent's account authorizes (`owner` is always the account). */
export const permitAuthorizationSchema = z.strictObject({
  token: addressSchema.describe('the EIP-2612 token (an allowed target of the policy)'),
  spender: addressSchema.describe('who may then pull the tokens (an allowed target of the policy)'),
  value: weiSchema.describe("allowance in the token's smallest unit"),
  nonce: weiSchema.describe("the token's permit nonce for the account (nonces(account))"),
  deadline: seconds.describe('unix seconds until which it may be used (at most a day ahead)'),
})
export type PermitAuthorization = z.output<typeof permitAuthorizationSchema>
export type PermitAuthorizationInput = z.input<typeof permitAuthorizationSchema>

/** A token authorization as its wallet step carries it. */
export type AuthorizationCall =
  | { kind: 'transfer'; from: Address; authorization: TransferAuthorization }
  | { kind: 'permit'; from: Address; authorization: PermitAuthorization }

/** The wallet step's `data` for an authorization by `account`. */
export function encodeAuthorizationData(account: Address, a: { kind: 'transfer'; authorization: TransferAuthorization } | { kind: 'permit'; authorization: PermitAuthorization }): Hex {
  return concat([a.kind === 'transfer' ? TRANSFER_WITH_AUTHORIZATION_SELECTOR : PERMIT_SELECTOR, authorizationFields(account, a)])
}

function authorizationFields(account: Address, a: { kind: 'transfer'; authorization: TransferAuthorization } | { kind: 'permit'; authorization: PermitAuthorization }): Hex {
  if (a.kind === 'transfer') {
    const t = a.authorization
    return encodeAbiParameters(TRANSFER_FIELDS, [account, t.to, t.value, t.validAfter, t.validBefore, t.nonce])
  }
  const p = a.authorization
  return encodeAbiParameters(PERMIT_FIELDS, [account, p.spender, p.value, p.nonce, p.deadline])
}

/**
 * The authorization a wallet step's call carries, when its data has exactly an
 * authorization's shape (selector + 6 or 5 words); `token` is the step's `to`.
 */
export function decodeAuthorizationData(token: Address, data: Hex): AuthorizationCall | undefined {
  if (size(data) < 4) return undefined
  const selector = slice(data, 0, 4).toLowerCase()
  try {
    if (selector === TRANSFER_WITH_AUTHORIZATION_SELECTOR && size(data) === 4 + 6 * 32) {
      const [from, to, value, validAfter, validBefore, nonce] = decodeAbiParameters(TRANSFER_FIELDS, slice(data, 4))
      return { kind: 'transfer', from, authorization: { token, to, value, validAfter, validBefore, nonce: nonce.toLowerCase() as Hex } }
    }
    if (selector === PERMIT_SELECTOR && size(data) === 4 + 5 * 32) {
      const [from, spender, value, nonce, deadline] = decodeAbiParameters(PERMIT_FIELDS, slice(data, 4))
      return { kind: 'permit', from, authorization: { token, spender, value, nonce, deadline } }
    }
  } catch {}
  return undefined
}

/** Who an authorization pays (the recipient) or lets pull (the spender): held to allowedTargets. */
export function authorizationPayee(a: AuthorizationCall): Address {
  return a.kind === 'transfer' ? a.authorization.to : a.authorization.spender
}

/** The unix second after which the account no longer accepts it. */
export function authorizationValidUntil(a: AuthorizationCall): bigint {
  return a.kind === 'transfer' ? a.authorization.validBefore : a.authorization.deadline
}

/** The EIP-712 digest the account approves, given the token's DOMAIN_SEPARATOR (what the account computes). */
export function authorizationDigest(domainSeparator: Hex, a: AuthorizationCall): Hex {
  const typehash = a.kind === 'transfer' ? TRANSFER_TYPEHASH : PERMIT_TYPEHASH
  const structHash = keccak256(concat([typehash, authorizationFields(a.from, a)]))
  return keccak256(concat(['0x1901', domainSeparator, structHash]))
}
