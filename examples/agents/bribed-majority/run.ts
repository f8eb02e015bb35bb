/**
 * The fork backstop, end to end: `npm run example:fork` (add `-- --json` for the summary).
 *
 * The moderation agent runs honestly: it classifies a post with the shipped ONNX model and
 * publishes what the model says. A competitor wants it slashed. It opens a false
 * InferenceFraud challenge on the honest inference and bribes three of the four verifiers —
 * 75 % of the stake, above the 2/3 quorum — to vote "at fault". The one honest verifier
 * replays the inference, votes "not at fault" and is outvoted: the verdict is decided.
 *
 * Without the backstop that verdict would take half the agent's bond. With it, the verdict
 * first waits out an escalation window, and one honest party is enough: the agent's owner
 * contests it with the fork bond. The staked work token forks. In the child where the
 * verdict is overturned the bribed stake has no balance; the honest verifier's node redeems
 * its stake there on its own, and two holders of the transferable work token lock theirs
 * there too. The bribed verifiers can only redeem into the child where their verdict stands.
 * After the fork period the overturning child holds more of the redeemed supply, so it is
 * canonical: the honest node resolves the fork, the dispute is settled as that child says
 * (not at fault), the colluders' stake is gone, the agent keeps its bond and its owner gets
 * the false challenger's bond, the fork bond back, and a share of the slashed stake.
 */
import type { Address } from 'viem'
import {
  claimForkCredits,
  contestVerdict,
  getBond,
  getDispute,
  getFork,
  getForkPosition,
  getVerifierStake,
  increaseTime,
  isSettled,
  openDispute,
  reclaimFork,
  redeemFork,
  registerVerifier,
  signVerdict,
  submitVerdicts,
  type ForkInfo,
} from '../../../src/bonds/index.js'
import { isMain, runCli, table } from '../_shared/cli.js'
import { actionIdFor, deployOperator, eth, Example, hostOperator, startVerifiers, verdicts, waitFor, type ExampleOptions } from '../_shared/harness.js'
import moderation from '../moderation/agent.js'

/** Anvil accounts: 1 the agent's owner (contests), 4 the competitor's false challenger, 5 the honest verifier, 6-8 the bribed ones, 9-10 token holders. */
const OWNER = 1
const FALSE_CHALLENGER = 4
const HONEST = 5
const BRIBED = [6, 7, 8] as const
const HOLDERS = [9, 10] as const
/** CVW each holder locks in the child that overturns the verdict. */
const HOLDER_LOCK = 2n * 10n ** 18n

export type ForkVerifier = { address: Address; role: 'honest' | 'bribed'; vote: 'at fault' | 'not at fault'; stakeBeforeWei: string; stakeAfterWei: string }

export type ForkSummary = {
  example: 'fork'
  seconds: number
  rpcUrl: string
  agentId: string
  actionId: string
  verify: string
  bondBeforeWei: string
  bondAfterWei: string
  dispute: { disputeId: string; challenger: Address; decided: 'at fault' | 'not at fault'; finalStatus: string; forStake: string; againstStake: string }
  fork: { forkId: string; contester: Address; bondWei: string; redeemedStandsWei: string; redeemedOverturnedWei: string; canonical: string; slashedStakeWei: string }
  verifiers: ForkVerifier[]
  /** What the owner got back: the false challenger's bond (BondVault), the fork bond and its reward (ForkManager). */
  owner: { challengerBondWei: string; forkBondBackWei: string; rewardWei: string }
  holdersReclaimedWei: string
}

export async function runForkExample(o: ExampleOptions = {}): Promise<ForkSummary> {
  const started = Date.now()
  const say = o.onProgress ?? (() => {})
  say('[1/7] starting a local chain and the DA server (verdicts are contestable for the escalation window; forks run for the fork period)')
  const ex = await Example.start('fork', { ...o, inference: false })
  try {
    const p = ex.stack.deployment.params
    say(`      escalation window ${p.escalationWindow} s, fork period ${p.forkPeriod} s, fork bond ${eth(p.forkBond)} ETH, overturned above ${p.forkChoiceBps / 100}% of the redeemed CVW`)

    say('[2/7] the moderation agent is deployed and runs HONESTLY on one post')
    const op = await deployOperator(ex, { label: 'operator', agent: moderation, source: 'examples/agents/moderation/agent.ts', ownerIndex: OWNER })
    const host = await hostOperator(ex, op)
    const actionId = actionIdFor(op.agentId, 'p-201')
    await host.run({ postId: 'p-201', text: 'Lovely turnout at the community garden today, thanks everyone!' }, actionId)
    await host.flush()
    const report = (await verdicts(ex, [op], [actionId])).get(actionId)!
    const inference = report.steps.find((s) => s.kind === 'inference')
    if (!inference) throw new Error('the action has no inference step')
    say(`      action ${actionId}: covenant verify says ${report.verdict}`)
    const bondBefore = (await getBond(ex.stack.client, op.agentId)).eth

    say('[3/7] four verifiers stake: one honest node (A), three that a competitor has BRIBED')
    const [node] = await startVerifiers(ex, [op], { accounts: [HONEST] })
    for (const i of BRIBED) await registerVerifier(ex.as(i))
    const stakeBefore = new Map<number, bigint>()
    for (const i of [HONEST, ...BRIBED]) stakeBefore.set(i, (await getVerifierStake(ex.stack.client, ex.address(i))).stake)

    say('[4/7] the competitor opens a FALSE InferenceFraud challenge on the honest inference; the bribed 75 % vote "at fault"')
    const voted = node!.waitFor((e) => e.type === 'vote', 120_000)
    const { disputeId } = await openDispute(ex.as(FALSE_CHALLENGER), { kind: 'InferenceFraud', agentId: op.agentId, sequence: inference.sequence, stepIndex: inference.stepIndex })
    await voted // the honest node replayed the inference and voted "not at fault"
    const verdictsAtFault = await Promise.all(BRIBED.map((i) => signVerdict(ex.stack.accounts[i]!, ex.stack.deployment, { disputeId, agentAtFault: true })))
    const decided = await submitVerdicts(ex.as(FALSE_CHALLENGER), { disputeId, verdicts: verdictsAtFault })
    const d = await getDispute(ex.stack.client, disputeId)
    say(`      dispute #${disputeId} ${decided.status}: at fault by ${eth(d.forStake)} of ${eth(d.stakeSnapshot)} CVW — nothing is paid until ${new Date(d.finalizesAt * 1000).toISOString()}`)

    say('[5/7] ONE honest party is enough: the agent\'s owner contests the verdict with the fork bond')
    const c = await contestVerdict(ex.as(OWNER), { disputeId })
    say(`      fork #${c.forkId}: the staked work token splits into "the verdict stands" and "the verdict is overturned"`)
    const refused = await redeemFork(ex.as(BRIBED[0]), { forkId: c.forkId, side: 'Overturned', stake: true }).then(
      () => 'accepted',
      (err: { errorName?: string }) => err.errorName ?? 'refused',
    )
    say(`      a bribed verifier tries the overturning child: ${refused} (its vote is slashed there)`)
    for (const i of BRIBED) await redeemFork(ex.as(i), { forkId: c.forkId, side: 'Stands' })
    await waitFor('the honest node to redeem its stake', async () => (await getForkPosition(ex.stack.client, ex.address(HONEST), c.forkId)).stakeRedeemed || undefined, { signal: ex.signal })
    for (const i of HOLDERS) await redeemFork(ex.as(i), { forkId: c.forkId, side: 'Overturned', stake: false, tokens: HOLDER_LOCK })
    const open = await getFork(ex.stack.client, c.forkId)
    say(`      redeemed: stands ${eth(open.redeemedStands)} CVW (the bribed stake) · overturned ${eth(open.redeemedOverturned)} CVW (honest stake + two token holders) → leading: ${open.leading}`)

    say(`[6/7] the fork period passes (a local chain: jump ${p.forkPeriod} s); the honest node resolves the fork`)
    await increaseTime(ex.stack.client.publicClient, p.forkPeriod)
    const settled = await waitFor('the dispute to settle as the canonical fork says', async () => {
      const x = await getDispute(ex.stack.client, disputeId)
      return isSettled(x.status) ? x : undefined
    }, { signal: ex.signal })
    const fork: ForkInfo = await getFork(ex.stack.client, c.forkId)
    say(`      canonical: ${fork.canonical}; dispute #${disputeId} ${settled.status}; ${eth(fork.slashedStake)} CVW of bribed stake gone`)

    say('[7/7] payouts: the token holders take their CVW back; the owner claims the fork bond and its reward')
    let reclaimed = 0n
    for (const i of HOLDERS) {
      await reclaimFork(ex.as(i), { forkId: c.forkId })
      reclaimed += HOLDER_LOCK
    }
    const ownerCredits = await getForkPosition(ex.stack.client, ex.address(OWNER))
    await claimForkCredits(ex.as(OWNER))

    const verifiers: ForkVerifier[] = []
    for (const i of [HONEST, ...BRIBED]) {
      verifiers.push({
        address: ex.address(i),
        role: i === HONEST ? 'honest' : 'bribed',
        vote: i === HONEST ? 'not at fault' : 'at fault',
        stakeBeforeWei: stakeBefore.get(i)!.toString(),
        stakeAfterWei: (await getVerifierStake(ex.stack.client, ex.address(i))).stake.toString(),
      })
    }
    return {
      example: 'fork',
      seconds: (Date.now() - started) / 1000,
      rpcUrl: ex.stack.rpcUrl,
      agentId: op.agentId.toString(),
      actionId,
      verify: report.verdict,
      bondBeforeWei: bondBefore.toString(),
      bondAfterWei: (await getBond(ex.stack.client, op.agentId)).eth.toString(),
      dispute: {
        disputeId: disputeId.toString(),
        challenger: d.challenger,
        decided: d.forStake > d.againstStake ? 'at fault' : 'not at fault',
        finalStatus: settled.status,
        forStake: d.forStake.toString(),
        againstStake: d.againstStake.toString(),
      },
      fork: {
        forkId: c.forkId.toString(),
        contester: fork.contester,
        bondWei: fork.bond.toString(),
        redeemedStandsWei: fork.redeemedStands.toString(),
        redeemedOverturnedWei: fork.redeemedOverturned.toString(),
        canonical: fork.canonical,
        slashedStakeWei: fork.slashedStake.toString(),
      },
      verifiers,
      owner: { challengerBondWei: d.bond.toString(), forkBondBackWei: ownerCredits.ethCredits.toString(), rewardWei: ownerCredits.tokenCredits.toString() },
      holdersReclaimedWei: reclaimed.toString(),
    }
  } finally {
    await ex.close()
  }
}

export function renderFork(s: ForkSummary): string {
  return [
    `fork example — ${s.seconds.toFixed(1)} s`,
    table([
      ['honest action', `${s.actionId}: covenant verify says ${s.verify}`],
      ['bribed verdict', `dispute #${s.dispute.disputeId} decided ${s.dispute.decided} (${eth(s.dispute.forStake)} vs ${eth(s.dispute.againstStake)} CVW)`],
      ['contest', `fork #${s.fork.forkId} by the owner ${s.fork.contester}, ${eth(s.fork.bondWei)} ETH bond`],
      ['redeemed', `stands ${eth(s.fork.redeemedStandsWei)} CVW · overturned ${eth(s.fork.redeemedOverturnedWei)} CVW → canonical: ${s.fork.canonical}`],
      ['dispute', `${s.dispute.finalStatus}: the verdict of the canonical fork`],
      ['bond', `${eth(s.bondBeforeWei)} → ${eth(s.bondAfterWei)} ETH`],
      ...s.verifiers.map((v) => [`  ${v.role} verifier`, `${v.address}: voted ${v.vote}; stake ${eth(v.stakeBeforeWei)} → ${eth(v.stakeAfterWei)} CVW`] as const),
      ['owner', `${eth(s.owner.challengerBondWei)} ETH (the false challenger's bond) + ${eth(s.owner.forkBondBackWei)} ETH (fork bond back) + ${eth(s.owner.rewardWei)} CVW reward`],
      ['token holders', `${eth(s.holdersReclaimedWei)} CVW locked in the winning child, taken back`],
    ]),
  ].join('\n')
}

export const usage = `npm run example:fork [-- --json] [-- --data-dir DIR]

Runs the fork backstop on a local chain: a bribed verifier majority votes an honest agent
guilty, the agent's owner contests, the staked work token forks, the honest child wins, the
colluders lose their stake and the agent keeps its bond. --json prints the summary as JSON
on stdout (progress on stderr).
Data: .covenant/examples/fork unless --data-dir is given (reset on every run).`

if (isMain(import.meta.url)) {
  await runCli({ name: 'fork', usage, run: runForkExample, render: renderFork })
}
