import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import {
  contestVerdict,
  getDispute,
  getFork,
  getVerifierStake,
  increaseTime,
  openDispute,
  redeemFork,
  registerVerifier,
  signVerdict,
  submitVerdicts,
} from '../../src/bonds/index.js'
import { LocalDAStore } from '../../src/da/index.js'
import { fileManifestSource, VerifierNode, type VerifierEvent } from '../../src/verify/index.js'
import { createTestAgent, moderationDigest, tempDir, TOY_MODEL_DIGEST, type TestAgent } from '../../src/verify/_testing.js'
import { localReplayer } from '../../src/verify/replayers.js'

// A running honest verifier node with the fork backstop on (issue 12): it finalizes a verdict
// nobody contested once the window has passed, and when a bribed majority's verdict is
// contested it redeems its stake into the child its own replay supports and resolves the fork.
// Accounts: 1 agent owner, 2 operator, 4 a false challenger, 5 the honest node, 6-8 a bribed
// majority signing by hand, 9 a WorkToken holder, 10+ agent wallets.
const ESCALATION = 30
const FORK_PERIOD = 120
let chain: TestChain
let da: LocalDAStore
let root: string
let node: VerifierNode
const errors: VerifierEvent[] = []
const agents: TestAgent[] = []
let nextWallet = 10

beforeAll(async () => {
  chain = await startTestChain({ escalationWindow: ESCALATION, forkPeriod: FORK_PERIOD })
  root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  await mkdir(join(root, 'manifests'))
  for (const i of [5, 6, 7, 8]) await registerVerifier(chain.as(i))
  node = new VerifierNode({
    client: chain.as(5),
    da,
    dataDir: join(root, 'verifier-5'),
    replayer: localReplayer(),
    manifests: [fileManifestSource(join(root, 'manifests'))],
    pollIntervalMs: 100,
    onEvent: (e) => {
      if (e.type === 'error') errors.push(e)
    },
  })
  await node.start()
}, 120_000)

afterAll(async () => {
  await node?.stop()
  await Promise.all(agents.map((a) => a.op.close()))
  await chain?.stop()
  await da?.close() // its open segment's file handle
  if (errors.length) console.error('verifier errors:', errors)
})

/** An agent whose one batch holds an honest inference, and a false InferenceFraud challenge on it. */
async function falseChallenge(): Promise<bigint> {
  const a = await createTestAgent(chain, {
    roles: { owner: 1, operator: 2, wallet: nextWallet++, payee: 9 },
    da,
    dir: await tempDir(),
    modelDigests: [await moderationDigest(), TOY_MODEL_DIGEST],
    // the verifiers judge the inference by the agent's manifest: one they can read
    manifestDir: join(root, 'manifests'),
  })
  agents.push(a)
  await a.op.append({ kind: 'input', actionId: 'ok', timestamp: 1, task: 'moderate' })
  await a.op.classify('ok', 'thanks for the quick delivery, works great')
  await a.op.append({ kind: 'output', actionId: 'ok', timestamp: 2, result: 'ok' })
  const [batch] = await a.op.commit()
  const voted = node.waitFor((e) => e.type === 'vote', 60_000)
  const { disputeId } = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId: a.agentId, sequence: BigInt(batch?.sequence ?? 0), stepIndex: 1 })
  const v = await voted
  expect(v).toMatchObject({ type: 'vote', disputeId, agentAtFault: false, status: 'Open' }) // 25 %: no quorum yet
  return disputeId
}

async function vote(who: number[], disputeId: bigint, agentAtFault: boolean) {
  const verdicts = await Promise.all(who.map((i) => signVerdict(chain.account(i), chain.deployment, { disputeId, agentAtFault })))
  return submitVerdicts(chain.as(0), { disputeId, verdicts })
}

const stakeOf = async (i: number) => (await getVerifierStake(chain.reader, chain.account(i).address)).stake

describe('an honest verifier node with the fork backstop on', () => {
  it('finalizes an uncontested verdict once its escalation window has passed', async () => {
    const disputeId = await falseChallenge()
    const decided = node.waitFor((e) => e.type === 'decided' && e.disputeId === disputeId)
    expect((await vote([6, 7], disputeId, false)).status).toBe('Decided')
    expect(await decided).toMatchObject({ agentAtFault: false })
    const resolved = node.waitFor((e) => e.type === 'resolved' && e.disputeId === disputeId, 60_000)
    await increaseTime(chain.reader.publicClient, ESCALATION + 1)
    expect(await resolved).toMatchObject({ status: 'Rejected' })
    expect((await getDispute(chain.reader, disputeId)).status).toBe('Rejected')
  })

  it('redeems its stake against a bribed verdict and resolves the fork, which restores the agent', async () => {
    const disputeId = await falseChallenge()
    expect((await vote([6, 7, 8], disputeId, true)).status).toBe('Decided') // bribed: "at fault"
    const redeemed = node.waitFor((e) => e.type === 'redeemed' && e.disputeId === disputeId, 60_000)
    const { forkId } = await contestVerdict(chain.as(1), { disputeId }) // the agent's owner
    expect(await redeemed).toMatchObject({ forkId, side: 'Overturned', stake: chain.deployment.params.verifierMinStake })
    for (const i of [6, 7, 8]) await redeemFork(chain.as(i), { forkId, side: 'Stands' })
    await redeemFork(chain.as(9), { forkId, side: 'Overturned', stake: false, tokens: 3n * chain.deployment.params.verifierMinStake })
    expect((await getFork(chain.reader, forkId)).leading).toBe('Overturned')

    const resolvedFork = node.waitFor((e) => e.type === 'fork-resolved' && e.forkId === forkId, 60_000)
    await increaseTime(chain.reader.publicClient, FORK_PERIOD)
    expect(await resolvedFork).toMatchObject({ canonical: 'Overturned', agentAtFault: false, slashedStake: 3n * chain.deployment.params.verifierMinStake })
    const d = await getDispute(chain.reader, disputeId)
    expect(d.status).toBe('Rejected')
    expect(d.slashedEth).toBe(0n)
    for (const i of [6, 7, 8]) expect(await stakeOf(i)).toBe(0n)
    expect(await stakeOf(5)).toBe(chain.deployment.params.verifierMinStake)
  })
})
