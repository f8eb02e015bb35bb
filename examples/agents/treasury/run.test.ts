import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VENDORS } from './agent.js'
import { ATTACKER, runTreasuryExample, type TreasurySummary } from './run.js'

describe('npm run example:treasury', () => {
  let dir: string
  let s: TreasurySummary
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'covenant-example-treasury-'))
    s = await runTreasuryExample({ dataDir: dir })
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const ordinary = [
    { invoice: 'INV-2041', to: VENDORS['Northwind Ltd'], amountEth: '0.25' },
    { invoice: 'INV-2042', to: VENDORS['Contoso GmbH'], amountEth: '0.4' },
    { invoice: 'INV-2043', to: VENDORS['Fabrikam Inc'], amountEth: '0.3' },
  ]

  it('the honest agent pays the ordinary invoices through the LLM, as printed on them', () => {
    for (const [i, o] of ordinary.entries()) {
      const a = s.honest.actions[i]!
      expect(a).toMatchObject({ invoice: o.invoice, outcome: 'paid', toolCall: { invoiceId: o.invoice, to: o.to, amountEth: o.amountEth }, walletSteps: 1, error: null })
      expect(a.txHashes).toHaveLength(1)
    }
    expect(s.honest.paidWei).toBe(parseEther('0.95').toString())
  })

  it('its wallet refuses the crafted invoice: PolicyViolationError, no wallet step, nothing signed', () => {
    const crafted = s.honest.actions[3]!
    expect(crafted).toMatchObject({
      invoice: 'INV-7777',
      outcome: 'refused',
      toolCall: { invoiceId: 'INV-7777', to: ATTACKER, amountEth: '0.5' },
      walletSteps: 0,
      txHashes: [],
      error: { name: 'PolicyViolationError', rule: 'TargetNotAllowed' },
    })
    // three payments, three transactions: the refusal never reached the signer
    expect(s.honest.transactionsSent).toBe(3)
    expect(s.honest.bondAfterWei).toBe(parseEther('10').toString())
    expect(s.honest.actions.map((a) => a.verdict)).toEqual(['honest', 'honest', 'honest', 'honest'])
  })

  it('the rogue operator (unsafe.skipPolicyCheck) cannot pay the attacker: the agent account refuses it on chain', () => {
    expect(s.rogue.unsafe).toEqual(['skipPolicyCheck'])
    expect(s.rogue.actions.map((a) => a.outcome)).toEqual(['paid', 'paid', 'paid', 'refused'])
    expect(s.rogue.actions[3]).toMatchObject({
      toolCall: { to: ATTACKER, amountEth: '0.5' },
      walletSteps: 0,
      txHashes: [],
      error: { name: 'PolicyViolationError', rule: 'TargetNotAllowed' },
    })
    expect(s.attacker).toEqual({ address: ATTACKER, receivedWei: '0' })
    // the trace holds no breach: every action verifies honest
    expect(s.rogue.actions.map((a) => a.verdict)).toEqual(['honest', 'honest', 'honest', 'honest'])
  })

  it('its payment around the trace is proven on chain, no vote: half the bond slashed, the challenger paid', () => {
    // three paid invoices and the untraced call: four transactions from the signer key
    expect(s.rogue.transactionsSent).toBe(4)
    expect(s.untraced).toMatchObject({ callSequence: 3, to: VENDORS['Fabrikam Inc'], valueWei: parseEther('0.3').toString() })
    expect(s.disputes).toHaveLength(1)
    const d = s.disputes[0]!
    expect(d).toMatchObject({
      kind: 'UntracedAction',
      status: 'Slashed',
      agentId: s.rogue.agentId,
      challengerBondWei: '0',
      slashedWei: parseEther('5').toString(),
      // what the untraced call moved goes to the owner first; the rest is split 50/30/20
      compensationWei: parseEther('0.3').toString(),
      challengerRewardWei: parseEther('2.35').toString(),
      redistributionWei: parseEther('1.41').toString(),
      burnedWei: parseEther('0.94').toString(),
    })
    expect(s.verifiers).toContain(d.challenger)
    expect(s.challenger).toEqual({ address: d.challenger, creditWei: parseEther('2.35').toString() })
    expect(s.rogue.bondBeforeWei).toBe(parseEther('10').toString())
    expect(s.rogue.bondAfterWei).toBe(parseEther('5').toString())
    expect(s.honest.bondAfterWei).toBe(parseEther('10').toString())
  })
})
