/**
 * The examples' tool schemas refuse amounts a model should never get paid for: negative,
 * zero, non-numeric, exponent or sign forms, more than 18 decimals. An argument the schema
 * refuses becomes the tool step's error; no wallet step is written, nothing is signed.
 */
import fc from 'fast-check'
import { parseEther } from 'viem'
import { describe, expect, test } from 'vitest'
import type { AgentDefinition } from '../../src/agent/index.js'
import agentkit, { PAYEES } from './agentkit/agent.js'
import marketResolver from './market-resolver/agent.js'
import moderation from './moderation/agent.js'
import treasury, { VENDORS } from './treasury/agent.js'

const examples: ReadonlyArray<[string, AgentDefinition]> = [
  ['treasury', treasury],
  ['moderation', moderation],
  ['market-resolver', marketResolver],
  ['agentkit', agentkit],
]

/** Argument names that carry an amount of money. */
const AMOUNT = /amount|wei|eth|value|price|sum|total/i

const badAmounts = ['-1', '−1', '-0.5', '+1', '0', '0.0', '00', '0.000000000000000000', '00.5', '1e3', '1E-3', '0x10', 'abc', '', ' 1', '1 ', '1.', '.5', '1,5', '1.0000000000000000001', 'Infinity', 'NaN', '١', '１', '1\n']

describe('example tool schemas: amounts', () => {
  test('every amount argument of every example tool refuses negative, zero and non-numeric amounts', async () => {
    const checked: string[] = []
    for (const [example, agent] of examples) {
      for (const tool of agent.tools) {
        const props = (tool.parameters['properties'] ?? {}) as Record<string, unknown>
        for (const field of Object.keys(props).filter((k) => AMOUNT.test(k))) {
          checked.push(`${example}.${tool.name}.${field}`)
          const valid = validArgs(tool.name)
          expect((await tool.parseArgs(valid)).ok, `${example}.${tool.name}: the valid call`).toBe(true)
          for (const amount of [...badAmounts, -1, 0, 1, null]) {
            const r = await tool.parseArgs({ ...valid, [field]: amount })
            expect(r.ok, `${example}.${tool.name}.${field} = ${JSON.stringify(amount)}`).toBe(false)
          }
        }
      }
    }
    // the treasury's pay_invoice and AgentKit's native_transfer (AgentKit's schema takes any string; Covenant's check does not) move money
    expect(checked).toEqual(['treasury.pay_invoice.amountEth', 'agentkit.WalletActionProvider_native_transfer.value'])
  })

  test('1,000 generated strings: pay_invoice accepts an amount only if it is a positive wei value that parseEther reads exactly', async () => {
    const tool = treasury.tools.find((t) => t.name === 'pay_invoice')!
    const base = validArgs('pay_invoice')
    const amount = fc.oneof(
      fc.string({ maxLength: 24 }),
      fc.stringMatching(/^-?[0-9]{1,4}(\.[0-9]{0,20})?$/),
      fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 24n }), fc.integer({ min: 0, max: 20 })).map(([n, d]) => (d === 0 ? `${n}` : `${n / 10n ** BigInt(d)}.${(n % 10n ** BigInt(d)).toString().padStart(d, '0')}`)),
    )
    await fc.assert(
      fc.asyncProperty(amount, async (a) => {
        const r = await tool.parseArgs({ ...base, amountEth: a })
        const plain = /^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$/.test(a)
        const wei = plain ? parseEther(a) : undefined
        expect(r.ok, JSON.stringify(a)).toBe(plain && wei! > 0n)
        if (r.ok) expect(parseEther((r.value as { amountEth: string }).amountEth)).toBe(wei)
      }),
      { numRuns: 1_000 },
    )
  })
})

/** A call of the example tool that its schema accepts. */
function validArgs(tool: string): Record<string, unknown> {
  if (tool === 'pay_invoice') return { invoiceId: 'INV-2041', to: VENDORS['Northwind Ltd'], amountEth: '0.25' }
  if (tool === 'WalletActionProvider_native_transfer') return { to: PAYEES['Northwind Ltd'], value: '0.25' }
  throw new Error(`no valid call known for ${tool}: add one when a tool takes an amount`)
}
