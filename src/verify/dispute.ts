import { getAddress, isAddressEqual, keccak256, parseEventLogs, toHex, zeroAddress, type Address, type Hex } from 'viem'
import {
  bondVaultAbi,
  decidedByEvidence,
  finalizeDispute,
  getBatch,
  getDispute,
  isSettled,
  traceLogAbi,
  type CovenantWriteClient,
  type DisputeKind,
  type DisputeStatus,
} from '../bonds/index.js'
import type { DAClient } from '../da/index.js'
import { findAction, oneShotContext, parseActionId, type FoundAction } from './action.js'
import { chainNow, challenge, disputeTarget, type ChallengeResult } from './challenge.js'
import { accountCallsCoverage, checkBatchSteps, coveredInTime, untracedCoverage } from './check.js'
import { ActionNotFoundError, NothingToDisputeError, StepNotFoundError } from './errors.js'
import { describeFault, untracedCallFault, type Fault } from './faults.js'
import { isOperatorSigned, sameHeader, toBatchHeader, type HeaderSource } from './headers.js'
import type { AttestationCheck, Replayer } from './inference.js'
import type { ManifestSource } from './manifest.js'
import { TraceIndex } from './traceIndex.js'
import { withPublishedBlobs } from './publishedBlobs.js'
import { AgentBook } from './agents.js'
import { ReplaySandbox } from './actionReplay/sandbox.js'
import { checkActionLogic, sandboxLogicReplayer, type LogicReplayer } from './logicCheck.js'

export type DisputeReason = 'policy' | 'inference' | 'logic' | 'withheld' | 'equivocation' | 'untraced' | 'subjective'

export type DisputeActionParameters = {
  client: CovenantWriteClient
  da: Pick<DAClient, 'get' | 'health'>
  actionId: string
  /** For action ids not of the form `<agentId>-<hex>`. */
  agentId?: bigint | undefined
  /** The step, by its index in the agent's trace (as `covenant verify` prints it). */
  step?: number | undefined
  /** Which path; without it, the first fault `covenant verify` would find. */
  reason?: DisputeReason | undefined
  replayer?: Replayer | undefined
  manifests?: readonly ManifestSource[] | undefined
  attestation?: AttestationCheck | undefined
  /** Signed batch headers to look for equivocation in. */
  headers?: readonly HeaderSource[] | undefined
  /** The transaction (untraced). */
  txHash?: Hex | undefined
  /** The claim's text (subjective): its keccak256 is the dispute's subject. */
  claim?: string | undefined
  /** Replays the action through the agent's registered code. @defaultValue a replay sandbox of this call's own */
  logic?: LogicReplayer | undefined
  /** Wait for a quorum dispute to settle. @defaultValue true */
  wait?: boolean | undefined
  /** How long to wait, ms. @defaultValue until the dispute's deadline, then settle it */
  timeoutMs?: number | undefined
  pollIntervalMs?: number | undefined
  onProgress?: ((message: string) => void) | undefined
}

export type DisputeOutcome = {
  actionId: string
  agentId: bigint
  kind: DisputeKind
  fault: string
  /** proven: slashed in the same transaction; opened: a quorum dispute; skipped: someone got there first. */
  challenge: ChallengeResult
  disputeId: bigint | undefined
  status: DisputeStatus | 'Skipped'
  slashed: { eth: bigint; token: bigint } | undefined
  /** Who received what, in wei (credits in BondVault, claimable with `claim`). */
  payouts: Array<{ to: Address; role: 'challenger' | 'redistribution' | 'burned' | 'agent owner'; eth: bigint; what: string }>
  gasUsed: bigint
}

/**
 * `covenant dispute`: builds the proof or opens the dispute (posting the challenger bond),
 * waits for the outcome and says who was slashed, how much, and who was paid.
 */
export async function disputeAction(params: DisputeActionParameters): Promise<DisputeOutcome> {
  // a blob withheld from DA but answered on chain is read from the chain
  const p = { ...params, da: withPublishedBlobs(params.client, params.da) }
  const sandbox = p.logic ? undefined : new ReplaySandbox()
  try {
    return await disputeWith({ ...p, logic: p.logic ?? sandboxLogicReplayer(sandbox as ReplaySandbox) })
  } finally {
    await sandbox?.close()
  }
}

async function disputeWith(p: DisputeActionParameters): Promise<DisputeOutcome> {
  const say = p.onProgress ?? (() => {})
  const index = new TraceIndex({ client: p.client, da: p.da })
  const ctx = oneShotContext({ client: p.client, da: p.da, replayer: p.replayer, manifests: p.manifests, attestation: p.attestation, logic: p.logic }, index)
  say(`looking for action ${p.actionId} in the agent's committed batches…`)
  const found = await findAction({ client: p.client, da: p.da, index }, p.actionId, { agentId: p.agentId }).catch((err: unknown) => {
    // an untraced transaction has, by definition, no action in the trace: the agent is enough
    if (p.reason === 'untraced' && err instanceof ActionNotFoundError) {
      return { actionId: p.actionId, agentId: p.agentId ?? parseActionId(p.actionId).agentId, batches: [], steps: [] } satisfies FoundAction
    }
    throw err
  })
  const fault = await chooseFault(p, found, ctx, say)
  say(`${describeFault(fault)}: ${fault.reason}`)
  const result = await challenge(p.client, fault)
  if (result.status === 'skipped') {
    say(`nothing sent: ${result.reason}${result.disputeId ? ` (dispute #${result.disputeId})` : ''}`)
    return outcome(p, found, fault, result, 'Skipped', undefined, [], 0n)
  }
  if (result.status === 'proven') {
    say(`proven on chain in ${result.hash}: dispute #${result.disputeId}`)
    const payouts = splitPayouts(p, result.slashedEth, 0n, await compensationIn(p.client, result.hash))
    return outcome(p, found, fault, result, 'Slashed', { eth: result.slashedEth, token: result.slashedToken }, payouts, result.gasUsed)
  }
  const until = new Date(result.deadline * 1000).toISOString()
  if (fault.type === 'DataWithheld' && decidedByEvidence(disputeTarget(fault).subject)) {
    say(`dispute #${result.disputeId} opened with a ${result.bond} wei bond; anyone may answer it with the blob until ${until}, else the agent is slashed then`)
  } else {
    say(`dispute #${result.disputeId} opened with a ${result.bond} wei bond; verifiers vote until ${until}`)
  }
  if (p.wait === false) return outcome(p, found, fault, result, 'Open', undefined, [], result.gasUsed)
  const d = await waitForSettlement(p, result.disputeId, result.deadline, say)
  if (d.status === 'Slashed') {
    return outcome(p, found, fault, result, 'Slashed', { eth: d.slashedEth, token: d.slashedToken }, splitPayouts(p, d.slashedEth, result.bond, { owner: (await new AgentBook(p.client).agent(found.agentId)).owner, eth: d.harm }), result.gasUsed)
  }
  if (d.status === 'Rejected') {
    const owner = (await new AgentBook(p.client).agent(found.agentId)).owner
    return outcome(p, found, fault, result, 'Rejected', undefined, [{ to: owner, role: 'agent owner', eth: result.bond, what: 'the forfeited challenger bond' }], result.gasUsed)
  }
  if (d.status === 'Expired') {
    return outcome(p, found, fault, result, 'Expired', undefined, [{ to: p.client.walletClient.account.address, role: 'challenger', eth: result.bond, what: 'the challenger bond, refunded' }], result.gasUsed)
  }
  return outcome(p, found, fault, result, d.status, undefined, [], result.gasUsed)
}

/** What a proof transaction repaid the harmed owner (BondVault's `Compensated`), if anything. */
async function compensationIn(client: CovenantWriteClient, hash: Hex): Promise<{ owner: Address; eth: bigint } | undefined> {
  const receipt = await client.publicClient.getTransactionReceipt({ hash })
  const c = parseEventLogs({ abi: bondVaultAbi, eventName: 'Compensated', logs: receipt.logs })[0]
  return c ? { owner: c.args.to, eth: c.args.eth } : undefined
}

async function waitForSettlement(p: DisputeActionParameters, disputeId: bigint, deadline: number, say: (m: string) => void) {
  const started = Date.now()
  const interval = p.pollIntervalMs ?? 1_000
  let announced: string | undefined
  for (;;) {
    const d = await getDispute(p.client, disputeId)
    if (isSettled(d.status)) {
      say(`dispute #${disputeId}: ${d.status}`)
      return d
    }
    if (d.status === 'Decided' || d.status === 'Contested') {
      // decided: anyone may finalize once the escalation window is over (a verifier node
      // usually does first); contested: it settles when its fork is resolved
      if (announced !== d.status) {
        announced = d.status
        say(
          d.status === 'Decided'
            ? `dispute #${disputeId} decided (${d.forStake > d.againstStake ? 'at fault' : 'not at fault'}); contestable until ${new Date(d.finalizesAt * 1000).toISOString()}`
            : `dispute #${disputeId} contested: it settles when its fork resolves (covenant fork status)`,
        )
      }
      if (d.status === 'Decided' && (await chainNow(p.client)) > d.finalizesAt) {
        await finalizeDispute(p.client, { disputeId }).catch(() => {})
        continue
      }
    } else if ((await chainNow(p.client)) > deadline) {
      say(`dispute #${disputeId} reached its deadline without a quorum; settling it`)
      const { resolveExpired } = await import('../bonds/index.js')
      await resolveExpired(p.client, { disputeId }).catch(() => {})
      continue
    }
    if (p.timeoutMs !== undefined && Date.now() - started > p.timeoutMs) return d
    await new Promise((r) => setTimeout(r, interval))
  }
}

/**
 * Who a slash paid: the harmed owner first (`compensation`, what the faulty action moved),
 * then the challenger, redistribution and burn shares of the rest (BondVault._slashFor).
 */
function splitPayouts(
  p: DisputeActionParameters,
  slashedTotal: bigint,
  bondBack: bigint,
  compensation: { owner: Address; eth: bigint } | undefined,
): DisputeOutcome['payouts'] {
  const params = p.client.deployment.params
  const owed = compensation && compensation.eth > 0n ? (compensation.eth < slashedTotal ? compensation.eth : slashedTotal) : 0n
  const slashed = slashedTotal - owed
  const challenger = (slashed * BigInt(params.challengerBps)) / 10_000n
  const redistribution = (slashed * BigInt(params.redistributionBps)) / 10_000n
  const me = p.client.walletClient.account.address
  return [
    ...(owed > 0n && compensation ? [{ to: compensation.owner, role: 'agent owner' as const, eth: owed, what: 'repaid what the faulty action moved' }] : []),
    { to: me, role: 'challenger', eth: challenger + bondBack, what: bondBack > 0n ? `reward ${challenger} + bond ${bondBack} back` : 'reward' },
    { to: p.client.deployment.redistribution, role: 'redistribution', eth: redistribution, what: 'redistribution share' },
    { to: p.client.deployment.contracts.bondVault, role: 'burned', eth: slashed - challenger - redistribution, what: 'burned in the vault' },
  ]
}

function outcome(
  p: DisputeActionParameters,
  found: FoundAction,
  fault: Fault,
  result: ChallengeResult,
  status: DisputeOutcome['status'],
  slashed: DisputeOutcome['slashed'],
  payouts: DisputeOutcome['payouts'],
  gasUsed: bigint,
): DisputeOutcome {
  return {
    actionId: p.actionId,
    agentId: found.agentId,
    kind: result.kind,
    fault: `${describeFault(fault)}: ${fault.reason}`,
    challenge: result,
    disputeId: 'disputeId' in result ? result.disputeId : undefined,
    status,
    slashed,
    payouts,
    gasUsed,
  }
}

const ORDER: Fault['type'][] = ['PolicyBreach', 'Equivocation', 'InferenceFraud', 'TraceMismatch', 'InvalidBatch', 'DataWithheld', 'UntracedAction']

async function chooseFault(
  p: DisputeActionParameters,
  found: FoundAction,
  ctx: ReturnType<typeof oneShotContext>,
  say: (m: string) => void,
): Promise<Fault> {
  const reason = p.reason
  const agentId = found.agentId
  const selected = p.step === undefined ? found.steps : found.steps.filter((s) => s.step.index === p.step)
  if (p.step !== undefined && selected.length === 0 && reason !== 'withheld' && reason !== 'untraced' && reason !== 'equivocation') {
    throw new StepNotFoundError(`Action ${p.actionId} has no step ${p.step}.`, {
      metaMessages: [`Its steps: ${found.steps.map((s) => s.step.index).join(', ') || 'none found'}.`],
    })
  }

  if (reason === 'withheld' || (reason === undefined && found.steps.length === 0)) {
    const bad = found.batches.find((b) => b.check.status !== 'ok')
    if (!bad) throw new NothingToDisputeError(`Every batch of agent ${agentId} is available and valid.`)
    const why = (bad.check as { reason: string }).reason
    if (bad.check.status === 'invalid') return { type: 'InvalidBatch', agentId, sequence: bad.ev.sequence, reason: why }
    return { type: 'DataWithheld', agentId, sequence: bad.ev.sequence, daCommitment: bad.ev.daCommitment, reason: why }
  }
  if (reason === 'untraced') {
    if (!p.txHash) throw new NothingToDisputeError('An untraced-action dispute needs the transaction: pass --tx <hash>.')
    const tx = await p.client.publicClient.getTransaction({ hash: p.txHash })
    const agent = await ctx.agents.agent(agentId)
    if (agent.account && !isAddressEqual(agent.account, zeroAddress)) return untracedAccountCallFault(p, ctx, agentId, agent.account, p.txHash, say)
    if (!isAddressEqual(getAddress(tx.from), agent.wallet)) throw new NothingToDisputeError(`${p.txHash} was not sent from agent ${agentId}'s wallet ${agent.wallet}.`)
    const block = await p.client.publicClient.getBlock({ blockNumber: tx.blockNumber as bigint })
    const version = await ctx.agents.versionAt(agentId, Number(block.timestamp))
    const deadline = Number(block.timestamp) + (version?.policy.commitDeadline ?? 0)
    const cover = await untracedCoverage(ctx, agentId, { ...tx, to: tx.to ?? null }, deadline)
    if (cover.covered) throw new NothingToDisputeError(`${p.txHash} is traced: ${cover.reason}.`)
    if ((await chainNow(p.client)) <= deadline) say(`warning: the commit deadline (${deadline}) has not passed; verifiers will wait for it`)
    return { type: 'UntracedAction', agentId, txHash: p.txHash, reason: cover.reason, harm: tx.value }
  }
  if (reason === 'subjective') {
    const target = selected.find((s) => s.step.kind === 'output') ?? selected[selected.length - 1]
    if (!target) throw new StepNotFoundError(`Action ${p.actionId} has no step to dispute.`)
    const claim = p.claim ?? `subjective claim against step ${target.step.index} of action ${p.actionId}`
    return { type: 'SubjectiveClaim', agentId, sequence: target.sequence, stepIndex: target.stepIndex, subject: keccak256(toHex(claim)), reason: claim }
  }
  if (reason === 'equivocation') {
    const sequences = new Set(found.steps.map((s) => s.sequence))
    const operator = (await ctx.agents.agent(agentId)).operator
    for (const source of p.headers ?? []) {
      for (const h of await source.poll()) {
        if (h.header.agentId !== agentId || !sequences.has(h.header.sequence)) continue
        if (!(await isOperatorSigned(p.client.deployment, h, operator))) continue
        const c = await getBatch(p.client, agentId, h.header.sequence)
        if (!c) continue
        const b = { agentId, sequence: h.header.sequence, merkleRoot: c.merkleRoot, daCommitmentHash: c.daCommitmentHash, stepCount: c.stepCount }
        if (!sameHeader(toBatchHeader(h.header), b)) {
          return { type: 'Equivocation', agentId, sequence: h.header.sequence, a: toBatchHeader(h.header), sigA: h.signature, b, reason: `signed header from ${source.name} differs from the committed batch` }
        }
      }
    }
    throw new NothingToDisputeError(`No operator-signed header differs from the batches holding action ${p.actionId}.`, {
      metaMessages: ['Pass the receipts with --headers <file or URL>.'],
    })
  }

  // policy / inference / automatic: check the selected steps
  const faults: Fault[] = []
  const bySequence = new Map<bigint, Set<number>>()
  for (const s of selected) bySequence.set(s.sequence, (bySequence.get(s.sequence) ?? new Set()).add(s.stepIndex))
  for (const b of found.batches) {
    const mine = bySequence.get(b.ev.sequence)
    if (!mine || b.check.status !== 'ok') continue
    const r = await checkBatchSteps(ctx, b.ev, b.check.batch.steps, b.check.leaves, { only: (_s, i) => mine.has(i) })
    faults.push(...r.faults)
  }
  // the agent's own logic: the whole action replayed through its registered code
  let logicReason: string | undefined
  if ((reason === undefined || reason === 'logic') && found.steps.length > 0) {
    if (found.batches.some((b) => b.check.status !== 'ok')) logicReason = 'a batch of the agent is unreadable (it may hold more of the action)'
    else {
      const logic = await checkActionLogic(ctx, { agentId, actionId: p.actionId, steps: found.steps })
      if (logic.status === 'fault') faults.push(logic.fault)
      logicReason = logic.reason
    }
  }
  const want = reason === 'policy' ? 'PolicyBreach' : reason === 'inference' ? 'InferenceFraud' : reason === 'logic' ? 'TraceMismatch' : undefined
  const candidates = faults.filter((f) => !want || f.type === want).sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type))
  if (candidates[0]) return candidates[0]
  if (reason === 'inference' && p.step !== undefined) {
    const s = selected[0]
    if (s && s.step.kind === 'inference') {
      say('warning: this inference replays correctly here; the verifiers will likely reject the dispute and keep your bond')
      return { type: 'InferenceFraud', agentId, sequence: s.sequence, stepIndex: s.stepIndex, reason: 'disputed by hand' }
    }
    throw new StepNotFoundError(`Step ${p.step} is not an inference step.`)
  }
  if (reason === 'logic') throw new NothingToDisputeError(`No step of action ${p.actionId} differs from what the agent's registered code does: ${logicReason ?? 'no step found'}.`)
  if (reason === 'policy') throw new NothingToDisputeError(`No wallet step of action ${p.actionId}${p.step === undefined ? '' : ` at step ${p.step}`} breaks the agent's policy.`)
  throw new NothingToDisputeError(`No fault found in action ${p.actionId}${p.step === undefined ? '' : ` at step ${p.step}`}.`, {
    metaMessages: ['Pick a path with --reason (subjective claims and untraced transactions are not found automatically).'],
  })
}

/**
 * `--reason untraced --tx` for an agent with an AgentAccount: the account's calls in that
 * transaction; the first one whose wallet step is not committed by its cover-by time is the
 * fault. Not even declared covered: proven on chain (UntracedCall); declared covered
 * without its step: the quorum decides (UntracedAction).
 */
async function untracedAccountCallFault(
  p: DisputeActionParameters,
  ctx: ReturnType<typeof oneShotContext>,
  agentId: bigint,
  account: Address,
  txHash: Hex,
  say: (m: string) => void,
): Promise<Fault> {
  const receipt = await p.client.publicClient.getTransactionReceipt({ hash: txHash })
  const calls = await accountCallsCoverage(ctx, agentId, account, receipt.logs, { refresh: true })
  if (calls.length === 0) {
    throw new NothingToDisputeError(`${txHash} makes no call of agent ${agentId}'s account ${account}: it moved none of the agent's funds.`)
  }
  const covered: string[] = []
  for (const call of calls) {
    if (coveredInTime(call)) {
      covered.push(`call ${call.sequence}: covered by step ${call.step.step.index} in batch ${call.step.sequence}`)
      continue
    }
    if ((await chainNow(p.client)) <= call.coverBy) say(`warning: account call ${call.sequence} can still be covered until ${call.coverBy}; the proof needs that time to pass`)
    const declaredCovered = await p.client.publicClient.readContract({ address: p.client.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [agentId] })
    return untracedCallFault({ agentId, sequence: call.sequence, txHash, declaredCovered, value: call.value, reason: `no committed wallet step has the leaf of account call ${call.sequence}` })
  }
  throw new NothingToDisputeError(`${txHash} is traced: ${covered.join('; ')}.`)
}
