/**
 * moderation — classifies posts with the shipped ONNX classifier (models/moderation) and
 * publishes a decision for each. No LLM: the classifier's label decides the tool call, so
 * every decision is exactly replayable by anyone holding the model digest.
 */
import { parseEther } from 'viem'
import { z } from 'zod'
import { defineAgent, defineTool } from '../../../src/agent/index.js'

/** Labels whose posts are taken down. */
export const REMOVE = new Set(['spam', 'abuse', 'scam'])

export const publishDecision = defineTool({
  name: 'publish_decision',
  description: 'Publish the moderation decision for a post: keep it up or take it down.',
  schema: z.object({
    postId: z.string().min(1).max(64).describe('the id of the post'),
    label: z.enum(['ok', 'spam', 'abuse', 'scam']).describe('the label the classifier gave'),
    action: z.enum(['keep', 'remove']).describe('what happens to the post'),
  }),
  effect: { kind: 'none' },
  invoke: ({ postId, label, action }) => ({ postId, label, action, publishedAt: 'on-trace' }),
})

export const postSchema = z.object({ postId: z.string().min(1).max(64), text: z.string().min(1).max(4000) })
export type Post = z.infer<typeof postSchema>
export type ModerationLabel = 'ok' | 'spam' | 'abuse' | 'scam'

/** The one tool call for a post with a label: publish it, and take the post down unless it is ok. */
export function decision(postId: string, label: ModerationLabel) {
  return { name: 'publish_decision', args: { postId, label, action: REMOVE.has(label) ? 'remove' : 'keep' } }
}

export default defineAgent({
  name: 'moderation',
  instructions: 'Classify each post with the moderation model and publish keep/remove for it.',
  model: {
    kind: 'onnx',
    model: 'moderation',
    input: (task) => postSchema.parse(task).text,
    decide: (output, task) => [decision(postSchema.parse(task).postId, (output as { label: ModerationLabel }).label)],
  },
  tools: [publishDecision],
  policy: { maxValuePerTx: 0n, challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
  bond: { eth: parseEther('2') },
  replay: { mode: 'exact' },
})
