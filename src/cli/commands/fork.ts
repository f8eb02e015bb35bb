import type { Command } from 'commander'
import { formatEther } from 'viem'
import {
  claimForkCredits,
  contestVerdict,
  forkOfDispute,
  getDispute,
  getFork,
  getForkPosition,
  getVerifierStake,
  getWorkTokenBalance,
  listForks,
  reclaimFork,
  redeemFork,
  resolveFork,
  type CovenantClient,
  type ForkInfo,
  type ForkSide,
} from '../../bonds/index.js'
import { chainNow } from '../../verify/challenge.js'
import { EnvError, parseCvwFlag, resolveEnv, withEnvOptions, type EnvOptions } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'

type ForkFlags = GlobalOptions & EnvOptions

function parseId(text: string, what: string): bigint {
  if (!/^[1-9][0-9]{0,77}$/.test(text)) throw new EnvError(`${what} must be a positive whole number (got "${text.slice(0, 40)}").`)
  return BigInt(text)
}

function parseSide(text: string): ForkSide {
  const t = text.toLowerCase()
  if (t === 'stands') return 'Stands'
  if (t === 'overturned' || t === 'overturn') return 'Overturned'
  throw new EnvError(`--side must be "stands" (the verdict was right) or "overturned" (it was wrong), not "${text.slice(0, 40)}".`)
}

async function writer(flags: ForkFlags, what: string) {
  const env = await resolveEnv(flags)
  if (!env.account) throw new EnvError(`${what} sends a transaction: pass --keystore (with COVENANT_PASSWORD) or --dev-account.`)
  return { env, client: env.client as CovenantClient, me: env.account.address }
}

const iso = (t: number) => new Date(t * 1000).toISOString()
const verdictText = (atFault: boolean) => (atFault ? 'agent at fault' : 'agent not at fault')

function describeFork(f: ForkInfo, now: number): string {
  const total = f.redeemedStands + f.redeemedOverturned
  const share = total === 0n ? 0 : Number((f.redeemedOverturned * 10_000n) / total) / 100
  const state =
    f.canonical !== 'None'
      ? `resolved: ${f.canonical === 'Overturned' ? 'verdict OVERTURNED' : 'verdict stands'}, ${formatEther(f.slashedStake)} CVW of verifier stake slashed`
      : now < f.endsAt
        ? `open for redemption until ${iso(f.endsAt)}; leading: ${f.leading}`
        : `period over, leading ${f.leading}: resolve it (covenant fork resolve ${f.forkId})`
  return [
    `fork #${f.forkId} on dispute #${f.disputeId} (contested verdict: ${verdictText(f.verdictAtFault)}) by ${f.contester}, bond ${formatEther(f.bond)} ETH`,
    `  redeemed: stands ${formatEther(f.redeemedStands)} CVW (${formatEther(f.lockedStands)} locked tokens) · overturned ${formatEther(f.redeemedOverturned)} CVW (${formatEther(f.lockedOverturned)} locked tokens) — ${share}% to overturn`,
    `  ${state}`,
  ].join('\n')
}

/**
 * The fork backstop from the command line: contest a decided verdict, see the forks,
 * redeem stake or tokens into one child, resolve a fork whose period is over, take back
 * tokens locked in the winning child and claim a returned bond or reward.
 */
export function register(program: Command): void {
  const fork = program
    .command('fork')
    .description('escalate a quorum verdict to a fork of the staked work token: contest, status, redeem, resolve, claim')

  withEnvOptions(
    fork
      .command('contest')
      .argument('<disputeId>', 'a decided dispute, inside its escalation window')
      .description('contest a quorum verdict, posting the fork bond (ETH; returned only if the fork overturns the verdict, burned otherwise)'),
  ).action(async (idText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<ForkFlags>()
    const disputeId = parseId(idText, 'The dispute id')
    const { client } = await writer(flags, 'Contesting')
    const d = await getDispute(client, disputeId)
    if (d.status !== 'Decided') {
      const existing = d.status === 'Contested' ? await forkOfDispute(client, disputeId) : 0n
      throw new EnvError(
        d.status === 'Contested'
          ? `Dispute #${disputeId} is already contested: fork #${existing} (covenant fork redeem ${existing} --side …).`
          : `Dispute #${disputeId} is ${d.status}: only a decided verdict inside its escalation window can be contested.`,
      )
    }
    const r = await contestVerdict(client, { disputeId })
    printResult({ disputeId, forkId: r.forkId, bond: r.bond, verdictAtFault: r.verdictAtFault, endsAt: r.endsAt, hash: r.hash, gasUsed: r.gasUsed }, flags, (x) =>
      [
        `contested dispute #${x.disputeId} (${verdictText(x.verdictAtFault)}): fork #${x.forkId}, ${formatEther(x.bond)} ETH bond posted`,
        `redeem until ${iso(x.endsAt)}: covenant fork redeem ${x.forkId} --side overturned [--tokens <cvw>]`,
      ].join('\n'),
    )
  })

  withEnvOptions(
    fork
      .command('status')
      .argument('[forkId]', 'one fork (default: all)')
      .description('the forks: contested verdict, redemptions on each side, what the fork-choice rule picks, the outcome; and your position'),
  ).action(async (idText: string | undefined, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<ForkFlags>()
    const env = await resolveEnv(flags)
    const forks = idText === undefined ? await listForks(env.client) : [await getFork(env.client, parseId(idText, 'The fork id'))]
    const now = await chainNow(env.client)
    const me = env.account?.address
    const [pending, params] = [forks.filter((f) => f.canonical === 'None').length, env.deployment.params]
    const position = me
      ? {
          account: me,
          workToken: await getWorkTokenBalance(env.client, me),
          stake: (await getVerifierStake(env.client, me)).stake,
          ...(await getForkPosition(env.client, me)),
          forks: await Promise.all(forks.map(async (f) => ({ forkId: f.forkId, ...(await getForkPosition(env.client, me, f.forkId)) }))),
        }
      : undefined
    printResult(
      {
        forks,
        pending,
        rule: { escalationWindow: params.escalationWindow, forkPeriod: params.forkPeriod, forkBond: params.forkBond, forkChoiceBps: params.forkChoiceBps },
        position,
      },
      flags,
      (x) =>
        [
          `fork rule: a verdict is contestable for ${x.rule.escalationWindow} s with a ${formatEther(x.rule.forkBond)} ETH bond; a fork runs ${x.rule.forkPeriod} s and overturns the verdict when more than ${x.rule.forkChoiceBps / 100}% of the redeemed CVW is on that side`,
          x.forks.length === 0 ? 'no forks' : x.forks.map((f) => describeFork(f, now)).join('\n'),
          x.pending ? `${x.pending} pending: no verifier stake can leave until they are resolved` : '',
          x.position
            ? `you (${x.position.account}): ${formatEther(x.position.workToken)} CVW, ${formatEther(x.position.stake)} CVW staked; claimable ${formatEther(x.position.ethCredits)} ETH + ${formatEther(x.position.tokenCredits)} CVW (covenant fork claim)`
            : '',
        ]
          .filter(Boolean)
          .join('\n'),
    )
  })

  withEnvOptions(
    fork
      .command('redeem')
      .argument('<forkId>', 'a pending fork')
      .requiredOption('--side <stands|overturned>', 'the child you redeem into: the verdict stands, or it is overturned')
      .option('--tokens <cvw>', 'also lock this much transferable CVW there (returned if that child wins, burned if it loses)')
      .option('--no-stake', 'do not redeem your verifier stake, only --tokens')
      .description('redeem your verifier stake (and/or lock CVW) into one child of a pending fork; one side per account'),
  ).action(async (idText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<ForkFlags & { side: string; tokens?: string; stake: boolean }>()
    const forkId = parseId(idText, 'The fork id')
    const side = parseSide(flags.side)
    const tokens = flags.tokens === undefined ? undefined : parseCvwFlag(flags.tokens, '--tokens')
    const { client, me } = await writer(flags, 'Redeeming')
    const stake = (await getVerifierStake(client, me)).stake
    const useStake = flags.stake && stake > 0n
    if (!useStake && !tokens) {
      throw new EnvError(stake === 0n ? `${me} has no verifier stake: lock tokens with --tokens <cvw>.` : 'Nothing to redeem: drop --no-stake or add --tokens <cvw>.')
    }
    const r = await redeemFork(client, { forkId, side, stake: useStake, tokens })
    const f = await getFork(client, forkId)
    printResult({ forkId, side, ...r, leading: f.leading }, flags, (x) =>
      `fork #${x.forkId}: redeemed ${formatEther(x.stakeRedeemed)} CVW of stake and locked ${formatEther(x.tokensLocked)} CVW into "${x.side === 'Stands' ? 'the verdict stands' : 'the verdict is overturned'}"; leading now: ${x.leading}`,
    )
  })

  withEnvOptions(
    fork.command('resolve').argument('<forkId>', 'a fork whose period is over').description('resolve a fork (anyone may): apply the canonical child and settle its dispute'),
  ).action(async (idText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<ForkFlags>()
    const forkId = parseId(idText, 'The fork id')
    const { client } = await writer(flags, 'Resolving')
    const f = await getFork(client, forkId)
    if (f.canonical !== 'None') throw new EnvError(`Fork #${forkId} is already resolved: ${f.canonical}.`)
    const now = await chainNow(client)
    if (now < f.endsAt) throw new EnvError(`Fork #${forkId} is open for redemption until ${iso(f.endsAt)}; resolve it after.`)
    const r = await resolveFork(client, { forkId })
    const d = await getDispute(client, f.disputeId)
    printResult({ forkId, disputeId: f.disputeId, ...r, dispute: d.status }, flags, (x) =>
      `fork #${x.forkId}: ${x.canonical === 'Overturned' ? 'verdict OVERTURNED' : 'verdict stands'}; dispute #${x.disputeId} ${x.dispute} (${verdictText(x.agentAtFault)}); ${formatEther(x.slashedStake)} CVW of stake slashed from ${x.slashedVerifiers.length} verifier${x.slashedVerifiers.length === 1 ? '' : 's'}`,
    )
  })

  withEnvOptions(
    fork
      .command('claim')
      .argument('[forkId]', 'also take back the CVW you locked in this fork\'s winning child')
      .description('pay out your fork credits (a returned fork bond, rewards) and, with a fork id, your locked CVW'),
  ).action(async (idText: string | undefined, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<ForkFlags>()
    const { client, me } = await writer(flags, 'Claiming')
    let reclaimed = 0n
    if (idText !== undefined) {
      const forkId = parseId(idText, 'The fork id')
      const [p, f] = await Promise.all([getForkPosition(client, me, forkId), getFork(client, forkId)])
      const locked = p.tokensLocked
      if (locked === 0n) progress(`nothing locked in fork #${forkId} to take back`)
      else if (f.canonical === 'None') throw new EnvError(`Fork #${forkId} is not resolved yet: your ${formatEther(locked)} CVW come back if your side wins.`)
      else if (p.side !== f.canonical) progress(`your ${formatEther(locked)} CVW were locked in the child that lost: burned`)
      else {
        await reclaimFork(client, { forkId })
        reclaimed = locked
      }
    }
    const credits = await getForkPosition(client, me)
    if (credits.ethCredits > 0n || credits.tokenCredits > 0n) await claimForkCredits(client)
    else if (reclaimed === 0n) throw new EnvError(`${me} has nothing to claim from the ForkManager.`)
    printResult({ account: me, reclaimed, claimed: { eth: credits.ethCredits, tokens: credits.tokenCredits } }, flags, (x) =>
      `${x.account}: took back ${formatEther(x.reclaimed)} CVW; claimed ${formatEther(x.claimed.eth)} ETH + ${formatEther(x.claimed.tokens)} CVW`,
    )
  })
}
