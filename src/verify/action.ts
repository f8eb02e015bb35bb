import type { Hex } from 'viem'
import { traceLogAbi, type CovenantClient } from '../bonds/index.js'
import type { DAClient } from '../da/index.js'
import { AgentBook } from './agents.js'
import { fetchAndCheckBatch, getBatchEvents, type BatchCheck, type BatchEvent } from './batches.js'
import { chainNow } from './challenge.js'
import { accountCallsCoverage, checkBatchSteps, coveredInTime, type CheckContext, type StepReport } from './check.js'
import { ActionNotFoundError, InvalidActionIdError } from './errors.js'
import { untracedCallFault, type Fault } from './faults.js'
import { replayJobHandler, type AttestationCheck, type Replayer, type ReplayJobResult } from './inference.js'
import type { ManifestSource } from './manifest.js'
import { withPublishedBlobs } from './publishedBlobs.js'
import { ReplaySandbox } from './actionReplay/sandbox.js'
import { checkActionLogic, sandboxLogicReplayer, type LogicCheck, type LogicReplayer } from './logicCheck.js'
import { TraceIndex, type CommittedStep } from './traceIndex.js'

const ACTION_ID = /^(0|[1-9][0-9]{0,77})-[0-9a-f]{12}$/
const UINT256_MAX = 2n ** 256n - 1n

/**
 * The agent an action id (`<agentId>-<12 lowercase hex>`) belongs to. The agent id is a
 * uint256 in decimal without leading zeros; anything else (78 digits past 2^256 − 1
 * included) throws InvalidActionIdError here, before it can reach viem or the chain.
 */
export function parseActionId(actionId: string): { agentId: bigint } {
  if (typeof actionId !== 'string' || !ACTION_ID.test(actionId)) throw new InvalidActionIdError(actionId)
  const agentId = BigInt(actionId.slice(0, actionId.indexOf('-')))
  if (agentId > UINT256_MAX) throw new InvalidActionIdError(actionId)
  return { agentId }
}

export type FoundAction = {
  actionId: string
  agentId: bigint
  /** Every batch of the agent, checked, in order (the action's and the others'). */
  batches: Array<{ ev: BatchEvent; check: BatchCheck }>
  /** The action's steps with the batch each is in (and when it was committed). */
  steps: CommittedStep[]
}

/**
 * Finds an action's steps: scans the agent's committed batches (BatchCommitted logs →
 * blobs on DA, each checked against the chain) for steps with this action id.
 */
export async function findAction(
  p: { client: CovenantClient; da: Pick<DAClient, 'get'>; index?: TraceIndex | undefined },
  actionId: string,
  options: { agentId?: bigint | undefined } = {},
): Promise<FoundAction> {
  const agentId = options.agentId ?? parseActionId(actionId).agentId
  const index = p.index ?? new TraceIndex({ client: p.client, da: p.da })
  const events = await getBatchEvents(p.client, agentId)
  const batches: FoundAction['batches'] = []
  const steps: FoundAction['steps'] = []
  let prev: Extract<BatchCheck, { status: 'ok' }>['head'] | undefined
  for (const ev of events) {
    const check = await fetchAndCheckBatch(p.da, ev, prev)
    index.record(ev, check)
    prev = check.status === 'ok' ? check.head : undefined
    batches.push({ ev, check })
    if (check.status !== 'ok') continue
    for (const [stepIndex, step] of check.batch.steps.entries()) {
      if (step.actionId === actionId) steps.push({ step, sequence: ev.sequence, stepIndex, committedAt: ev.committedAt })
    }
  }
  if (steps.length === 0 && !batches.some((b) => b.check.status !== 'ok')) {
    throw new ActionNotFoundError({ actionId, agentId, batches: batches.length })
  }
  return { actionId, agentId, batches, steps }
}

export type ActionReport = {
  actionId: string
  agentId: bigint
  /**
   * `honest`: every step checked out; `faulty`: at least one fault; `unverifiable`: no
   * fault, but some step could not be checked (e.g. no replayer for its model);
   * `incomplete`: some of the agent's batches are unavailable (they may hold the action or
   * more of its steps), or the agent's own logic could not be replayed because it registered
   * no code (or its manifest or bundle cannot be had), or an inference cannot be judged
   * because the agent's manifest is not available (the replay mode it registered is
   * unknown: never a fault without it). An invalid batch is a fault
   * (`faulty`), and so is a step the agent's registered code does not produce
   * (TraceMismatch). `covenant verify` exits 0 for honest, 2 for faulty, 3 for incomplete or
   * unverifiable, 1 for a usage or I/O error.
   */
  verdict: 'honest' | 'faulty' | 'unverifiable' | 'incomplete'
  reasons: string[]
  /**
   * Whole-action replay: the action re-run through the agent's registered code. Null when it
   * was not attempted (a batch of the agent is unreadable, or no step was found).
   */
  logic: { status: LogicCheck['status']; reason: string } | null
  steps: Array<StepReport & { sequence: bigint }>
  /** Batches of the agent that could not be read. */
  unreadable: Array<{ sequence: bigint; status: 'unavailable' | 'invalid'; reason: string }>
  faults: Fault[]
}

export type VerifyActionParameters = {
  client: CovenantClient
  da: Pick<DAClient, 'get' | 'health'>
  replayer?: Replayer | undefined
  manifests?: readonly ManifestSource[] | undefined
  attestation?: AttestationCheck | undefined
  agentId?: bigint | undefined
  /**
   * Replays the action through the agent's registered code.
   * @defaultValue a replay sandbox of this call's own (child processes, stopped at the end)
   */
  logic?: LogicReplayer | undefined
}

/** The context for one-shot checks: replays run in this process, no queue. */
export function oneShotContext(p: VerifyActionParameters, index?: TraceIndex): CheckContext {
  const replay = p.replayer ? replayJobHandler(p.replayer) : undefined
  return {
    client: p.client,
    da: p.da,
    agents: new AgentBook(p.client),
    index: index ?? new TraceIndex({ client: p.client, da: p.da }),
    manifests: p.manifests ?? [],
    attestation: p.attestation,
    logic: p.logic,
    withheldGraceSeconds: 0,
    replay: async (data): Promise<ReplayJobResult> => {
      if (!replay) return { status: 'unverifiable', reason: 'no replayer configured' }
      try {
        return await replay({ id: 'one-shot', name: 'replay', data, attempt: 1 })
      } catch (err) {
        return { status: 'unverifiable', reason: (err as { shortMessage?: string }).shortMessage ?? String(err) }
      }
    },
  }
}

/**
 * `covenant verify`: fetches the action's steps from DA through the committed batches,
 * checks them (chain, root, policy, registered models) and replays its inferences. Sends
 * no transaction.
 */
export async function verifyAction(params: VerifyActionParameters, actionId: string): Promise<ActionReport> {
  // a blob withheld from DA but answered on chain is read from the chain
  const p = { ...params, da: withPublishedBlobs(params.client, params.da) }
  const sandbox = p.logic ? undefined : new ReplaySandbox()
  try {
    return await verifyWith({ ...p, logic: p.logic ?? sandboxLogicReplayer(sandbox as ReplaySandbox) }, actionId)
  } finally {
    await sandbox?.close()
  }
}

async function verifyWith(p: VerifyActionParameters, actionId: string): Promise<ActionReport> {
  const index = new TraceIndex({ client: p.client, da: p.da })
  const ctx = oneShotContext(p, index)
  const found = await findAction({ client: p.client, da: p.da, index }, actionId, { agentId: p.agentId })
  const unreadable = found.batches
    .filter((b) => b.check.status !== 'ok')
    .map((b) => ({ sequence: b.ev.sequence, status: b.check.status as 'unavailable' | 'invalid', reason: (b.check as { reason: string }).reason }))
  const steps: ActionReport['steps'] = []
  const faults: Fault[] = []
  for (const b of found.batches) {
    if (b.check.status !== 'ok') continue
    const mine = new Set(found.steps.filter((s) => s.sequence === b.ev.sequence).map((s) => s.stepIndex))
    if (mine.size === 0) continue
    const r = await checkBatchSteps(ctx, b.ev, b.check.batch.steps, b.check.leaves, { only: (_s, i) => mine.has(i) })
    steps.push(...r.reports.map((s) => ({ ...s, sequence: b.ev.sequence })))
    faults.push(...r.faults)
  }
  faults.push(...(await untracedCallsOfAction(ctx, found)))
  // the agent's own logic: its registered code re-run on the action's recorded I/O
  let logic: LogicCheck | undefined
  if (found.steps.length > 0 && unreadable.length === 0) {
    logic = await checkActionLogic(ctx, { agentId: found.agentId, actionId, steps: found.steps })
    if (logic.status === 'fault') {
      const f = logic.fault
      faults.push(f)
      const s = steps.find((r) => r.sequence === f.sequence && r.stepIndex === f.stepIndex)
      if (s) Object.assign(s, { status: 'fault', reason: `TraceMismatch: ${f.reason.replace(/^step \d+ \([a-z]+\): /, '')}` })
    }
  }
  const reasons: string[] = []
  for (const s of steps) if (s.status !== 'ok') reasons.push(`step ${s.index} (${s.kind}, batch ${s.sequence}): ${s.reason}`)
  for (const f of faults) if (f.type === 'UntracedCall' || f.type === 'UntracedAction') reasons.push(f.reason)
  for (const u of unreadable) reasons.push(`batch ${u.sequence} is ${u.status}: ${u.reason}`)
  // committed data that can never be a valid batch is a fault by itself (the verifier node
  // disputes it as InvalidBatch), whatever it held
  for (const u of unreadable) {
    if (u.status === 'invalid') faults.push({ type: 'InvalidBatch', agentId: found.agentId, sequence: u.sequence, reason: u.reason })
  }
  if (logic && logic.status === 'unchecked') reasons.push(logic.reason)
  let verdict: ActionReport['verdict']
  if (faults.length > 0) verdict = 'faulty'
  // a batch that cannot be read may hold more of this action (a dropped step, say)
  else if (found.steps.length === 0 || unreadable.length > 0) verdict = 'incomplete'
  // the steps check out, but whether the agent's own code took them is unknown: never honest
  else if (logic?.status === 'unchecked' && logic.codeless) verdict = 'incomplete'
  // the agent's manifest is not available yet: what its inferences owe is unknown
  else if (steps.some((s) => s.status === 'unverifiable' && s.retry)) verdict = 'incomplete'
  else if (steps.some((s) => s.status === 'unverifiable') || logic?.status === 'unchecked') verdict = 'unverifiable'
  else verdict = 'honest'
  if (verdict === 'honest') reasons.push(`all ${steps.length} steps check out against the committed batches`, (logic as LogicCheck).reason)
  return { actionId, agentId: found.agentId, verdict, reasons, steps, unreadable, faults, logic: logic ? { status: logic.status, reason: logic.reason } : null }
}


/**
 * The account calls an action made (the transactions its tool steps record) whose wallet
 * step no committed batch holds by the call's deadline — what the verifier node proves as
 * untraced (a wallet step dropped from the trace, say). Calls still within their deadline
 * are not faults yet.
 */
async function untracedCallsOfAction(ctx: CheckContext, found: FoundAction): Promise<Fault[]> {
  const client = ctx.client
  const hashes = new Set<Hex>()
  for (const { step } of found.steps) {
    if (step.kind !== 'tool' || step.outcome.status !== 'ok') continue
    const list = (step.outcome.result as { transactions?: unknown } | null)?.transactions
    if (!Array.isArray(list)) continue
    for (const t of list) {
      const hash = (t as { hash?: unknown } | null)?.hash
      if (typeof hash === 'string' && /^0x[0-9a-fA-F]{64}$/.test(hash)) hashes.add(hash.toLowerCase() as Hex)
    }
  }
  if (hashes.size === 0) return []
  const account = (await ctx.agents.agent(found.agentId)).account
  const now = await chainNow(client)
  const declaredCovered = await client.publicClient.readContract({ address: client.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [found.agentId] })
  const faults: Fault[] = []
  for (const hash of hashes) {
    const receipt = await client.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
    if (!receipt) continue
    for (const call of await accountCallsCoverage(ctx, found.agentId, account, receipt.logs)) {
      if (now <= call.coverBy || coveredInTime(call)) continue
      const reason = `account call ${call.sequence} (transaction ${hash}) has no committed wallet step by its deadline ${call.coverBy}`
      faults.push(untracedCallFault({ agentId: found.agentId, sequence: call.sequence, txHash: hash, declaredCovered, reason, value: call.value }))
    }
  }
  return faults
}
