import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KICKBACK, PRICE, runPaidApiExample, type PaidApiSummary } from './run.js'

describe('npm run example:x402', () => {
  let dir: string
  let s: PaidApiSummary
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'covenant-example-x402-'))
    s = await runPaidApiExample({ dataDir: dir })
  }, 600_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('the honest agent pays the price asked for the ok requests, nothing for the scam; the API is paid', () => {
    const row = (a: PaidApiSummary['actions'][number]) => [a.operator, a.label, a.asked, a.authorized, a.status]
    expect(s.actions.map(row)).toEqual([
      ['honest', 'lisbon', PRICE.toString(), PRICE.toString(), 200],
      ['honest', 'oslo', PRICE.toString(), PRICE.toString(), 200],
      ['honest', 'scam', null, null, null],
      // the kickback copy authorizes more than the recorded 402 asked; the API's facilitator refuses that payment
      ['kickback', 'lisbon', PRICE.toString(), KICKBACK.toString(), 402],
    ])
    expect(s.actions[0]!.body).toBe('Lisbon tomorrow: sunny, 24 °C, light wind')
    expect(BigInt(s.payeeReceived)).toBe(2n * PRICE)
  })

  it('every honest action is replayed through the registered code on the recorded HTTP exchanges: honest, never disputed', () => {
    for (const a of s.actions.filter((x) => x.operator === 'honest')) {
      expect(a.verdict, `${a.label}: ${a.logic}`).toBe('honest')
      expect(a.logic).toMatch(/^replayed through the registered code 0x[0-9a-f]{8}…: all \d+ steps reproduced in order$/)
    }
    expect(s.disputes.filter((d) => d.agentId === s.agents.honest)).toEqual([])
    expect(s.bonds.honest.after).toBe(s.bonds.honest.before)
  })

  it('the kickback authorization is a TraceMismatch: faulty, voted, slashed', () => {
    const k = s.actions.find((a) => a.operator === 'kickback')!
    expect(k.verdict).toBe('faulty')
    expect(s.disputes).toEqual([expect.objectContaining({ kind: 'TraceMismatch', status: 'Slashed', agentId: s.agents.kickback })])
    expect(BigInt(s.bonds.kickback.after)).toBeLessThan(BigInt(s.bonds.kickback.before))
  })
})
