import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEther, toHex, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import {
  bondVaultAbi,
  claimForkCredits,
  commitBatch,
  contestVerdict,
  ContractRevertError,
  depositBond,
  finalizeDispute,
  forkManagerAbi,
  getBond,
  getDispute,
  getFork,
  getVerifierStake,
  getWorkTokenBalance,
  increaseTime,
  openDispute,
  reclaimFork,
  redeemFork,
  registerAgent,
  registerVerifier,
  resolveFork,
  signVerdict,
  submitVerdicts,
  type CovenantWriteClient,
} from '../../src/bonds/index.js'
import { TraceChain, genesisHead, merkleRoot, type StepBody } from '../../src/trace/index.js'

// The forkable backstop end to end on anvil (issue 12). Accounts: 0 deployer, 1 agent owner,
// 2 operator, 3 agent wallet, 4 challenger, 5-7 a bribed verifier majority (75 % of the
// stake), 8 an honest verifier, 9 a WorkToken holder, 10 a frivolous contester.
const ESCALATION = 60
const FORK_PERIOD = 300
let chain: TestChain
let agentId: bigint
let sequence = 0n
const trace = { head: undefined as TraceChain | undefined }
const ETH = (n: string) => parseEther(n)

beforeAll(async () => {
  chain = await startTestChain({ escalationWindow: ESCALATION, forkPeriod: FORK_PERIOD })
  const owner = chain.as(1)
  const r = await registerAgent(owner, {
    operator: chain.account(2).address,
    wallet: chain.account(3).address,
    manifestHash: toHex('manifest', { size: 32 }),
    policy: { maxValuePerTx: ETH('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [chain.account(8).address], allowedSelectors: [] },
  })
  agentId = r.agentId
  await depositBond(owner, { agentId, eth: ETH('10') })
  for (const i of [5, 6, 7, 8]) await registerVerifier(chain.as(i))
  trace.head = new TraceChain(genesisHead(agentId.toString()))
}, 120_000)

afterAll(async () => {
  await chain?.stop()
})

/** Commits a fresh three-step batch of the agent's trace and opens an inference-fraud dispute on its step 1. */
async function disputeABatch(): Promise<bigint> {
  const bodies: StepBody[] = [
    { kind: 'input', actionId: `a${sequence}`, timestamp: 1, task: 'classify' },
    { kind: 'output', actionId: `a${sequence}`, timestamp: 2, result: 'ok' },
    { kind: 'output', actionId: `a${sequence}`, timestamp: 3, result: 'done' },
  ]
  const leaves: Hex[] = bodies.map((b) => trace.head!.append(b).leaf)
  await commitBatch(chain.as(2), { agentId, sequence, merkleRoot: merkleRoot(leaves), daCommitment: toHex(`blob-${sequence}`), stepCount: leaves.length })
  const { disputeId } = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId, sequence, stepIndex: 1 })
  sequence += 1n
  return disputeId
}

async function vote(who: number[], disputeId: bigint, agentAtFault: boolean) {
  const verdicts = await Promise.all(who.map((i) => signVerdict(chain.account(i), chain.deployment, { disputeId, agentAtFault })))
  return submitVerdicts(chain.as(0), { disputeId, verdicts })
}

/** The honest verifier votes `!verdict` first, then the bribed majority decides `verdict`. */
async function majorityVerdict(disputeId: bigint, verdict: boolean) {
  await vote([8], disputeId, !verdict)
  const r = await vote([5, 6, 7], disputeId, verdict)
  expect(r.status).toBe('Decided')
}

const vaultCredits = (who: number) =>
  chain.reader.publicClient.readContract({ address: chain.deployment.contracts.bondVault, abi: bondVaultAbi, functionName: 'ethCredits', args: [chain.account(who).address] })
const stakeOf = async (i: number) => (await getVerifierStake(chain.reader, chain.account(i).address)).stake
const minStake = () => chain.deployment.params.verifierMinStake
/** Verifiers a fork slashed stake again (from their remaining WorkToken). */
async function restake(who: number[]) {
  for (const i of who) if ((await stakeOf(i)) === 0n) await registerVerifier(chain.as(i))
}

describe('the escalation window', () => {
  it('holds a verdict for the window, then anyone finalizes it as voted', async () => {
    const id = await disputeABatch()
    const bond = (await getBond(chain.reader, agentId)).eth
    await vote([5, 6, 7, 8], id, false) // an honest, unanimous verdict
    const d = await getDispute(chain.reader, id)
    expect(d.status).toBe('Decided')
    expect(d.finalizesAt).toBeGreaterThan(d.openedAt)
    const early = await finalizeDispute(chain.as(9), { disputeId: id }).catch((e: unknown) => e)
    expect(early).toBeInstanceOf(ContractRevertError)
    expect((early as ContractRevertError).errorName).toBe('EscalationWindowOpen')
    await increaseTime(chain.reader.publicClient, ESCALATION + 1)
    await finalizeDispute(chain.as(9), { disputeId: id })
    expect((await getDispute(chain.reader, id)).status).toBe('Rejected')
    expect((await getBond(chain.reader, agentId)).eth).toBe(bond)
  })
})

describe('a bribed majority votes an honest agent guilty', () => {
  let id: bigint
  let forkId: bigint
  let ownerCreditsBefore: bigint

  beforeAll(async () => {
    id = await disputeABatch() // the batch is honest
    ownerCreditsBefore = await vaultCredits(1)
    await majorityVerdict(id, true)
  })

  it('one honest party contests; nothing is paid while the fork runs', async () => {
    const c = await contestVerdict(chain.as(1), { disputeId: id }) // the agent's owner
    forkId = c.forkId
    expect(c.verdictAtFault).toBe(true)
    expect(c.bond).toBe(chain.deployment.params.forkBond)
    expect((await getDispute(chain.reader, id)).status).toBe('Contested')
    const late = await finalizeDispute(chain.as(9), { disputeId: id }).catch((e: unknown) => e)
    expect((late as ContractRevertError).errorName).toBe('NotDecided')
    expect((await getBond(chain.reader, agentId)).eth).toBe(ETH('10'))
  })

  it('the colluders cannot redeem into the child that overturns them; honest stake and holders can', async () => {
    const refused = await redeemFork(chain.as(5), { forkId, side: 'Overturned', stake: true }).catch((e: unknown) => e)
    expect((refused as ContractRevertError).errorName).toBe('SlashedInFork')
    for (const i of [5, 6, 7]) await redeemFork(chain.as(i), { forkId, side: 'Stands' })
    const honest = await redeemFork(chain.as(8), { forkId, side: 'Overturned' })
    expect(honest.stakeRedeemed).toBe(minStake())
    await redeemFork(chain.as(9), { forkId, side: 'Overturned', stake: false, tokens: 3n * minStake() })
    const f = await getFork(chain.reader, forkId)
    expect(f.redeemedStands).toBe(3n * minStake())
    expect(f.redeemedOverturned).toBe(4n * minStake())
    expect(f.leading).toBe('Overturned')
    const early = await resolveFork(chain.as(9), { forkId }).catch((e: unknown) => e)
    expect((early as ContractRevertError).errorName).toBe('ForkNotOver')
  })

  it('after the fork period the canonical child restores the agent and removes the colluders', async () => {
    await increaseTime(chain.reader.publicClient, FORK_PERIOD)
    const r = await resolveFork(chain.as(9), { forkId })
    expect(r.canonical).toBe('Overturned')
    expect(r.agentAtFault).toBe(false)
    expect(r.slashedStake).toBe(3n * minStake())
    expect(r.slashedVerifiers.map((a) => a.toLowerCase()).sort()).toEqual([5, 6, 7].map((i) => chain.account(i).address.toLowerCase()).sort())
    const d = await getDispute(chain.reader, id)
    expect(d.status).toBe('Rejected')
    expect((await getBond(chain.reader, agentId)).eth).toBe(ETH('10'))
    expect(await vaultCredits(1)).toBe(ownerCreditsBefore + d.bond) // the false challenger's bond
    for (const i of [5, 6, 7]) expect(await stakeOf(i)).toBe(0n)
    expect(await stakeOf(8)).toBe(minStake())
    // the contester's bond comes back with a share of the slashed stake; the holder's tokens too
    const fm = chain.deployment.contracts.forkManager
    const reward = (3n * minStake() * BigInt(chain.deployment.params.forkRewardBps)) / 10_000n
    expect(await chain.reader.publicClient.readContract({ address: fm, abi: forkManagerAbi, functionName: 'tokenCredits', args: [chain.account(1).address] })).toBe(reward)
    const before = await getWorkTokenBalance(chain.reader, chain.account(9).address)
    await reclaimFork(chain.as(9), { forkId })
    expect(await getWorkTokenBalance(chain.reader, chain.account(9).address)).toBe(before + 3n * minStake())
    await claimForkCredits(chain.as(1))
  })
})

describe('a bribed majority hides a real fraud', () => {
  it('the fork overturns "not at fault": the cheater is slashed and the honest challenger paid', async () => {
    await restake([5, 6, 7]) // the bribed stake is back, fresh
    const id = await disputeABatch() // say the inference was forged
    const bond = (await getBond(chain.reader, agentId)).eth
    const challengerBefore = await vaultCredits(4)
    const ownerBefore = await vaultCredits(1)
    await majorityVerdict(id, false)
    const { forkId } = await contestVerdict(chain.as(4), { disputeId: id })
    for (const i of [5, 6, 7]) await redeemFork(chain.as(i), { forkId, side: 'Stands' })
    await redeemFork(chain.as(8), { forkId, side: 'Overturned' })
    await redeemFork(chain.as(9), { forkId, side: 'Overturned', stake: false, tokens: 5n * minStake() })
    expect(await vaultCredits(1)).toBe(ownerBefore) // the cheater's owner is not paid the challenger bond meanwhile
    await increaseTime(chain.reader.publicClient, FORK_PERIOD)
    const r = await resolveFork(chain.as(4), { forkId })
    expect(r.canonical).toBe('Overturned')
    expect(r.agentAtFault).toBe(true)
    const d = await getDispute(chain.reader, id)
    expect(d.status).toBe('Slashed')
    const slashed = (bond * BigInt(chain.deployment.params.slashBps)) / 10_000n
    expect(d.slashedEth).toBe(slashed)
    expect((await getBond(chain.reader, agentId)).eth).toBe(bond - slashed)
    expect(await vaultCredits(4)).toBe(challengerBefore + d.bond + (slashed * BigInt(chain.deployment.params.challengerBps)) / 10_000n)
    for (const i of [5, 6, 7]) expect(await stakeOf(i)).toBe(0n)
    expect(await stakeOf(8)).toBe(minStake())
  })
})

describe('a frivolous contest', () => {
  it('loses the fork bond and the verdict stands', async () => {
    await restake([5, 6, 7])
    const id = await disputeABatch() // honest batch; the majority says so
    const bond = (await getBond(chain.reader, agentId)).eth
    await vote([5, 6, 7, 8], id, false)
    const mallory: CovenantWriteClient = chain.as(10)
    const ethBefore = await chain.reader.publicClient.getBalance({ address: chain.account(10).address })
    const c = await contestVerdict(mallory, { disputeId: id })
    await redeemFork(mallory, { forkId: c.forkId, side: 'Overturned', stake: false, tokens: minStake() })
    for (const i of [5, 6, 7, 8]) await redeemFork(chain.as(i), { forkId: c.forkId, side: 'Stands' })
    await increaseTime(chain.reader.publicClient, FORK_PERIOD)
    const r = await resolveFork(chain.as(9), { forkId: c.forkId })
    expect(r.canonical).toBe('Stands')
    expect(r.slashedStake).toBe(0n) // nobody voted against the verdict or redeemed stake against it
    expect((await getDispute(chain.reader, id)).status).toBe('Rejected')
    expect((await getBond(chain.reader, agentId)).eth).toBe(bond)
    for (const i of [5, 6, 7, 8]) expect(await stakeOf(i)).toBe(minStake())
    const fm = chain.deployment.contracts.forkManager
    const pc = chain.reader.publicClient
    expect(await pc.readContract({ address: fm, abi: forkManagerAbi, functionName: 'ethCredits', args: [chain.account(10).address] })).toBe(0n)
    expect(await pc.readContract({ address: fm, abi: forkManagerAbi, functionName: 'burnedEth' })).toBe(chain.deployment.params.forkBond)
    expect(await chain.reader.publicClient.getBalance({ address: chain.account(10).address })).toBeLessThan(ethBefore - chain.deployment.params.forkBond)
    const reclaim = await reclaimFork(mallory, { forkId: c.forkId }).catch((e: unknown) => e)
    expect((reclaim as ContractRevertError).errorName).toBe('NothingToReclaim')
  })
})
