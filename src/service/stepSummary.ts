import { formatEther } from 'viem'
import type { Hex } from 'viem'
import type { Step } from '../trace/schemas.js'
import { MAX_STEP_SUMMARY, type StepEvent } from './taskFeed.js'

/**
 * The stream's view of a step just appended to the WAL: its place, kind, leaf and a
 * readable line. Only what is safe to show anyone watching the task: the model and how
 * long it took, the tool and whether it succeeded, a transaction's recipient, value and
 * nonce (public once sent) — never the task, arguments, results, prompts or answers.
 */
export function stepEvent(step: Step, leaf: Hex, seq: number): StepEvent {
  return { seq, index: step.index, kind: step.kind, actionId: step.actionId, timestamp: step.timestamp, leaf, summary: clip(summarize(step)) }
}

function summarize(step: Step): string {
  switch (step.kind) {
    case 'input':
      return 'task received'
    case 'inference': {
      const r = step.record
      const model = r.model?.name ?? `model ${r.modelDigest.slice(0, 10)}…`
      return `model call: ${model} (${r.backend}, ${Math.round(r.timing.durationMs)} ms)`
    }
    case 'tool':
      return step.outcome.status === 'ok' ? `tool call: ${step.tool} → ok` : `tool call: ${step.tool} → ${step.outcome.error.name}`
    case 'wallet': {
      const calldata = (step.data.length - 2) / 2
      const call = calldata > 0 ? `, ${calldata} bytes of calldata` : ''
      return `wallet: ${formatEther(BigInt(step.value))} ETH to ${step.to} (nonce ${step.nonce}${call}), policy v${step.policyVersion}`
    }
    case 'output': {
      const r = step.result as { status?: unknown; error?: { name?: unknown } } | null
      const status = r && typeof r === 'object' && typeof r.status === 'string' ? r.status : 'done'
      const name = r && typeof r === 'object' && typeof r.error?.name === 'string' ? `: ${r.error.name}` : ''
      return `output: ${status}${name}`
    }
  }
}

function clip(s: string): string {
  return s.length <= MAX_STEP_SUMMARY ? s : `${s.slice(0, MAX_STEP_SUMMARY - 1)}…`
}
