import { z } from 'zod'
import { getAddress, isAddress, maxUint256, size, slice, type Address, type Hex } from 'viem'

/**
 * The spending policy an agent registers on chain (AgentRegistry). The agent's account
 * (AgentAccount) enforces it — daily budget included — on every call, in the block the call
 * runs in; the wallet checks the same rules before it writes or signs anything, so it
 * refuses with a clear error instead of a reverted transaction. `evaluatePolicy` mirrors
 * `AgentRegistry.evaluate` rule for rule.
 */
const wei = z
  .union([z.bigint(), z.string().regex(/^\d+$/, 'expected wei as a decimal string'), z.number().int().nonnegative()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n, 'must not be negative')
  .refine((v) => v < 2n ** 256n, 'must fit in uint256')

const seconds = z.number().int().nonnegative().max(2 ** 63)

const address = z
  .string()
  .refine((v) => isAddress(v, { strict: false }), 'expected a 0x-prefixed 20-byte address')
  .transform((v) => getAddress(v))

const selector = z
  .string()
  .regex(/^0x[0-9a-fA-F]{8}$/, 'expected a 4-byte function selector such as 0xa9059cbb')
  .transform((v) => v.toLowerCase() as Hex)

export const policySchema = z.object({
  maxValuePerTx: wei.describe('largest native value of one transaction, in wei'),
  dailyBudget: wei.optional().describe('total native value per UTC day, in wei (enforced on chain by the agent account; absent = no daily limit)'),
  challengeWindow: seconds.min(60, 'the challenge window must be at least 60 s (AgentRegistry.MIN_CHALLENGE_WINDOW)').describe('seconds a committed batch can be challenged'),
  commitDeadline: seconds.describe('seconds within which a transaction must be in a committed batch'),
  allowedTargets: z.array(address).max(256).describe('recipients and contracts the wallet may send to'),
  allowedSelectors: z.array(selector).max(256).default([]).describe('function selectors the wallet may call'),
})

export type Policy = z.output<typeof policySchema>
export type PolicyInput = z.input<typeof policySchema>

/** Same order and names as the Solidity `Breach` enum. */
export const BREACHES = ['None', 'ValueCap', 'TargetNotAllowed', 'SelectorNotAllowed', 'StalePolicy', 'UnknownPolicy'] as const
export type Breach = (typeof BREACHES)[number]

export type PolicyCheck = { to: Address; value: bigint; data: Hex }

/** Judges one transaction against a policy exactly as AgentRegistry.evaluate does. */
export function evaluatePolicy(policy: Pick<Policy, 'maxValuePerTx' | 'allowedTargets' | 'allowedSelectors'>, tx: PolicyCheck): Breach {
  if (tx.value > policy.maxValuePerTx) return 'ValueCap'
  const to = tx.to.toLowerCase()
  if (!policy.allowedTargets.some((t) => t.toLowerCase() === to)) return 'TargetNotAllowed'
  if (tx.data !== '0x' && tx.data.length > 2) {
    if (size(tx.data) < 4) return 'SelectorNotAllowed'
    const sel = slice(tx.data, 0, 4).toLowerCase()
    if (!policy.allowedSelectors.some((s) => s.toLowerCase() === sel)) return 'SelectorNotAllowed'
  }
  return 'None'
}

/** The tuple the contracts take for a policy. */
export function policyToContract(policy: Policy) {
  return {
    maxValuePerTx: policy.maxValuePerTx,
    challengeWindow: BigInt(policy.challengeWindow),
    commitDeadline: BigInt(policy.commitDeadline),
    allowedTargets: policy.allowedTargets,
    allowedSelectors: policy.allowedSelectors,
    // the agent's account enforces it on chain; no budget declared = no daily limit
    dailyBudget: policy.dailyBudget ?? maxUint256,
  } as const
}
