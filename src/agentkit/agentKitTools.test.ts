import { AgentKit, customActionProvider, erc20ActionProvider, walletActionProvider } from '@coinbase/agentkit'
import { describe, expect, it } from 'vitest'
import { z as z3 } from 'zod/v3'
import type { ToolContext } from '../agent/defineTool.js'
import { agentKitTools, CovenantWalletProvider } from './index.js'

const ctx = (wallet?: ToolContext['wallet']): ToolContext =>
  Object.freeze({
    actionId: '1-000000000001',
    agentId: '1',
    toolCallId: 't',
    callIndex: 0,
    wallet,
    address: '0x1111111111111111111111111111111111111111',
    read: async <T,>(_label: string, fetch: () => T | Promise<T>) => fetch(),
  })

async function kit(provider = new CovenantWalletProvider({ chainId: 31337 })) {
  return { provider, agentKit: await AgentKit.from({ walletProvider: provider, actionProviders: [walletActionProvider(), erc20ActionProvider()] }) }
}

describe('CovenantWalletProvider', () => {
  it('refuses raw signing with what to do instead', async () => {
    const { provider } = await kit()
    await expect(provider.signMessage('hello')).rejects.toMatchObject({ name: 'RawSigningRefusedError', method: 'signMessage' })
    await expect(provider.signTransaction({ to: '0x1111111111111111111111111111111111111111' })).rejects.toMatchObject({ name: 'RawSigningRefusedError' })
    await expect(provider.sign(`0x${'00'.repeat(32)}`)).rejects.toMatchObject({ name: 'RawSigningRefusedError' })
    const typed = await provider.signTypedData({}).catch((e: Error) => e)
    expect(typed).toMatchObject({ name: 'RawSigningRefusedError', method: 'signTypedData' })
    expect((typed as Error).message).toContain('pass an `authorizer`')
  })

  it('acts only inside a tool call; holds no key; never phones home', async () => {
    const { provider } = await kit()
    expect(() => provider.getAddress()).toThrow(/outside a Covenant tool call/)
    await expect(provider.nativeTransfer('0x1111111111111111111111111111111111111111', '1')).rejects.toMatchObject({ name: 'OutsideToolCallError' })
    expect(JSON.stringify(provider)).toBe('{"provider":"covenant_wallet_provider","chainId":31337}')
    expect(provider.getNetwork()).toEqual({ protocolFamily: 'evm', chainId: '31337' })
    expect(() => new CovenantWalletProvider({ chainId: 0 })).toThrow(/chainId/)
  })

  it('refuses a read without an rpcUrl, with the fix; AgentKit posts nothing to its analytics', async () => {
    const posted: string[] = []
    const realFetch = globalThis.fetch
    globalThis.fetch = (async (input: string | URL | Request) => {
      posted.push(String(input instanceof Request ? input.url : input))
      throw new Error('offline')
    }) as typeof fetch
    try {
      const { agentKit } = await kit()
      const [details] = agentKitTools(agentKit, { include: ['WalletActionProvider_get_wallet_details'] })
      // AgentKit turns the error into its answer; the read never happened
      expect(await details!.run({}, ctx())).toMatch(/has no rpcUrl/)
      await new Promise((r) => setTimeout(r, 20))
    } finally {
      globalThis.fetch = realFetch
    }
    // its telemetry (the wallet's address and the action's name, to cca-lite.coinbase.com) is switched off
    expect(posted).toEqual([])
  })
})

describe('agentKitTools', () => {
  it('needs an effect for every action it does not know, and names them', async () => {
    const { agentKit } = await kit()
    const err = (() => {
      try {
        agentKitTools(agentKit)
      } catch (e) {
        return e as Error
      }
    })()
    expect(err?.name).toBe('AgentDefinitionError')
    expect(err?.message).toContain('action "ERC20ActionProvider_transfer" has no effect')
    expect(err?.message).not.toContain('WalletActionProvider_native_transfer"')
    expect(() => agentKitTools(agentKit, { include: ['nope'] })).toThrow(/include names "nope"/)
  })

  it("checks amounts and addresses of AgentKit's money-moving actions beyond AgentKit's own schemas", async () => {
    const { agentKit } = await kit()
    const [native, erc20] = agentKitTools(agentKit, {
      include: ['WalletActionProvider_native_transfer', 'ERC20ActionProvider_transfer'],
      effects: { ERC20ActionProvider_transfer: { kind: 'call', targets: ['0x2222222222222222222222222222222222222222'], selectors: ['0xa9059cbb'] } },
    })
    const to = '0x1111111111111111111111111111111111111111'
    expect((await native!.parseArgs({ to, value: '0.25' })).ok).toBe(true)
    for (const value of ['-1', '0', '1e3', '0.0', ' 1']) expect((await native!.parseArgs({ to, value })).ok, value).toBe(false)
    expect((await native!.parseArgs({ to: 'vitalik.eth', value: '1' })).ok).toBe(false)
    const token = '0x2222222222222222222222222222222222222222'
    expect((await erc20!.parseArgs({ amount: '12.5', tokenAddress: token, destinationAddress: to })).ok).toBe(true)
    expect((await erc20!.parseArgs({ amount: '-3', tokenAddress: token, destinationAddress: to })).ok).toBe(false)
  })

  it('an action whose effect is `none` cannot send: refused before any wallet step, and the refusal ends the tool call', async () => {
    const { agentKit } = await kit()
    const [transfer] = agentKitTools(agentKit, { include: ['WalletActionProvider_native_transfer'], effects: { WalletActionProvider_native_transfer: { kind: 'none' } } })
    expect(transfer!.effect).toEqual({ kind: 'none' })
    const e = await transfer!.run({ to: '0x1111111111111111111111111111111111111111', value: '0.1' }, ctx()).catch((x: Error) => x)
    expect(e).toMatchObject({ name: 'AgentKitEffectError', tool: 'WalletActionProvider_native_transfer' })
  })

  it('a `pay` action asked to call a contract is refused before the handle: it needs a `call` effect with targets and selectors', async () => {
    const provider = new CovenantWalletProvider({ chainId: 31337 })
    // an action that, like AgentKit's own, turns every error into its answer
    const approve = customActionProvider<CovenantWalletProvider>({
      name: 'approve_all',
      description: 'Approves a spender for a token.',
      schema: z3.object({ token: z3.string().describe('the token') }) as never,
      invoke: async (wp: CovenantWalletProvider, args: { token: `0x${string}` }) =>
        wp.sendTransaction({ to: args.token, data: '0x095ea7b3' }).then(String, (e: unknown) => `Error: ${String(e)}`),
    })
    const agentKit = await AgentKit.from({ walletProvider: provider, actionProviders: [approve] })
    const asked: unknown[] = []
    const pay = Object.freeze({ pay: async (p: unknown) => void asked.push(p) as never })
    const [tool] = agentKitTools(agentKit, { effects: { CustomActionProvider_approve_all: { kind: 'pay' } } })
    const e = await tool!.run({ token: '0x2222222222222222222222222222222222222222' }, ctx(pay as never)).catch((x: Error) => x)
    expect(e).toMatchObject({ name: 'AgentKitEffectError', tool: 'CustomActionProvider_approve_all' })
    expect((e as Error).message).toContain('call a contract (0x2222222222222222222222222222222222222222, selector 0x095ea7b3)')
    expect(asked).toEqual([])
  })
})
