import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEther, toHex, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import {
  commitBatch,
  depositBond,
  getDispute,
  getVerifierStake,
  getWorkTokenBalance,
  increaseTime,
  openDispute,
  redeemFork,
  registerAgent,
  registerVerifier,
  signVerdict,
  submitVerdicts,
  writeDeployment,
} from '../../src/bonds/index.js'
import { merkleRoot } from '../../src/trace/index.js'
import { tempDir } from '../../src/verify/_testing.js'

// `covenant fork contest|status|redeem|resolve|claim` as real processes against anvil (issue 12).
// Accounts: 1 agent owner (contests), 2 operator, 4 a false challenger, 5-7 a bribed majority,
// 8 the honest verifier, 9 a WorkToken holder.
const BIN = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url))
const FORK_PERIOD = 120
let chain: TestChain
let root: string
let disputeId: bigint
let forkId: string

type Run = { code: number | null; stdout: string; stderr: string }

function covenant(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args, '--data-dir', root, '--rpc', chain.anvil.rpcUrl, '--deployment', join(root, 'deployment.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDIS_URL: '' },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

const json = <T>(r: Run): T => {
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as T
}
const CVW = (n: string) => parseEther(n)
const minStake = () => chain.deployment.params.verifierMinStake

beforeAll(async () => {
  chain = await startTestChain({ escalationWindow: 600, forkPeriod: FORK_PERIOD })
  root = await tempDir()
  writeDeployment(join(root, 'deployment.json'), chain.deployment)
  const { agentId } = await registerAgent(chain.as(1), {
    operator: chain.account(2).address,
    wallet: chain.account(3).address,
    manifestHash: toHex('manifest', { size: 32 }),
    policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [chain.account(8).address], allowedSelectors: [] },
  })
  await depositBond(chain.as(1), { agentId, eth: parseEther('10') })
  for (const i of [5, 6, 7, 8]) await registerVerifier(chain.as(i))
  const leaves: Hex[] = [1, 2, 3].map((n) => toHex(n, { size: 32 }))
  await commitBatch(chain.as(2), { agentId, sequence: 0n, merkleRoot: merkleRoot(leaves), daCommitment: toHex('blob-0'), stepCount: 3 })
  disputeId = (await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId, sequence: 0n, stepIndex: 1 })).disputeId
  const sign = (who: number[], agentAtFault: boolean) => Promise.all(who.map((i) => signVerdict(chain.account(i), chain.deployment, { disputeId, agentAtFault })))
  await submitVerdicts(chain.as(0), { disputeId, verdicts: await sign([8], false) })
  await submitVerdicts(chain.as(0), { disputeId, verdicts: await sign([5, 6, 7], true) }) // bribed
}, 120_000)

afterAll(async () => {
  await chain?.stop()
})

// each command is a node process (~2-10 s on a busy 2-core box): generous per-test limits
describe('covenant fork', { timeout: 240_000 }, () => {
  it('contest: posts the fork bond on a decided verdict; a second contest or an unknown dispute is one clear line', async () => {
    const r = json<{ forkId: string; bond: string; verdictAtFault: boolean }>(await covenant(['fork', 'contest', String(disputeId), '--dev-account', '1', '--json']))
    forkId = r.forkId
    expect(r).toMatchObject({ forkId: '1', bond: chain.deployment.params.forkBond.toString(), verdictAtFault: true })
    expect((await getDispute(chain.reader, disputeId)).status).toBe('Contested')
    const again = await covenant(['fork', 'contest', String(disputeId), '--dev-account', '1'])
    expect(again.code).toBe(1)
    expect(again.stderr.trim().split('\n')[0]).toBe(`EnvError: Dispute #${disputeId} is already contested: fork #1 (covenant fork redeem 1 --side …).`)
    const bad = await covenant(['fork', 'contest', 'x1', '--dev-account', '1'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('The dispute id must be a positive whole number (got "x1").')
  })

  it('redeem: stake and tokens into one child; a slashed side and a bad side are refused', async () => {
    const honest = json<{ stakeRedeemed: string; leading: string }>(await covenant(['fork', 'redeem', forkId, '--side', 'overturned', '--dev-account', '8', '--json']))
    expect(honest.stakeRedeemed).toBe(chain.deployment.params.verifierMinStake.toString())
    const holder = json<{ tokensLocked: string; leading: string }>(
      await covenant(['fork', 'redeem', forkId, '--side', 'overturned', '--tokens', '3000', '--no-stake', '--dev-account', '9', '--json']),
    )
    expect(holder).toMatchObject({ tokensLocked: CVW('3000').toString(), leading: 'Overturned' })
    const colluder = await covenant(['fork', 'redeem', forkId, '--side', 'overturned', '--dev-account', '5'])
    expect(colluder.code).toBe(1)
    expect(colluder.stderr).toContain('SlashedInFork')
    const sideways = await covenant(['fork', 'redeem', forkId, '--side', 'sideways', '--dev-account', '9'])
    expect(sideways.code).toBe(1)
    expect(sideways.stderr).toContain('--side must be "stands"')
    // the colluders' own redemptions: through the library (the CLI path is the one above)
    for (const i of [5, 6, 7]) await redeemFork(chain.as(i), { forkId: BigInt(forkId), side: 'Stands' })
  })

  it('status: the fork, its redemptions and what the fork-choice rule picks', async () => {
    const s = json<{ forks: Array<{ forkId: string; leading: string; canonical: string; redeemedOverturned: string }>; pending: number }>(await covenant(['fork', 'status', '--json']))
    expect(s.pending).toBe(1)
    expect(s.forks[0]).toMatchObject({ forkId, leading: 'Overturned', canonical: 'None', redeemedOverturned: (CVW('3000') + minStake()).toString() })
    const text = await covenant(['fork', 'status', forkId])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`fork #${forkId} on dispute #${disputeId}`)
    expect(text.stdout).toContain('no verifier stake can leave until they are resolved')
  })

  it('resolve and claim: the canonical child restores the agent; the holder takes its tokens back, the contester its bond', async () => {
    const early = await covenant(['fork', 'resolve', forkId, '--dev-account', '9'])
    expect(early.code).toBe(1)
    expect(early.stderr).toContain('is open for redemption until')
    await increaseTime(chain.reader.publicClient, FORK_PERIOD)
    const r = json<{ canonical: string; dispute: string; slashedStake: string; slashedVerifiers: string[] }>(await covenant(['fork', 'resolve', forkId, '--dev-account', '9', '--json']))
    expect(r).toMatchObject({ canonical: 'Overturned', dispute: 'Rejected', slashedStake: (3n * minStake()).toString() })
    expect(r.slashedVerifiers).toHaveLength(3)
    for (const i of [5, 6, 7]) expect((await getVerifierStake(chain.reader, chain.account(i).address)).stake).toBe(0n)

    const before = await getWorkTokenBalance(chain.reader, chain.account(9).address)
    const holder = json<{ reclaimed: string }>(await covenant(['fork', 'claim', forkId, '--dev-account', '9', '--json']))
    expect(holder.reclaimed).toBe(CVW('3000').toString())
    expect(await getWorkTokenBalance(chain.reader, chain.account(9).address)).toBe(before + CVW('3000'))
    const contester = json<{ claimed: { eth: string; tokens: string } }>(await covenant(['fork', 'claim', '--dev-account', '1', '--json']))
    expect(contester.claimed.eth).toBe(chain.deployment.params.forkBond.toString())
    expect(BigInt(contester.claimed.tokens)).toBe((3n * minStake() * BigInt(chain.deployment.params.forkRewardBps)) / 10_000n)
    const nothing = await covenant(['fork', 'claim', '--dev-account', '1'])
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toContain('has nothing to claim from the ForkManager')
  })
})
