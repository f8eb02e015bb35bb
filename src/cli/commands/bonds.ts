import type { Command } from 'commander'
import { formatEther, parseEventLogs } from 'viem'
import { agentRegistryAbi, bondVaultAbi, getAccount, getAccountCall, getAgent, getBond, listDisputes, traceLogAbi } from '../../bonds/index.js'
import { PERMIT_SELECTOR, TRANSFER_WITH_AUTHORIZATION_SELECTOR } from '../../wallet/authorization.js'
import { EnvError, resolveEnv, withEnvOptions, type EnvOptions } from '../env.js'
import { printResult, type GlobalOptions } from '../output.js'

/**
 * `covenant bonds <agentId>`: the agent's bond (ETH and token), what is asked back and
 * when it can be withdrawn, until when the bond stays locked by challenge windows, every
 * slash (who challenged, the split) and every dispute.
 */
export function register(program: Command): void {
  withEnvOptions(program.command('bonds').argument('<agentId>', 'the agent id').description(BONDS_DESCRIPTION)).action(showBonds)
}

export const BONDS_DESCRIPTION = "an agent's bond: balance, pending withdrawal and when it unlocks, slashes and disputes"

/** The action of `covenant bonds <agentId>` (also `covenant bond status <agentId>`). */
export async function showBonds(agentIdText: string, _o: unknown, cmd: Command): Promise<void> {
  const flags = cmd.optsWithGlobals<GlobalOptions & EnvOptions>()
  if (!/^\d+$/.test(agentIdText)) throw new EnvError(`The agent id must be a number (got "${agentIdText}").`)
  const agentId = BigInt(agentIdText)
  const env = await resolveEnv(flags)
  const c = env.client
  const pc = c.publicClient
  const count = await pc.readContract({ address: c.deployment.contracts.agentRegistry, abi: agentRegistryAbi, functionName: 'agentCount' })
  if (agentId === 0n || agentId > count) {
    throw new EnvError(`No agent #${agentId} on this chain (${count === 0n ? 'no agent is registered yet' : `agents #1–#${count} are registered`}).`)
  }
  const [agent, account, bond, disputes, lastFinalizesAt, now] = await Promise.all([
    getAgent(c, agentId),
    getAccount(c, agentId),
    getBond(c, agentId),
    listDisputes(c, { agentId }),
    pc.readContract({ address: c.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'lastFinalizesAt', args: [agentId] }),
    pc.getBlock({ blockTag: 'latest' }).then((b) => Number(b.timestamp)),
  ])
  const logs = await pc.getLogs({ address: c.deployment.contracts.bondVault, fromBlock: c.deployment.deployedAtBlock, toBlock: 'latest' })
  // what the owner was repaid first, per slash (BondVault's Compensated, in the slash's transaction)
  const compensated = new Map<string, bigint>()
  for (const l of parseEventLogs({ abi: bondVaultAbi, logs, eventName: 'Compensated' })) {
    if (l.args.agentId === agentId) compensated.set(l.transactionHash, (compensated.get(l.transactionHash) ?? 0n) + l.args.eth)
  }
  const compensatedToken = new Map<string, bigint>()
  for (const l of parseEventLogs({ abi: bondVaultAbi, logs, eventName: 'CompensatedToken' })) {
    if (l.args.agentId === agentId) compensatedToken.set(l.transactionHash, (compensatedToken.get(l.transactionHash) ?? 0n) + l.args.amount)
  }
  const slashes = parseEventLogs({ abi: bondVaultAbi, logs, eventName: 'Slashed' })
    .filter((l) => l.args.agentId === agentId)
    .map((l) => ({
      block: l.blockNumber,
      tx: l.transactionHash,
      challenger: l.args.challenger,
      eth: l.args.eth,
      token: l.args.tokenAmount,
      challengerEth: l.args.challengerEth,
      redistributedEth: l.args.redistributedEth,
      burnedEth: l.args.burnedEthAmount,
    }))
    .map((s) => ({ ...s, ownerRepaidEth: compensated.get(s.tx) ?? 0n, ownerRepaidToken: compensatedToken.get(s.tx) ?? 0n }))
  const policy = agent.active.policy
  const required =
    policy.dailyBudget === undefined || policy.dailyBudget === null
      ? null
      : await pc.readContract({
          address: c.deployment.contracts.agentRegistry,
          abi: agentRegistryAbi,
          functionName: 'requiredBondOf',
          args: [policy.dailyBudget, BigInt(policy.commitDeadline), BigInt(policy.challengeWindow)],
        })
  // the oldest call no committed batch covers yet, and until when it may stay so
  const oldestUncovered = account.coveredCalls < account.callCount ? await getAccountCall(c, account.address, account.coveredCalls) : undefined
  const lockedUntil = Number(lastFinalizesAt) === 0 ? 0 : Number(lastFinalizesAt) + c.deployment.params.disputePeriod + 1
  const result = {
    agentId,
    owner: agent.owner,
    operator: agent.operator,
    wallet: agent.wallet,
    account: {
      address: account.address,
      signer: account.signer,
      balance: account.balance,
      calls: account.callCount,
      covered: account.coveredCalls,
      uncovered: account.callCount - account.coveredCalls,
      /** the oldest uncovered call must be covered by then, or anyone can prove it untraced */
      oldestUncoveredBy: oldestUncovered?.coverBy ?? null,
      budgetLeftToday: account.budgetLeft,
      dailyBudget: agent.active.policy.dailyBudget ?? null,
    },
    bond: { eth: bond.eth, token: bond.token },
    /**
     * What the policy lets the account move before a fault is provable and slashed (the daily
     * budget × the UTC days a commit deadline + challenge window can touch): the account acts
     * only while the ETH bond covers it. Null when the policy sets no daily budget.
     */
    requiredEth: required,
    covered: required === null ? null : bond.eth >= required,
    /**
     * Token authorizations the policy lets the account sign (EIP-3009 transfers, EIP-2612
     * permits of allowlisted tokens): what they move is NOT in `requiredEth` — the ETH bond
     * covers native value only; a proven untraced authorization of the bond token is repaid
     * from the token bond, any other token not at all (README, known limits).
     */
    tokenAuthorizations: authorizationKinds(policy.allowedSelectors ?? []),
    pending: { eth: bond.pendingEth, token: bond.pendingToken, requestedAt: bond.requestedAt, withdrawableAt: bond.withdrawableAt },
    /** The bond cannot leave before this (latest challenge window + dispute period), nor while a dispute is open. */
    lockedUntil,
    locked: agent.openDisputes > 0 || now < lockedUntil,
    openDisputes: agent.openDisputes,
    slashes,
    totalSlashedEth: slashes.reduce((s, x) => s + x.eth, 0n),
    disputes: disputes.map((d) => ({
      disputeId: d.disputeId,
      kind: d.kind,
      status: d.status,
      sequence: d.sequence,
      stepIndex: d.stepIndex,
      // proven on chain with no challenger bond: an AgentAccount call, `stepIndex` its sequence
      accountCall: d.kind === 'UntracedAction' && d.bond === 0n,
      challenger: d.challenger,
      slashedEth: d.slashedEth,
      // a decided verdict pays nobody until then (covenant fork contest <id> before it)
      finalizesAt: d.finalizesAt,
    })),
    now,
  }
  const when = (t: number) => (t === 0 ? '—' : `${new Date(t * 1000).toISOString()}${t > now ? ` (in ${t - now} s)` : ''}`)
  printResult(result, flags, (r) =>
    [
      `agent #${r.agentId}  owner ${r.owner}  operator ${r.operator}`,
      `account ${r.account.address}: ${formatEther(r.account.balance)} ETH, signer ${r.account.signer}`,
      `  calls: ${r.account.calls} made, ${r.account.covered} covered by committed batches, ${r.account.uncovered} uncovered${r.account.oldestUncoveredBy ? ` (the oldest must be covered by ${when(r.account.oldestUncoveredBy)})` : ''}`,
      `  budget left today: ${r.account.dailyBudget === null ? 'no daily limit' : `${formatEther(r.account.budgetLeftToday)} of ${formatEther(r.account.dailyBudget)} ETH`}`,
      `bond: ${formatEther(r.bond.eth)} ETH${r.bond.token ? ` + ${r.bond.token} tokens` : ''}`,
      `  at risk: ${r.requiredEth === null ? 'no daily budget set: the account does not act' : `${formatEther(r.requiredEth)} ETH can move before a fault is slashed; the bond ${r.covered ? 'covers it' : 'does NOT cover it: the account refuses to act until topped up'}`}`,
      ...(r.tokenAuthorizations.length
        ? [`  not covered: token authorizations (${r.tokenAuthorizations.join(', ')}) of allowlisted tokens — their amounts are not counted above; a slash repays them only from the token bond, and only authorizations of the bond token`]
        : []),
      `pending withdrawal: ${r.pending.requestedAt ? `${formatEther(r.pending.eth)} ETH, withdrawable at ${when(r.pending.withdrawableAt)}` : 'none'}`,
      `locked: ${r.locked ? 'yes' : 'no'} (challenge windows until ${when(r.lockedUntil)}; ${r.openDisputes} open dispute${r.openDisputes === 1 ? '' : 's'})`,
      `slashed: ${formatEther(r.totalSlashedEth)} ETH in ${r.slashes.length} slash${r.slashes.length === 1 ? '' : 'es'}`,
      ...r.slashes.map((s) => `  block ${s.block}: ${formatEther(s.eth)} ETH → ${s.ownerRepaidEth ? `owner repaid ${formatEther(s.ownerRepaidEth)} first, ` : ''}${s.ownerRepaidToken ? `owner repaid ${s.ownerRepaidToken} bond tokens first, ` : ''}challenger ${s.challenger} ${formatEther(s.challengerEth)}, redistributed ${formatEther(s.redistributedEth)}, burned ${formatEther(s.burnedEth)}`),
      `disputes: ${r.disputes.length}`,
      ...r.disputes.map((d) => `  #${d.disputeId} ${d.kind} ${d.status} (${d.accountCall ? `account call ${d.stepIndex}` : `batch ${d.sequence}, step ${d.stepIndex}`}) by ${d.challenger}${d.slashedEth ? `, slashed ${formatEther(d.slashedEth)} ETH` : ''}${d.status === 'Decided' ? `, contestable until ${when(d.finalizesAt)}` : d.status === 'Contested' ? ', contested: settles when its fork resolves' : ''}`),
    ].join('\n'),
  )
}

/** Which token authorizations a policy's selectors allow the account to sign. */
function authorizationKinds(selectors: readonly string[]): Array<'EIP-3009 transfer' | 'EIP-2612 permit'> {
  const has = (sel: string) => selectors.some((s) => s.toLowerCase() === sel.toLowerCase())
  return [...(has(TRANSFER_WITH_AUTHORIZATION_SELECTOR) ? (['EIP-3009 transfer'] as const) : []), ...(has(PERMIT_SELECTOR) ? (['EIP-2612 permit'] as const) : [])]
}
