import type { RuntimeTraceLog } from '../../agent/runtime.js'
import { canonicalize } from '../../trace/canonical.js'
import type { Step, StepBody } from '../../trace/schemas.js'
import { actionShape, aStep, type ActionShape } from './recordedAction.js'

/** Why a replay stopped before the agent's code finished on its own. */
export type ReplayStop =
  /** The agent's code produced something other than the committed step at `position`. */
  | { kind: 'mismatch'; position: number; reason: string }
  /** The committed steps ran out (an open or interrupted action): what was committed matched. */
  | { kind: 'end'; reason: string }
  /** The replay could not go on for a reason that is not the agent's (a model it cannot decode…). */
  | { kind: 'unverifiable'; reason: string }

/** Thrown through the agent's code to stop the replay; the cursor keeps the reason. */
export class ReplayStopSignal extends Error {
  override name = 'ReplayStopSignal'
}

/**
 * The trace log of a replay: the runtime appends the steps the agent's code produces, and
 * each is compared with the committed step at the same position of the action (timestamps
 * aside: they are clock readings, not decisions). The first difference stops the replay for
 * good: every later append throws, so agent code that catches the signal cannot go on.
 */
export class ReplayCursor implements RuntimeTraceLog {
  readonly agentId: string
  readonly recorded: readonly Step[]
  readonly shape: ActionShape
  #position = 0
  #stop: ReplayStop | undefined

  constructor(agentId: string, recorded: readonly Step[]) {
    this.agentId = agentId
    this.recorded = recorded
    this.shape = actionShape(recorded)
  }

  /** How many committed steps the agent's code has reproduced so far. */
  get position(): number {
    return this.#position
  }

  get stopped(): ReplayStop | undefined {
    return this.#stop
  }

  /** The committed step the agent's code must produce next; undefined past the compared part. */
  peek(): Step | undefined {
    return this.#position < this.shape.checked ? this.recorded[this.#position] : undefined
  }

  /** The committed step at `position + offset` (looking ahead for a transaction's outcome). */
  at(position: number): Step | undefined {
    return this.recorded[position]
  }

  /** The step's recorded time: the runtime's clock in a replay. */
  now(): number {
    return (this.peek() ?? this.recorded.at(-1))?.timestamp ?? 0
  }

  async appendNext(body: StepBody): Promise<{ step: Step }> {
    if (this.#stop) throw new ReplayStopSignal(this.#stop.reason)
    const recorded = this.peek()
    if (!recorded) {
      if (this.shape.kind !== 'closed') throw this.end('the committed steps end here')
      throw this.mismatch(`the agent's code takes ${aStep(body)} after the action's last committed step`, this.recorded.length - 1)
    }
    const difference = stepDifference(body, recorded)
    if (difference) throw this.mismatch(difference)
    this.#position++
    return { step: recorded }
  }

  async readAll(): Promise<{ steps: Step[] }> {
    // nothing to recover: a replay starts from the action's input
    return { steps: [] }
  }

  /** Stops at the current position: the agent's code does something else than the trace. */
  mismatch(reason: string, position = this.#position): ReplayStopSignal {
    this.#stop ??= { kind: 'mismatch', position, reason }
    return new ReplayStopSignal(this.#stop.reason)
  }

  /** Stops: the committed steps are used up (open or interrupted action). */
  end(reason: string): ReplayStopSignal {
    this.#stop ??= { kind: 'end', reason }
    return new ReplayStopSignal(this.#stop.reason)
  }

  unverifiable(reason: string): ReplayStopSignal {
    this.#stop ??= { kind: 'unverifiable', reason }
    return new ReplayStopSignal(this.#stop.reason)
  }

  /**
   * The outside world failed here (the model endpoint, say): the committed step is the
   * action's failed output. It is accepted as it stands and the replay ends — an action that
   * failed moves nothing, and every step before it was checked.
   */
  acceptRecordedFailure(): ReplayStopSignal {
    this.#position++
    return this.end('the action failed here (a failure of the outside world, as committed)')
  }
}

/** Why a step the agent's code produced is not the committed one, or undefined if it is. */
export function stepDifference(body: StepBody, recorded: Step): string | undefined {
  if (body.kind !== recorded.kind) return `the agent's code takes ${aStep(body)} here; the trace has ${aStep(recorded)}${describe(recorded)}`
  switch (body.kind) {
    case 'input': {
      const r = recorded as Step & { kind: 'input' }
      const d = firstDifference(body.task, r.task)
      return d ? `the task differs at ${d}` : undefined
    }
    case 'inference': {
      const r = recorded as Step & { kind: 'inference' }
      const d = firstDifference(body.record, r.record)
      return d ? `the inference record differs at ${d}` : undefined
    }
    case 'tool': {
      const r = recorded as Step & { kind: 'tool' }
      if (body.tool !== r.tool) return `the agent's code calls tool "${body.tool}" here; the trace's tool step is "${r.tool}"`
      const a = firstDifference(body.args, r.args, 'args')
      if (a) return `tool "${r.tool}" is called with other arguments than the trace records (${a}: ${short(at(body.args, a))} here, ${short(at(r.args, a))} in the trace)`
      const o = firstDifference(body.outcome, r.outcome, 'outcome')
      if (o) return `tool "${r.tool}" gives another outcome than the trace records (${o}: ${short(at(body.outcome, o))} here, ${short(at(r.outcome, o))} in the trace)`
      return undefined
    }
    case 'wallet': {
      const r = recorded as Step & { kind: 'wallet' }
      const same = body.to.toLowerCase() === r.to && body.value === r.value && body.data.toLowerCase() === r.data
      if (same && body.chainId === r.chainId && body.from === r.from && body.nonce === r.nonce && body.policyVersion === r.policyVersion) return undefined
      return `the agent's code pays ${body.to.toLowerCase()} ${body.value} wei (data ${shortHex(body.data)}) here; the trace's wallet step pays ${r.to} ${r.value} wei (data ${shortHex(r.data)})${dataDifference(body.data.toLowerCase(), r.data)}`
    }
    case 'output': {
      const r = recorded as Step & { kind: 'output' }
      const d = firstDifference(body.result, r.result, 'result')
      return d ? `the agent's code answers otherwise than the trace's output step (${d}: ${short(at(body.result, d))} here, ${short(at(r.result, d))} in the trace)` : undefined
    }
  }
}

/** The JSON path of the first difference between two JSON values, or undefined if equal. */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | undefined {
  if (a === b) return undefined
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return sameJson(a, b) ? undefined : path
  if (Array.isArray(a) !== Array.isArray(b)) return path
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    for (let i = 0; i < Math.max(a.length, bb.length); i++) {
      const d = firstDifference(a[i], bb[i], `${path}[${i}]`)
      if (d) return d
    }
    return undefined
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()
  for (const k of keys) {
    // a key whose value is undefined is absent in JSON
    const d = firstDifference(ao[k], bo[k], `${path}.${k}`)
    if (d) return d
  }
  return undefined
}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalize(a) === canonicalize(b)
  } catch {
    return false
  }
}

function at(value: unknown, path: string): unknown {
  const parts = path.match(/\.([^.[\]]+)|\[(\d+)\]/g) ?? []
  let v = value
  for (const p of parts) {
    if (v === null || typeof v !== 'object') return undefined
    v = p.startsWith('[') ? (v as unknown[])[Number(p.slice(1, -1))] : (v as Record<string, unknown>)[p.slice(1)]
  }
  return v
}

function short(v: unknown, max = 120): string {
  let s: string
  try {
    s = v === undefined ? '(nothing)' : JSON.stringify(v)
  } catch {
    s = String(v)
  }
  return s.length > max ? `${s.slice(0, max)}…` : s
}

/** Where two calldatas first differ, by ABI word (a changed amount hides in the middle of the data). */
function dataDifference(a: string, b: string): string {
  if (a === b) return ''
  let i = 2
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  const byte = Math.floor((i - 2) / 2)
  // the word holding that byte, after a 4-byte selector
  const start = byte < 4 ? 0 : 4 + Math.floor((byte - 4) / 32) * 32
  const end = byte < 4 ? 4 : start + 32
  const word = (h: string) => `0x${h.slice(2 + start * 2, 2 + end * 2) || '(none)'}`
  return `; the data first differs in bytes ${start}–${end - 1}: ${word(a)} here, ${word(b)} in the trace`
}

function shortHex(h: string): string {
  return h.length > 22 ? `${h.slice(0, 12)}…${h.slice(-6)}` : h
}

function describe(step: Step): string {
  switch (step.kind) {
    case 'tool':
      return ` ("${step.tool}")`
    case 'wallet':
      return ` (pays ${step.to} ${step.value} wei)`
    default:
      return ''
  }
}
