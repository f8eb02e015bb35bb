import type { Address, Hex } from 'viem'
import { getAddress, isAddressEqual, parseEventLogs, zeroAddress } from 'viem'
import { agentAccountAbi, getAccountCall, type CovenantClient } from '../bonds/index.js'
import type { DAClient } from '../da/index.js'
import { merkleProof, type Step } from '../trace/index.js'
import { evaluateWalletStep, type AgentBook } from './agents.js'
import type { BatchEvent } from './batches.js'
import { chainNow } from './challenge.js'
import type { Fault } from './faults.js'
import { attestedRecordProblem, precheckInference, registeredMeasurement, type AttestationCheck, type ReplayJobData, type ReplayJobResult } from './inference.js'
import type { Judge } from './judge.js'
import { checkActionLogic, type LogicReplayer } from './logicCheck.js'
import { cachedManifest, manifestExpected, replayRuleFor, type LoadedManifest, type ManifestSource } from './manifest.js'
import { stepCoversTx, type CoveringStep, type TraceIndex } from './traceIndex.js'

/** What checking needs; shared by the verifier node, `covenant verify` and `covenant dispute`. */
export type CheckContext = {
  client: CovenantClient
  da: Pick<DAClient, 'get' | 'health'>
  agents: AgentBook
  index: TraceIndex
  manifests: readonly ManifestSource[]
  /** Replays one inference step (through the job queue in a node). */
  replay: (job: ReplayJobData) => Promise<ReplayJobResult>
  attestation?: AttestationCheck | undefined
  judge?: Judge | undefined
  /** The text of a subjective claim by its hash, where known. */
  claims?: ((subject: Hex) => Promise<string | undefined>) | undefined
  /** Seconds a blob may be missing before it counts as withheld. */
  withheldGraceSeconds: number
  onWarning?: ((message: string) => void) | undefined
  /** manifest cache, by manifest hash */
  manifestCache?: Map<string, Promise<LoadedManifest | undefined>> | undefined
  /**
   * Replays actions through their agent's registered code (whole-action replay, in the
   * replay sandbox). Without it the agent's own logic is not checked (and said so).
   */
  logic?: LogicReplayer | undefined
  /** code bundles fetched from DA and checked, by codeHash */
  bundleCache?: Map<string, Promise<Uint8Array>> | undefined
  /** agent accounts (AgentRegistry.accountOf), by agent id */
  accountCache?: Map<string, Promise<string | undefined>> | undefined
}

export type StepReport = {
  /** Position in the agent's whole trace. */
  index: number
  /** Position in the batch. */
  stepIndex: number
  kind: Step['kind']
  actionId: string
  status: 'ok' | 'fault' | 'unverifiable'
  reason: string
  /** Unverifiable for now (the agent's manifest is not available yet): worth checking again. */
  retry?: boolean
}

/**
 * Checks every step of a batch that fetched and verified (see `fetchAndCheckBatch`):
 * wallet steps against the policy version they cite, inference steps against the agent's
 * registered models and, by replay, against their claimed outputs. Replays run in
 * parallel (fanned out over the queue). Returns a report per step and the faults found.
 */
export async function checkBatchSteps(
  ctx: CheckContext,
  ev: BatchEvent,
  steps: readonly Step[],
  leaves: readonly Hex[],
  options: { only?: ((step: Step, stepIndex: number) => boolean) | undefined } = {},
): Promise<{ reports: StepReport[]; faults: Fault[] }> {
  const reports: StepReport[] = []
  const faults: Fault[] = []
  const pending: Promise<void>[] = []
  let digests: Promise<Set<Hex>> | undefined
  // undefined: judged by the default (exact); null: registered but not found (unknown)
  let manifest: Promise<LoadedManifest | undefined | null> | undefined
  for (const [stepIndex, step] of steps.entries()) {
    if (options.only && !options.only(step, stepIndex)) continue
    const report: StepReport = { index: step.index, stepIndex, kind: step.kind, actionId: step.actionId, status: 'ok', reason: '' }
    reports.push(report)
    if (step.kind === 'wallet') {
      pending.push(
        (async () => {
          const version = await ctx.agents.version(ev.agentId, step.policyVersion)
          const breach = evaluateWalletStep(version, step, ev.committedAt)
          if (breach === 'None') {
            report.reason = `within policy v${step.policyVersion}`
            return
          }
          // the chain is the judge of a proof: confirm before spending gas
          const onChain = await ctx.agents.evaluateOnChain(step, ev.committedAt)
          if (onChain === 'None') {
            ctx.onWarning?.(`agent ${ev.agentId} step ${step.index}: off-chain policy check says ${breach}, AgentRegistry.evaluate says None`)
            report.reason = `within policy v${step.policyVersion} (on chain)`
            return
          }
          report.status = 'fault'
          report.reason = `${onChain}: ${breachText(onChain, step, version.policy.maxValuePerTx)}`
          faults.push({
            type: 'PolicyBreach',
            agentId: ev.agentId,
            sequence: ev.sequence,
            stepIndex,
            step,
            proof: merkleProof(leaves, stepIndex),
            leaf: leaves[stepIndex] as Hex,
            breach: onChain,
            reason: report.reason,
          })
        })(),
      )
    } else if (step.kind === 'inference') {
      digests ??= ctx.agents.modelDigestsAt(ev.agentId, ev.committedAt)
      manifest ??= ctx.agents
        .versionAt(ev.agentId, ev.committedAt)
        .then(async (v) => {
          if (!v || !manifestExpected(ctx, v.manifestHash)) return undefined
          return (await cachedManifest(ctx, ev.agentId, v.manifestHash)) ?? null
        })
      const registered = digests
      const loaded = manifest
      pending.push(
        (async () => {
          const record = step.record
          const m = await loaded
          const rule = m === null ? null : replayRuleFor(m?.replay, record.modelDigest as Hex)
          const pre = precheckInference(record, await registered, rule)
          const fault = (reason: string, detail?: unknown) => {
            report.status = 'fault'
            report.reason = reason
            faults.push({ type: 'InferenceFraud', agentId: ev.agentId, sequence: ev.sequence, stepIndex, reason, ...(detail === undefined ? {} : { detail }) })
          }
          if (pre.status === 'fault') return fault(pre.reason)
          if (pre.status === 'unknown') {
            report.status = 'unverifiable'
            report.reason = pre.reason
            report.retry = true
            return
          }
          if (pre.status === 'unchecked') {
            report.reason = pre.reason
            return
          }
          if (pre.status === 'attested') {
            if (!ctx.attestation) {
              report.status = 'unverifiable'
              report.reason = 'attested inference: no attestation checker configured'
              return
            }
            // v3 registers keys and measurement per model; v2 only the container measurement
            const measurement = pre.rule.signers || pre.rule.measurement ? (pre.rule.measurement ?? null) : registeredMeasurement((await loaded)?.manifest)
            const problem = attestedRecordProblem(record, measurement, pre.rule.signers ?? [])
            if (problem) return fault(`attestation invalid: ${problem}`)
            const a = await ctx.attestation(record, { signers: pre.rule.signers, measurement })
            if (a.valid) report.reason = `attestation valid: ${a.reason}`
            else fault(`attestation invalid: ${a.reason}`)
            return
          }
          const r = await ctx.replay({
            agentId: ev.agentId.toString(),
            sequence: ev.sequence.toString(),
            stepIndex,
            index: step.index,
            leaf: leaves[stepIndex] as Hex,
            record,
            rule: pre.rule,
          })
          if (r.status === 'match') report.reason = `replayed (${pre.rule.mode}): output ${shortHash(r.actualHash)} matches`
          else if (r.status === 'mismatch') {
            fault(`replay (${pre.rule.mode}) gives ${shortHash(r.actualHash)}, the record claims ${shortHash(r.expectedHash)}`, r.diff)
          } else {
            report.status = 'unverifiable'
            report.reason = r.reason
          }
        })(),
      )
    } else {
      report.reason = 'in the committed chain'
    }
  }
  await Promise.all(pending)
  // a slash repays the owner what the faulty action moved: its committed wallet steps
  for (const f of faults) {
    if (f.type !== 'InferenceFraud') continue
    const step = steps[f.stepIndex]
    if (step) f.harm = await ctx.index.movedByAction(ev.agentId, step.actionId)
  }
  faults.sort((a, b) => ('stepIndex' in a ? a.stepIndex : 0) - ('stepIndex' in b ? b.stepIndex : 0))
  return { reports, faults }
}

function shortHash(h: string): string {
  return h.length > 18 ? `${h.slice(0, 10)}…${h.slice(-6)}` : h
}

function breachText(breach: string, step: Step & { kind: 'wallet' }, cap: bigint): string {
  switch (breach) {
    case 'ValueCap':
      return `pays ${step.value} wei, over the cap of ${cap}`
    case 'TargetNotAllowed':
      return `pays ${step.to}, not on the allowlist`
    case 'SelectorNotAllowed':
      return `calls selector ${step.data.slice(0, 10)}, not allowed`
    case 'StalePolicy':
      return `cites policy v${step.policyVersion}, replaced for longer than its commit deadline`
    case 'UnknownPolicy':
      return `cites policy v${step.policyVersion}, which was not active`
    default:
      return breach
  }
}

// ---------------------------------------------------------------------------------------
// verdicts on disputes others opened

export type DisputeView = {
  disputeId: bigint
  kind: 'InferenceFraud' | 'DataWithheld' | 'UntracedAction' | 'SubjectiveClaim' | 'InvalidBatch' | 'TraceMismatch'
  agentId: bigint
  sequence: bigint
  stepIndex: number
  subject: Hex
  openedAt: number
  deadline: number
  /** What the challenger says the action moved (wei); verifiers find the agent at fault only when it is no more than that. */
  harm: bigint
}

export type DisputeCheck =
  | { decided: true; agentAtFault: boolean; reason: string }
  | { decided: false; reason: string; final: boolean }

/**
 * A verifier's own judgement of a quorum dispute, from the chain and DA alone (never from
 * what the challenger says). Undecided results are retried later unless `final` (an
 * abstention).
 */
export async function checkDispute(ctx: CheckContext, d: DisputeView): Promise<DisputeCheck> {
  if (d.kind === 'UntracedAction') return checkUntraced(ctx, d)
  const got = await ctx.index.batch(d.agentId, d.sequence, { refetch: true })
  if (!got) return { decided: true, agentAtFault: false, reason: `agent ${d.agentId} has no batch ${d.sequence}` }
  const { ev, check } = got
  if (check.status === 'invalid') return { decided: true, agentAtFault: true, reason: `batch ${d.sequence} is invalid: ${check.reason}` }
  if (d.kind === 'InvalidBatch') {
    // only a blob we hold can show the batch invalid: an unreadable one is DataWithheld's business
    if (check.status === 'unavailable') return { decided: false, reason: `blob unavailable (${check.reason}): cannot judge its validity; retrying`, final: false }
    return { decided: true, agentAtFault: false, reason: `batch ${d.sequence} is available and valid` }
  }
  if (check.status === 'unavailable') {
    // the blob must have been missing for the whole grace period since the commit
    const now = await chainNow(ctx.client)
    if (now < ev.committedAt + ctx.withheldGraceSeconds) return { decided: false, reason: `blob unavailable (${check.reason}); retrying`, final: false }
    const health = await ctx.da.health()
    if (!health.ok) return { decided: false, reason: `blob unavailable and our DA is unhealthy (${health.detail})`, final: false }
    return { decided: true, agentAtFault: true, reason: `the blob of batch ${d.sequence} is unavailable: ${check.reason}` }
  }
  if (d.kind === 'DataWithheld') return { decided: true, agentAtFault: false, reason: `batch ${d.sequence} is available and valid` }
  const step = check.batch.steps[d.stepIndex]
  if (!step) return { decided: true, agentAtFault: false, reason: `batch ${d.sequence} has no step ${d.stepIndex}` }
  // the challenger may not claim the action moved more than its committed wallet steps did
  const moved = await ctx.index.movedByAction(d.agentId, step.actionId, { refresh: true })
  if (d.harm > moved) {
    return { decided: true, agentAtFault: false, reason: `the dispute claims ${d.harm} wei moved; action ${step.actionId} moved ${moved} wei` }
  }
  if (d.kind === 'SubjectiveClaim') {
    if (!ctx.judge) return { decided: false, reason: 'no judge configured for subjective claims: abstaining', final: true }
    const claim = await ctx.claims?.(d.subject)
    const v = await ctx.judge.judge({
      disputeId: d.disputeId,
      agentId: d.agentId,
      sequence: d.sequence,
      stepIndex: d.stepIndex,
      subject: d.subject,
      claim,
      step,
      batch: check.batch,
    })
    if ('abstain' in v) return { decided: false, reason: `${ctx.judge.name}: ${v.reason}`, final: true }
    return { decided: true, agentAtFault: v.agentAtFault, reason: `${ctx.judge.name}: ${v.reason}` }
  }
  if (d.kind === 'TraceMismatch') return checkTraceMismatch(ctx, d, step.actionId)
  // InferenceFraud
  if (step.kind !== 'inference') return { decided: true, agentAtFault: false, reason: `step ${d.stepIndex} is a ${step.kind} step, not an inference` }
  const { reports } = await checkBatchSteps(ctx, ev, check.batch.steps, check.leaves, { only: (_s, i) => i === d.stepIndex })
  const r = reports[0]
  if (!r) return { decided: false, reason: 'step not checked', final: false }
  // a manifest that may yet appear is a reason to wait, not to abstain
  if (r.status === 'unverifiable') return { decided: false, reason: `cannot check the inference: ${r.reason}`, final: r.retry !== true }
  return { decided: true, agentAtFault: r.status === 'fault', reason: r.reason }
}

/**
 * A TraceMismatch dispute: the disputed step's action is replayed through the agent's
 * registered code; the agent is at fault when the first step that code does not produce is
 * the disputed one (so one mismatch is punished once, wherever a challenger points).
 */
async function checkTraceMismatch(ctx: CheckContext, d: DisputeView, actionId: string): Promise<DisputeCheck> {
  const { steps, unreadable } = await ctx.index.actionSteps(d.agentId, actionId, { refresh: true })
  if (unreadable.length > 0) return { decided: false, reason: `batches ${unreadable.join(', ')} of agent ${d.agentId} are unreadable: they may hold more of action ${actionId}`, final: false }
  const logic = await checkActionLogic(ctx, { agentId: d.agentId, actionId, steps })
  if (logic.status === 'unchecked') return { decided: false, reason: logic.reason, final: true }
  if (logic.status === 'ok') return { decided: true, agentAtFault: false, reason: logic.reason }
  const atDisputed = logic.fault.sequence === d.sequence && logic.fault.stepIndex === d.stepIndex
  return atDisputed
    ? { decided: true, agentAtFault: true, reason: logic.reason }
    : { decided: true, agentAtFault: false, reason: `the first step the registered code does not produce is batch ${logic.fault.sequence} step ${logic.fault.stepIndex}, not the disputed one` }
}

async function checkUntraced(ctx: CheckContext, d: DisputeView): Promise<DisputeCheck> {
  const pc = ctx.client.publicClient
  const tx = await pc.getTransaction({ hash: d.subject }).catch(() => undefined)
  if (!tx || tx.blockNumber === null) return { decided: true, agentAtFault: false, reason: `no mined transaction ${d.subject}` }
  const agent = await ctx.agents.agent(d.agentId)
  if (agent.account && !isAddressEqual(agent.account, zeroAddress)) return checkUntracedAccountCalls(ctx, d, agent.account)
  if (!isAddressEqual(getAddress(tx.from), agent.wallet)) {
    return { decided: true, agentAtFault: false, reason: `transaction ${d.subject} is not from agent ${d.agentId}'s wallet` }
  }
  const block = await pc.getBlock({ blockNumber: tx.blockNumber })
  const sentAt = Number(block.timestamp)
  const version = await ctx.agents.versionAt(d.agentId, sentAt)
  if (!version) return { decided: true, agentAtFault: false, reason: 'the transaction predates the agent' }
  const deadline = sentAt + version.policy.commitDeadline
  const now = await chainNow(ctx.client)
  if (now <= deadline) return { decided: false, reason: `the commit deadline (${deadline}) has not passed`, final: false }
  const cover = await untracedCoverage(ctx, d.agentId, tx, deadline, { refresh: true })
  if (cover.covered) return { decided: true, agentAtFault: false, reason: cover.reason }
  if (cover.unknown) return { decided: false, reason: cover.reason, final: false }
  if (d.harm > tx.value) return { decided: true, agentAtFault: false, reason: `the dispute claims ${d.harm} wei moved; ${d.subject} moved ${tx.value} wei` }
  return { decided: true, agentAtFault: true, reason: cover.reason }
}

/**
 * An untraced-action dispute on a transaction of an agent with an AgentAccount: the agent
 * acted in it only through its account's calls (`Executed` events, whoever sent the
 * transaction); each must have its wallet step (by leaf) committed by its cover-by time.
 * A transaction with no call of the account moved none of the agent's funds.
 */
async function checkUntracedAccountCalls(ctx: CheckContext, d: DisputeView, account: Address): Promise<DisputeCheck> {
  const receipt = await ctx.client.publicClient.getTransactionReceipt({ hash: d.subject }).catch(() => undefined)
  if (!receipt) return { decided: true, agentAtFault: false, reason: `no mined transaction ${d.subject}` }
  const calls = await accountCallsCoverage(ctx, d.agentId, account, receipt.logs, { refresh: true })
  if (calls.length === 0) {
    return { decided: true, agentAtFault: false, reason: `transaction ${d.subject} makes no call of agent ${d.agentId}'s account: it moved none of the agent's funds` }
  }
  const now = await chainNow(ctx.client)
  const untraced: string[] = []
  let moved = 0n
  for (const call of calls) {
    if (coveredInTime(call)) continue
    if (now <= call.coverBy) return { decided: false, reason: `account call ${call.sequence} can still be covered until ${call.coverBy}`, final: false }
    // an unreadable batch covers nothing once past the withheld-blob grace period
    if (!call.step && call.unreadable.length > 0 && now <= call.coverBy + ctx.withheldGraceSeconds) {
      return { decided: false, reason: `account call ${call.sequence} not found, but batches ${call.unreadable.join(', ')} are unreadable`, final: false }
    }
    moved += call.value
    untraced.push(
      call.step
        ? `account call ${call.sequence} was traced only at ${call.step.committedAt}, after its deadline ${call.coverBy}`
        : `no committed wallet step has the leaf of account call ${call.sequence}`,
    )
  }
  if (untraced.length === 0) return { decided: true, agentAtFault: false, reason: `every account call in ${d.subject} is covered by a committed wallet step` }
  // the challenger may not claim the untraced calls moved more than they did
  if (d.harm > moved) return { decided: true, agentAtFault: false, reason: `the dispute claims ${d.harm} wei moved; the untraced calls moved ${moved} wei` }
  return { decided: true, agentAtFault: true, reason: untraced.join('; ') }
}

/** One AgentAccount call of a transaction, and the committed wallet step with its leaf, if any. */
export type AccountCallCoverage = { sequence: number; coverBy: number; value: bigint; step: CoveringStep | undefined; unreadable: bigint[] }

/** Whether a call's wallet step was committed by the call's cover-by time. */
export function coveredInTime(c: AccountCallCoverage): c is AccountCallCoverage & { step: CoveringStep } {
  return c.step !== undefined && c.step.committedAt <= c.coverBy
}

/**
 * The agent account's calls among a transaction's logs (its `Executed` events, whoever sent
 * the transaction), each with its cover-by time and the committed wallet step with its leaf.
 */
export async function accountCallsCoverage(
  ctx: Pick<CheckContext, 'client' | 'index'>,
  agentId: bigint,
  account: Address,
  logs: Parameters<typeof parseEventLogs>[0]['logs'],
  options: { refresh?: boolean | undefined } = {},
): Promise<AccountCallCoverage[]> {
  const out: AccountCallCoverage[] = []
  for (const call of parseEventLogs({ abi: agentAccountAbi, eventName: 'Executed', logs }).filter((l) => isAddressEqual(l.address, account))) {
    const { coverBy } = await getAccountCall(ctx.client, account, call.args.sequence)
    const found = await ctx.index.stepByLeaf(agentId, call.args.leaf, options)
    out.push({ sequence: call.args.sequence, coverBy, value: call.args.value, step: found.step, unreadable: found.unreadable })
  }
  return out
}

/** Whether a wallet transaction is covered by a wallet step committed by `deadline`. */
export async function untracedCoverage(
  ctx: Pick<CheckContext, 'index'>,
  agentId: bigint,
  tx: { hash: Hex; chainId?: number | undefined; from: Hex; to: Hex | null; value: bigint; input: Hex; nonce: number },
  deadline: number,
  options: { refresh?: boolean | undefined } = {},
): Promise<{ covered: boolean; unknown: boolean; reason: string }> {
  const chainId = tx.chainId ?? ctx.index.client.deployment.chainId
  const { steps, unreadable } = await ctx.index.walletSteps(agentId, tx.nonce, options)
  const match = steps.find((s) => stepCoversTx(s.step, { ...tx, chainId }))
  if (match && match.committedAt <= deadline) {
    return { covered: true, unknown: false, reason: `covered by step ${match.step.index} in batch ${match.sequence}` }
  }
  if (match) {
    return { covered: false, unknown: false, reason: `traced only in batch ${match.sequence}, committed at ${match.committedAt}, after the deadline ${deadline}` }
  }
  if (unreadable.length > 0) {
    return { covered: false, unknown: true, reason: `not found, but batches ${unreadable.join(', ')} are unreadable` }
  }
  return { covered: false, unknown: false, reason: `no committed wallet step has nonce ${tx.nonce} to ${tx.to} for ${tx.value} wei with this calldata` }
}
