import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MARKETS, readEvidence } from './markets.js'
import { BRIBE, runMarketExample, type MarketSummary } from './run.js'

describe('the committee reads published evidence', () => {
  it.each([
    ['Will the Lisbon marathon be held on 2026-12-06?', 'The organisers confirmed the race took place on 2026-12-06.', 'yes'],
    ['Will the Lisbon marathon be held on 2026-12-06?', 'The organisers confirmed the race took place on 2026-12-13.', 'no'],
    ['Will the Berlin film festival take place on 2026-02-12?', 'The city council cancelled the festival.', 'no'],
    ['Will the Oslo regatta be held on 2026-08-01?', 'The federation postponed the race to 2026-08-08.', 'no'],
    ['Will the Oslo regatta be held on 2026-08-01?', 'Nobody knows yet.', undefined],
  ])('%s / %s → %s', (question, evidence, expected) => {
    expect(readEvidence({ question, evidence })).toBe(expected)
  })
})

describe('npm run example:market', () => {
  let dir: string
  let s: MarketSummary
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'covenant-example-market-'))
    s = await runMarketExample({ dataDir: dir })
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('the LLM resolves each market from the evidence it is shown; the bribed one against the published evidence', () => {
    expect(s.markets.map((m) => [m.marketId, m.resolution, m.evidenceSays, m.doctored])).toEqual([
      ['MKT-17', 'yes', 'yes', false],
      ['MKT-18', 'no', 'no', false],
      [BRIBE.marketId, 'yes', 'no', true],
    ])
    expect(s.markets[2]!.evidenceShown).toBe(BRIBE.evidence)
    expect(s.markets[2]!.publishedEvidence).toBe(MARKETS[2]!.evidence)
    // nothing a replay can catch: the model did what it was shown
    expect(s.markets.map((m) => m.verdict)).toEqual(['honest', 'honest', 'honest'])
  })

  it('subjective claims post the larger bond', () => {
    expect(s.bond).toEqual({ subjectiveWei: parseEther('0.5').toString(), standardWei: parseEther('0.1').toString() })
    for (const c of s.challenges) expect(c).toMatchObject({ kind: 'SubjectiveClaim', bondWei: parseEther('0.5').toString() })
  })

  it('a false challenge is rejected by the committee and the challenger bond is forfeited to the owner', () => {
    const c = s.challenges[0]!
    expect(c).toMatchObject({ marketId: 'MKT-17', who: 'sore loser', status: 'Rejected', slashedWei: '0', challengerCreditWei: '0' })
    expect(c.votes.map((v) => v.agentAtFault)).toEqual([false, false, false])
    expect(c.payouts).toEqual([{ to: s.owner, role: 'agent owner', wei: parseEther('0.5').toString(), what: 'the forfeited challenger bond' }])
    expect(s.ownerCreditWei).toBe(parseEther('0.5').toString())
  })

  it('a true challenge: the committee sides with the challenger, the bond is slashed and the challenger paid', () => {
    const c = s.challenges[1]!
    expect(c).toMatchObject({ marketId: BRIBE.marketId, who: 'NO holder', status: 'Slashed', slashedWei: parseEther('2.5').toString() })
    expect(c.votes.map((v) => v.agentAtFault)).toEqual([true, true, true])
    expect(c.votes[0]!.reason).toContain(`${BRIBE.marketId} resolved yes; its published evidence says no`)
    // half of the 5 ETH bond: 50% to the challenger (plus its bond back), 30% redistributed, the rest burned
    expect(c.payouts.map((p) => [p.role, p.wei])).toEqual([
      ['challenger', parseEther('1.75').toString()],
      ['redistribution', parseEther('0.75').toString()],
      ['burned', parseEther('0.5').toString()],
    ])
    expect(c.challengerCreditWei).toBe(parseEther('1.75').toString())
    expect(s.bondBeforeWei).toBe(parseEther('5').toString())
    expect(s.bondAfterWei).toBe(parseEther('2.5').toString())
  })
})
