// A `call` tool that reads the outside world (`ToolContext.read`) before and after it pays:
// live, the reads are recorded in its tool step; in a replay the tool's own code runs again on
// the recorded reads — the world is never asked twice — and must arrive at the committed
// wallet step. A read rewritten, dropped or added is a mismatch; an action cut before the
// tool step that holds the reads cannot be replayed past them (never a mismatch).
import { concat, encodeAbiParameters, getAddress, parseEther, toFunctionSelector } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { defineAgent } from '../../agent/defineAgent.js'
import { defineTool } from '../../agent/defineTool.js'
import { createModerationClassifier } from '../../inference/moderation.js'
import type { OnnxInference } from '../../agent/runtime.js'
import type { Step } from '../../trace/index.js'
import { closeLiveAgents, liveAgent, liveWallet } from './_liveRun.js'
import { replayAction } from './replayAction.js'

const SHOP = getAddress('0x0000000000000000000000000000000000005409')
const BUY = toFunctionSelector('buy(uint256)')

/** The outside world: a quote that changes on every ask, and a receipt desk that may be down. */
const world = { quotes: 0, receipts: 0, desk: 'up' as 'up' | 'down' }

const buy = defineTool({
  name: 'buy',
  description: 'Buys one item at the price the shop quotes now.',
  schema: z.object({ postId: z.string().describe('what to buy') }),
  effect: { kind: 'call', targets: [SHOP], selectors: [BUY] },
  invoke: async ({ postId }, { wallet, read, callIndex }) => {
    const quote = await read('quote', () => ({ price: String(1_000 + ++world.quotes) }))
    const tx = await wallet.call({ to: SHOP, data: concat([BUY, encodeAbiParameters([{ type: 'uint256' }], [BigInt(quote.price)])]) })
    let receipt: string
    try {
      receipt = await read('receipt', () => {
        if (world.desk === 'down') throw new Error('the receipt desk is down')
        return `r-${++world.receipts}`
      })
    } catch (err) {
      receipt = `none (${(err as Error).message})`
    }
    return { postId, price: quote.price, tx: tx.hash, receipt, callIndex }
  },
})

const shopper = defineAgent({
  name: 'shopper',
  instructions: 'Buy one item for every post.',
  model: { kind: 'onnx', model: 'moderation', input: (task) => (task as { text: string }).text, decide: (_o, task) => [{ name: 'buy', args: { postId: (task as { postId: string }).postId } }] },
  tools: [buy],
  policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [SHOP], allowedSelectors: [BUY] },
  bond: { eth: parseEther('1') },
  replay: { mode: 'exact' },
})

let onnx: OnnxInference
beforeAll(async () => {
  onnx = await createModerationClassifier()
}, 120_000)
afterAll(() => closeLiveAgents())

let n = 0
async function liveAction(): Promise<{ actionId: string; steps: Step[] }> {
  const live = await liveAgent(shopper, { onnx })
  const actionId = `7-${(++n).toString(16).padStart(12, '0')}`
  const steps = await live.run({ postId: `p-${n}`, text: 'great product, fast shipping' }, actionId)
  expect(steps.map((s) => s.kind)).toEqual(['input', 'inference', 'wallet', 'tool', 'output'])
  return { actionId, steps }
}
const tool = (steps: Step[]) => steps[3] as Step & { kind: 'tool' }
const replay = (actionId: string, steps: Step[]) => replayAction({ agent: shopper, agentId: '7', actionId, steps })

describe('reads of the outside world from a paying tool', () => {
  test('are recorded in the tool step and fed back in the replay, which never asks the world again', async () => {
    world.desk = 'up'
    const { actionId, steps } = await liveAction()
    expect(tool(steps).outcome).toEqual({
      status: 'ok',
      result: expect.objectContaining({ returned: expect.objectContaining({ price: String(1_000 + world.quotes), receipt: `r-${world.receipts}`, callIndex: 0 }) }),
      reads: [
        { label: 'quote', value: { price: String(1_000 + world.quotes) } },
        { label: 'receipt', value: `r-${world.receipts}` },
      ],
    })
    const asked = { ...world }
    expect(await replay(actionId, steps)).toEqual({ status: 'match', reproduced: 5, shape: 'closed' })
    expect(world).toEqual(asked)
    // the output step of an ONNX action lists the call's outcome without its reads
    expect(JSON.stringify(steps[4])).not.toContain('"reads"')
  })

  test('a read that threw is recorded as its error and thrown again in the replay', async () => {
    world.desk = 'down'
    const { actionId, steps } = await liveAction()
    expect(tool(steps).outcome.reads?.[1]).toEqual({ label: 'receipt', error: { name: 'Error', message: 'the receipt desk is down' } })
    expect(await replay(actionId, steps)).toEqual({ status: 'match', reproduced: 5, shape: 'closed' })
    world.desk = 'up'
  })

  test('a wallet refusal after a read (no wallet step): the error outcome keeps the read, and the replay refuses alike', async () => {
    const live = await liveAgent(shopper, { onnx, wallet: (wal) => liveWallet(wal, shopper.policy, { refuseAll: true }) })
    const actionId = `7-${(++n).toString(16).padStart(12, '0')}`
    const steps = await live.run({ postId: 'p-refused', text: 'great product, fast shipping' }, actionId)
    expect(steps.map((s) => s.kind)).toEqual(['input', 'inference', 'tool', 'output'])
    const t = steps[2] as Step & { kind: 'tool' }
    expect(t.outcome).toMatchObject({ status: 'error', error: { name: 'PolicyViolationError' }, reads: [{ label: 'quote' }] })
    expect(await replay(actionId, steps)).toEqual({ status: 'match', reproduced: 4, shape: 'closed' })
  })

  test('a recorded quote rewritten after the fact (the wallet paid another price) is a mismatch at the wallet step', async () => {
    const { actionId, steps } = await liveAction()
    const t = tool(steps)
    const forged = { ...t, outcome: { ...t.outcome, reads: [{ label: 'quote', value: { price: '999' } }, t.outcome.reads![1]!] } } as Step
    const r = await replay(actionId, [...steps.slice(0, 3), forged, steps[4]!])
    expect(r).toMatchObject({ status: 'mismatch', position: 2 })
    expect(r.status === 'mismatch' && r.reason).toMatch(/^the agent's code pays 0x0000000000000000000000000000000000005409 0 wei \(data 0xd96a094a00…0003e7\) here; the trace's wallet step pays /)
    // the word that differs — the amount — is named, not only the ends of the data
    expect(r.status === 'mismatch' && r.reason).toContain(`the data first differs in bytes 4–35: 0x${(999).toString(16).padStart(64, '0')} here`)
  })

  test('reads dropped from the tool step, or one relabelled, are a mismatch', async () => {
    const { actionId, steps } = await liveAction()
    const t = tool(steps)
    const { reads: _dropped, ...bare } = t.outcome
    const r1 = await replay(actionId, [...steps.slice(0, 3), { ...t, outcome: bare } as Step, steps[4]!])
    expect(r1).toEqual({ status: 'mismatch', position: 2, reason: 'the agent\'s code makes read 1 ("quote") in tool "buy"; its committed tool step records 0 reads' })
    const relabelled = { ...t, outcome: { ...t.outcome, reads: [{ ...t.outcome.reads![0]!, label: 'price' }, t.outcome.reads![1]!] } } as Step
    const r2 = await replay(actionId, [...steps.slice(0, 3), relabelled, steps[4]!])
    expect(r2).toMatchObject({ status: 'mismatch', position: 2, reason: expect.stringContaining('the trace records a read of "price"') })
  })

  test('an action cut before the tool step that holds the reads cannot be replayed past them — unverifiable, never a mismatch', async () => {
    const { actionId, steps } = await liveAction()
    const r = await replay(actionId, steps.slice(0, 3))
    expect(r).toMatchObject({ status: 'unverifiable', reason: expect.stringContaining('tool "buy" read the outside world ("quote")') })
  })
})
