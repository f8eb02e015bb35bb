import type { Step } from '../../trace/index.js'

/** The runtime's recovery tool (src/agent/runtime.ts): closes an action a crash interrupted. */
export const RECOVER_TOOL = 'covenant.recover'

/** One committed step of an action, and where it was committed. */
export type RecordedStep = {
  step: Step
  /** The batch (TraceLog sequence) that holds it. */
  sequence: bigint
  /** Its position in that batch. */
  stepIndex: number
}

/** An action's committed steps, in trace order, as a verifier replays them. */
export type RecordedAction = {
  actionId: string
  steps: RecordedStep[]
}

/**
 * How far an action's trace goes:
 * - `closed`: an output step with status `ok` or `failed`; the replay must produce exactly
 *   these steps;
 * - `interrupted`: closed by recovery after a crash (a `covenant.recover` tool step and/or an
 *   output with status `interrupted`); the steps before that tail must be what the agent's
 *   code produces, as far as they go;
 * - `open`: no output committed yet; the committed steps must be a prefix of what the
 *   agent's code produces.
 */
export type ActionShape = {
  kind: 'closed' | 'interrupted' | 'open'
  /** The steps the replay compares: all of them, or those before the recovery tail. */
  checked: number
}

/** The shape of an action's steps (see {@link ActionShape}). */
export function actionShape(steps: readonly Step[]): ActionShape {
  const tail = steps.findIndex((s) => (s.kind === 'tool' && s.tool === RECOVER_TOOL) || (s.kind === 'output' && outputStatus(s) === 'interrupted'))
  if (tail >= 0) return { kind: 'interrupted', checked: tail }
  return { kind: steps.some((s) => s.kind === 'output') ? 'closed' : 'open', checked: steps.length }
}

/** The status an output step records (`ok`, `failed`, `interrupted`), or undefined. */
export function outputStatus(step: Step): string | undefined {
  if (step.kind !== 'output') return undefined
  const r = step.result as { status?: unknown } | null
  return r && typeof r === 'object' && typeof r.status === 'string' ? r.status : undefined
}

/**
 * The recovery tail of an interrupted action may hold nothing but an optional
 * `covenant.recover` tool step followed by the interrupted output step. Returns the
 * position of the first step that breaks that rule, or undefined.
 */
export function badRecoveryTail(steps: readonly Step[], from: number): number | undefined {
  let at = from
  if (steps[at]?.kind === 'tool' && (steps[at] as Step & { kind: 'tool' }).tool === RECOVER_TOOL) at++
  if (at < steps.length && outputStatus(steps[at] as Step) === 'interrupted') at++
  return at < steps.length ? at : undefined
}

/** "a wallet step", "an inference step" … for messages. */
export function aStep(step: Pick<Step, 'kind'>): string {
  return `${/^[aeiou]/.test(step.kind) ? 'an' : 'a'} ${step.kind} step`
}

/**
 * Where each attempt of an action starts. A crash that interrupted an action before it signed
 * anything lets the service run it again under its id (src/service/agentHost.ts): recovery
 * closes the attempt (its tail: an optional `covenant.recover` tool step, then an output step
 * with status `interrupted`), and the re-run appends a fresh attempt starting with its input.
 * Anything else after a recovery tail — a re-run of an attempt that holds a wallet step (an
 * action that signed is never run twice), or any step that is not a fresh input — is the
 * mismatch, at its position.
 */
export function actionAttempts(steps: readonly Step[]): { starts: number[] } | { position: number; reason: string } {
  const starts = [0]
  for (;;) {
    const from = starts.at(-1) as number
    const attempt = steps.slice(from)
    const shape = actionShape(attempt)
    if (shape.kind !== 'interrupted') return { starts }
    const bad = badRecoveryTail(attempt, shape.checked)
    if (bad === undefined) return { starts }
    const next = attempt[bad] as Step
    const closed = outputStatus(attempt[bad - 1] as Step) === 'interrupted'
    if (next.kind !== 'input' || !closed) {
      return { position: from + bad, reason: `the trace has ${aStep(next)} after the action was closed by recovery` }
    }
    if (attempt.slice(0, bad).some((s) => s.kind === 'wallet')) {
      return { position: from + bad, reason: 'the trace runs the action again after recovery closed an attempt that had signed a transaction (an action that signed is never run twice)' }
    }
    starts.push(from + bad)
  }
}
