import { getAddress } from 'viem'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { defineAgent } from './defineAgent.js'
import { defineTool } from './defineTool.js'

const alice = '0x00000000000000000000000000000000000a11ce'
const bob = '0x0000000000000000000000000000000000000b0b'
const policy = { maxValuePerTx: 10n ** 18n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [alice] }
const pay = (recipients: string[]) =>
  defineTool({
    name: 'pay',
    description: 'Pays someone.',
    schema: z.object({ to: z.string().describe('recipient'), wei: z.string().describe('amount in wei') }),
    effect: { kind: 'pay', recipients: recipients as `0x${string}`[] },
    invoke: ({ to, wei }, { wallet }) => wallet.pay({ to: to as `0x${string}`, value: BigInt(wei) }),
  })

describe('defineAgent', () => {
  test('returns a frozen, validated definition with defaults filled in', () => {
    const agent = defineAgent({ name: 'payer', instructions: 'Pay invoices.', model: { kind: 'chat', model: 'covenant-chat' }, tools: [pay([alice])], policy, bond: { eth: 10n ** 17n } })
    expect(Object.isFrozen(agent)).toBe(true)
    expect(Object.isFrozen(agent.policy.allowedTargets)).toBe(true)
    expect(Object.isFrozen(agent.tools)).toBe(true)
    expect(agent.replay).toEqual({ mode: 'exact' })
    expect(agent.bond).toEqual({ eth: 10n ** 17n, token: 0n })
    expect(agent.policy.allowedTargets).toEqual([getAddress(alice)])
    expect(() => {
      ;(agent as { name: string }).name = 'other'
    }).toThrow()
  })

  test('refuses tools the policy would always refuse, duplicate names, a bad model, policy or bond', () => {
    expect(() =>
      defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm', baseURL: 'ftp://x' }, tools: [pay([bob]), pay([alice])], policy, bond: { eth: -1n } }),
    ).toThrowErrorMatchingInlineSnapshot(`
      [AgentDefinitionError: Invalid agent "a".

      - model.baseURL must be an http(s) URL
      - two tools are named "pay"
      - tool "pay" may pay 0x0000000000000000000000000000000000000B0b, which the policy's allowedTargets do not include
      - bond.eth must be wei (a non-negative bigint)
      Docs: src/agent/README.md]
    `)
    expect(() => defineAgent({ name: 'a', instructions: '', model: { kind: 'onnx', model: 'm' } as never, tools: [], policy: { ...policy, maxValuePerTx: 'lots' }, bond: {} })).toThrow(
      /model.decide must be a function[\s\S]*policy.maxValuePerTx/,
    )
    expect(() => defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [{ name: 'fake' } as never], policy, bond: {} })).toThrow(
      /defineTool\(\), wrapLangChainTool\(\), agentKitTools\(\) or mcpTools\(\)/,
    )
  })

  test('refuses a Coinbase AgentKit action not backed by the Covenant wallet, saying how', () => {
    // an AgentKit action wrapped by hand (or by agentkit-langchain) keeps AgentKit's name and pays from AgentKit's own wallet
    const transfer = defineTool({
      name: 'WalletActionProvider_native_transfer',
      description: 'Transfers native tokens.',
      schema: z.object({ to: z.string().describe('to'), value: z.string().describe('amount') }),
      effect: { kind: 'none' },
      invoke: () => 'sent from AgentKit',
    })
    expect(() => defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [transfer], policy, bond: {} })).toThrow(
      /tool "WalletActionProvider_native_transfer" is a Coinbase AgentKit action that pays from AgentKit's own wallet provider[\s\S]*CovenantWalletProvider[\s\S]*agentKitTools\(agentKit, \{ effects \}\)/,
    )
    // a tool of the same style that is not an AgentKit action name is fine
    const own = defineTool({ name: 'native_transfer', description: transfer.description, schema: transfer.schema, effect: { kind: 'none' }, invoke: transfer.invoke })
    expect(defineAgent({ name: 'a', instructions: '', model: { kind: 'chat', model: 'm' }, tools: [own], policy, bond: {} }).tools).toHaveLength(1)
  })

  test('one rule for names: letters, digits, "-" and "_", 1 to 64 characters, not starting with "-"', () => {
    const define = (name: unknown) => defineAgent({ name: name as string, instructions: '', model: { kind: 'chat', model: 'm' }, tools: [], policy, bond: {} })
    for (const ok of ['a', 'treasury', 'market_resolver-2', '_x', '0', 'A'.repeat(64)]) expect(define(ok).name).toBe(ok)
    for (const bad of ['', '.', '..', '../x', 'x/y', 'x\\y', 'a b', ' a', 'a\n', '-rf', '--help', 'é', 'a.b', 'A'.repeat(65), 7, null, undefined]) {
      expect(() => define(bad), JSON.stringify(bad)).toThrow(/name .*an agent name is 1 to 64 letters, digits, "-" or "_", not starting with "-"/)
    }
    // a long name is quoted short, not echoed
    let message = ''
    try {
      define('x'.repeat(10_000))
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatchInlineSnapshot(`
      "Invalid agent "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… (10000 characters).

      - name "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… (10000 characters): an agent name is 1 to 64 letters, digits, "-" or "_", not starting with "-"
      Docs: src/agent/README.md"
    `)
  })

  test('an onnx agent declares its decision function and a tolerance replay', () => {
    const agent = defineAgent({
      name: 'mod',
      instructions: 'Moderate posts.',
      model: { kind: 'onnx', model: 'moderation', decide: () => [] },
      tools: [],
      policy,
      bond: {},
      replay: { mode: 'tolerance', tolerance: { maxAbsDiff: 1e-5 } },
    })
    expect(agent.replay).toEqual({ mode: 'tolerance', tolerance: { maxAbsDiff: 1e-5, argmax: true } })
  })
})
