import { createModerationClassifier } from '../inference/moderation.js'
import { modelJudge, type Judge } from './judge.js'

/**
 * A model judge on the shipped moderation classifier (src/inference, ONNX on CPU): a
 * disputed step labelled spam, abuse or scam with at least `minScore` confidence is "at
 * fault"; below it the verifier abstains.
 */
export async function moderationJudge(options: { minScore?: number | undefined; faultLabels?: readonly string[] | undefined } = {}): Promise<Judge> {
  const classifier = await createModerationClassifier()
  return modelJudge({
    name: 'moderation',
    faultLabels: options.faultLabels ?? ['spam', 'abuse', 'scam'],
    minScore: options.minScore ?? 0.6,
    classify: async (text) => {
      const { output } = await classifier.classify(text)
      return { label: output.label, score: output.scores[output.label] }
    },
  })
}
