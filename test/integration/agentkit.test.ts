// Coinbase AgentKit's own action providers, paying through the agent's Covenant wallet on a
// real anvil chain: a deployed agent (examples/agents/agentkit, bundled and registered) runs
// AgentKit's WalletActionProvider native_transfer; its transfers are policy-checked, traced
// before signing, executed by the AgentAccount, committed, covered on chain and verified by
// replaying the agent's registered code. An AgentKit with its own wallet is refused.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentKit, ViemWalletProvider, walletActionProvider } from '@coinbase/agentkit'
import { createWalletClient, http, parseEther, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import agent, { PAYEES } from '../../examples/agents/agentkit/agent.js'
import { actionIdFor, deployOperator, Example, hostOperator, verdicts, type Operator } from '../../examples/agents/_shared/harness.js'
import { defineAgent, wrapLangChainTool } from '../../src/agent/index.js'
import { agentKitTools } from '../../src/agentkit/index.js'
import { getAccount } from '../../src/bonds/index.js'
import type { AgentHost } from '../../src/service/index.js'
import type { Step } from '../../src/trace/index.js'

const ATTACKER = '0x000000000000000000000000000000000000dEaD' as const
let dir: string
let ex: Example
let op: Operator
let host: AgentHost

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-agentkit-'))
  ex = await Example.start('agentkit', { dataDir: dir, inference: false })
  op = await deployOperator(ex, { label: 'payer', agent, source: 'examples/agents/agentkit/agent.ts', ownerIndex: 1 })
  host = await hostOperator(ex, op)
}, 240_000)

afterAll(async () => {
  await ex?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const kinds = (steps: Step[]) => steps.map((s) => (s.kind === 'tool' ? `tool:${s.tool}` : s.kind))
const balance = (address: Hex) => ex.stack.client.publicClient.getBalance({ address })

describe('AgentKit native_transfer through the CovenantWalletProvider', () => {
  let paid: string
  let refused: string

  it('pays an allowlisted payee: wallet step before the transaction, sent by the agent account', async () => {
    const before = await balance(PAYEES['Northwind Ltd'])
    const account = await getAccount(ex.stack.client, op.agentId)
    paid = actionIdFor(op.agentId, 'northwind')
    const r = await host.run({ text: 'Invoice INV-2041 from Northwind Ltd: 0.25 ETH for GPU hours in March.', to: PAYEES['Northwind Ltd'], amountEth: '0.25' }, paid)
    expect(r.txHashes, JSON.stringify((await host.action(paid)).steps.filter((s) => s.kind === 'tool'))).toHaveLength(1)
    expect(await balance(PAYEES['Northwind Ltd'])).toBe(before + parseEther('0.25'))
    const { steps } = await host.action(paid)
    expect(kinds(steps)).toEqual(['input', 'inference', 'wallet', 'tool:WalletActionProvider_native_transfer', 'output'])
    const w = steps[2]!
    expect(w.kind === 'wallet' && [w.from, w.to, w.value, w.data]).toEqual([account.address.toLowerCase(), PAYEES['Northwind Ltd'].toLowerCase(), parseEther('0.25').toString(), '0x'])
    const tool = steps[3]!
    // AgentKit's own answer, with the hash of the account's transaction
    expect(tool.kind === 'tool' && tool.outcome).toMatchObject({ status: 'ok', result: { returned: expect.stringContaining(r.txHashes[0]!) } })
    const tx = await ex.stack.client.publicClient.getTransaction({ hash: r.txHashes[0]! })
    expect(tx.to?.toLowerCase()).toBe(account.address.toLowerCase())
    expect((await getAccount(ex.stack.client, op.agentId)).callCount).toBe(account.callCount + 1)
  })

  it('refuses a payee off the allowlist before signing: no wallet step, nothing sent, the action fails', async () => {
    const account = await getAccount(ex.stack.client, op.agentId)
    refused = actionIdFor(op.agentId, 'attacker')
    const err = await host
      .run({ text: 'Invoice INV-2042 from Northwind Ltd: 0.5 ETH for GPU hours in April.', to: ATTACKER, amountEth: '0.5' }, refused)
      .catch((e: unknown) => e)
    // AgentKit turns errors into strings; the refusal still ends the action as the wallet's error
    expect(err).toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed' })
    const { steps } = await host.action(refused)
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:WalletActionProvider_native_transfer', 'output'])
    expect(steps[2]!.kind === 'tool' && steps[2]!.outcome).toMatchObject({ status: 'error', error: { name: 'PolicyViolationError' } })
    expect(await balance(ATTACKER)).toBe(0n)
    expect((await getAccount(ex.stack.client, op.agentId)).callCount).toBe(account.callCount)
  })

  it('commits both actions: the account call is covered on chain and covenant verify calls them honest', async () => {
    await host.flush()
    const account = await getAccount(ex.stack.client, op.agentId)
    expect(account.coveredCalls).toBe(account.callCount)
    const reports = await verdicts(ex, [op], [paid, refused])
    expect([reports.get(paid)?.verdict, reports.get(refused)?.verdict], JSON.stringify([...reports.values()].map((r) => r.reasons))).toEqual(['honest', 'honest'])
  }, 240_000)
})

describe('AgentKit with its own wallet', () => {
  it('is refused at defineAgent (its LangChain-wrapped actions) and by agentKitTools, before anything is sent', async () => {
    const walletClient = createWalletClient({ account: ex.stack.accounts[3]!, transport: http(ex.stack.rpcUrl), chain: ex.stack.client.publicClient.chain })
    const own = await AgentKit.from({ walletProvider: new ViemWalletProvider(walletClient as never), actionProviders: [walletActionProvider()] })
    // what @coinbase/agentkit-langchain's getLangChainTools makes of each action: a tool with its name, schema and invoke
    const wrapped = own.getActions().map((a) => wrapLangChainTool({ name: a.name, description: a.description, schema: a.schema, invoke: (args: never) => a.invoke(args) }, { effect: { kind: 'pay' } }))
    const before = await balance(ATTACKER)
    expect(() =>
      defineAgent({ ...agent, tools: wrapped, policy: agent.policy, bond: agent.bond, model: agent.model }),
    ).toThrowErrorMatchingInlineSnapshot(`
      [AgentDefinitionError: Invalid agent "agentkit-payer".

      - tool "WalletActionProvider_get_wallet_details" is a Coinbase AgentKit action that pays from AgentKit's own wallet provider, around the agent's policy and trace: build AgentKit with \`new CovenantWalletProvider({ chainId, rpcUrl })\` and give the agent \`agentKitTools(agentKit, { effects })\` (covenant/agentkit)
      - tool "WalletActionProvider_native_transfer" is a Coinbase AgentKit action that pays from AgentKit's own wallet provider, around the agent's policy and trace: build AgentKit with \`new CovenantWalletProvider({ chainId, rpcUrl })\` and give the agent \`agentKitTools(agentKit, { effects })\` (covenant/agentkit)
      Docs: src/agent/README.md]
    `)
    expect(() => agentKitTools(own)).toThrowErrorMatchingInlineSnapshot(`
      [AgentDefinitionError: Invalid AgentKit tools.

      - the AgentKit's wallet provider is "viem_wallet_provider": its actions would pay from that wallet, around the agent's policy and trace
      - build it with AgentKit.from({ walletProvider: new CovenantWalletProvider({ chainId, rpcUrl }), actionProviders })
      Docs: src/agent/README.md]
    `)
    expect(await balance(ATTACKER)).toBe(before)
  })
})
