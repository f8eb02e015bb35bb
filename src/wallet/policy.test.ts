import { describe, expect, it } from 'vitest'
import { policySchema } from './policy.js'

const base = { maxValuePerTx: 1n, challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] }

describe('policySchema', () => {
  it('refuses negative amounts, as bigints too (a negative cap or budget must fail here, not on chain)', () => {
    for (const bad of [{ maxValuePerTx: -1n }, { dailyBudget: -5n }, { maxValuePerTx: 2n ** 256n }]) {
      expect(policySchema.safeParse({ ...base, ...bad }).success, JSON.stringify(bad, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(false)
    }
    expect(policySchema.parse({ ...base, dailyBudget: '3' }).dailyBudget).toBe(3n)
  })
})
