import { createInterface } from 'node:readline/promises'
import type { Hex } from 'viem'
import type { Batch, Step } from '../trace/index.js'

/**
 * Subjective claims ("the agent's answer was abusive", "it ignored the instructions") have
 * no proof: each verifier puts them to its own judge and signs what the judge says. A judge
 * may abstain; the verifier then does not vote.
 */
export type JudgeInput = {
  disputeId: bigint
  agentId: bigint
  sequence: bigint
  stepIndex: number
  /** The claim hash the challenger committed to. */
  subject: Hex
  /** The claim's text, where the verifier could find it. */
  claim?: string | undefined
  /** The disputed step, when its batch could be fetched. */
  step?: Step | undefined
  batch?: Batch | undefined
}

export type JudgeVerdict = { agentAtFault: boolean; reason: string } | { abstain: true; reason: string }

export interface Judge {
  readonly name: string
  judge(input: JudgeInput): Promise<JudgeVerdict>
}

/** A judge from a function: `true` at fault, `false` not, `undefined` abstain. */
export function ruleJudge(
  name: string,
  rule: (input: JudgeInput) => boolean | undefined | Promise<boolean | undefined>,
): Judge {
  return {
    name: `rule ${name}`,
    async judge(input) {
      const v = await rule(input)
      if (v === undefined) return { abstain: true, reason: `rule ${name} has no opinion` }
      return { agentAtFault: v, reason: `rule ${name} says ${v ? 'at fault' : 'not at fault'}` }
    },
  }
}

/** The text a model or a person judges: the claim, then the step as JSON. */
export function judgeText(input: JudgeInput): string {
  const parts: string[] = []
  if (input.claim) parts.push(`Claim: ${input.claim}`)
  if (input.step) {
    const s = input.step
    const body =
      s.kind === 'output' ? s.result : s.kind === 'input' ? s.task : s.kind === 'tool' ? { tool: s.tool, args: s.args, outcome: s.outcome } : s
    parts.push(typeof body === 'string' ? body : JSON.stringify(body))
  }
  return parts.join('\n')
}

export type Classifier = (text: string) => Promise<{ label: string; score?: number | undefined }>

/**
 * A judge backed by a model: a classifier (for instance the shipped ONNX moderation model,
 * run through src/inference) labels the disputed step; listed labels mean "at fault".
 * Below `minScore` it abstains.
 */
export function modelJudge(options: {
  name?: string | undefined
  classify: Classifier
  faultLabels: readonly string[]
  minScore?: number | undefined
  text?: ((input: JudgeInput) => string) | undefined
}): Judge {
  const name = options.name ?? 'model'
  return {
    name: `model ${name}`,
    async judge(input) {
      if (!input.step && !input.claim) return { abstain: true, reason: 'nothing to judge: the step could not be fetched' }
      const { label, score } = await options.classify((options.text ?? judgeText)(input))
      if (score !== undefined && options.minScore !== undefined && score < options.minScore) {
        return { abstain: true, reason: `${name}: '${label}' at ${score.toFixed(3)} is below ${options.minScore}` }
      }
      const atFault = options.faultLabels.includes(label)
      return { agentAtFault: atFault, reason: `${name} labels the step '${label}'${score === undefined ? '' : ` (${score.toFixed(3)})`}` }
    },
  }
}

/**
 * A person at a terminal: shows the claim and the step and asks y/n (anything else
 * abstains). Refuses to run without a TTY so that a verifier in the background never
 * blocks on a question nobody sees.
 */
export function promptJudge(
  options: { input?: NodeJS.ReadableStream | undefined; output?: NodeJS.WritableStream | undefined; requireTty?: boolean | undefined } = {},
): Judge {
  const input = options.input ?? process.stdin
  const output = options.output ?? process.stderr
  return {
    name: 'prompt',
    async judge(j) {
      if ((options.requireTty ?? true) && !(input as { isTTY?: boolean }).isTTY) {
        return { abstain: true, reason: 'no terminal to ask' }
      }
      const rl = createInterface({ input, output, terminal: false })
      try {
        output.write(
          [
            '',
            `Dispute #${j.disputeId} (subjective) against agent ${j.agentId}, batch ${j.sequence}, step ${j.stepIndex}`,
            `claim hash ${j.subject}`,
            judgeText(j) || '(the step could not be fetched)',
            '',
          ].join('\n'),
        )
        const answer = (await rl.question('Is the agent at fault? [y/n, anything else abstains] ')).trim().toLowerCase()
        if (answer === 'y' || answer === 'yes') return { agentAtFault: true, reason: 'a person answered yes' }
        if (answer === 'n' || answer === 'no') return { agentAtFault: false, reason: 'a person answered no' }
        return { abstain: true, reason: 'a person abstained' }
      } finally {
        rl.close()
      }
    },
  }
}
