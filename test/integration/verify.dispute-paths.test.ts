import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { registerVerifier } from '../../src/bonds/index.js'
import { increaseTime } from '../../src/bonds/devTime.js'
import { LocalDAStore } from '../../src/da/index.js'
import { verifyAction } from '../../src/verify/action.js'
import { disputeAction, jsonlHeaderSource, ruleJudge, VerifierNode } from '../../src/verify/index.js'
import { createTestAgent, ETH, slashSplit, tempDir, type TestAgent } from '../../src/verify/_testing.js'
import { localReplayer } from '../../src/verify/replayers.js'

// `disputeAction` (what `covenant dispute` runs) down every path a person picks by hand:
// --reason withheld, untraced, equivocation and subjective. Verifiers 5-7 run and vote
// (their judge for subjective claims: a rule); account 4 disputes.
let chain: TestChain
let da: LocalDAStore
const nodes: VerifierNode[] = []
const agents: TestAgent[] = []
let nextWallet = 10

async function agent(): Promise<TestAgent> {
  const a = await createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: nextWallet++, payee: 8 }, da, dir: await tempDir() })
  agents.push(a)
  return a
}
const id = (a: TestAgent, n = 1) => `${a.agentId}-${n.toString(16).padStart(12, '0')}`

beforeAll(async () => {
  chain = await startTestChain()
  const root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  for (const i of [5, 6, 7]) {
    const n = new VerifierNode({
      client: chain.as(i),
      da,
      dataDir: join(root, `v${i}`),
      replayer: localReplayer(),
      act: false, // these verifiers only vote: the disputes here are opened by hand
      withheldGraceSeconds: 0,
      judge: ruleJudge('rude', (input) => (input.step ? JSON.stringify(input.step).includes('rude') : undefined)),
      pollIntervalMs: 100,
    })
    await n.start()
    nodes.push(n)
  }
})

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  await Promise.all(agents.map((a) => a.op.close()))
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

const base = () => ({ client: chain.as(4), da, pollIntervalMs: 100 })

describe('covenant dispute, by hand', () => {
  it('--reason withheld: a batch whose blob is not on DA', async () => {
    const a = await agent()
    await a.op.append({ kind: 'input', actionId: id(a), timestamp: 1, task: 'x' }, { kind: 'output', actionId: id(a), timestamp: 2, result: 'y' })
    await a.op.commitWithheld()
    // nobody can answer (the blob exists nowhere): once the deadline passes, the chain slashes
    let opened!: () => void
    const isOpen = new Promise<void>((r) => (opened = r))
    const run = disputeAction({ ...base(), actionId: id(a), reason: 'withheld', onProgress: (m) => /anyone may answer it with the blob/.test(m) && opened() })
    await isOpen
    await increaseTime(chain.reader.publicClient, chain.deployment.params.disputePeriod + 1)
    const o = await run
    expect(o).toMatchObject({ kind: 'DataWithheld', status: 'Slashed', slashed: { eth: ETH('5') } })
    // the challenger: its share of the slash plus its bond back
    expect(o.payouts[0]).toMatchObject({ role: 'challenger', to: chain.account(4).address, eth: slashSplit(chain.reader, ETH('5')).challenger + chain.deployment.params.challengerBond })
  })

  it('--reason untraced --tx: a payment the trace never mentions', async () => {
    const a = await agent()
    await a.op.pay(id(a), { to: chain.account(8).address, value: ETH('0.1') })
    await a.op.commit()
    const txHash = await a.op.sendUntraced({ to: chain.account(8).address, value: ETH('0.3') })
    await increaseTime(chain.reader.publicClient, 601)
    const o = await disputeAction({ ...base(), actionId: id(a, 99), reason: 'untraced', txHash })
    expect(o).toMatchObject({ kind: 'UntracedAction', status: 'Slashed', slashed: { eth: ETH('5') } })
    // the owner is repaid the 0.3 ETH first; the challenger's reward comes from the rest
    expect(o.payouts[0]).toMatchObject({ role: 'agent owner', to: chain.account(1).address, eth: ETH('0.3') })
    expect(o.payouts.find((x) => x.role === 'challenger')?.eth).toBe(slashSplit(chain.reader, ETH('5') - ETH('0.3')).challenger)
  })

  it('covenant verify reaches the node\'s verdict on a dropped wallet step: faulty (UntracedCall), then the proof slashes', async () => {
    const a = await agent()
    const txHash = await a.op.payDroppingTheWalletStep(id(a), { to: chain.account(8).address, value: ETH('0.1') })
    await a.op.commit()
    // within the deadline it is not a fault yet
    expect((await verifyAction({ client: chain.reader, da }, id(a))).faults.map((f) => f.type)).toEqual([])
    await increaseTime(chain.reader.publicClient, 601)
    const report = await verifyAction({ client: chain.reader, da }, id(a))
    expect(report.verdict).toBe('faulty')
    expect(report.faults).toMatchObject([{ type: 'UntracedCall', callSequence: 0, txHash }])
    const o = await disputeAction({ ...base(), actionId: id(a), reason: 'untraced', txHash })
    expect(o).toMatchObject({ kind: 'UntracedAction', status: 'Slashed', slashed: { eth: ETH('5') } })
  })

  it('--reason untraced refuses a transaction that is traced', async () => {
    const a = await agent()
    const { txHash } = await a.op.pay(id(a), { to: chain.account(8).address, value: ETH('0.1') })
    await a.op.commit()
    await expect(disputeAction({ ...base(), actionId: id(a), reason: 'untraced', txHash })).rejects.toMatchObject({
      name: 'NothingToDisputeError',
      shortMessage: expect.stringMatching(/is traced: call 0: covered by step 1 in batch 0/),
    })
  })

  it('--reason equivocation --header: a signed receipt that differs from the committed batch', async () => {
    const a = await agent()
    await a.op.append({ kind: 'input', actionId: id(a), timestamp: 1, task: 'x' }, { kind: 'output', actionId: id(a), timestamp: 2, result: 'y' })
    await a.op.equivocate()
    const o = await disputeAction({ ...base(), actionId: id(a), reason: 'equivocation', headers: [jsonlHeaderSource(a.op.headersFile)] })
    expect(o).toMatchObject({ kind: 'Equivocation', status: 'Slashed', slashed: { eth: ETH('5') } })
    expect(o.payouts.find((p) => p.role === 'challenger')?.eth).toBe(slashSplit(chain.reader, ETH('5')).challenger)
  })

  it('--reason subjective --claim: the verifiers\' judges decide', async () => {
    const a = await agent()
    await a.op.append({ kind: 'input', actionId: id(a), timestamp: 1, task: 'answer politely' }, { kind: 'output', actionId: id(a), timestamp: 2, result: 'a rude answer' })
    await a.op.commit()
    const o = await disputeAction({ ...base(), actionId: id(a), reason: 'subjective', claim: 'the answer was rude' })
    expect(o).toMatchObject({ kind: 'SubjectiveClaim', status: 'Slashed' })
    const b = await agent()
    await b.op.append({ kind: 'output', actionId: id(b), timestamp: 2, result: 'a kind answer' })
    await b.op.commit()
    const rejected = await disputeAction({ ...base(), actionId: id(b), reason: 'subjective', claim: 'the answer was rude' })
    expect(rejected).toMatchObject({ kind: 'SubjectiveClaim', status: 'Rejected', payouts: [{ role: 'agent owner', eth: chain.deployment.params.subjectiveBond }] })
  })
})
