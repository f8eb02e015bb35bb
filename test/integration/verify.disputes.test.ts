import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes, keccak256, parseEventLogs, toHex, type Address, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { recordVerifierEvents, type VerifierEventLog } from '../fixtures/verifierEvents.js'
import { answerDataWithheld, challengeData, disputeGameAbi, getBatch, getBond, getDispute, listDisputes, openDispute, registerVerifier, traceLogAbi } from '../../src/bonds/index.js'
import { increaseTime } from '../../src/bonds/devTime.js'
import { LocalDAStore, localCommitment } from '../../src/da/index.js'
import { fileManifestSource, jsonlHeaderSource, memoryVerdictPool, VerifierNode, type VerifierEvent } from '../../src/verify/index.js'
import moderationAgent from '../../examples/agents/moderation/agent.js'
import { createTestAgent, ETH, ledger, moderationDigest, slashSplit, tempDir, TOY_MODEL_DIGEST, writeManifest, type TestAgent } from '../../src/verify/_testing.js'
import { localReplayer } from '../../src/verify/replayers.js'
import { TraceIndex } from '../../src/verify/traceIndex.js'
import { withPublishedBlobs } from '../../src/verify/publishedBlobs.js'

// Accounts: 0 deployer (+ redistribution), 1 agent owner, 2 operator, 4 a challenger by
// hand, 5-7 verifiers (5 acts, votes and submits the verdicts gathered in the pool; 6 and
// 7 only judge, sign and publish theirs), 8 the allowed payee, 9 a stranger, 10+ one
// agent wallet per test.
let chain: TestChain
let da: LocalDAStore
let root: string
const nodes: VerifierNode[] = []
const errors: VerifierEvent[] = []
let challenger: VerifierNode
/** The challenger's events from beforeAll on: its answer to a test's transaction can come before the receipt does. */
let events: VerifierEventLog
let nextWallet = 10
const headerFiles: string[] = []

const agents: TestAgent[] = []
async function agent(options: { manifestHash?: `0x${string}` } = {}): Promise<TestAgent> {
  const a = await createTestAgent(chain, {
    roles: { owner: 1, operator: 2, wallet: nextWallet++, payee: 8 },
    da,
    dir: await tempDir(),
    modelDigests: [await moderationDigest(), TOY_MODEL_DIGEST],
    manifestHash: options.manifestHash,
    // the verifiers judge inferences by the agent's manifest: one they can read
    manifestDir: join(root, 'manifests'),
  })
  agents.push(a)
  return a
}

function isChallenge(agentId: bigint) {
  return (e: VerifierEvent): e is Extract<VerifierEvent, { type: 'challenge' }> => e.type === 'challenge' && e.fault.agentId === agentId
}
function isResolved(disputeId: bigint) {
  return (e: VerifierEvent): e is Extract<VerifierEvent, { type: 'resolved' }> => e.type === 'resolved' && e.disputeId === disputeId
}

beforeAll(async () => {
  chain = await startTestChain({}, { accounts: 26 })
  root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  await mkdir(join(root, 'manifests'))
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  // the challenger reads the headers files the operators write (one per agent, made on demand)
  const headers = { name: 'test headers', poll: async () => (await Promise.all(headerFiles.map((f) => sources(f).poll()))).flat() }
  const cache = new Map<string, ReturnType<typeof jsonlHeaderSource>>()
  const sources = (f: string) => {
    let s = cache.get(f)
    if (!s) cache.set(f, (s = jsonlHeaderSource(f)))
    return s
  }
  const pool = memoryVerdictPool(chain.deployment)
  for (const i of [5, 6, 7]) {
    const node = new VerifierNode({
      client: chain.as(i),
      da,
      dataDir: join(root, `verifier-${i}`),
      replayer: localReplayer(),
      headers: i === 5 ? [headers] : [],
      manifests: [fileManifestSource(join(root, 'manifests'))],
      act: i === 5,
      verdictPool: pool,
      submitVerdicts: i === 5,
      withheldGraceSeconds: 30,
      pollIntervalMs: 100,
      onEvent: (e) => {
        if (e.type === 'error') errors.push(e)
      },
    })
    await node.start()
    nodes.push(node)
  }
  challenger = nodes[0] as VerifierNode
  events = recordVerifierEvents(challenger)
})

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  await Promise.all(agents.map((a) => a.op.close()))
  await chain?.stop()
  await da?.close() // its open segment's file handle
  if (errors.length) console.error('verifier errors:', errors)
})

const verifierAddress = () => chain.account(5).address
const redistribution = () => chain.deployment.redistribution

describe('a running verifier proves objective faults on its own', () => {
  it('an over-cap payment: provePolicyBreach, slashed at once, challenger paid to the wei', async () => {
    const a = await agent()
    const who = [verifierAddress(), redistribution()]
    const before = await ledger(chain.reader, a.agentId, who)
    const seen = events.waitFor(isChallenge(a.agentId))
    await a.op.pay('over-cap', { to: chain.account(8).address, value: ETH('2'), send: false })
    await a.op.commit()
    const e = await seen
    expect(e.fault.type).toBe('PolicyBreach')
    expect(e.result.status).toBe('proven')
    if (e.result.status !== 'proven' || e.fault.type !== 'PolicyBreach') throw new Error('unreachable')
    expect(e.fault.breach).toBe('ValueCap')
    const slashed = e.result.slashedEth
    expect(slashed).toBe(before.bondEth / 2n)
    const after = await ledger(chain.reader, a.agentId, who)
    const split = slashSplit(chain.reader, slashed)
    expect(after.bondEth).toBe(before.bondEth - slashed)
    expect((after.credits[verifierAddress()] as bigint) - (before.credits[verifierAddress()] as bigint)).toBe(split.challenger)
    expect((after.credits[redistribution()] as bigint) - (before.credits[redistribution()] as bigint)).toBe(split.redistribution)
    expect(after.burnedEth - before.burnedEth).toBe(split.burned)
    expect(split.challenger + split.redistribution + split.burned).toBe(slashed)
  })

  it('a payment to a recipient off the allowlist: provePolicyBreach (TargetNotAllowed)', async () => {
    const a = await agent()
    const before = await ledger(chain.reader, a.agentId, [verifierAddress()])
    const seen = events.waitFor(isChallenge(a.agentId))
    await a.op.pay('off-list', { to: chain.account(9).address, value: ETH('0.1') })
    await a.op.commit()
    const e = await seen
    if (e.result.status !== 'proven' || e.fault.type !== 'PolicyBreach') throw new Error(`expected a proof, got ${JSON.stringify(e.result.status)}`)
    expect(e.fault.breach).toBe('TargetNotAllowed')
    const after = await ledger(chain.reader, a.agentId, [verifierAddress()])
    expect(after.bondEth).toBe(before.bondEth - e.result.slashedEth)
    expect((after.credits[verifierAddress()] as bigint) - (before.credits[verifierAddress()] as bigint)).toBe(
      slashSplit(chain.reader, e.result.slashedEth).challenger,
    )
  })

  it('two batches for one sequence: proveEquivocation from the signed header', async () => {
    const a = await agent()
    headerFiles.push(a.op.headersFile)
    const before = await ledger(chain.reader, a.agentId, [verifierAddress()])
    const seen = events.waitFor(isChallenge(a.agentId))
    await a.op.append(
      { kind: 'input', actionId: 'eq', timestamp: 1, task: 'x' },
      { kind: 'output', actionId: 'eq', timestamp: 2, result: 'y' },
    )
    const { sequence } = await a.op.equivocate()
    const e = await seen
    expect(e.fault.type).toBe('Equivocation')
    expect(e.fault.type === 'Equivocation' && e.fault.sequence).toBe(sequence)
    if (e.result.status !== 'proven') throw new Error(`expected a proof, got ${e.result.status}`)
    const after = await ledger(chain.reader, a.agentId, [verifierAddress()])
    expect(after.bondEth).toBe(before.bondEth - e.result.slashedEth)
    expect((after.credits[verifierAddress()] as bigint) - (before.credits[verifierAddress()] as bigint)).toBe(
      slashSplit(chain.reader, e.result.slashedEth).challenger,
    )
  })
})

/** Waits for the challenger's dispute on `agentId` to be opened and settled by the quorum. */
async function quorumOutcome(a: TestAgent, trigger: () => Promise<unknown>) {
  const who = [verifierAddress(), redistribution(), chain.account(1).address]
  const before = await ledger(chain.reader, a.agentId, who)
  const opened = events.waitFor(isChallenge(a.agentId), 90_000)
  await trigger()
  const e = await opened
  if (e.result.status !== 'opened') throw new Error(`expected a dispute, got ${e.result.status}`)
  const disputeId = e.result.disputeId
  const resolved = await events.waitFor(isResolved(disputeId), 90_000)
  const after = await ledger(chain.reader, a.agentId, who)
  return { e, disputeId, bond: e.result.bond, resolved, before, after }
}

/** The DA commitments of an agent's committed batches, in order (from BatchCommitted). */
async function listBatchCommitments(agentId: bigint): Promise<Hex[]> {
  const logs = await chain.reader.publicClient.getContractEvents({
    address: chain.deployment.contracts.traceLog,
    abi: traceLogAbi,
    eventName: 'BatchCommitted',
    args: { agentId },
    fromBlock: 0n,
  })
  return logs.map((l) => (l.args as { daCommitment: Hex }).daCommitment)
}

function expectSlashedToTheWei(r: Awaited<ReturnType<typeof quorumOutcome>>, harmed?: { owner: Address; eth: bigint }) {
  expect(r.resolved.status).toBe('Slashed')
  const slashed = r.resolved.slashedEth
  expect(slashed).toBe(r.before.bondEth / 2n)
  const owed = harmed?.eth ?? 0n
  if (harmed) expect((r.after.credits[harmed.owner] as bigint) - (r.before.credits[harmed.owner] as bigint)).toBe(owed)
  const split = slashSplit(chain.reader, slashed - owed)
  expect(r.after.bondEth).toBe(r.before.bondEth - slashed)
  expect(split.challenger + split.redistribution + split.burned + owed).toBe(slashed)
  // the challenger gets its bond back plus its share of the slash
  expect((r.after.credits[verifierAddress()] as bigint) - (r.before.credits[verifierAddress()] as bigint)).toBe(split.challenger + r.bond)
  expect((r.after.credits[redistribution()] as bigint) - (r.before.credits[redistribution()] as bigint)).toBe(split.redistribution)
  expect(r.after.burnedEth - r.before.burnedEth).toBe(split.burned)
}

describe('quorum disputes: the verifier opens, the registered verifiers vote, the bond is slashed', () => {
  it('a faked inference output (the agent runtime\'s UNSAFE tamperInference): InferenceFraud', async () => {
    const { manifestHash } = await writeManifest(moderationAgent, join(root, 'manifests'))
    const a = await agent({ manifestHash })
    const runtime = await a.op.runtime(moderationAgent, { tamper: true })
    const r = await quorumOutcome(a, async () => {
      await runtime.run({ postId: 'p1', text: 'buy cheap followers now, limited offer!!!' })
      await a.op.commit()
    })
    expect(r.e.fault.type).toBe('InferenceFraud')
    expect(r.e.fault.reason).toMatch(/replay \(exact\) gives/)
    expectSlashedToTheWei(r)
    const d = await getDispute(chain.reader, r.disputeId)
    expect(d.forStake).toBe(3n * chain.deployment.params.verifierMinStake)
    // verifiers 6 and 7 only signed: verifier 5 gathered their verdicts and sent them all
    const pc = chain.reader.publicClient
    const counted = parseEventLogs({
      abi: disputeGameAbi,
      logs: await pc.getLogs({ address: chain.deployment.contracts.disputeGame, fromBlock: 0n }),
      eventName: 'VerdictCounted',
    }).filter((l) => l.args.disputeId === r.disputeId)
    expect(counted.map((l) => l.args.verifier).sort()).toEqual([5, 6, 7].map((i) => chain.account(i).address).sort())
    const senders = await Promise.all(counted.map(async (l) => (await pc.getTransaction({ hash: l.transactionHash })).from))
    expect(new Set(senders.map((x) => x.toLowerCase()))).toEqual(new Set([chain.account(5).address.toLowerCase()]))
  })

  it('a withheld blob, past the grace period: DataWithheld, unanswered by the deadline, slashed with no vote', async () => {
    const a = await agent()
    const opened = events.waitFor(isChallenge(a.agentId), 90_000)
    const r = await quorumOutcome(a, async () => {
      const unavailable = events.waitFor((e) => e.type === 'batch' && e.agentId === a.agentId && e.status === 'unavailable')
      await a.op.append({ kind: 'input', actionId: 'wh', timestamp: 1, task: 'x' }, { kind: 'output', actionId: 'wh', timestamp: 2, result: 'y' })
      await a.op.commitWithheld()
      await unavailable
      await increaseTime(chain.reader.publicClient, 31)
      await opened // the challenge is in; nobody holds the blob to answer it
      await increaseTime(chain.reader.publicClient, chain.deployment.params.disputePeriod + 1)
    })
    expect(r.e.fault.type).toBe('DataWithheld')
    expectSlashedToTheWei(r)
    const d = await getDispute(chain.reader, r.disputeId)
    expect(d.forStake + d.againstStake).toBe(0n) // decided by the missing answer, not by votes
  })

  it('a withheld blob that its operator publishes on chain in answer: not slashed, the challenger bond pays the operator, the batch is read from the chain', async () => {
    const a = await agent()
    const opened = events.waitFor(isChallenge(a.agentId), 90_000)
    const unavailable = events.waitFor((e) => e.type === 'batch' && e.agentId === a.agentId && e.status === 'unavailable')
    await a.op.append({ kind: 'input', actionId: 'late', timestamp: 1, task: 'x' }, { kind: 'output', actionId: 'late', timestamp: 2, result: 'y' })
    const { sequence, blob } = await a.op.commitWithheld()
    await unavailable
    await increaseTime(chain.reader.publicClient, 31)
    const e = await opened
    if (e.result.status !== 'opened') throw new Error(`expected a dispute, got ${e.result.status}`)
    const before = await ledger(chain.reader, a.agentId, [chain.account(2).address])
    const d = await getDispute(chain.reader, e.result.disputeId)
    await answerDataWithheld(chain.as(2), { disputeId: e.result.disputeId, blob, subject: d.subject })
    const resolved = await events.waitFor(isResolved(e.result.disputeId), 90_000)
    expect(resolved.status).toBe('Rejected')
    const after = await ledger(chain.reader, a.agentId, [chain.account(2).address])
    expect(after.bondEth).toBe(before.bondEth)
    expect((after.credits[chain.account(2).address] as bigint) - (before.credits[chain.account(2).address] as bigint)).toBe(e.result.bond)
    // the DA layer still lacks the blob; every reader gets it from the chain, hash-checked
    await expect(da.get(bytesToHex(localCommitment(blob)))).rejects.toThrow()
    const index = new TraceIndex({ client: chain.reader, da: withPublishedBlobs(chain.reader, da) })
    const got = await index.batch(a.agentId, sequence, { refetch: true })
    expect(got?.check.status).toBe('ok')
  })

  it('an honest agent challenged by a verifier with a bad network path: a node that holds the blob answers, nobody is slashed', async () => {
    const a = await agent()
    await a.op.append({ kind: 'input', actionId: 'honest', timestamp: 1, task: 'x' }, { kind: 'output', actionId: 'honest', timestamp: 2, result: 'y' })
    await a.op.commit() // the blob is on DA
    const committed = await getBatch(chain.reader, a.agentId, 0n)
    const commitment = (await listBatchCommitments(a.agentId))[0] as Hex
    expect(committed).toBeDefined()
    const before = await ledger(chain.reader, a.agentId, [verifierAddress()])
    // account 4 cannot reach the DA node and challenges in good faith
    const r = await challengeData(chain.as(4), { agentId: a.agentId, sequence: 0n, daCommitment: hexToBytes(commitment) })
    const answered = await events.waitFor(
      (ev): ev is Extract<VerifierEvent, { type: 'answered' }> => ev.type === 'answered' && ev.disputeId === r.disputeId,
      90_000,
    )
    expect(answered.bytes).toBeGreaterThan(0)
    const resolved = await events.waitFor(isResolved(r.disputeId), 90_000)
    expect(resolved.status).toBe('Rejected')
    const after = await ledger(chain.reader, a.agentId, [verifierAddress()])
    expect(after.bondEth).toBe(before.bondEth)
    expect((after.credits[verifierAddress()] as bigint) - (before.credits[verifierAddress()] as bigint)).toBe(r.bond)
  })

  it('a batch on DA under a Merkle root that is not its own: InvalidBatch, voted, slashed', async () => {
    const a = await agent()
    const r = await quorumOutcome(a, async () => {
      await a.op.append({ kind: 'input', actionId: 'bad-root', timestamp: 1, task: 'x' }, { kind: 'output', actionId: 'bad-root', timestamp: 2, result: 'y' })
      await a.op.commitWrongRoot()
    })
    expect(r.e.fault).toMatchObject({ type: 'InvalidBatch', sequence: 0n })
    expect(r.e.fault.reason).toMatch(/Merkle root/)
    expectSlashedToTheWei(r)
    expect((await getDispute(chain.reader, r.disputeId)).forStake).toBe(3n * chain.deployment.params.verifierMinStake)
  })

  it('an account call whose coverage the operator lied about (declared covered, no step): UntracedAction by vote', async () => {
    const a = await agent()
    let txHash: Hex | undefined
    const r = await quorumOutcome(a, async () => {
      // an honest, traced payment first: it must not be what is disputed
      await a.op.pay('traced', { to: chain.account(8).address, value: ETH('0.1') })
      await a.op.commit()
      txHash = await a.op.sendUntraced({ to: chain.account(8).address, value: ETH('0.2') })
      await a.op.coverEverything() // CHEAT: TraceLog now says every call is covered
      await increaseTime(chain.reader.publicClient, 601)
    })
    expect(r.e.fault).toMatchObject({ type: 'UntracedAction', txHash, harm: ETH('0.2') })
    // the quorum slash repays the owner the 0.2 ETH the call moved before any reward
    const d = await getDispute(chain.reader, r.disputeId)
    expect(d.harm).toBe(ETH('0.2'))
    expectSlashedToTheWei(r, { owner: chain.account(1).address, eth: ETH('0.2') })
  })
})

describe('an untraced account call is proven on chain, no vote', () => {
  it('coverage fails safe: a payment whose only batch is withheld is proven untraced past the grace period', async () => {
    const a = await agent()
    const proven = events.waitFor(
      (e): e is Extract<VerifierEvent, { type: 'challenge' }> => e.type === 'challenge' && e.fault.agentId === a.agentId && e.fault.type === 'UntracedCall',
      120_000,
    )
    await a.op.pay('hidden', { to: chain.account(8).address, value: ETH('0.1') })
    await a.op.commitWithheld() // the step's batch is on chain, its blob never on DA
    await increaseTime(chain.reader.publicClient, 601 + 31) // past the call's deadline and the 30 s grace
    const e = await proven
    expect(e.fault).toMatchObject({ type: 'UntracedCall', callSequence: 0 })
    expect(e.result).toMatchObject({ status: 'proven' })

    // and the withheld blob is not fetched again on every check: exponential back-off
    let gets = 0
    let now = 1_000_000
    const counting = { get: (c: Hex) => ((gets += 1), da.get(c)) }
    const index = new TraceIndex({ client: chain.reader, da: counting, now: () => now })
    for (let i = 0; i < 100; i++) await index.stepByLeaf(a.agentId, keccak256(toHex(i)))
    expect(gets).toBe(1)
    now += 1_000 // the first back-off (1 s) has passed
    for (let i = 0; i < 100; i++) await index.stepByLeaf(a.agentId, keccak256(toHex(i)))
    expect(gets).toBe(2)
    now += 1_999 // the second (2 s) has not
    for (let i = 0; i < 100; i++) await index.stepByLeaf(a.agentId, keccak256(toHex(i)))
    expect(gets).toBe(2)
  })

  it('an account call with no trace step, past its deadline: proveUntracedCall slashes at once', async () => {
    const a = await agent()
    await a.op.pay('traced', { to: chain.account(8).address, value: ETH('0.1') })
    await a.op.commit()
    const before = await ledger(chain.reader, a.agentId, [verifierAddress()])
    const proven = events.waitFor(isChallenge(a.agentId), 90_000)
    const txHash = await a.op.sendUntraced({ to: chain.account(8).address, value: ETH('0.2') })
    await increaseTime(chain.reader.publicClient, 601)
    const e = await proven
    expect(e.fault).toMatchObject({ type: 'UntracedCall', callSequence: 1, txHash })
    expect(e.result).toMatchObject({ status: 'proven', kind: 'UntracedAction' })
    const after = await ledger(chain.reader, a.agentId, [verifierAddress()])
    expect(after.bondEth).toBe(before.bondEth / 2n)
    // the honest call (sequence 0) is covered: nothing else is disputed
    expect((await listDisputes(chain.reader, { agentId: a.agentId })).map((d) => `${d.kind}:${d.status}:${d.stepIndex}`)).toEqual(['UntracedAction:Slashed:1'])
  })
})

describe('challenges that fail', () => {
  it('a false challenge loses the challenger bond to the agent owner', async () => {
    const a = await agent()
    await a.op.append({ kind: 'input', actionId: 'ok', timestamp: 1, task: 'moderate' })
    await a.op.classify('ok', 'thanks for the quick delivery, works great')
    await a.op.append({ kind: 'output', actionId: 'ok', timestamp: 2, result: 'ok' })
    const [batch] = await a.op.commit()
    const owner: Address = chain.account(1).address
    const before = await ledger(chain.reader, a.agentId, [owner])
    const opened = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId: a.agentId, sequence: BigInt(batch?.sequence ?? 0), stepIndex: 1 })
    const resolved = await events.waitFor(isResolved(opened.disputeId), 60_000)
    expect(resolved.status).toBe('Rejected')
    const after = await ledger(chain.reader, a.agentId, [owner])
    expect(after.bondEth).toBe(before.bondEth)
    expect((after.credits[owner] as bigint) - (before.credits[owner] as bigint)).toBe(opened.bond)
    const d = await getDispute(chain.reader, opened.disputeId)
    expect(d.againstStake).toBe(3n * chain.deployment.params.verifierMinStake)
    expect(d.forStake).toBe(0n)
  })

  it('a real fault with an inflated harm claim: the quorum rejects it, the challenger loses its bond, nobody is over-slashed', async () => {
    const a = await agent()
    const runtime = await a.op.runtime(moderationAgent, { tamper: true })
    await runtime.run({ postId: 'p9', text: 'buy cheap followers now, limited offer!!!' })
    // committed with the blob held back, so the greedy challenger is first to dispute the step
    const { blob } = await a.op.commitWithheld()
    const voted = challenger.waitFor((e): e is Extract<VerifierEvent, { type: 'vote' }> => e.type === 'vote' && e.reason.includes('moved'), 90_000)
    // it claims the action moved 4 ETH; it moved nothing (moderation pays no one)
    const greedy = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId: a.agentId, sequence: 0n, stepIndex: 1, harm: ETH('4') })
    await da.put(blob) // now every verifier can judge it
    const owner: Address = chain.account(1).address
    const before = await ledger(chain.reader, a.agentId, [owner])
    const resolved = await events.waitFor(isResolved(greedy.disputeId), 90_000)
    expect(resolved.status).toBe('Rejected')
    const vote = await voted
    expect(vote).toMatchObject({ disputeId: greedy.disputeId, agentAtFault: false })
    expect(vote.reason).toMatch(/claims 4000000000000000000 wei moved; action .* moved 0 wei/)
    const after = await ledger(chain.reader, a.agentId, [owner])
    expect(after.credits[owner]! - before.credits[owner]!).toBe(greedy.bond)
  })

  it('a dispute nobody votes on expires at its deadline: nobody slashed, bond refunded', async () => {
    const a = await agent()
    await a.op.append({ kind: 'output', actionId: 'subj', timestamp: 1, result: 'a rude answer?' })
    const [batch] = await a.op.commit()
    const who = [chain.account(4).address]
    const before = await ledger(chain.reader, a.agentId, who)
    const abstained = nodes.map((n) => n.waitFor((e) => e.type === 'abstain'))
    const opened = await openDispute(chain.as(4), {
      kind: 'SubjectiveClaim',
      agentId: a.agentId,
      sequence: BigInt(batch?.sequence ?? 0),
      stepIndex: 0,
      subject: keccak256(toHex('the answer was rude')),
    })
    await Promise.all(abstained) // no verifier here has a judge: each abstains
    expect((await getDispute(chain.reader, opened.disputeId)).status).toBe('Open')
    const resolved = events.waitFor(isResolved(opened.disputeId), 60_000)
    await increaseTime(chain.reader.publicClient, chain.deployment.params.disputePeriod + 1)
    expect((await resolved).status).toBe('Expired')
    const after = await ledger(chain.reader, a.agentId, who)
    expect(after.bondEth).toBe(before.bondEth)
    expect((after.credits[chain.account(4).address] as bigint) - (before.credits[chain.account(4).address] as bigint)).toBe(opened.bond)
    expect((await getBond(chain.reader, a.agentId)).eth).toBe(before.bondEth)
  })
})
