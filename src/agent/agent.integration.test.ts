// Integration: real inference (the inference container started in-process on port 0, with
// the shipped covenant-chat model, and the shipped ONNX moderation classifier), a real
// anvil chain, a real WAL, keystore and wallet. No fakes.
import { getAddress, parseEther, type Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { createModerationClassifier, replay, startInferenceServer, type InferenceServer } from '../inference/index.js'
import type { Step, WalletStep } from '../trace/schemas.js'
import { basePolicy, fundedAgentKey, memoryLogger, openWallet, randomAddress, startWalletChain, type WalletChain } from '../wallet/_fixtures.js'
import { buildManifest, createAgentRuntime, defineAgent, defineTool } from './index.js'

let c: WalletChain
let server: InferenceServer
beforeAll(async () => {
  ;[c, server] = await Promise.all([startWalletChain(), startInferenceServer({ port: 0 })])
})
afterAll(async () => {
  await Promise.all([c?.stop(), server?.close()])
})

const kinds = (steps: Step[]) => steps.map((s) => (s.kind === 'tool' ? `tool:${s.tool}` : s.kind))
const invoice = (id: string, eth: string, to: Address) => `Invoice ${id} from Northwind Ltd: please pay ${eth} ETH to ${to} for GPU hours.`

/** The treasury agent, in a dozen lines. */
function treasury(vendors: Address[]) {
  const payInvoice = defineTool({
    name: 'pay_invoice',
    description: 'Pay an invoice in ETH to the address printed on it.',
    schema: z.object({
      invoiceId: z.string().describe('the invoice number'),
      to: z.string().describe('the address printed on the invoice'),
      amountEth: z.string().describe('the amount in ETH'),
    }),
    effect: { kind: 'pay' },
    invoke: async ({ to, amountEth }, { wallet }) => ({ status: 'paid', txHash: (await wallet.pay({ to: getAddress(to), value: parseEther(amountEth) })).hash }),
  })
  return defineAgent({
    name: 'treasury',
    instructions: 'You are a treasury agent. Pay valid invoices with the pay_invoice tool.',
    model: { kind: 'chat', model: 'covenant-chat', baseURL: server.baseURL },
    tools: [payInvoice],
    policy: basePolicy(vendors, { maxValuePerTx: parseEther('1'), dailyBudget: parseEther('2') }),
    bond: { eth: parseEther('1') },
  })
}

describe('treasury agent on the inference container and anvil', () => {
  test('pays within policy, is refused beyond it, and every transaction is a wallet step', async () => {
    const key = await fundedAgentKey(c)
    const [northwind, contoso] = [randomAddress(), randomAddress()]
    const agent = treasury([northwind, contoso])
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), agentId: '21', account: key.account, policy: agent.policy })
    // no `chat` given: the runtime makes the recorded chat model for agent.model.baseURL
    const runtime = createAgentRuntime({ agent, agentId: 21n, policyVersion: 1, wal, wallet, logger: memoryLogger().logger })

    const paid = await runtime.run(invoice('INV-2041', '0.25', northwind))
    expect(paid.output).toBe('Paid INV-2041.')
    expect(paid.txHashes).toHaveLength(1)
    expect(await c.balance(northwind)).toBe(parseEther('0.25'))
    const second = await runtime.run(invoice('INV-77', '0.5', contoso))
    expect(second.output).toBe('Paid INV-77.')
    expect(await c.balance(contoso)).toBe(parseEther('0.5'))

    // beyond maxValuePerTx: refused before anything is signed
    const nonceBefore = await c.nonce(key.address)
    const refused = await runtime.run(invoice('INV-9', '1.5', northwind)).catch((e) => e)
    expect(refused).toMatchObject({ name: 'PolicyViolationError', rule: 'ValueCap', limit: parseEther('1'), attempted: parseEther('1.5') })
    // off the allowlist
    const stranger = randomAddress()
    const offList = await runtime.run(invoice('INV-10', '0.1', stranger)).catch((e) => e)
    expect(offList).toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed', attempted: stranger })
    expect(await c.nonce(key.address)).toBe(nonceBefore)
    expect(await c.balance(stranger)).toBe(0n)
    expect(await c.balance(northwind)).toBe(parseEther('0.25'))

    const { steps } = await wal.readAll()
    const ofAction = (id: string) => kinds(steps.filter((s) => s.actionId === id))
    expect(ofAction(paid.actionId)).toEqual(['input', 'inference', 'wallet', 'tool:pay_invoice', 'inference', 'output'])
    expect(ofAction(refused.actionId ?? '')).toEqual([])
    const refusedAction = steps.filter((s) => s.kind === 'input' && s.task === invoice('INV-9', '1.5', northwind))[0]!.actionId
    expect(ofAction(refusedAction)).toEqual(['input', 'inference', 'tool:pay_invoice', 'output'])
    // every inference is the container's recorded exchange, replayable exactly
    const inferences = steps.filter((s) => s.kind === 'inference')
    expect(inferences.length).toBe(2 + 2 + 1 + 1)
    for (const s of inferences) expect(s.kind === 'inference' && [s.record.backend, s.record.replay]).toEqual(['openai-compatible', 'exact'])
    for (const s of inferences) expect(s.kind === 'inference' && (await replay(s.record)).match).toBe(true)

    // every transaction the agent sent is a wallet step with matching to/value/data/nonce
    const walletSteps = steps.filter((s): s is WalletStep => s.kind === 'wallet')
    expect(walletSteps).toHaveLength(2)
    expect(await c.nonce(key.address)).toBe(walletSteps.length)
    for (const [i, hash] of [...paid.txHashes, ...second.txHashes].entries()) {
      const tx = await c.client.getTransaction({ hash })
      const step = walletSteps[i]!
      expect([tx.to, tx.value.toString(), tx.input, tx.nonce]).toEqual([step.to, step.value, step.data, step.nonce])
    }
    // the manifest commits to the same agent
    const { manifest } = buildManifest(agent, { modelDigests: { 'covenant-chat': server.models.find((m) => m.kind === 'chat')!.model.digest } })
    expect(manifest.tools[0]!.name).toBe('pay_invoice')
    await wal.close()
  })
})

describe('moderation agent on the shipped ONNX classifier', () => {
  const moderation = () =>
    defineAgent({
      name: 'moderation',
      instructions: 'Classify each post and publish keep/remove.',
      model: {
        kind: 'onnx',
        model: 'moderation',
        input: (task) => (task as { text: string }).text,
        decide: (output, task) => {
          const { label } = output as { label: string }
          return [{ name: 'publish', args: { postId: (task as { postId: string }).postId, action: label === 'ok' ? 'keep' : 'remove' } }]
        },
      },
      tools: [
        defineTool({
          name: 'publish',
          description: 'Publish a moderation decision.',
          schema: z.object({ postId: z.string().describe('the post'), action: z.enum(['keep', 'remove']).describe('keep or remove') }),
          effect: { kind: 'none' },
          invoke: (args) => args,
        }),
      ],
      policy: basePolicy([], { maxValuePerTx: 0n }),
      bond: {},
    })

  test('input → inference (exactly replayable) → tool → output; a tampered record fails replay', async () => {
    const classifier = await createModerationClassifier()
    const dir = await c.tmpDir()
    const { wal } = await openWallet(c, { dir, agentId: '22', account: (await fundedAgentKey(c, '1')).account, policy: basePolicy([], { maxValuePerTx: 0n }) })
    const honest = createAgentRuntime({ agent: moderation(), agentId: '22', policyVersion: 1, wal, onnx: classifier, logger: memoryLogger().logger })
    const r = await honest.run({ postId: 'p1', text: 'Had a lovely walk in the park with my dog today.' })
    expect(r.output).toEqual({ toolResults: [{ tool: 'publish', outcome: { status: 'ok', result: { postId: 'p1', action: 'keep' } } }] })
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:publish', 'output'])
    const inference = steps[1]!
    if (inference.kind !== 'inference') throw new Error('expected an inference step')
    expect(inference.record).toMatchObject({ backend: 'onnx', replay: 'exact', modelDigest: classifier.backend.model.digest })
    expect((await replay(inference.record)).match).toBe(true)

    // a dishonest operator reports other logits than the model gave
    const liar = createAgentRuntime({
      agent: moderation(),
      agentId: '22',
      policyVersion: 1,
      wal,
      onnx: classifier,
      logger: memoryLogger().logger,
      unsafe: {
        tamperInference: (record) => {
          const response = structuredClone(record.response) as { outputs: { data: string }[] }
          const bytes = Buffer.from(response.outputs[0]!.data, 'base64')
          bytes[0] = bytes[0]! ^ 1
          response.outputs[0]!.data = bytes.toString('base64')
          return { ...record, response }
        },
      },
    })
    await liar.run({ postId: 'p2', text: 'Had a lovely walk in the park with my dog today.' })
    const lied = (await wal.readAll()).steps.filter((s) => s.kind === 'inference').at(-1)!
    expect(lied.kind === 'inference' && (await replay(lied.record)).match).toBe(false)
    await wal.close()
  })
})
