import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BRIBED_POST, runModerationExample, type ModerationSummary } from './run.js'

describe('npm run example:moderation', () => {
  let dir: string
  let s: ModerationSummary
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'covenant-example-moderation-'))
    s = await runModerationExample({ dataDir: dir })
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('classifies the posts with the shipped ONNX model and publishes what it says, except for the bribe', () => {
    const row = (p: (typeof s.posts)[number]) => [p.postId, p.modelLabel, p.publishedLabel, p.action, p.recordedLabel]
    expect(s.posts.map(row)).toEqual([
      ['p-101', 'ok', 'ok', 'keep', 'ok'],
      ['p-102', 'scam', 'scam', 'remove', 'scam'],
      ['p-103', 'spam', 'spam', 'remove', 'spam'],
      ['p-104', 'abuse', 'abuse', 'remove', 'abuse'],
      // the bribed operator keeps the scam up and its trace claims the model said ok
      [BRIBED_POST, 'scam', 'ok', 'keep', 'ok'],
    ])
  })

  it('replay catches the forged output: only the bribed action is faulty', () => {
    expect(s.posts.map((p) => p.verdict)).toEqual(['honest', 'honest', 'honest', 'honest', 'faulty'])
  })

  it('an InferenceFraud dispute is opened and voted by all three verifiers; the bond pays the challenger', () => {
    expect(s.disputes).toHaveLength(1)
    const d = s.disputes[0]!
    expect(d).toMatchObject({
      kind: 'InferenceFraud',
      status: 'Slashed',
      agentId: s.agentId,
      challengerBondWei: parseEther('0.1').toString(),
      slashedWei: parseEther('1').toString(),
      challengerRewardWei: parseEther('0.5').toString(),
      redistributionWei: parseEther('0.3').toString(),
      burnedWei: parseEther('0.2').toString(),
      forStake: parseEther('3').toString(),
      againstStake: '0',
    })
    expect(s.verifiers).toContain(d.challenger)
    // the reward plus the challenger bond back, claimable from the BondVault
    expect(s.challenger).toEqual({ address: d.challenger, creditWei: parseEther('0.6').toString() })
    expect(s.bondBeforeWei).toBe(parseEther('2').toString())
    expect(s.bondAfterWei).toBe(parseEther('1').toString())
  })
})
