import { isAddressEqual, type Address, type Hex, type Log } from 'viem'
import {
  getBatch,
  getIdentity,
  listDisputes,
  DisputeReader,
  parseValidationRequestURI,
  requestHashOf,
  requireErc8004,
  respondToValidation,
  validationRegistryAbi,
  type CovenantWriteClient,
  type DisputeInfo,
} from '../bonds/index.js'
import { isSettled } from '../bonds/actions/disputeKinds.js'
import type { DAClient } from '../da/index.js'
import { verifyAction, type ActionReport } from './action.js'
import { chainNow } from './challenge.js'
import { LogFollower } from './follower.js'
import type { AttestationCheck, Replayer } from './inference.js'
import type { ManifestSource } from './manifest.js'
import { ValidationStateStore, type TrackedValidation, type ValidationState } from './validationState.js'
import { disputesOnAction, footprintOf, validationAnswer, type ActionFootprint } from './validationAnswer.js'

export type ValidationResponderOptions = {
  /** The validator: requests naming this account are answered from it. */
  client: CovenantWriteClient
  da: Pick<DAClient, 'get' | 'health'>
  /** The verifier's data dir (the node holds its lock). */
  dataDir: string
  replayer?: Replayer | undefined
  manifests?: readonly ManifestSource[] | undefined
  attestation?: AttestationCheck | undefined
  confirmations?: number | undefined
  maxBlockRange?: number | undefined
  /** An unchecked action (not committed yet, a batch unreadable) is tried again this many times, with back-off, then refused. @defaultValue 20 */
  maxAttempts?: number | undefined
  onEvent?: ((e: ValidationEvent) => void) | undefined
}

/** What the responder reports (the node passes them on as its own events). */
export type ValidationEvent =
  | { type: 'validation-request'; requestHash: Hex; agentId: bigint; covenantAgentId: bigint; actionId: string }
  | { type: 'validation-refused'; requestHash: Hex; reason: string }
  | { type: 'validation-response'; requestHash: Hex; actionId: string; response: number; tag: string; responseURI: string; reason: string; gasUsed: bigint }

const requestEvent = validationRegistryAbi.find((e) => e.type === 'event' && e.name === 'ValidationRequest')!
const BACKOFF_MS = { first: 1_000, max: 300_000 }

/**
 * Answers ERC-8004 validation requests addressed to this verifier (README "ERC-8004
 * validations"). A request must name a Covenant action (`covenant:action/<actionId>?validator=<this>`,
 * requestHash = keccak256 of that URI) of an identity whose agentWallet is a Covenant
 * AgentAccount (the link only the agent's owner can make); anything else is refused and
 * never answered. The answer comes from the verifier's own check of the action's committed
 * steps (`verifyAction`: committed, replayed, policy-checked) and from DisputeGame: 100
 * honest, 0 faulty, tagged `bond-backed:soft` while a dispute can still change it and
 * `bond-backed:final` after; a dispute on the action that slashes the agent is a final 0
 * whose responseURI names the dispute. A response is sent only when it changes.
 */
export class ValidationResponder {
  readonly client: CovenantWriteClient
  readonly #o: ValidationResponderOptions
  readonly #store: ValidationStateStore
  readonly #follower: LogFollower
  readonly #validator: Address
  #state: ValidationState | undefined
  #saved: string | undefined

  #disputeReader: DisputeReader | undefined

  constructor(options: ValidationResponderOptions) {
    this.#o = options
    this.client = options.client
    this.#validator = options.client.walletClient.account.address
    this.#store = new ValidationStateStore(options.dataDir)
    this.#follower = new LogFollower({
      publicClient: options.client.publicClient,
      address: requireErc8004(options.client).validationRegistry,
      events: [requestEvent] as never,
      startBlock: options.client.deployment.deployedAtBlock,
      confirmations: options.confirmations,
      maxRange: options.maxBlockRange,
    })
  }

  /** A copy of the persisted state. */
  get state(): ValidationState | undefined {
    return this.#state ? structuredClone(this.#state) : undefined
  }

  async open(): Promise<void> {
    if (this.#state) return
    const d = this.client.deployment
    this.#state = await this.#store.load({ chainId: d.chainId, validationRegistry: requireErc8004(this.client).validationRegistry, validator: this.#validator })
    this.#saved = JSON.stringify(this.#state)
  }

  /** One pass: the next range of requests (or a rewind), then every open request looked at again where something changed. */
  async tick(): Promise<void> {
    await this.open()
    const state = this.#state as ValidationState
    const step = await this.#follower.next(state.cursor, state.checkpoints)
    if (step.type === 'reorg') {
      const limit = step.to ? BigInt(step.to.block) : -1n
      state.cursor = step.to
      state.checkpoints = state.checkpoints.filter((c) => BigInt(c.block) <= limit)
      for (const [h, r] of Object.entries(state.requests)) if (BigInt(r.blockNumber) > limit) delete state.requests[h as Hex]
    } else if (step.type === 'range') {
      for (const log of step.logs) await this.#onRequest(log)
      const next = this.#follower.advance(state.checkpoints, step.to, step.toHash)
      state.cursor = next.cursor
      state.checkpoints = next.checkpoints
    }
    await this.#evaluateOpen()
    // written only when something changed: a node passes every 100 ms – 1 s
    const text = JSON.stringify(state)
    if (text !== this.#saved) {
      await this.#store.save(state)
      this.#saved = text
    }
  }

  // ------------------------------------------------------------------------ new requests

  async #onRequest(log: Log): Promise<void> {
    const state = this.#state as ValidationState
    const l = log as Log & { args: { validatorAddress: Address; agentId: bigint; requestURI: string; requestHash: Hex } }
    if (!isAddressEqual(l.args.validatorAddress, this.#validator)) return
    const requestHash = l.args.requestHash
    if (state.requests[requestHash]) return
    const base = { agentId: l.args.agentId.toString(), blockNumber: (l.blockNumber ?? 0n).toString(), attempts: 0, nextCheckAt: 0 }
    const refuse = (reason: string, actionId = '', covenantAgentId = '0') => {
      state.requests[requestHash] = { ...base, covenantAgentId, actionId, status: 'refused', reason }
      this.#emit({ type: 'validation-refused', requestHash, reason })
    }
    const named = parseValidationRequestURI(l.args.requestURI)
    if (!named) return refuse(`the requestURI ${JSON.stringify(l.args.requestURI.slice(0, 120))} is not covenant:action/<actionId>?validator=<address>`)
    if (!isAddressEqual(named.validator, this.#validator)) return refuse(`the requestURI names validator ${named.validator}, not this one`, named.actionId)
    if (requestHashOf(l.args.requestURI) !== requestHash) return refuse('the requestHash is not keccak256 of the requestURI', named.actionId)
    const identity = await getIdentity(this.client, l.args.agentId).catch(() => undefined)
    if (identity?.covenantAgentId === undefined) {
      return refuse(`ERC-8004 agent ${l.args.agentId}'s agentWallet is not a Covenant AgentAccount of this deployment: nothing links it to a Covenant agent`, named.actionId)
    }
    state.requests[requestHash] = { ...base, covenantAgentId: identity.covenantAgentId.toString(), actionId: named.actionId, status: 'pending', reason: 'not checked yet' }
    this.#emit({ type: 'validation-request', requestHash, agentId: l.args.agentId, covenantAgentId: identity.covenantAgentId, actionId: named.actionId })
  }

  // ------------------------------------------------------------------------ answers

  async #evaluateOpen(): Promise<void> {
    const state = this.#state as ValidationState
    const open = Object.entries(state.requests).filter(([, r]) => r.status === 'pending') as Array<[Hex, TrackedValidation]>
    if (open.length === 0) return
    const [all, now] = await Promise.all([(this.#disputeReader ??= new DisputeReader(this.client)).list(), chainNow(this.client)])
    // a new dispute, or one that settled (opened → slashed happens without a new one): the
    // answers that name disputes are due again
    const count = `${all.length}:${all.filter((d) => isSettled(d.status)).length}`
    const disputesChanged = count !== state.disputeCount
    const disputes = new Map<string, Promise<DisputeInfo[]>>()
    const disputesOf = (agentId: bigint) => {
      let d = disputes.get(agentId.toString())
      if (!d) disputes.set(agentId.toString(), (d = listDisputes(this.client, { agentId })))
      return d
    }
    for (const [requestHash, r] of open) {
      const unchecked = r.verdict !== 'honest' && r.verdict !== 'faulty'
      const due = unchecked ? Date.now() >= r.nextCheckAt : disputesChanged || !r.answered || (r.finalAt !== undefined && now > r.finalAt)
      if (!due) continue
      try {
        await this.#evaluate(requestHash, r, now, disputesOf)
      } catch (err) {
        r.reason = `could not evaluate: ${(err as { shortMessage?: string; message?: string }).shortMessage ?? (err as Error).message}`
        this.#backOff(r)
      }
    }
    state.disputeCount = count
  }

  async #evaluate(requestHash: Hex, r: TrackedValidation, now: number, disputesOf: (agentId: bigint) => Promise<DisputeInfo[]>): Promise<void> {
    const agentId = BigInt(r.covenantAgentId)
    if (r.verdict !== 'honest' && r.verdict !== 'faulty') await this.#check(r)
    const footprint = r.footprint ? fromStored(r.footprint) : { steps: [], sequences: [], txHashes: [], callSequences: [] }
    const answer = validationAnswer({
      actionId: r.actionId,
      verdict: r.verdict ?? 'incomplete',
      disputes: disputesOnAction(await disputesOf(agentId), agentId, footprint),
      now,
      finalAt: r.finalAt,
    })
    if (!answer) return
    r.reason = answer.reason
    const same = r.answered && r.answered.response === answer.response && r.answered.tag === answer.tag && r.answered.responseURI === answer.responseURI
    if (!same) {
      const { gasUsed } = await respondToValidation(this.client, { requestHash, response: answer.response, responseURI: answer.responseURI, tag: answer.tag })
      r.answered = { response: answer.response, tag: answer.tag, responseURI: answer.responseURI }
      this.#emit({ type: 'validation-response', requestHash, actionId: r.actionId, response: answer.response, tag: answer.tag, responseURI: answer.responseURI, reason: answer.reason, gasUsed })
    }
    if (answer.tag === 'bond-backed:final') r.status = 'final'
  }

  /** This validator's own check of the action; kept once it is honest or faulty (committed data does not change). */
  async #check(r: TrackedValidation): Promise<void> {
    const agentId = BigInt(r.covenantAgentId)
    let report: ActionReport
    try {
      report = await verifyAction(
        { client: this.client, da: this.#o.da, replayer: this.#o.replayer, manifests: this.#o.manifests, attestation: this.#o.attestation, agentId },
        r.actionId,
      )
    } catch (err) {
      if ((err as { name?: string }).name !== 'ActionNotFoundError') throw err
      r.verdict = 'incomplete'
      r.reason = `no committed step of agent #${agentId} belongs to action ${r.actionId} yet`
      this.#backOff(r)
      return
    }
    r.verdict = report.verdict
    r.reason = report.reasons[0] ?? report.verdict
    // An agent registered without code: every step checked (replayed, policy-checked,
    // committed) but its own logic cannot be replayed. A validation answers what ERC-8004 asks
    // of it — the checks — and says in its reason that the logic was not replayed
    // (`covenant verify` keeps calling it incomplete).
    if (
      report.verdict === 'incomplete' &&
      report.logic?.status === 'unchecked' &&
      report.unreadable.length === 0 &&
      report.faults.length === 0 &&
      report.steps.length > 0 &&
      report.steps.every((s) => s.status === 'ok')
    ) {
      r.verdict = 'honest'
      r.reason = `every step checks out (replayed, policy-checked, committed); the agent's own logic was not replayed: ${report.logic.reason}`
    }
    if (r.verdict !== 'honest' && r.verdict !== 'faulty') {
      this.#backOff(r)
      return
    }
    const footprint = footprintOf(report)
    r.footprint = toStored(footprint)
    let finalAt = 0
    for (const sequence of footprint.sequences) {
      const b = await getBatch(this.client, agentId, sequence)
      if (b) finalAt = Math.max(finalAt, b.committedAt + b.challengeWindow)
    }
    r.finalAt = finalAt
  }

  #backOff(r: TrackedValidation): void {
    r.attempts++
    if (r.attempts >= (this.#o.maxAttempts ?? 20) && !r.answered) {
      r.status = 'refused'
      r.reason = `gave up after ${r.attempts} tries: ${r.reason}`
      return
    }
    r.nextCheckAt = Date.now() + Math.min(BACKOFF_MS.first * 2 ** (r.attempts - 1), BACKOFF_MS.max)
  }

  #emit(e: ValidationEvent): void {
    this.#o.onEvent?.(e)
  }
}

function toStored(f: ActionFootprint): NonNullable<TrackedValidation['footprint']> {
  return {
    steps: f.steps.map((s) => ({ sequence: s.sequence.toString(), stepIndex: s.stepIndex })),
    sequences: f.sequences.map(String),
    txHashes: f.txHashes,
    callSequences: f.callSequences,
  }
}

function fromStored(f: NonNullable<TrackedValidation['footprint']>): ActionFootprint {
  return {
    steps: f.steps.map((s) => ({ sequence: BigInt(s.sequence), stepIndex: s.stepIndex })),
    sequences: f.sequences.map((s) => BigInt(s)),
    txHashes: f.txHashes,
    callSequences: f.callSequences,
  }
}
