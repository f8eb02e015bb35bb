import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseEther, toHex, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import {
  claimCredits,
  commitBatch,
  depositBond,
  getBond,
  getDispute,
  openDispute,
  provePolicyBreach,
  registerAgent,
  registerVerifier,
  signVerdict,
  submitVerdicts,
  testTokenAbi,
  bondVaultAbi,
  walletStepTuple,
  ContractRevertError,
  DisputeReader,
  listDisputes,
  BatchRecordMismatchError,
  batchRecordHash,
  getBatch,
  getNextSequence,
  packBatchFields,
  unpackBatchFields,
  traceLogAbi,
  commitMany,
  commitBundle,
  bundleHash,
} from '../../src/bonds/index.js'
import { TraceChain, genesisHead, merkleProof, merkleRoot, type Step, type StepBody, type WalletStep } from '../../src/trace/index.js'

// Accounts: 0 deployer (+ redistribution), 1 agent owner, 2 operator, 3 agent wallet,
// 4 challenger, 5-7 verifiers, 8 allowed payee, 9 a stranger.
let chain: TestChain
let agentId: bigint
const ETH = (n: string) => parseEther(n)

beforeAll(async () => {
  chain = await startTestChain()
  const owner = chain.as(1)
  const r = await registerAgent(owner, {
    operator: chain.account(2).address,
    wallet: chain.account(3).address,
    manifestHash: toHex('manifest', { size: 32 }),
    policy: {
      maxValuePerTx: ETH('1'),
      challengeWindow: 3_600,
      commitDeadline: 600,
      allowedTargets: [chain.account(8).address],
      allowedSelectors: [],
    },
  })
  agentId = r.agentId
  await owner.walletClient.writeContract({
    address: chain.deployment.contracts.bondToken,
    abi: testTokenAbi,
    functionName: 'mint',
    args: [chain.account(1).address, 1_000n],
  })
  await depositBond(owner, { agentId, eth: ETH('10'), token: 1_000n })
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
})

afterAll(async () => {
  await chain?.stop()
})

/** Builds and commits one batch of the agent's trace; returns the steps and leaves. */
async function commitSteps(sequence: bigint, bodies: StepBody[], head: TraceChain) {
  const steps: Step[] = []
  const leaves: Hex[] = []
  for (const b of bodies) {
    const { step, leaf } = head.append(b)
    steps.push(step)
    leaves.push(leaf)
  }
  await commitBatch(chain.as(2), {
    agentId,
    sequence,
    merkleRoot: merkleRoot(leaves),
    daCommitment: toHex(`blob-${sequence}`),
    stepCount: steps.length,
  })
  return { steps, leaves }
}

/** The test chain's reader through a node that rewrites every answer to getLogs. */
function nodeWithLogs(rewrite: (logs: Record<string, unknown>[]) => unknown[]) {
  const pc = chain.reader.publicClient
  return {
    ...chain.reader,
    publicClient: new Proxy(pc, {
      get(target, prop, receiver) {
        if (prop !== 'getLogs') return Reflect.get(target, prop, receiver)
        return async (...a: Parameters<typeof pc.getLogs>) => rewrite((await pc.getLogs(...a)) as unknown as Record<string, unknown>[])
      },
    }),
  }
}

function pay(to: Hex, value: string, nonce: number): StepBody {
  return {
    kind: 'wallet',
    actionId: `pay-${nonce}`,
    timestamp: 1_700_000_000_000 + nonce,
    chainId: '31337',
    from: chain.account(3).address.toLowerCase() as Hex,
    to: to.toLowerCase() as Hex,
    value,
    data: '0x',
    nonce,
    policyVersion: 1,
  }
}

describe('register → bond → commit → prove a policy breach → slash', () => {
  let trace: TraceChain
  let batch: { steps: Step[]; leaves: Hex[] }

  beforeAll(async () => {
    trace = new TraceChain(genesisHead(agentId.toString()))
    batch = await commitSteps(0n, [
      { kind: 'input', actionId: 'a1', timestamp: 1, task: 'pay the invoices' },
      pay(chain.account(8).address, ETH('0.5').toString(), 0), // within policy
      pay(chain.account(9).address, ETH('0.5').toString(), 1), // off the allowlist
      pay(chain.account(8).address, ETH('2').toString(), 2), // over the cap
      { kind: 'output', actionId: 'a1', timestamp: 2, result: 'paid' },
    ], trace)
  })

  it('rejects a proof against an honest wallet step', async () => {
    const step = batch.steps[1] as WalletStep
    const err = await provePolicyBreach(chain.as(4), {
      step: walletStepTuple(step),
      sequence: 0n,
      proof: merkleProof(batch.leaves, 1),
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractRevertError)
    expect((err as ContractRevertError).errorName).toBe('NoBreach')
  })

  it('rejects a step that is not in the committed batch', async () => {
    const forged = { ...(batch.steps[2] as WalletStep), value: ETH('0.4').toString() }
    const err = await provePolicyBreach(chain.as(4), {
      step: walletStepTuple(forged),
      sequence: 0n,
      proof: merkleProof(batch.leaves, 2),
    }).catch((e: unknown) => e)
    expect((err as ContractRevertError).errorName).toBe('InvalidMerkleProof')
  })

  it('slashes for a payment off the allowlist and pays the challenger to the wei', async () => {
    const before = await getBond(chain.reader, agentId)
    const vault = chain.deployment.contracts.bondVault
    const read = (fn: 'ethCredits' | 'tokenCredits', who: Hex) =>
      chain.reader.publicClient.readContract({ address: vault, abi: bondVaultAbi, functionName: fn, args: [who] })
    const r = await provePolicyBreach(chain.as(4), {
      step: walletStepTuple(batch.steps[2] as WalletStep),
      sequence: 0n,
      proof: merkleProof(batch.leaves, 2),
    })
    expect(r.breach).toBe('TargetNotAllowed')
    expect(r.slashedEth).toBe(ETH('5')) // slashBps 50% of 10 ETH
    expect(r.slashedToken).toBe(500n)
    const after = await getBond(chain.reader, agentId)
    expect(after.eth).toBe(before.eth - r.slashedEth)
    expect(after.token).toBe(before.token - r.slashedToken)
    // 50% challenger, 30% redistribution (deployer), 20% burned
    expect(await read('ethCredits', chain.account(4).address)).toBe(ETH('2.5'))
    expect(await read('ethCredits', chain.account(0).address)).toBe(ETH('1.5'))
    expect(await read('tokenCredits', chain.account(4).address)).toBe(250n)
    const burned = await chain.reader.publicClient.readContract({ address: vault, abi: bondVaultAbi, functionName: 'burnedEth' })
    expect(burned).toBe(ETH('1'))

    const balanceBefore = await chain.reader.publicClient.getBalance({ address: chain.account(4).address })
    const { hash } = await claimCredits(chain.as(4))
    const receipt = await chain.reader.publicClient.getTransactionReceipt({ hash })
    const balanceAfter = await chain.reader.publicClient.getBalance({ address: chain.account(4).address })
    expect(balanceAfter - balanceBefore + receipt.gasUsed * receipt.effectiveGasPrice).toBe(ETH('2.5'))
  })

  it('cannot slash the same step twice, but can slash another breach', async () => {
    const again = await provePolicyBreach(chain.as(4), {
      step: walletStepTuple(batch.steps[2] as WalletStep),
      sequence: 0n,
      proof: merkleProof(batch.leaves, 2),
    }).catch((e: unknown) => e)
    expect((again as ContractRevertError).errorName).toBe('AlreadyProven')
    const r = await provePolicyBreach(chain.as(9), {
      step: walletStepTuple(batch.steps[3] as WalletStep),
      sequence: 0n,
      proof: merkleProof(batch.leaves, 3),
    })
    expect(r.breach).toBe('ValueCap')
    expect(r.slashedEth).toBe(ETH('2.5'))
  })

  it('a false challenge loses its bond to the agent owner', async () => {
    const opened = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId, sequence: 0n, stepIndex: 0 })
    expect((await getBond(chain.reader, agentId)).eth).toBe(ETH('2.5'))
    const verdicts = await Promise.all(
      [5, 6, 7].map((i) => signVerdict(chain.account(i), chain.deployment, { disputeId: opened.disputeId, agentAtFault: false })),
    )
    const ownerCredit = () =>
      chain.reader.publicClient.readContract({
        address: chain.deployment.contracts.bondVault,
        abi: bondVaultAbi,
        functionName: 'ethCredits',
        args: [chain.account(1).address],
      })
    const creditBefore = await ownerCredit()
    const r = await submitVerdicts(chain.as(0), { disputeId: opened.disputeId, verdicts })
    expect(r.status).toBe('Rejected')
    expect(r.counted).toBe(3)
    expect(await ownerCredit()).toBe(creditBefore + opened.bond)
    const d = await getDispute(chain.reader, opened.disputeId)
    expect(d.status).toBe('Rejected')
    expect(d.slashedEth).toBe(0n)
  })

  it('a long-running reader reads a settled dispute once and an open one every time', async () => {
    const { publicClient } = chain.reader
    const reader = new DisputeReader({ ...chain.reader, publicClient })
    const first = await reader.list()
    expect(first).toEqual(await listDisputes(chain.reader))
    const settled = first.filter((d) => ['Slashed', 'Rejected', 'Expired'].includes(d.status)).length
    expect(settled).toBeGreaterThanOrEqual(1)
    expect(reader.cached).toBe(settled)

    const opened = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId, sequence: 0n, stepIndex: 0 })
    const reads = vi.spyOn(publicClient, 'readContract')
    let second: Awaited<ReturnType<DisputeReader['list']>>
    try {
      second = await reader.list({ agentId })
      // the count, and the new (open) dispute: nothing settled is read again
      expect(reads.mock.calls.map(([c]) => c.functionName)).toEqual(['disputeCount', 'dispute'])
      await reader.list()
      expect(reads.mock.calls.filter(([c]) => c.functionName === 'dispute')).toHaveLength(2) // the open one, read again
    } finally {
      reads.mockRestore()
    }
    expect(second.at(-1)).toMatchObject({ disputeId: opened.disputeId, status: 'Open' })
    expect(second).toEqual(await listDisputes(chain.reader, { agentId }))
  })
})

describe('leaf encoding is identical in Solidity and TypeScript', () => {
  it('DisputeGame hashes a wallet step to the same leaf as src/trace', async () => {
    const { encodeAbiParameters, keccak256 } = await import('viem')
    const { stepLeaf } = await import('../../src/trace/index.js')
    const { disputeGameAbi } = await import('../../src/bonds/index.js')
    const trace = new TraceChain(genesisHead('7'))
    trace.append({ kind: 'input', actionId: 'x', timestamp: 1, task: 'x' })
    const { step } = trace.append({ ...(pay(chain.account(8).address, '123456789', 41) as WalletStep), data: '0xa9059cbb0000' } as StepBody)
    const onChain = await chain.reader.publicClient.readContract({
      address: chain.deployment.contracts.disputeGame,
      abi: disputeGameAbi,
      functionName: 'policyBreachEvidence',
      args: [walletStepTuple(step as WalletStep), 9n],
    })
    const expected = keccak256(
      encodeAbiParameters([{ type: 'uint8' }, { type: 'uint64' }, { type: 'bytes32' }], [0, 9n, stepLeaf(step)]),
    )
    expect(onChain).toBe(expected)
  })
})

describe('batch records: TraceLog keeps one hash per batch, the BatchCommitted event gives the record', () => {
  const read = (functionName: 'batchHash' | 'isCommitted', seq: bigint) =>
    chain.reader.publicClient.readContract({ address: chain.deployment.contracts.traceLog, abi: traceLogAbi, functionName, args: [agentId, seq] })

  it('getBatch rebuilds the record from the event and it hashes to what the chain keeps', async () => {
    const seq = await getNextSequence(chain.reader, agentId)
    const root = toHex(`record-${seq}`, { size: 32 })
    const r = await commitBatch(chain.as(2), { agentId, sequence: seq, merkleRoot: root, daCommitment: toHex(`blob-${seq}`), stepCount: 7 })
    expect(r.written).toBe(true)
    const b = await getBatch(chain.reader, agentId, seq)
    expect(b).toMatchObject({ merkleRoot: root, stepCount: 7, challengeWindow: 3_600, daCommitment: toHex(`blob-${seq}`), transactionHash: r.hash })
    expect(batchRecordHash(b!.record)).toBe(await read('batchHash', seq))
    const pc = chain.reader.publicClient
    const address = chain.deployment.contracts.traceLog
    expect(await pc.readContract({ address, abi: traceLogAbi, functionName: 'recordHash', args: [b!.record] })).toBe(batchRecordHash(b!.record))
    expect(await pc.readContract({ address, abi: traceLogAbi, functionName: 'isFinal', args: [agentId, seq, b!.record] })).toBe(false)
    // an edited window does not make the batch final
    const edited = { ...b!.record, challengeWindow: 0n, committedAt: 1n }
    await expect(pc.readContract({ address, abi: traceLogAbi, functionName: 'isFinal', args: [agentId, seq, edited] })).rejects.toThrow(/WrongBatchRecord/)
    expect(await getBatch(chain.reader, agentId, seq + 1n)).toBeUndefined()
  })

  it('a re-sent identical batch is recognised (written: false); different content for the sequence is refused', async () => {
    const seq = await getNextSequence(chain.reader, agentId)
    const batch = { agentId, sequence: seq, merkleRoot: toHex(`resend-${seq}`, { size: 32 }), daCommitment: toHex(`blob-${seq}`), stepCount: 3 }
    const first = await commitBatch(chain.as(2), batch)
    const hashBefore = await read('batchHash', seq)
    const again = await commitBatch(chain.as(2), batch)
    expect(again).toMatchObject({ written: false, hash: first.hash, blockNumber: first.blockNumber })
    const err = await commitBatch(chain.as(2), { ...batch, stepCount: 4 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractRevertError)
    expect((err as ContractRevertError).errorName).toBe('SequenceTaken')
    expect(await read('batchHash', seq)).toBe(hashBefore)
  })

  it('commitMany writes several batches in one transaction, each readable and checked like a single commit', async () => {
    const seq = await getNextSequence(chain.reader, agentId)
    const batches = [0n, 1n].map((k) => ({ agentId, sequence: seq + k, merkleRoot: toHex(`many-${seq + k}`, { size: 32 }), daCommitment: toHex(`blob-${seq + k}`), stepCount: 2 }))
    const r = await commitMany(chain.as(2), batches)
    for (const b of batches) {
      const got = await getBatch(chain.reader, agentId, b.sequence)
      expect(got).toMatchObject({ merkleRoot: b.merkleRoot, stepCount: 2, transactionHash: r.hash })
      expect(batchRecordHash(got!.record)).toBe(await read('batchHash', b.sequence))
    }
    const [first, second] = await Promise.all([getBatch(chain.reader, agentId, seq), getBatch(chain.reader, agentId, seq + 1n)])
    expect(second!.firstIndex).toBe(first!.firstIndex + 2n)
    // not the operator: refused, nothing written
    const err = await commitMany(chain.as(9), [{ ...batches[0]!, sequence: seq + 2n }]).catch((e: unknown) => e)
    expect((err as ContractRevertError).errorName).toBe('NotOperator')
    expect(await read('isCommitted', seq + 2n)).toBe(false)
  })

  it('commitBundle: one slot for many batches; getBatch proves each from the bundle, and a breach proof opens the batch and slashes', async () => {
    const seq = await getNextSequence(chain.reader, agentId)
    const first = await chain.reader.publicClient.readContract({ address: chain.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'nextStepIndex', args: [agentId] })
    // batch seq: a payment over the cap, as real trace steps; batch seq + 1: a plain batch
    const trace = new TraceChain({ ...genesisHead(agentId.toString()), nextIndex: Number(first) })
    const steps: Step[] = []
    const leaves: Hex[] = []
    for (const b of [pay(chain.account(8).address, ETH('3').toString(), 90), { kind: 'output', actionId: 'b', timestamp: 3, result: 'paid' } as StepBody]) {
      const { step, leaf } = trace.append(b)
      steps.push(step)
      leaves.push(leaf)
    }
    const batches = [
      { agentId, sequence: seq, merkleRoot: merkleRoot(leaves), daCommitment: toHex(`bundle-${seq}`), stepCount: 2 },
      { agentId, sequence: seq + 1n, merkleRoot: toHex(`bundle-${seq + 1n}`, { size: 32 }), daCommitment: toHex(`bundle-${seq + 1n}`), stepCount: 3 },
    ]
    const r = await commitBundle(chain.as(2), batches)
    expect(r.leaves).toHaveLength(2)
    expect(r.bundle).toBe(bundleHash(r.leaves))
    const got = await Promise.all(batches.map((b) => getBatch(chain.reader, agentId, b.sequence)))
    for (const [i, b] of got.entries()) {
      // no slot of its own yet: the record is proven from the bundle the chain keeps
      expect(await read('batchHash', batches[i]!.sequence)).toBe(`0x${'0'.repeat(64)}`)
      expect(await read('isCommitted', batches[i]!.sequence)).toBe(true)
      expect(b).toMatchObject({ merkleRoot: batches[i]!.merkleRoot, opened: false, transactionHash: r.hash, bundle: { bundle: r.bundle, index: i } })
    }
    expect(got[1]!.firstIndex).toBe(first + 2n)
    // a node that drops the bundle's event cannot make getBatch answer a record
    const dropping = nodeWithLogs((logs) => logs.filter((l) => (l as { eventName?: string }).eventName !== 'BundleCommitted'))
    await expect(getBatch(dropping, agentId, seq)).rejects.toBeInstanceOf(BatchRecordMismatchError)
    // the challenger proves the breach: the action opens the batch first, then the chain slashes
    const proof = await provePolicyBreach(chain.as(4), { step: walletStepTuple(steps[0] as WalletStep), sequence: seq, proof: merkleProof(leaves, 0) })
    expect(proof.breach).toBe('ValueCap')
    expect(proof.slashedEth).toBeGreaterThan(0n)
    expect(await read('batchHash', seq)).toBe(batchRecordHash(got[0]!.record))
    expect(await getBatch(chain.reader, agentId, seq)).toMatchObject({ opened: true })
    // the other batch of the bundle stays unopened until it is needed
    expect(await read('batchHash', seq + 1n)).toBe(`0x${'0'.repeat(64)}`)
  })

  it('a node whose log disagrees with the stored hash gives BatchRecordMismatchError, not a record', async () => {
    const seq = (await getNextSequence(chain.reader, agentId)) - 1n
    // the batch's window, stretched
    const lying = nodeWithLogs((logs) =>
      logs.map((l) => {
        const args = (l as unknown as { args: { fields?: bigint } }).args
        if (args.fields === undefined) return l // the bundle's own event, when the batch is bundled
        return { ...l, args: { ...args, fields: packBatchFields({ ...unpackBatchFields(args.fields), challengeWindow: 999_999n }) } }
      }),
    )
    await expect(getBatch(lying, agentId, seq)).rejects.toBeInstanceOf(BatchRecordMismatchError)
  })

  it('a dispute with an edited record is refused by the chain (WrongBatchRecord)', async () => {
    const seq = (await getNextSequence(chain.reader, agentId)) - 1n
    const b = await getBatch(chain.reader, agentId, seq)
    const edited = { ...b!.record, stepCount: b!.record.stepCount + 100 }
    const err = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId, sequence: seq, stepIndex: 50, record: edited }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractRevertError)
    expect((err as ContractRevertError).errorName).toBe('WrongBatchRecord')
  })
})
