/**
 * The market-resolver example, end to end: `npm run example:market` (add `-- --json` for the summary).
 *
 * The resolver agent resolves prediction markets with the covenant-chat model from each
 * market's published evidence. Whether a resolution is right is a judgement call: no
 * fraud proof exists for "the answer is wrong", so a trader who disagrees opens a
 * SubjectiveClaim dispute (posting the larger subjective bond) and the committee of three
 * verifiers decides, each with its own judge — here a rule that reads the market's
 * published evidence. Two challenges:
 *
 * - a false one: a trader who lost MKT-17 claims the resolver got it wrong. It did not; the
 *   committee rejects the claim and the challenger's bond goes to the agent's owner.
 * - a true one: the operator was bribed to resolve MKT-31 `yes` and fed the model doctored
 *   evidence ("took place" for a regatta the market says was cancelled). Every inference
 *   replays exactly — the model did what it was shown — so only the committee can catch it.
 *   It sides with the challenger: the bond is slashed and the challenger paid.
 */
import { keccak256, toHex, type Address, type Hex } from 'viem'
import { disputeAction, type DisputeOutcome } from '../../../src/verify/index.js'
import type { AgentHost } from '../../../src/service/index.js'
import { isMain, runCli, table } from '../_shared/cli.js'
import {
  actionIdFor,
  bondOf,
  deployOperator,
  eth,
  ethCredits,
  Example,
  hostOperator,
  manifestSources,
  replayer,
  startVerifiers,
  verdicts,
  waitFor,
  type ExampleOptions,
  type Operator,
} from '../_shared/harness.js'
import resolver from './agent.js'
import { evidenceJudge, marketTask, MARKETS, readEvidence, resolutionIn, type Market, type Outcome } from './markets.js'

/** The market the operator was bribed on, and the evidence it showed the model instead of the published one. */
export const BRIBE = { marketId: 'MKT-31', evidence: 'The federation confirmed the race took place on 2026-09-12.' } as const

/** Anvil accounts of the two traders who challenge. */
const SORE_LOSER = 9
const NO_HOLDER = 8

export type MarketResult = {
  marketId: string
  question: string
  publishedEvidence: string
  /** What the operator put in front of the model (the published evidence, unless bribed). */
  evidenceShown: string
  doctored: boolean
  actionId: string
  /** The outcome the agent recorded (its resolve_market call). */
  resolution: Outcome | null
  /** How the committee reads the published evidence. */
  evidenceSays: Outcome | null
  /** The model's final answer. */
  answer: string
  verdict: string
}

export type ChallengeResult = {
  marketId: string
  who: 'sore loser' | 'NO holder'
  challenger: Address
  claim: string
  disputeId: string
  kind: string
  status: string
  bondWei: string
  slashedWei: string
  votes: Array<{ verifier: string; agentAtFault: boolean; reason: string }>
  payouts: Array<{ to: Address; role: string; wei: string; what: string }>
  /** The challenger's claimable BondVault credit after the dispute. */
  challengerCreditWei: string
}

export type MarketSummary = {
  example: 'market-resolver'
  seconds: number
  rpcUrl: string
  agentId: string
  owner: Address
  markets: MarketResult[]
  challenges: ChallengeResult[]
  bond: { subjectiveWei: string; standardWei: string }
  bondBeforeWei: string
  bondAfterWei: string
  /** The agent owner's BondVault credit: forfeited challenger bonds. */
  ownerCreditWei: string
}

export async function runMarketExample(o: ExampleOptions = {}): Promise<MarketSummary> {
  const started = Date.now()
  const say = o.onProgress ?? (() => {})
  say('[1/6] starting a local chain, the DA server and the inference container (covenant-chat)')
  const ex = await Example.start('market-resolver', { ...o, inference: true })
  try {
    say('[2/6] deploying the market resolver: manifest on DA, policy + a 5 ETH bond on chain')
    const op = await deployOperator(ex, { label: 'operator', agent: resolver, source: 'examples/agents/market-resolver/agent.ts', ownerIndex: 1 })
    const bondBefore = await bondOf(ex, op.agentId)

    say('[3/6] three verifiers stake and follow the chain; for subjective claims each asks its judge (a rule over the published evidence)')
    // the claim board: a challenger publishes its claim's text; verifiers look it up by the hash it committed to
    const claims = new Map<Hex, string>()
    const nodes = await startVerifiers(ex, [op], { judge: evidenceJudge(MARKETS), claims: async (subject) => claims.get(subject) })
    const votes: Array<{ disputeId: bigint; verifier: string; agentAtFault: boolean; reason: string }> = []
    nodes.forEach((n, i) => n.on((e) => void (e.type === 'vote' && votes.push({ disputeId: e.disputeId, verifier: `verifier ${'ABC'[i]}`, agentAtFault: e.agentAtFault, reason: e.reason }))))

    say(`[4/6] the agent resolves ${MARKETS.length} markets — its operator was BRIBED on ${BRIBE.marketId} and shows the model doctored evidence`)
    const host = await hostOperator(ex, op)
    const markets: MarketResult[] = []
    for (const m of MARKETS) markets.push(await resolve(ex, op, host, m))
    await host.flush()
    say('      all steps committed: DA blob + Merkle root on chain; every inference replays exactly, so no verifier disputes anything on its own')

    const params = ex.stack.deployment.params
    say(`[5/6] a trader who lost ${MARKETS[0]!.marketId} challenges its (correct) resolution — a subjective claim, bond ${eth(params.subjectiveBond)} ETH (other disputes: ${eth(params.challengerBond)} ETH)`)
    const challenges: ChallengeResult[] = []
    challenges.push(
      await challenge(ex, op, host, claims, votes, {
        market: MARKETS[0]!,
        who: 'sore loser',
        account: SORE_LOSER,
        claim: `${MARKETS[0]!.marketId} should have resolved no: I do not believe the marathon happened.`,
      }),
    )

    const bribed = markets.find((m) => m.doctored)!
    say(`[6/6] a NO holder challenges ${bribed.marketId}: resolved ${bribed.resolution}, but the published evidence says ${bribed.evidenceSays}`)
    challenges.push(
      await challenge(ex, op, host, claims, votes, {
        market: MARKETS.find((m) => m.marketId === bribed.marketId)!,
        who: 'NO holder',
        account: NO_HOLDER,
        claim: `${bribed.marketId} resolved yes against its published evidence ("${MARKETS.find((m) => m.marketId === bribed.marketId)!.evidence}"): it must resolve no.`,
      }),
    )

    const reports = await verdicts(ex, [op], markets.map((m) => m.actionId))
    for (const m of markets) m.verdict = reports.get(m.actionId)?.verdict ?? 'unknown'
    say(`      covenant verify (replay + policy, not judgement): ${markets.map((m) => `${m.marketId} ${m.verdict}`).join(', ')}`)

    return {
      example: 'market-resolver',
      seconds: (Date.now() - started) / 1000,
      rpcUrl: ex.stack.rpcUrl,
      agentId: op.agentId.toString(),
      owner: ex.address(op.ownerIndex),
      markets,
      challenges,
      bond: { subjectiveWei: params.subjectiveBond.toString(), standardWei: params.challengerBond.toString() },
      bondBeforeWei: bondBefore.toString(),
      bondAfterWei: (await bondOf(ex, op.agentId)).toString(),
      ownerCreditWei: (await ethCredits(ex, ex.address(op.ownerIndex))).toString(),
    }
  } finally {
    await ex.close()
  }
}

async function resolve(ex: Example, op: Operator, host: AgentHost, m: Market): Promise<MarketResult> {
  ex.checkpoint()
  const doctored = m.marketId === BRIBE.marketId
  const shown = doctored ? BRIBE.evidence : m.evidence
  const actionId = actionIdFor(op.agentId, m.marketId)
  const run = await host.run(marketTask(m, shown), actionId)
  const steps = (await host.action(actionId)).steps
  const r = resolutionIn(
    steps.find((s) => s.kind === 'tool'),
    { steps },
  )
  const result: MarketResult = {
    marketId: m.marketId,
    question: m.question,
    publishedEvidence: m.evidence,
    evidenceShown: shown,
    doctored,
    actionId,
    resolution: r?.outcome ?? null,
    evidenceSays: readEvidence(m) ?? null,
    answer: typeof run.output === 'string' ? run.output : JSON.stringify(run.output),
    verdict: 'pending',
  }
  ex.say(
    `      ${m.marketId}: ${m.question} ${doctored ? `shown "${shown}" (published: "${m.evidence}")` : `evidence "${shown}"`} → resolve_market(${result.resolution ?? '-'}); "${result.answer}"` +
      (result.resolution !== result.evidenceSays ? `  ← against the published evidence` : ''),
  )
  return result
}

async function challenge(
  ex: Example,
  op: Operator,
  host: AgentHost,
  claims: Map<Hex, string>,
  votes: Array<{ disputeId: bigint; verifier: string; agentAtFault: boolean; reason: string }>,
  c: { market: Market; who: ChallengeResult['who']; account: number; claim: string },
  verifiers = 3,
): Promise<ChallengeResult> {
  ex.checkpoint()
  const actionId = actionIdFor(op.agentId, c.market.marketId)
  const call = (await host.action(actionId)).steps.find((s) => s.kind === 'tool' && s.tool === 'resolve_market')
  claims.set(keccak256(toHex(c.claim)), c.claim)
  const client = ex.as(c.account)
  ex.say(`      ${c.who} ${client.walletClient.account.address}: "${c.claim}"`)
  const out: DisputeOutcome = await disputeAction({
    client,
    da: ex.stack.da,
    actionId,
    step: call?.index,
    reason: 'subjective',
    claim: c.claim,
    replayer: replayer(),
    manifests: manifestSources(ex, [op]),
    pollIntervalMs: 250,
    // the settlement is announced once, below
    onProgress: (m) => void (/^dispute #\d+: \w+$/.test(m) || ex.say(`        ${m}`)),
  })
  const disputeId = out.disputeId ?? 0n
  // the settling vote's event can trail the status change disputeAction saw
  await waitFor('every verifier vote', async () => (votes.filter((v) => v.disputeId === disputeId).length >= verifiers ? true : undefined), { timeoutMs: 5_000 }).catch(() => {})
  const mine = votes.filter((v) => v.disputeId === disputeId)
  const result: ChallengeResult = {
    marketId: c.market.marketId,
    who: c.who,
    challenger: client.walletClient.account.address,
    claim: c.claim,
    disputeId: disputeId.toString(),
    kind: out.kind,
    status: out.status,
    bondWei: (out.challenge.status === 'opened' ? out.challenge.bond : 0n).toString(),
    slashedWei: (out.slashed?.eth ?? 0n).toString(),
    votes: mine.map(({ verifier, agentAtFault, reason }) => ({ verifier, agentAtFault, reason })),
    payouts: out.payouts.map((p) => ({ to: p.to, role: p.role, wei: p.eth.toString(), what: p.what })),
    challengerCreditWei: (await ethCredits(ex, client.walletClient.account.address)).toString(),
  }
  ex.say(
    `      → dispute #${result.disputeId} ${result.status}` +
      (result.status === 'Slashed'
        ? `: ${eth(result.slashedWei)} ETH slashed; the challenger is credited ${eth(result.challengerCreditWei)} ETH (reward + bond back)`
        : result.status === 'Rejected'
          ? `: the challenger's ${eth(result.bondWei)} ETH bond goes to the agent's owner`
          : ''),
  )
  return result
}

export function renderMarket(s: MarketSummary): string {
  return [
    `market-resolver example — ${s.seconds.toFixed(1)} s`,
    table([
      ...s.markets.map(
        (m) => [m.marketId, `resolved ${m.resolution ?? '-'} · published evidence says ${m.evidenceSays ?? '?'}${m.doctored ? ' · operator showed doctored evidence' : ''} · replay: ${m.verdict}`] as const,
      ),
      ['subjective bond', `${eth(s.bond.subjectiveWei)} ETH (standard challenger bond ${eth(s.bond.standardWei)} ETH)`],
      ...s.challenges.flatMap((c) => [
        [`${c.marketId} challenge`, `${c.who}: dispute #${c.disputeId} ${c.status} (votes: ${c.votes.map((v) => (v.agentAtFault ? 'at fault' : 'not at fault')).join(', ') || 'none seen'})`] as const,
        ['  slashed', `${eth(c.slashedWei)} ETH`] as const,
        ['  payouts', c.payouts.map((p) => `${p.role} ${eth(p.wei)} ETH`).join(', ')] as const,
        ['  challenger credit', `${eth(c.challengerCreditWei)} ETH`] as const,
      ]),
      ['bond', `${eth(s.bondBeforeWei)} → ${eth(s.bondAfterWei)} ETH`],
      ['owner credit', `${eth(s.ownerCreditWei)} ETH (forfeited challenger bonds)`],
    ]),
  ].join('\n')
}

export const usage = `npm run example:market [-- --json] [-- --data-dir DIR]

Runs the market-resolver example on a local chain: the agent resolves three markets with
the covenant-chat model; a false subjective claim is rejected by the verifier committee
(challenger bond forfeited), a true one (a bribed resolution) is upheld and the bond
slashed. --json prints the summary as JSON on stdout (progress on stderr).
Data: .covenant/examples/market-resolver unless --data-dir is given (reset on every run).`

if (isMain(import.meta.url)) {
  await runCli({ name: 'market-resolver', usage, run: runMarketExample, render: renderMarket })
}
