/**
 * market resolver — resolves prediction-market questions from the evidence it is given.
 * The LLM calls `resolve_market` with the outcome; whether that outcome is right is a
 * judgement call, so a challenger who disagrees opens a *subjective claim* and the
 * verifier committee decides (the intersubjective path), with a larger challenger bond.
 */
import { parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent, defineTool } from '../../../src/agent/index.js'

export const resolveMarket = defineTool({
  name: 'resolve_market',
  description: 'Record the outcome of a prediction market.',
  schema: z.object({
    marketId: z.string().min(1).max(64).describe('the market id, e.g. MKT-17'),
    outcome: z.enum(['yes', 'no']).describe('how the question resolved, given the evidence'),
  }),
  effect: { kind: 'none' },
  invoke: ({ marketId, outcome }) => ({ marketId, outcome, resolved: true }),
})

export default defineAgent({
  name: 'market-resolver',
  instructions: 'Resolve each market from the evidence given: call resolve_market with its id and yes or no.',
  model: { kind: 'chat', model: 'covenant-chat' },
  tools: [resolveMarket],
  policy: { maxValuePerTx: 0n, challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
  bond: { eth: parseEther('5') },
  replay: { mode: 'exact' },
})
