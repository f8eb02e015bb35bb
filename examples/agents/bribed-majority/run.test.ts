import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultProtocolParams } from '../../../src/bonds/index.js'
import { runForkExample, type ForkSummary } from './run.js'

describe('npm run example:fork', () => {
  let dir: string
  let s: ForkSummary
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'covenant-example-fork-'))
    s = await runForkExample({ dataDir: dir })
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const stake = defaultProtocolParams.verifierMinStake

  it('the agent is honest, and a bribed 75 % majority decides it is at fault', () => {
    expect(s.verify).toBe('honest')
    expect(s.dispute).toMatchObject({ decided: 'at fault', forStake: (3n * stake).toString(), againstStake: stake.toString() })
  })

  it('one honest contest forks the staked token; the overturning child wins and the dispute is settled as it says', () => {
    expect(s.fork).toMatchObject({
      contester: s.fork.contester,
      bondWei: defaultProtocolParams.forkBond.toString(),
      redeemedStandsWei: (3n * stake).toString(),
      redeemedOverturnedWei: (stake + parseEther('4')).toString(),
      canonical: 'Overturned',
      slashedStakeWei: (3n * stake).toString(),
    })
    expect(s.dispute.finalStatus).toBe('Rejected')
  })

  it('the colluders lose their whole stake, the honest verifier keeps its, the agent keeps its bond', () => {
    for (const v of s.verifiers) expect(v.stakeAfterWei).toBe(v.role === 'bribed' ? '0' : v.stakeBeforeWei)
    expect(s.bondAfterWei).toBe(s.bondBeforeWei)
  })

  it("the owner gets the false challenger's bond, the fork bond back and its reward; the holders their tokens", () => {
    expect(s.owner).toEqual({
      challengerBondWei: defaultProtocolParams.challengerBond.toString(),
      forkBondBackWei: defaultProtocolParams.forkBond.toString(),
      rewardWei: ((3n * stake * BigInt(defaultProtocolParams.forkRewardBps)) / 10_000n).toString(),
    })
    expect(s.holdersReclaimedWei).toBe(parseEther('4').toString())
  })
})
