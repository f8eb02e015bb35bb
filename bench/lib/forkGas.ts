// The fork backstop's gas (issue 12), for bench/gas: on its own fresh anvil with an escalation
// window, so every figure is a verdict that waits out the window or is contested.
//
//   - a verdict reaching quorum (decided, nothing paid) and finalize (the slash, after the window);
//   - contest (fork bond posted, the fork created);
//   - redeemStake (first and later redeemer), redeemTokens (plus its approve);
//   - resolve (the settlement of a contested dispute): the verdict overturned with 3 colluding
//     voters slashed, and a frivolous contest with nobody slashed — the difference is the
//     cost per slashed verifier;
//   - reclaim, claim (fork bond + reward), proveDoubleVerdict, the first verifier registration on a chain.
import { parseEther, toHex, type Hash, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../../test/fixtures/chain.js'
import {
  claimForkCredits,
  commitBatch,
  contestVerdict,
  depositBond,
  finalizeDispute,
  increaseTime,
  openDispute,
  proveDoubleVerdict,
  reclaimFork,
  redeemFork,
  registerAgent,
  registerVerifier,
  resolveFork,
  signVerdict,
  submitVerdicts,
  verdictTypedData,
} from '../../src/bonds/index.js'
import { merkleRoot } from '../../src/trace/index.js'

const WINDOW = 60
const FORK_PERIOD = 300

/** Accounts: 1 owner, 2 operator, 3 wallet, 4 challenger, 5-7 colluders, 8 honest verifier, 9 holder, 10 contester. */
export async function forkGas(): Promise<Record<string, string>> {
  const chain = await startTestChain({ escalationWindow: WINDOW, forkPeriod: FORK_PERIOD })
  try {
    return await measure(chain)
  } finally {
    await chain.stop()
  }
}

async function measure(chain: TestChain): Promise<Record<string, string>> {
  const gasOf = async (hash: Hash) => (await chain.reader.publicClient.getTransactionReceipt({ hash })).gasUsed
  const out: Record<string, string> = {}
  const reg = await registerVerifier(chain.as(8))
  out['verifier register, the first on a chain (1 CVW; its approve apart)'] = (await gasOf(reg.hash)).toString()
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  const { agentId } = await registerAgent(chain.as(1), {
    operator: chain.account(2).address,
    wallet: chain.account(3).address,
    manifestHash: toHex('bench-fork', { size: 32 }),
    policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [chain.account(8).address], allowedSelectors: [] },
  })
  await depositBond(chain.as(1), { agentId, eth: parseEther('10') })
  let sequence = 0n
  const dispute = async () => {
    const leaves: Hex[] = [1, 2, 3].map((n) => toHex(Number(sequence) * 10 + n, { size: 32 }))
    await commitBatch(chain.as(2), { agentId, sequence, merkleRoot: merkleRoot(leaves), daCommitment: toHex(`blob-${sequence}`), stepCount: 3 })
    const r = await openDispute(chain.as(4), { kind: 'InferenceFraud', agentId, sequence, stepIndex: 1 })
    sequence += 1n
    return r.disputeId
  }
  const sign = (who: number[], disputeId: bigint, agentAtFault: boolean) =>
    Promise.all(who.map((i) => signVerdict(chain.account(i), chain.deployment, { disputeId, agentAtFault })))
  const relay = chain.as(0)

  // an uncontested verdict: decided at quorum, settled by finalize after the window
  const d1 = await dispute()
  const decided = await submitVerdicts(relay, { disputeId: d1, verdicts: await sign([5, 6, 7, 8], d1, true) })
  out['4 verdicts reaching quorum (decided, nothing paid)'] = decided.gasUsed.toString()
  await increaseTime(chain.reader.publicClient, WINDOW + 1)
  out['finalize (uncontested: slash + payouts)'] = (await finalizeDispute(relay, { disputeId: d1 })).gasUsed.toString()

  // a bribed verdict, contested and overturned
  const d2 = await dispute()
  await submitVerdicts(relay, { disputeId: d2, verdicts: await sign([8], d2, false) })
  await submitVerdicts(relay, { disputeId: d2, verdicts: await sign([5, 6, 7], d2, true) })
  const c2 = await contestVerdict(chain.as(1), { disputeId: d2 })
  out['contest (fork bond, the fork created)'] = c2.gasUsed.toString()
  const first = await redeemFork(chain.as(8), { forkId: c2.forkId, side: 'Overturned' })
  out['redeemStake, first redeemer of a fork'] = first.gasUsed.toString()
  const later = await redeemFork(chain.as(5), { forkId: c2.forkId, side: 'Stands' })
  out['redeemStake, a later redeemer'] = later.gasUsed.toString()
  for (const i of [6, 7]) await redeemFork(chain.as(i), { forkId: c2.forkId, side: 'Stands' })
  const lock = await redeemFork(chain.as(9), { forkId: c2.forkId, side: 'Overturned', stake: false, tokens: parseEther('5') })
  out['redeemTokens (without its approve)'] = (await gasOf(lock.hashes[0]!)).toString()
  out['redeemTokens + approve'] = lock.gasUsed.toString()
  await increaseTime(chain.reader.publicClient, FORK_PERIOD)
  const overturned = await resolveFork(relay, { forkId: c2.forkId })
  out['resolve, overturned: 3 voters slashed, dispute settled (reject)'] = overturned.gasUsed.toString()
  out['reclaim (tokens locked in the winning child)'] = (await reclaimFork(chain.as(9), { forkId: c2.forkId })).gasUsed.toString()
  out['claim (fork bond back + token reward)'] = (await claimForkCredits(chain.as(1))).gasUsed.toString()

  // a frivolous contest of an honest unanimous verdict: nobody to slash
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  const d3 = await dispute()
  await submitVerdicts(relay, { disputeId: d3, verdicts: await sign([5, 6, 7, 8], d3, false) })
  const c3 = await contestVerdict(chain.as(10), { disputeId: d3 })
  for (const i of [5, 6, 7, 8]) await redeemFork(chain.as(i), { forkId: c3.forkId, side: 'Stands' })
  await increaseTime(chain.reader.publicClient, FORK_PERIOD)
  const stands = await resolveFork(relay, { forkId: c3.forkId })
  out['resolve, stands: nobody slashed, bond burned, dispute settled (reject)'] = stands.gasUsed.toString()
  out['resolve, cost per slashed verifier (difference / 3, approx.)'] = ((overturned.gasUsed - stands.gasUsed) / 3n).toString()

  // a verifier that signed both verdicts of one dispute
  const d4 = await dispute()
  const account = chain.account(6)
  const yes = await account.signTypedData(verdictTypedData(chain.deployment, { disputeId: d4, agentAtFault: true }))
  const no = await account.signTypedData(verdictTypedData(chain.deployment, { disputeId: d4, agentAtFault: false }))
  out['proveDoubleVerdict (whole stake slashed)'] = (await proveDoubleVerdict(relay, { disputeId: d4, signatureAtFault: yes, signatureNotAtFault: no })).gasUsed.toString()
  return out
}
