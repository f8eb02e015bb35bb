import type { Hex } from 'viem'
import { isUnrecoverable } from '../errors/base.js'
import type { ReplayRecord } from '../inference/schemas.js'
import type { JobHandler } from './queue.js'
import type { ReplayRule } from './schemas.js'

/** What a replay says: did re-running the record give the output it claims? */
export type ReplayOutcome = { match: boolean; expectedHash: Hex | string; actualHash: Hex | string; diff?: unknown }

/**
 * Re-executes one inference record under a rule (`exact`: bytes equal; `tolerance`: within
 * the manifest's thresholds). Throws when it cannot run at all (model not available,
 * endpoint down): an error with `unrecoverable` set is final, any other is retried.
 */
export type Replayer = (record: ReplayRecord, rule: ReplayRule) => Promise<ReplayOutcome>

/**
 * Checks an attested inference (a signed receipt from an attested container) against the
 * registration: the receipt keys and measurement the manifest registered for the model.
 */
export type AttestationCheck = (record: ReplayRecord, registration?: { signers?: readonly string[] | undefined; measurement?: string | null | undefined }) => Promise<{ valid: boolean; reason: string }>

export type InferenceCheck =
  | { status: 'fault'; reason: string }
  /** The manifest registers `none` for the model: the operator promised no check of its answers. */
  | { status: 'unchecked'; reason: string }
  /** The agent registered a manifest the verifier cannot find: the check it owes is unknown, so it is not judged. */
  | { status: 'unknown'; reason: string }
  | { status: 'replay'; rule: ReplayRule }
  | { status: 'attested'; rule: ReplayRule }

const STRENGTH = { none: 0, attested: 1, tolerance: 2, exact: 3 } as const

/**
 * The checks that need no re-execution: the model must be one the agent registered on
 * chain, and the record must offer at least the check the manifest requires for it (exact
 * for an agent that registered no manifest). `rule: null` means the agent registered a
 * manifest the verifier cannot find: what it owes for the model is unknown, so the inference
 * is `unknown` — never a fault without the registration (an unregistered model still is).
 */
export function precheckInference(record: ReplayRecord, registered: ReadonlySet<Hex>, rule: ReplayRule | null): InferenceCheck {
  const digest = record.modelDigest.toLowerCase() as Hex
  if (!registered.has(digest)) {
    return { status: 'fault', reason: `model ${digest} is not among the agent's registered model digests` }
  }
  if (rule === null) {
    return { status: 'unknown', reason: `the agent's manifest is not available from any manifest source: the replay mode it registered for model ${digest} is unknown, so this inference is not judged yet` }
  }
  // judged by what was registered: `none` promised no check, so none is a fault
  if (rule.mode === 'none') {
    return { status: 'unchecked', reason: `the manifest registers model ${digest} with replay 'none': its answers are not checked (policy, logic and trace are)` }
  }
  if (record.replay === 'none') {
    return { status: 'fault', reason: `the record claims no replay ('none') for registered model ${digest}, which the manifest registers as '${rule.mode}'` }
  }
  if (STRENGTH[record.replay] < STRENGTH[rule.mode]) {
    return {
      status: 'fault',
      reason: `the record offers '${record.replay}' but the ${rule.mode === 'exact' ? 'verifier (no manifest tolerance)' : 'manifest'} requires '${rule.mode}' for model ${digest}`,
    }
  }
  if (record.replay === 'attested' && rule.mode === 'attested') return { status: 'attested', rule }
  // a record that claims more than the manifest requires is held to the manifest's rule
  return { status: 'replay', rule: rule.mode === 'attested' ? { ...rule, mode: record.replay === 'tolerance' ? 'tolerance' : 'exact' } : rule }
}

/**
 * What is wrong with an attested record before its receipt is even checked: it must carry a
 * receipt, for the model it names, from the container measurement the agent registered in its
 * manifest (`inference.measurement`). A receipt from any other container — a fresh key the
 * operator runs itself — attests nothing about this agent. (Binding the signer key to the
 * measurement is the TEE quote's job; here the quote is simulated.)
 */
export function attestedRecordProblem(record: ReplayRecord, registeredMeasurement: string | null | undefined, signers: readonly string[] = []): string | undefined {
  const receipt = record.receipt
  if (!receipt) return 'the record claims an attested inference but carries no receipt'
  if (!registeredMeasurement && signers.length === 0) return 'the record is attested, but the agent registered no receipt key or inference measurement in its manifest'
  if (signers.length > 0 && !signers.some((s) => s.toLowerCase() === receipt.signer.toLowerCase())) {
    return `the receipt is signed by ${receipt.signer}, not by a key the agent registered (${signers.join(', ')})`
  }
  if (registeredMeasurement && receipt.measurement.toLowerCase() !== registeredMeasurement.toLowerCase()) {
    return `the receipt's measurement ${receipt.measurement} is not the one the agent registered (${registeredMeasurement})`
  }
  if (record.model?.digestOf !== 'endpoint-and-name' && receipt.modelDigest.toLowerCase() !== record.modelDigest.toLowerCase()) {
    return `the receipt is for model ${receipt.modelDigest}, the record names ${record.modelDigest}`
  }
  return undefined
}

/** The inference measurement a manifest registers (`inference.measurement`), if any. */
export function registeredMeasurement(manifest: unknown): string | null {
  const m = (manifest as { inference?: { measurement?: unknown } } | null | undefined)?.inference?.measurement
  return typeof m === 'string' && /^0x[0-9a-fA-F]{64}$/.test(m) ? m : null
}

/** A replay job: one inference step, self-contained so any worker can run it. */
export type ReplayJobData = {
  agentId: string
  sequence: string
  /** Position of the step in its batch. */
  stepIndex: number
  /** Position of the step in the agent's whole trace. */
  index: number
  leaf: Hex
  record: ReplayRecord
  rule: ReplayRule
}

export type ReplayJobResult =
  | { status: 'match'; expectedHash: string; actualHash: string }
  | { status: 'mismatch'; expectedHash: string; actualHash: string; diff?: unknown }
  | { status: 'unverifiable'; reason: string }

/**
 * The deterministic job id of a step's replay: agent, sequence, step and the first bytes of
 * its leaf, so a retry or a second verifier process collapses into the same job, and a
 * different batch at the same place (after a reorg) does not.
 */
export function replayJobId(d: Pick<ReplayJobData, 'agentId' | 'sequence' | 'stepIndex' | 'leaf'>): string {
  return `replay-${d.agentId}-${d.sequence}-${d.stepIndex}-${d.leaf.slice(2, 18)}`
}

/**
 * The handler replay workers run: replays and reports. It sends no transaction; the
 * verifier node that waits on the job acts on a mismatch (so one account's transactions
 * come from one process, and a worker killed mid-job can only cause a re-run).
 */
export function replayJobHandler(replayer: Replayer): JobHandler<ReplayJobData, ReplayJobResult> {
  return async (job) => {
    try {
      const r = await replayer(job.data.record, job.data.rule)
      return r.match
        ? { status: 'match', expectedHash: String(r.expectedHash), actualHash: String(r.actualHash) }
        : { status: 'mismatch', expectedHash: String(r.expectedHash), actualHash: String(r.actualHash), ...(r.diff === undefined ? {} : { diff: r.diff }) }
    } catch (err) {
      if (isUnrecoverable(err)) {
        return { status: 'unverifiable', reason: (err as { shortMessage?: string }).shortMessage ?? String(err) }
      }
      throw err
    }
  }
}
