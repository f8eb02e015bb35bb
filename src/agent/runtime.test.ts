// Unit tests of the runtime's tool loop, with a scripted chat model in place of the
// inference container (runtime.integration.test.ts uses the real one) and a real anvil.
import { tool as lcTool } from '@langchain/core/tools'
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages'
import { parseEther, type Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import type { Step } from '../trace/schemas.js'
import { TraceWal } from '../trace/wal.js'
import { basePolicy, fundedAgentKey, memoryLogger, openWallet, randomAddress, startWalletChain, type WalletChain } from '../wallet/_fixtures.js'
import type { PolicyInput } from '../wallet/policy.js'
import { answer, fakeOnnx, scriptedChat, toolCall, type Script } from './_fixtures.js'
import { defineAgent } from './defineAgent.js'
import { defineTool, type ToolContext } from './defineTool.js'
import { createAgentRuntime } from './runtime.js'
import { wrapLangChainTool } from './wrapLangChainTool.js'

let c: WalletChain
beforeAll(async () => {
  c = await startWalletChain()
})
afterAll(async () => {
  await c?.stop()
})

const payTool = defineTool({
  name: 'pay',
  description: 'Pays an amount of wei to an address.',
  schema: z.object({
    to: z.string().describe('recipient address, 0x-prefixed'),
    amountWei: z.string().regex(/^\d+$/).describe('amount in wei, as a decimal string'),
  }),
  effect: { kind: 'pay' },
  invoke: async ({ to, amountWei }, { wallet }) => {
    const tx = await wallet.pay({ to: to as Address, value: BigInt(amountWei) })
    return { paid: amountWei, hash: tx.hash }
  },
})

const lookupTool = defineTool({
  name: 'lookup',
  description: 'Finds the address of a person by name.',
  schema: z.object({ name: z.string().describe('the person') }),
  effect: { kind: 'none' },
  invoke: ({ name }, ctx) => {
    // a none-effect tool gets no wallet at all
    if (ctx.wallet !== undefined) throw new Error('a none tool must not get a wallet')
    return { name, address: book.get(name) ?? null }
  },
})
const book = new Map<string, string>()

/** The last tool message the model was shown. */
const lastToolMessage = (messages: BaseMessage[]) => messages.filter((m) => m instanceof ToolMessage).at(-1)?.text ?? ''

async function setup(policy: (alice: Address) => PolicyInput, script: Script, extra: Partial<Parameters<typeof createAgentRuntime>[0]> = {}) {
  const key = await fundedAgentKey(c)
  const alice = randomAddress()
  book.set('alice', alice)
  const dir = await c.tmpDir()
  const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy: policy(alice), agentId: '7' })
  const agent = defineAgent({
    name: 'payer',
    instructions: 'Pay people when asked. Look up addresses first.',
    model: { kind: 'chat', model: 'covenant-chat' },
    tools: [payTool, lookupTool],
    policy: policy(alice),
    bond: { eth: parseEther('1') },
  })
  const chat = scriptedChat(script)
  const runtime = createAgentRuntime({ agent, agentId: 7n, policyVersion: 1, wal, wallet, chat, logger: memoryLogger().logger, ...extra })
  return { key, alice, wal, wallet, runtime, chat, dir }
}

const kinds = (steps: Step[]) => steps.map((s) => (s.kind === 'tool' ? `tool:${s.tool}` : s.kind))

describe('chat runtime (scripted model)', () => {
  test('a task runs through tools and the wallet, every step in order in the WAL', async () => {
    const { alice, wal, runtime } = await setup(
      (a) => basePolicy([a]),
      (messages, round) => {
        if (round === 0) return toolCall('lookup', { name: 'alice' })
        if (round === 1) {
          const { address } = JSON.parse(lastToolMessage(messages))
          return toolCall('pay', { to: address, amountWei: '1000' })
        }
        return answer(`Paid alice: ${lastToolMessage(messages)}`)
      },
    )
    const result = await runtime.run('Pay alice 1000 wei', { actionId: 'pay-1' })
    expect(await c.balance(alice)).toBe(1000n)
    expect(result.actionId).toBe('pay-1')
    expect(result.txHashes).toHaveLength(1)
    expect(result.output).toMatch(/^Paid alice: \{"hash":"0x[0-9a-f]{64}","paid":"1000"\}$/)
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:lookup', 'inference', 'wallet', 'tool:pay', 'inference', 'output'])
    expect(result.stepIndices).toEqual(steps.map((s) => s.index))
    const walletStep = steps[4]!
    const payStep = steps[5]!
    expect(walletStep).toMatchObject({ kind: 'wallet', actionId: 'pay-1', to: alice.toLowerCase(), value: '1000', data: '0x' })
    // the tool step after the wallet step carries the hash and receipt
    expect(payStep).toMatchObject({
      kind: 'tool',
      args: { to: alice, amountWei: '1000' },
      outcome: {
        status: 'ok',
        result: {
          returned: { paid: '1000', hash: result.txHashes[0] },
          transactions: [{ hash: result.txHashes[0], nonce: 0, walletStepIndex: 4, status: 'success', value: '1000' }],
        },
      },
    })
    expect(steps[0]).toMatchObject({ kind: 'input', task: 'Pay alice 1000 wei' })
    expect(steps.at(-1)).toMatchObject({ kind: 'output', result: { status: 'ok', output: result.output } })
    const inference = steps[1]!
    expect(inference.kind === 'inference' && inference.record.response).toMatchObject({ tool_calls: [{ name: 'lookup' }] })
    await wal.close()
  })

  test('action ids default to <agentId>-<12 hex>', async () => {
    const { wal, runtime } = await setup((a) => basePolicy([a]), () => answer('nothing to do'))
    const r = await runtime.run({ note: 'structured tasks are JSON' })
    expect(r.actionId).toMatch(/^7-[0-9a-f]{12}$/)
    expect(r.output).toBe('nothing to do')
    expect(r.txHashes).toEqual([])
    await wal.close()
  })

  test('malformed tool arguments: a typed error in the tool step and in the tool message; the run carries on', async () => {
    const seen: string[] = []
    const { alice, wal, runtime } = await setup(
      (a) => basePolicy([a]),
      (messages, round) => {
        if (round === 0) return toolCall('pay', { to: 'alice', amountWei: 12 })
        if (round === 1) {
          seen.push(lastToolMessage(messages))
          return new AIMessage({
            content: '',
            tool_calls: [{ name: 'nosuchtool', args: {}, id: 'x1', type: 'tool_call' }],
            invalid_tool_calls: [{ name: 'pay', args: '{"to": ', id: 'x2', error: 'Unexpected end of JSON input', type: 'invalid_tool_call' }],
          })
        }
        seen.push(...messages.filter((m) => m instanceof ToolMessage).slice(-2).map((m) => m.text))
        return answer('gave up')
      },
    )
    const r = await runtime.run('pay alice')
    expect(r.output).toBe('gave up')
    expect(seen[0]).toMatchInlineSnapshot(`
      "Error (ToolArgumentsError): Invalid arguments for tool "pay".

      - amountWei: Invalid input: expected string, received number
      Call the tool again with arguments that match its schema.
      Docs: src/agent/README.md"
    `)
    expect(seen[1]).toMatch(/ToolNotFoundError.*no tool named "nosuchtool"[\s\S]*Available tools: pay, lookup/)
    expect(seen[2]).toMatch(/ToolArgumentsError[\s\S]*not valid JSON: Unexpected end of JSON input/)
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:pay', 'inference', 'tool:nosuchtool', 'tool:pay', 'inference', 'output'])
    expect(steps[2]).toMatchObject({ args: { to: 'alice', amountWei: 12 }, outcome: { status: 'error', error: { name: 'ToolArgumentsError' } } })
    expect(steps[5]).toMatchObject({ args: { arguments: '{"to": ' }, outcome: { status: 'error', error: { name: 'ToolArgumentsError' } } })
    expect(await c.balance(alice)).toBe(0n)
    await wal.close()
  })

  test('refused beyond policy: the run fails with the policy error; nothing signed, no wallet step, the action is closed', async () => {
    const { key, alice, wal, runtime } = await setup(
      (a) => basePolicy([a], { maxValuePerTx: 500n }),
      (_m, round) => (round === 0 ? toolCall('pay', { to: book.get('alice')!, amountWei: '501' }) : answer('unreachable')),
    )
    const err = await runtime.run('pay alice 501 wei', { actionId: 'too-much' }).catch((e) => e)
    expect(err).toMatchObject({ name: 'PolicyViolationError', rule: 'ValueCap', limit: 500n, attempted: 501n })
    expect(await c.nonce(key.address)).toBe(0)
    expect(await c.balance(alice)).toBe(0n)
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:pay', 'output'])
    expect(steps[2]).toMatchObject({ outcome: { status: 'error', error: { name: 'PolicyViolationError' } } })
    expect(steps[3]).toMatchObject({ result: { status: 'failed', error: { name: 'PolicyViolationError' } } })
    await wal.close()
  })

  test('a model that never stops calling tools hits maxRounds; the action is closed as failed', async () => {
    const { wal, runtime } = await setup((a) => basePolicy([a]), () => toolCall('lookup', { name: 'bob' }), { maxRounds: 3 })
    await expect(runtime.run('loop')).rejects.toMatchObject({ name: 'AgentMaxRoundsError' })
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:lookup', 'inference', 'tool:lookup', 'inference', 'tool:lookup', 'output'])
    await wal.close()
  })

  test('UNSAFE tamperInference: the trace records a different output than the model gave, with a loud warning', async () => {
    const { logger, lines } = memoryLogger()
    const { wal, runtime } = await setup((a) => basePolicy([a]), () => answer('the truth'), {
      logger,
      unsafe: { tamperInference: (record) => ({ ...record, response: { content: 'a lie', tool_calls: [] } }) },
    })
    expect(lines.join('')).toMatch(/UNSAFE RUNTIME: unsafe.tamperInference is enabled/)
    const r = await runtime.run('say something')
    expect(r.output).toBe('the truth')
    const { steps } = await wal.readAll()
    const inference = steps.find((s) => s.kind === 'inference')!
    expect(inference.kind === 'inference' && inference.record.response).toEqual({ content: 'a lie', tool_calls: [] })
    expect(lines.join('')).toMatch(/writing a tampered inference record/)
    await wal.close()
  })

  test('UNSAFE tamperInference that leaves a record as it is: no per-record warning for it', async () => {
    const { logger, lines } = memoryLogger()
    const { wal, runtime } = await setup((a) => basePolicy([a]), () => answer('the truth'), { logger, unsafe: { tamperInference: (record) => record } })
    await runtime.run('say something')
    expect(lines.join('')).toMatch(/UNSAFE RUNTIME: unsafe.tamperInference is enabled/)
    expect(lines.join('')).not.toMatch(/writing a tampered inference record/)
    await wal.close()
  })

  test('a wrapped LangChain tool gets its wallet handle through config.configurable.covenant', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const policy = basePolicy([alice])
    const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy, agentId: '8' })
    const lcPay = lcTool(
      async ({ wei }: { wei: string }, config) => {
        const ctx = (config as { configurable: { covenant: ToolContext<{ kind: 'pay' }> } }).configurable.covenant
        const tx = await ctx.wallet.pay({ to: alice, value: BigInt(wei) })
        return `sent ${tx.hash}`
      },
      { name: 'lc_pay', description: 'Pays alice.', schema: z.object({ wei: z.string().describe('amount in wei') }) },
    )
    const agent = defineAgent({
      name: 'lc',
      instructions: '',
      model: { kind: 'chat', model: 'm' },
      tools: [wrapLangChainTool(lcPay, { effect: { kind: 'pay', recipients: [alice] } })],
      policy,
      bond: {},
    })
    const chat = scriptedChat((_m, round) => (round === 0 ? toolCall('lc_pay', { wei: '77' }) : answer('done')))
    const runtime = createAgentRuntime({ agent, agentId: '8', policyVersion: 1, wal, wallet, chat, logger: memoryLogger().logger })
    const r = await runtime.run('pay')
    expect(await c.balance(alice)).toBe(77n)
    expect(r.txHashes).toHaveLength(1)
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'wallet', 'tool:lc_pay', 'inference', 'output'])
    await wal.close()
  })

  test('configuration mistakes are refused up front', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]), agentId: '9' })
    const agent = defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [payTool], policy: basePolicy([alice]), bond: {} })
    const chat = scriptedChat(() => answer(''))
    expect(() => createAgentRuntime({ agent, agentId: '9', policyVersion: 1, wal, chat })).toThrow(/declare wallet effects, but no wallet/)
    expect(() => createAgentRuntime({ agent, agentId: '10', policyVersion: 1, wal, wallet, chat })).toThrow(/belongs to agent 9/)
    expect(() => createAgentRuntime({ agent, agentId: '9', policyVersion: 2, wal, wallet, chat })).toThrow(/policy version 1/)
    const other = defineAgent({ ...agent, policy: basePolicy([alice], { maxValuePerTx: 1n }), tools: [payTool] })
    expect(() => createAgentRuntime({ agent: other, agentId: '9', policyVersion: 1, wal, wallet, chat })).toThrow(/not the agent's policy/)
    await wal.close()
  })
})

describe('onnx runtime (stand-in model)', () => {
  test('input → inference → wallet → tool → output, the decision made from the model output', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const policy = basePolicy([alice])
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy, agentId: '11' })
    const agent = defineAgent({
      name: 'classifier',
      instructions: 'Reward good posts.',
      model: {
        kind: 'onnx',
        model: 'moderation',
        input: (task) => (task as { text: string }).text,
        decide: (output) => ((output as { label: string }).label === 'ok' ? [{ name: 'pay', args: { to: alice, amountWei: '5' } }] : []),
      },
      tools: [payTool],
      policy,
      bond: {},
    })
    const onnx = fakeOnnx((input) => ({ label: String(input).includes('spam') ? 'spam' : 'ok' }))
    const runtime = createAgentRuntime({ agent, agentId: '11', policyVersion: 1, wal, wallet, onnx, logger: memoryLogger().logger })
    const good = await runtime.run({ text: 'hello' })
    const spam = await runtime.run({ text: 'buy spam' })
    expect(good.txHashes).toHaveLength(1)
    expect(spam.txHashes).toHaveLength(0)
    expect(spam.output).toEqual({ toolResults: [] })
    expect(await c.balance(alice)).toBe(5n)
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'wallet', 'tool:pay', 'output', 'input', 'inference', 'output'])
    await wal.close()
  })
})

describe('recovery of interrupted actions', () => {
  test('an action left open by a crash is closed with its transactions and an interrupted output', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const policy = basePolicy([alice])
    // the crashed process: input, a paid transaction, then nothing
    {
      const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy, agentId: '12' })
      await wal.appendNext({ kind: 'input', actionId: 'open-1', timestamp: 1, task: 'pay alice' })
      await wallet.sendTransaction({ to: alice, value: 3n }, { actionId: 'open-1' })
      await wal.close()
    }
    const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy, agentId: '12' })
    const agent = defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [payTool], policy, bond: {} })
    const runtime = createAgentRuntime({ agent, agentId: '12', policyVersion: 1, wal, wallet, chat: scriptedChat(() => answer('ok')), logger: memoryLogger().logger })
    await runtime.run('next task', { actionId: 'next' })
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'wallet', 'tool:covenant.recover', 'output', 'input', 'inference', 'output'])
    const hash = wallet.getTransaction({ walletStepIndex: 1 })!.hash
    expect(steps[2]).toMatchObject({ actionId: 'open-1', args: { walletSteps: [1] }, outcome: { result: { transactions: [{ walletStepIndex: 1, state: 'mined', hash }] } } })
    expect(steps[3]).toMatchObject({ actionId: 'open-1', result: { status: 'interrupted', error: { name: 'ActionInterruptedError' } } })
    expect(await runtime.recover()).toEqual([])
    await wal.close()
  })
})

test('TraceWal is the one the runtime writes to (sanity: closed WAL → clear error, nothing acted on)', async () => {
  const dir = await c.tmpDir()
  const wal = await TraceWal.open({ dir, agentId: '13' })
  let ran = 0
  const counted = defineTool({ name: 'count', description: 'Counts.', schema: z.object({}), effect: { kind: 'none' }, invoke: () => ++ran })
  const agent = defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [counted], policy: basePolicy([randomAddress()]), bond: {} })
  let asked = 0
  const chat = scriptedChat((_m, round) => (asked++, round === 0 ? toolCall('count', {}) : answer('x')))
  const runtime = createAgentRuntime({ agent, agentId: '13', policyVersion: 1, wal, chat, logger: memoryLogger().logger })
  await runtime.recover()
  await wal.close()
  await expect(runtime.run('x')).rejects.toMatchObject({ name: 'WalAppendError' })
  // the first model call goes out while the input step is written behind it; its answer is
  // dropped when that write fails: no tool runs, no second call
  expect(asked).toBeLessThanOrEqual(1)
  expect(ran).toBe(0)
})

test('the input step is written behind the first model call, in its place; a failed `ready` check writes nothing of the action', async () => {
  const dir = await c.tmpDir()
  const wal = await TraceWal.open({ dir, agentId: '14' })
  try {
    const agent = defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [lookupTool], policy: basePolicy([randomAddress()]), bond: {} })
    const order: string[] = []
    wal.onAppend(({ step }) => void order.push(step.kind))
    const chat = scriptedChat((_m, round) => {
      order.push(`model ${round}`)
      return round === 0 ? toolCall('lookup', { name: 'alice' }) : answer('done')
    })
    const runtime = createAgentRuntime({ agent, agentId: '14', policyVersion: 1, wal, chat, logger: memoryLogger().logger })
    const r = await runtime.run('find alice')
    // each model call is asked before the step written behind it lands; the trace's order is unchanged
    expect(order).toEqual(['model 0', 'input', 'inference', 'model 1', 'tool', 'inference', 'output'])
    const { steps } = await wal.readAll()
    expect(steps.map((s) => s.kind)).toEqual(['input', 'inference', 'tool', 'inference', 'output'])
    expect(r.stepIndices).toEqual([0, 1, 2, 3, 4])
    // a check that fails: the action is refused with its error, and the trace holds nothing of it
    const down = Object.assign(new Error('the chain does not answer'), { name: 'ChainUnavailableError' })
    await expect(runtime.run('find bob', { ready: Promise.reject(down) })).rejects.toBe(down)
    expect(wal.head.nextIndex).toBe(5)
  } finally {
    await wal.close()
  }
})
