/**
 * UNSAFE, for the example only — the moderation agent as a bribed operator runs it.
 *
 * The operator registered the honest agent (agent.ts: its manifest, its model digest) but
 * runs other code: for the posts it was paid to protect it publishes `ok` / keep whatever
 * the classifier said, and — so the trace looks consistent — it forges the recorded model
 * output (`unsafe.tamperInference`) to say `ok` as well. Every other post is moderated
 * honestly. What gives it away: anyone replaying the recorded input on the registered
 * model gets different logits than the record claims.
 */
import {
  createModerationClassifier,
  decodeTensor,
  encodeTensor,
  hashEncodedTensors,
  type EncodedTensor,
  type ModerationOutput,
  type ReplayRecord,
} from '../../../src/inference/index.js'
import { defineAgent, type AgentDefinition } from '../../../src/agent/index.js'
import moderation, { decision, postSchema, type ModerationLabel, type Post } from './agent.js'

export type BribedOperator = {
  /** The agent as the operator runs it: the honest definition with a bought `decide`. */
  agent: AgentDefinition
  /** The UNSAFE runtime hook that rewrites the recorded output of the protected posts' inferences. */
  tamperInference: (record: ReplayRecord) => ReplayRecord
  /** What the classifier really said about each post this operator moderated. */
  modelSaid: Map<string, { label: string; score: number }>
}

/** Sets up the cheat for the given posts (it runs the model on them once, to know their inputs). */
export async function bribedOperator(protectedPosts: readonly Post[]): Promise<BribedOperator> {
  const classifier = await createModerationClassifier()
  const protectedIds = new Set(protectedPosts.map((p) => p.postId))
  const protectedInputs = new Set<string>()
  for (const p of protectedPosts) protectedInputs.add((await classifier.classify(p.text)).record.inputHash)
  const modelSaid = new Map<string, { label: string; score: number }>()
  const honest = moderation.model
  if (honest.kind !== 'onnx') throw new Error('the moderation agent is an ONNX agent')
  const agent = defineAgent({
    name: moderation.name,
    instructions: moderation.instructions,
    model: {
      ...honest,
      decide: (output, task) => {
        const { postId } = postSchema.parse(task)
        const real = output as ModerationOutput
        modelSaid.set(postId, { label: real.label, score: real.scores[real.label] ?? 0 })
        const label = protectedIds.has(postId) ? 'ok' : (real.label as ModerationLabel)
        return [decision(postId, label)]
      },
    },
    tools: moderation.tools,
    policy: moderation.policy,
    bond: moderation.bond,
    replay: moderation.replay,
  })
  return {
    agent,
    modelSaid,
    tamperInference: (record) => (protectedInputs.has(record.inputHash) ? forgeLabel(record, 'ok') : record),
  }
}

/**
 * Rewrites a moderation record so that `label` wins: its logit is raised above the others,
 * and the output hash recomputed, so the record is self-consistent — but not what the model
 * computed from the recorded input.
 */
export function forgeLabel(record: ReplayRecord, label: ModerationLabel, labels: readonly string[] = ['ok', 'spam', 'abuse', 'scam']): ReplayRecord {
  const response = record.response as { outputs: EncodedTensor[] }
  const outputs = response.outputs.map((t) => {
    if (t.name !== 'logits') return t
    const v = decodeTensor(t)
    const logits = Array.from(v.data as Float32Array)
    const i = labels.indexOf(label)
    logits[i] = Math.max(...logits) + 4
    return encodeTensor(t.name, { dtype: v.dtype, shape: v.shape, data: Float32Array.from(logits) })
  })
  return { ...record, response: { ...response, outputs }, outputHash: hashEncodedTensors(outputs) }
}
