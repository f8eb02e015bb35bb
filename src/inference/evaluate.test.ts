import { describe, expect, test } from 'vitest'
import { evaluateChat, evaluateModeration } from './evaluate.js'
import { shippedModelStore } from './modelStore.js'

type SplitFigures = Record<string, { size: number; accuracy?: number; exactMatch?: number }>
const meta = (name: string) => shippedModelStore().get(name).meta as { eval: { torch: SplitFigures } }

/** The figures in meta.json (measured in PyTorch by build.py) hold for the shipped ONNX files. */
describe('shipped eval sets through ONNX Runtime', () => {
  test('moderation', async () => {
    const figures = await evaluateModeration()
    for (const [split, m] of Object.entries(meta('moderation').eval.torch)) {
      expect([split, figures.bySplit[split]]).toEqual([split, { size: m.size, accuracy: m.accuracy }])
    }
    expect(figures.bySplit['unseen-templates']!.accuracy).toBeGreaterThanOrEqual(0.95)
  })

  test('covenant-chat: exact match of the tool calls / answers', async () => {
    const figures = await evaluateChat()
    for (const [split, m] of Object.entries(meta('covenant-chat').eval.torch)) {
      expect([split, figures.bySplit[split]]).toEqual([split, { size: m.size, accuracy: m.exactMatch }])
    }
    expect(figures.bySplit['heldout']!.accuracy).toBeGreaterThanOrEqual(0.95)
    expect(figures.bySplit['shipped']!.accuracy).toBe(1)
  })
})
