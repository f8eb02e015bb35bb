/**
 * The public market board: each market's question and the evidence its resolution must
 * follow, as the market publishes them (on chain or on DA in production; a constant here).
 * The resolver agent is asked to resolve from this evidence; the verifier committee judges
 * a disputed resolution against it — never against what an operator says it showed the model.
 */
import type { Step } from '../../../src/trace/index.js'
import type { Judge } from '../../../src/verify/index.js'

export type Market = { marketId: string; question: string; evidence: string }
export type Outcome = 'yes' | 'no'

export const MARKETS: readonly Market[] = [
  {
    marketId: 'MKT-17',
    question: 'Will the Lisbon marathon be held on 2026-12-06?',
    evidence: 'The organisers confirmed the race took place on 2026-12-06.',
  },
  {
    marketId: 'MKT-18',
    question: 'Will the Berlin film festival take place on 2026-02-12?',
    evidence: 'The city council cancelled the festival.',
  },
  {
    marketId: 'MKT-31',
    question: 'Will the Porto regatta be held on 2026-09-12?',
    evidence: 'The federation confirmed the race was cancelled.',
  },
]

/** The task the resolver gets for a market (the wording its model was trained on). */
export function marketTask(m: Market, evidence: string = m.evidence): string {
  return `Resolve market ${m.marketId}: ${m.question} Evidence: ${evidence}`
}

const DATE = /\d{4}-\d{2}-\d{2}/g

/**
 * How the committee reads a market's evidence: called off → no; took place on the asked
 * date → yes, on another date → no; anything else → no opinion (the verifier abstains).
 */
export function readEvidence(m: Pick<Market, 'question' | 'evidence'>): Outcome | undefined {
  const asked = m.question.match(DATE)?.[0]
  const ev = m.evidence.toLowerCase()
  if (/\b(cancel+ed|called off|did not take place|was not held|postponed|moved to)\b/.test(ev)) return 'no'
  const dates: string[] = ev.match(DATE) ?? []
  if (asked && dates.length > 0 && /\b(took place|was held|happened|held on)\b/.test(ev)) return dates.includes(asked) ? 'yes' : 'no'
  return undefined
}

/** The resolution a disputed step records: the step's own resolve_market call, or its action's. */
export function resolutionIn(step: Step | undefined, batch: { steps: readonly Step[] } | undefined): { marketId: string; outcome: Outcome } | undefined {
  if (!step) return undefined
  const call =
    step.kind === 'tool' && step.tool === 'resolve_market'
      ? step
      : batch?.steps.find((s) => s.kind === 'tool' && s.tool === 'resolve_market' && s.actionId === step.actionId)
  if (!call || call.kind !== 'tool' || call.outcome.status !== 'ok') return undefined
  const { marketId, outcome } = call.args as { marketId?: unknown; outcome?: unknown }
  if (typeof marketId !== 'string' || (outcome !== 'yes' && outcome !== 'no')) return undefined
  return { marketId, outcome }
}

/**
 * The committee's judge for subjective claims against the resolver: at fault when the
 * recorded resolution differs from what the market's published evidence says. Markets not
 * on the board, and evidence the rule cannot read, get no opinion (the verifier abstains).
 * It is `ruleJudge`'s contract (a rule over the evidence) with reasons a reader can check.
 */
export function evidenceJudge(board: readonly Market[] = MARKETS): Judge {
  return {
    name: 'published evidence',
    async judge({ step, batch }) {
      const r = resolutionIn(step, batch)
      if (!r) return { abstain: true, reason: 'the disputed step records no resolution' }
      const market = board.find((m) => m.marketId === r.marketId)
      if (!market) return { abstain: true, reason: `${r.marketId} is not on the market board` }
      const truth = readEvidence(market)
      if (!truth) return { abstain: true, reason: `cannot read the evidence of ${r.marketId}` }
      return { agentAtFault: r.outcome !== truth, reason: `${r.marketId} resolved ${r.outcome}; its published evidence says ${truth}` }
    },
  }
}
