import { getAddress, isAddress, type Address, type Hex } from 'viem'
import { z } from 'zod'
import {
  addressSchema as lowerAddressSchema,
  bytes32Schema,
  hexBytesSchema,
  safeUintSchema,
  uint256StringSchema,
} from '../trace/schemas.js'

/** A 20-byte address in any case, normalised to its checksummed form. */
export const addressSchema = z
  .string()
  .refine((v) => isAddress(v, { strict: false }), 'expected a 0x-prefixed 20-byte address')
  .transform((v) => getAddress(v) as Address)

/** A 4-byte function selector, normalised to lowercase. */
export const selectorSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{8}$/, 'expected a 4-byte function selector such as 0xa9059cbb')
  .transform((v) => v.toLowerCase() as Hex)

/** Wei as a bigint (decimal strings and safe integers are accepted and converted). */
export const weiSchema = z
  .union([z.bigint(), z.string().regex(/^\d+$/, 'expected wei as a decimal string'), z.number().int().nonnegative()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v < 2n ** 256n, 'must fit in uint256')

/**
 * An amount of ETH (or of any 18-decimal token) as a tool argument from a model: a positive
 * decimal string with at most 18 decimals, written plainly — no sign, exponent, spaces,
 * leading zeros or digits other than 0-9 ("0.25", "1", "12.5"). "-1", "0", "0.0", "1e3",
 * "abc" are refused before any wallet step; parseEther(amount) is then exact and in range.
 */
export const ethAmountSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,58})(\.[0-9]{1,18})?$/, 'expected a positive decimal amount such as "0.25" (at most 18 decimals, no sign or exponent)')
  // zod runs every check even after one fails: this one must not assume the pattern held
  .refine((v) => !/^[0.]*$/.test(v), 'must be more than 0')

/**
 * What a tool may do with the agent's wallet; it decides the handle the tool receives.
 * - `none`: no wallet at all.
 * - `pay`: plain native transfers, optionally capped per transaction and limited to recipients.
 * - `call`: contract calls to the listed targets and selectors, with at most `maxValue` attached.
 * The agent's registered policy still applies on top: a handle can only narrow it.
 */
export const effectSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('none') }),
  z.strictObject({
    kind: z.literal('pay'),
    maxValuePerTx: weiSchema.optional().describe('largest value of one payment by this tool, in wei'),
    recipients: z.array(addressSchema).max(256).optional().describe('the only addresses this tool may pay'),
  }),
  z.strictObject({
    kind: z.literal('call'),
    targets: z.array(addressSchema).min(1).max(256).describe('contracts this tool may call'),
    selectors: z.array(selectorSchema).min(1).max(256).describe('functions this tool may call'),
    maxValue: weiSchema.optional().describe('largest native value attached to one call, in wei (default 0)'),
  }),
])

export type Effect = z.output<typeof effectSchema>
export type EffectInput = z.input<typeof effectSchema>

/** A transaction the wallet is asked to send. */
export const transactionRequestSchema = z.strictObject({
  to: addressSchema,
  value: weiSchema.default(0n),
  data: z
    .string()
    .regex(/^0x(?:[0-9a-fA-F]{2})*$/, 'expected 0x-prefixed hex of whole bytes')
    .transform((v) => v.toLowerCase() as Hex)
    .default('0x'),
})
export type TransactionRequest = z.input<typeof transactionRequestSchema>

const receiptSchema = z.strictObject({
  blockNumber: uint256StringSchema,
  blockHash: bytes32Schema,
  status: z.enum(['success', 'reverted']),
  gasUsed: uint256StringSchema,
})

/**
 * One entry of the wallet outbox (see outbox.ts): the transaction authorised by one wallet
 * step, once it is signed, and what became of it.
 *
 * - `signed`: `raw` and `hash` are set; it may or may not have reached the node.
 * - `mined`: a receipt was seen for `hash` (`receipt` set).
 * - `abandoned`: it can never be mined (its nonce was used by another transaction);
 *   `error` says why, `raw`/`hash` are set only if it had been signed.
 */
export const outboxEntrySchema = z.strictObject({
  version: z.literal(1),
  chainId: uint256StringSchema,
  from: lowerAddressSchema,
  nonce: safeUintSchema,
  walletStepIndex: safeUintSchema.describe('index of the wallet step in the trace WAL'),
  walletStepLeaf: bytes32Schema.describe('leaf of that step: ties the entry to exactly one trace step'),
  actionId: z.string().min(1).max(256),
  state: z.enum(['signed', 'mined', 'abandoned']),
  raw: hexBytesSchema.nullable(),
  hash: bytes32Schema.nullable(),
  receipt: receiptSchema.nullable(),
  error: z.string().max(4096).nullable(),
  updatedAt: safeUintSchema,
})
export type OutboxEntry = z.infer<typeof outboxEntrySchema>
export type OutboxReceipt = z.infer<typeof receiptSchema>
