import pino from 'pino'
import type { AgentDefinition } from '../../agent/defineAgent.js'
import type { AgentTool } from '../../agent/defineTool.js'
import { createAgentRuntime, type AgentRuntime } from '../../agent/runtime.js'
import type { Step } from '../../trace/index.js'
import { ReplayCursor } from './cursor.js'
import { actionAttempts, aStep } from './recordedAction.js'
import { failedOutputMessage, createReplayWallet } from './replayWallet.js'
import { createReplayChat, createReplayOnnx } from './replayModels.js'
import { createReplayReads } from './replayReads.js'
import { recordedError, withoutSentNote } from './recordedError.js'

/** What replaying one action's committed steps through the agent's own code gave. */
export type ActionReplayResult =
  /** The agent's code produced the committed steps, in order (all, or — open / interrupted — as far as they go). */
  | { status: 'match'; reproduced: number; shape: 'closed' | 'interrupted' | 'open' }
  /** The first committed step (`position` in the action's steps) that the agent's code does not produce. */
  | { status: 'mismatch'; position: number; reason: string }
  /** The replay could not decide (its cause is not the agent's: a model whose output cannot be read back, a broken sandbox). */
  | { status: 'unverifiable'; reason: string }

export type ReplayActionParameters = {
  /** The agent as its registered code bundle defines it. */
  agent: AgentDefinition
  agentId: string
  actionId: string
  /**
   * The agent's account as AgentRegistry names it: the `from` of the token authorizations its
   * tools build (x402), needed before the wallet answers. Absent: the account the action's
   * first wallet step names (an action that authorized nothing needs none).
   */
  account?: string | undefined
  /** Every committed step of the action, in trace order. */
  steps: readonly Step[]
}

const silent = pino({ level: 'silent' })

/**
 * Whole-action replay: runs the agent's deterministic loop (src/agent/runtime.ts, the same
 * code that ran live) on the action's recorded input, with the recorded inference outputs
 * (src/verify's inference check replays those separately), the recorded results of tools
 * that read the outside world (effect `none`: inputs, never fetched again), the recorded
 * reads of `pay` / `call` tools (`ToolContext.read`, see replayReads.ts), and a wallet
 * that answers each transaction with the committed one. Every step the loop takes must be
 * the committed step at the same position — input, inference, tool call and its outcome,
 * wallet step (recipient, value, calldata), output — in the same order. The first one that
 * differs is the mismatch: a payment the model did not ask for, a wallet step with no
 * inference behind it, a step out of place, a dropped inference.
 *
 * Runs the agent's code in this process: call it where that code is contained (the
 * verifier runs it in a sandboxed child process, src/verify/actionReplay/sandbox.ts).
 */
export async function replayAction(p: ReplayActionParameters): Promise<ActionReplayResult> {
  const split = actionAttempts(p.steps)
  if ('position' in split) return { status: 'mismatch', ...split }
  const { starts } = split
  let reproduced = 0
  let last: ActionReplayResult = { status: 'unverifiable', reason: 'the action has no committed steps' }
  for (const [i, from] of starts.entries()) {
    last = await replayAttempt({ ...p, steps: p.steps.slice(from, starts[i + 1]) })
    if (last.status === 'mismatch') return { ...last, position: from + last.position }
    if (last.status === 'unverifiable') return last
    reproduced += last.reproduced
  }
  return last.status === 'match' ? { ...last, reproduced } : last
}

/** One attempt of an action (see {@link actionAttempts}), replayed through the agent's code. */
async function replayAttempt(p: ReplayActionParameters): Promise<ActionReplayResult> {
  const steps = p.steps
  const cursor = new ReplayCursor(p.agentId, steps)
  const first = steps[0]
  if (!first) return { status: 'unverifiable', reason: 'the action has no committed steps' }
  if (first.kind !== 'input') return { status: 'mismatch', position: 0, reason: `the action does not start with its input: its first committed step is ${aStep(first)}` }

  const firstWallet = steps.find((s): s is Step & { kind: 'wallet' } => s.kind === 'wallet')
  const tools = p.agent.tools.map((t) => (t.effect.kind === 'none' ? recordedTool(t, cursor) : t))
  const agent: AgentDefinition = Object.freeze({ ...p.agent, tools: Object.freeze(tools) })
  const wallet = tools.some((t) => t.effect.kind !== 'none')
    ? createReplayWallet({ cursor, policy: agent.policy, policyVersion: firstWallet?.policyVersion ?? 1, address: p.account ?? firstWallet?.from })
    : undefined
  let runtime: AgentRuntime
  try {
    runtime = createAgentRuntime({
      agent,
      agentId: p.agentId,
      policyVersion: wallet?.policyVersion ?? 1,
      wal: cursor,
      wallet,
      chat: agent.model.kind === 'chat' ? createReplayChat({ cursor, agent }) : undefined,
      onnx: agent.model.kind === 'onnx' ? createReplayOnnx({ cursor, agent }) : undefined,
      now: () => cursor.now(),
      recordedReads: createReplayReads(cursor),
      // each step checked as the code reaches it, in the trace's order
      stepsBehindModelCalls: false,
      logger: silent,
    })
  } catch (err) {
    return { status: 'unverifiable', reason: `the agent's runtime cannot be built for the replay: ${messageOf(err)}` }
  }
  let thrown: unknown
  try {
    await runtime.run(first.task, { actionId: p.actionId })
  } catch (err) {
    thrown = err
  }
  const stop = cursor.stopped
  if (stop?.kind === 'mismatch') return { status: 'mismatch', position: stop.position, reason: stop.reason }
  if (stop?.kind === 'unverifiable') return { status: 'unverifiable', reason: stop.reason }
  if (cursor.position < cursor.shape.checked) {
    const next = steps[cursor.position] as Step
    const why = stop ? stop.reason : thrown !== undefined ? `it throws ${messageOf(thrown)}` : 'its action is over'
    return { status: 'mismatch', position: cursor.position, reason: `the agent's code stops here (${why}); the trace goes on with ${aStep(next)}` }
  }
  return { status: 'match', reproduced: cursor.position, shape: cursor.shape.kind }
}

/**
 * A tool that reads (or writes) the outside world — effect `none` — in a replay: the agent's
 * own argument parsing runs (the runtime's `parseArgs`), then the committed result is the
 * answer; the tool is never invoked again (a price feed, a board, a clock: inputs, not
 * things to re-fetch).
 */
function recordedTool(tool: AgentTool, cursor: ReplayCursor): AgentTool {
  return Object.freeze({
    ...tool,
    run: async (): Promise<unknown> => {
      const recorded = cursor.peek()
      if (!recorded) throw cursor.end(`the committed steps end before the result of tool "${tool.name}"`)
      if (recorded.kind !== 'tool' || recorded.tool !== tool.name) {
        throw cursor.mismatch(`the agent's code calls tool "${tool.name}" here; the trace has ${aStep(recorded)}${recorded.kind === 'tool' ? ` ("${recorded.tool}")` : ''}`)
      }
      if (recorded.outcome.status === 'ok') return recorded.outcome.result
      const { name, message } = recorded.outcome.error
      throw recordedError({ name, message: withoutSentNote(message), shortMessage: failedOutputMessage(cursor, name) })
    },
  })
}

function messageOf(err: unknown): string {
  const e = err as { name?: unknown; shortMessage?: unknown; message?: unknown } | null
  const text = typeof e?.shortMessage === 'string' ? e.shortMessage : typeof e?.message === 'string' ? e.message : String(err)
  return `${typeof e?.name === 'string' ? `${e.name}: ` : ''}${text.split('\n')[0] ?? ''}`.slice(0, 300)
}
