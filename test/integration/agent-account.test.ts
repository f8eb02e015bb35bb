import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createWalletClient, encodeFunctionData, getAddress, http, keccak256, parseEther, toBytes, zeroAddress, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { activateUpdate, depositBond, getAgent, increaseTime, proposeUpdate, registerAgent } from '../../src/bonds/index.js'
import { Committer } from '../../src/bonds/committer.js'
import { agentAccountAbi, testTokenAbi, traceLogAbi } from '../../src/bonds/generated/abis.js'
import { rpcTransport } from '../../src/http/rpcTransport.js'
import { TraceWal } from '../../src/trace/wal.js'
import { createAgentWallet, type AgentWallet, type CreateAgentWalletParameters } from '../../src/wallet/agentWallet.js'
import type { PolicyInput } from '../../src/wallet/policy.js'
import { startTestChain, type TestChain } from '../fixtures/chain.js'

// The wallet on the agent account (issue 10), against a real anvil: every payment is an
// `execute` call signed by a session key; the chain enforces the policy in force, the daily
// budget and the step binding. A dishonest operator (off-chain check switched off) gains
// nothing: the chain refuses before anything is written or signed.
const SHOP = getAddress('0x0000000000000000000000000000000000005409')
const VENDOR = getAddress('0x000000000000000000000000000000000000beef')
const MALLORY = getAddress('0x000000000000000000000000000000000bad1dea')

let chain: TestChain
let dir: string
let agentId: bigint
let account: Address
const signerKey = generatePrivateKey()
const signer = privateKeyToAccount(signerKey)
const policy: PolicyInput = {
  maxValuePerTx: parseEther('1'),
  dailyBudget: parseEther('3'),
  challengeWindow: 3_600,
  commitDeadline: 600,
  allowedTargets: [SHOP],
  allowedSelectors: [],
}

beforeAll(async () => {
  chain = await startTestChain()
  dir = mkdtempSync(join(tmpdir(), 'covenant-agent-account-'))
  const owner = chain.as(1)
  ;({ agentId } = await registerAgent(owner, { operator: chain.account(2).address, wallet: signer.address, manifestHash: keccak256(toBytes('m')), policy }))
  // the bond covers what the policy can move in a commit deadline + challenge window (2 × 3 ETH)
  await depositBond(owner, { agentId, eth: parseEther('10') })
  account = (await getAgent(chain.reader, agentId)).account
  await fund(account, parseEther('10'))
  await fund(signer.address, parseEther('1'))
})

/** The owner sends `value` to `to` and waits for it to be mined. */
async function fund(to: Address, value: bigint) {
  const owner = chain.as(1)
  const hash = await owner.walletClient.sendTransaction({ to, value, account: owner.walletClient.account, chain: owner.walletClient.chain })
  await owner.publicClient.waitForTransactionReceipt({ hash })
}

afterAll(async () => {
  await theWal?.close()
  await chain?.stop()
  rmSync(dir, { recursive: true, force: true })
})

// one WAL and one outbox for the agent, as in a service; each test opens its own wallet on them
let theWal: TraceWal | undefined
// the wallet's clock follows the chain's (the budget's UTC day is the block's)
let skewMs = 0
const clock = () => Date.now() + skewMs
async function advance(seconds: number) {
  await increaseTime(chain.reader.publicClient, seconds)
  skewMs += seconds * 1000
}
/** A wallet of `on` (default: the agent under test) on a WAL, paying through its account. */
function walletOn(
  wal: TraceWal,
  o: { account?: Address; outbox?: string; policy?: PolicyInput; policyVersion?: number; extra?: Partial<CreateAgentWalletParameters> } = {},
) {
  return createAgentWallet({
    account: signer,
    chain: chain.reader.publicClient.chain!,
    wal,
    policy: o.policy ?? policy,
    policyVersion: o.policyVersion ?? 1,
    agentAccount: o.account ?? account,
    outboxDir: join(dir, o.outbox ?? 'outbox'),
    pollingIntervalMs: 50,
    logger: pino({ level: 'silent' }),
    now: clock,
    ...o.extra,
  })
}

async function openWallet(o: { unsafe?: boolean; follow?: boolean } = {}): Promise<{ wallet: AgentWallet; wal: TraceWal }> {
  const wal = (theWal ??= await TraceWal.open({ dir: join(dir, 'wal'), agentId: agentId.toString() }))
  const followTheChain = async () => {
    const a = await getAgent(chain.reader, agentId)
    return { version: a.activeVersion, policy: a.active.policy }
  }
  const extra: Partial<CreateAgentWalletParameters> = {
    ...(o.unsafe ? { unsafe: { skipPolicyCheck: true } } : {}),
    ...(o.follow ? { policySource: followTheChain } : {}),
  }
  return { wallet: await walletOn(wal, { extra }), wal }
}

async function executedLeaves(): Promise<Hex[]> {
  const logs = await chain.reader.publicClient.getContractEvents({ address: account, abi: agentAccountAbi, eventName: 'Executed', fromBlock: 0n })
  return logs.map((l) => l.args.leaf!)
}

const balance = (a: Address) => chain.reader.publicClient.getBalance({ address: a })
const callCount = () => chain.reader.publicClient.readContract({ address: account, abi: agentAccountAbi, functionName: 'callCount' })
const coveredCalls = () =>
  chain.reader.publicClient.readContract({ address: chain.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [agentId] })
function memoryDa() {
  return { put: async (blob: Uint8Array) => keccak256(blob) }
}

/** Another agent on the same signer key: registered, bonded, its account funded, and a WAL of its own. */
async function anotherAgent(name: string, o: { bond: bigint; funds: bigint; policy?: PolicyInput }) {
  const owner = chain.as(1)
  const p = o.policy ?? policy
  const { agentId: id } = await registerAgent(owner, { operator: chain.account(2).address, wallet: signer.address, manifestHash: keccak256(toBytes(name)), policy: p })
  await depositBond(owner, { agentId: id, eth: o.bond })
  const acct = (await getAgent(chain.reader, id)).account
  await fund(acct, o.funds)
  const wal = await TraceWal.open({ dir: join(dir, `wal-${name}`), agentId: id.toString() })
  return { id, acct, wal, open: (extra?: Partial<CreateAgentWalletParameters>) => walletOn(wal, { account: acct, outbox: `outbox-${name}`, policy: p, ...(extra ? { extra } : {}) }) }
}

describe('the wallet on the agent account', () => {
  it('pays from the account; the step the WAL holds is the call the account executed', async () => {
    const { wallet, wal } = await openWallet()
    expect(wallet.mode).toBe('account')
    expect(wallet.address).toBe(account)
    const before = await balance(account)
    const sent = await wallet.sendTransaction({ to: SHOP, value: parseEther('0.5') }, { actionId: `${agentId}-000000000001` })
    expect(sent.receipt.status).toBe('success')
    expect(await balance(SHOP)).toBe(parseEther('0.5'))
    expect(before - (await balance(account))).toBe(parseEther('0.5'))
    const { steps, leaves } = await wal.readAll()
    const step = steps.at(-1)!
    expect(step).toMatchObject({ kind: 'wallet', from: account.toLowerCase(), to: SHOP.toLowerCase(), value: parseEther('0.5').toString(), policyVersion: 1 })
    // the account computed the same leaf from the call's own arguments
    expect(await executedLeaves()).toEqual([leaves.at(-1)])
  })

  it('an agent whose bond does not cover two days of its budget cannot act (BondTooLowError, nothing written)', async () => {
    const small = await anotherAgent('small', { bond: parseEther('5'), funds: parseEther('1') }) // 6 needed
    const wal = small.wal
    try {
      const wallet = await small.open()
      const err = await wallet.sendTransaction({ to: SHOP, value: 1n }, { actionId: `${small.id}-000000000001` }).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'BondTooLowError', bondEth: parseEther('5'), requiredBond: parseEther('6') })
      expect(wal.head.nextIndex).toBe(0)
    } finally {
      await wal.close()
    }
  })

  it('an account that holds less than the call sends: TransactionPreparationError naming the account and its balance, nothing written', async () => {
    const poor = await anotherAgent('poor', { bond: parseEther('10'), funds: parseEther('0.1') })
    const wal = poor.wal
    try {
      const wallet = await poor.open()
      const err = await wallet.sendTransaction({ to: SHOP, value: parseEther('0.5') }, { actionId: `${poor.id}-000000000001` }).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'TransactionPreparationError' })
      expect(String((err as Error).message)).toContain(`insufficient funds: the agent account ${poor.acct} holds ${parseEther('0.1')} wei, the call sends ${parseEther('0.5')} wei`)
      expect(wal.head.nextIndex).toBe(0)
      // within its funds, the same wallet pays
      await wallet.sendTransaction({ to: SHOP, value: parseEther('0.05') }, { actionId: `${poor.id}-000000000002` })
      expect(wal.head.nextIndex).toBe(1)
    } finally {
      await wal.close()
    }
  })

  it('the account balance is read once, then tracked; a withdrawal by the owner since is refused by the chain and named, nothing written', async () => {
    const tracked = await anotherAgent('tracked', { bond: parseEther('10'), funds: parseEther('0.3') })
    const { acct, wal } = tracked
    const reads: unknown[] = []
    const transport = rpcTransport(chain.anvil.rpcUrl, {
      onFetchRequest: (_req, init) => {
        for (const r of [JSON.parse(init.body as string) as { method: string; params: unknown[] }].flat()) {
          if (r.method === 'eth_getBalance' && String(r.params[0]).toLowerCase() === acct.toLowerCase()) reads.push(r.params[1])
        }
      },
    })
    try {
      const wallet = await walletOn(wal, { account: acct, outbox: 'outbox-tracked', extra: { transport } })
      const pay = (i: number, value: bigint) => wallet.sendTransaction({ to: SHOP, value }, { actionId: `${tracked.id}-${String(i).padStart(12, '0')}` })
      await pay(1, parseEther('0.1'))
      expect(reads).toEqual(['pending'])
      await pay(2, parseEther('0.1')) // the floor (0.3 − 0.1) covers it: no read
      expect(reads).toHaveLength(1)
      expect(wal.head.nextIndex).toBe(2)
      // the owner takes the rest out; the wallet's floor (0.1) still covers a 0.05 call
      const owner = chain.as(1)
      await owner.publicClient.waitForTransactionReceipt({
        hash: await owner.walletClient.writeContract({
          address: acct,
          abi: agentAccountAbi,
          functionName: 'ownerWithdraw',
          args: [zeroAddress, owner.walletClient.account.address, parseEther('0.1')],
          account: owner.walletClient.account,
          chain: owner.walletClient.chain,
        }),
      })
      expect(await balance(acct)).toBe(0n)
      const err = await pay(3, parseEther('0.05')).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'TransactionPreparationError' })
      expect(String((err as Error).message)).toContain(`insufficient funds: the agent account ${acct} holds 0 wei, the call sends ${parseEther('0.05')} wei`)
      expect(reads).toHaveLength(2) // read to name the cause
      expect(wal.head.nextIndex).toBe(2)
      // funded again, the next call reads the balance afresh (the floor was dropped) and pays
      await fund(acct, parseEther('0.2'))
      await pay(4, parseEther('0.05'))
      expect(reads).toHaveLength(3)
      expect(wal.head.nextIndex).toBe(3)
      expect(await balance(acct)).toBe(parseEther('0.15'))
    } finally {
      await wal.close()
    }
  })

  it('a call of a shape estimated before is simulated once at that gas, not estimated, with the fees of the last fill while they are fresh; one that needs more gas now is estimated again', async () => {
    const token = chain.deployment.contracts.bondToken
    const transfer = (to: Address, value: bigint) => encodeFunctionData({ abi: testTokenAbi, functionName: 'transfer', args: [to, value] })
    const payer = await anotherAgent('gas', { bond: parseEther('10'), funds: 0n, policy: { ...policy, allowedTargets: [token], allowedSelectors: [transfer(SHOP, 0n).slice(0, 10) as Hex] } })
    const owner = chain.as(1)
    const mint = async (to: Address) =>
      owner.publicClient.waitForTransactionReceipt({
        hash: await owner.walletClient.writeContract({ address: token, abi: testTokenAbi, functionName: 'mint', args: [to, parseEther('10')], account: owner.walletClient.account, chain: owner.walletClient.chain }),
      })
    await mint(payer.acct)
    await mint(SHOP) // a holder already: a transfer to it writes no new balance slot
    const calls: { method: string; gas: boolean }[] = []
    const transport = rpcTransport(chain.anvil.rpcUrl, {
      onFetchRequest: (_req, init) => {
        for (const r of [JSON.parse(init.body as string) as { method: string; params: { gas?: string }[] }].flat()) {
          if (['eth_call', 'eth_estimateGas', 'eth_fillTransaction'].includes(r.method)) calls.push({ method: r.method, gas: r.params[0]?.gas !== undefined })
        }
      },
    })
    const tokens = (a: Address) => chain.reader.publicClient.readContract({ address: token, abi: testTokenAbi, functionName: 'balanceOf', args: [a] })
    try {
      // fees reused for up to 12 s here (default 0.5 s), so that a slow machine reads the same sequence
      const wallet = await payer.open({ transport, feeReuseMs: 12_000 })
      const pay = async (i: number, to: Address, w = wallet) => {
        calls.length = 0
        const sent = await w.sendTransaction({ to: token, value: 0n, data: transfer(to, parseEther('1')) }, { actionId: `${payer.id}-${String(i).padStart(12, '0')}` })
        expect(sent.receipt.status).toBe('success')
        return [...calls]
      }
      // the first call of its shape: estimated (a fill that searches the gas)
      expect(await pay(1, SHOP)).toEqual([{ method: 'eth_fillTransaction', gas: false }])
      // the same shape again: simulated at that gas, with the fees of that fill — no search, no fill
      expect(await pay(2, SHOP)).toEqual([{ method: 'eth_call', gas: true }])
      // the same shape to a new holder needs a new balance slot: the simulation at the old gas
      // fails, the call is estimated again, and it goes through
      const toNew = await pay(3, VENDOR)
      expect(toNew).toContainEqual({ method: 'eth_call', gas: true })
      expect(toNew.at(-1)).toEqual({ method: 'eth_fillTransaction', gas: false })
      expect(await tokens(VENDOR)).toBe(parseEther('1'))
      // and the new estimate serves the next one, with its fees
      expect(await pay(4, VENDOR)).toEqual([{ method: 'eth_call', gas: true }])
      expect(await tokens(VENDOR)).toBe(parseEther('2'))
      expect(await tokens(SHOP)).toBe(parseEther('12'))
      // a refusal on a known shape is the chain's, named as ever: the simulation fails, the estimate names it
      const err = await wallet.sendTransaction({ to: token, value: 0n, data: transfer(SHOP, parseEther('100')) }, { actionId: `${payer.id}-000000000005` }).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'TransactionPreparationError' })
      expect(payer.wal.head.nextIndex).toBe(4)
      // fees never reused (feeReuseMs 0; the same agent reopened): after its first estimate, a
      // known shape is simulated with a fill given the gas beside it, though a fill just answered
      const filling = await payer.open({ transport, feeReuseMs: 0 })
      expect(await pay(6, SHOP, filling)).toEqual([{ method: 'eth_fillTransaction', gas: false }])
      const again = await pay(7, SHOP, filling)
      expect(again).toHaveLength(2)
      expect(again).toEqual(expect.arrayContaining([{ method: 'eth_call', gas: true }, { method: 'eth_fillTransaction', gas: true }]))
      expect(await tokens(SHOP)).toBe(parseEther('14'))
      expect(payer.wal.head.nextIndex).toBe(6)
    } finally {
      await payer.wal.close()
    }
  })

  it('a commit declares covered every call up to the first one no committed step holds (more calls than the committer reads at once)', async () => {
    const busy = await anotherAgent('busy', { bond: parseEther('10'), funds: parseEther('1') })
    const { acct, wal } = busy
    const read = chain.reader.publicClient
    const covered = () => read.readContract({ address: chain.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [busy.id] })
    const calls = () => read.readContract({ address: acct, abi: agentAccountAbi, functionName: 'callCount' })
    try {
      let wallet = await busy.open()
      const pay = (i: number) => wallet.sendTransaction({ to: SHOP, value: 1n }, { actionId: `${busy.id}-${String(i).padStart(12, '0')}` })
      for (let i = 0; i < 37; i++) await pay(i)
      const committer = new Committer({ wal, da: memoryDa(), client: chain.as(2), agentId: busy.id, account: acct })
      await committer.flush()
      expect([await calls(), await covered()]).toEqual([37, 37])
      // a call around the WAL (the signer on the account directly), then traced ones again
      const key = createWalletClient({ account: signer, chain: read.chain!, transport: http(chain.anvil.rpcUrl) })
      await read.waitForTransactionReceipt({
        hash: await key.writeContract({ address: acct, abi: agentAccountAbi, functionName: 'execute', args: [SHOP, 1n, '0x', 2n ** 40n, keccak256(toBytes('no such step')), 1, 0n] }),
      })
      // (the key's nonce moved behind the wallet's back: the operator opens it again)
      await wallet.flush()
      wallet = await busy.open()
      for (let i = 37; i < 57; i++) await pay(i)
      await committer.flush()
      // call 37 has no step: the count stops there, whatever follows
      expect([await calls(), await covered()]).toEqual([58, 37])
    } finally {
      await wal.close()
    }
  })

  it('a dishonest operator with the off-chain check switched off gains nothing: the chain refuses before a step is written', async () => {
    const { wallet, wal } = await openWallet({ unsafe: true })
    const head = wal.head.nextIndex
    for (const [to, value, rule] of [
      [MALLORY, parseEther('0.5'), 'TargetNotAllowed'],
      [SHOP, parseEther('2'), 'ValueCap'],
    ] as const) {
      const err = await wallet.sendTransaction({ to, value }, { actionId: `${agentId}-00000000000${rule.length % 10}` }).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'PolicyViolationError', rule })
    }
    expect(wal.head.nextIndex).toBe(head)
    expect(await balance(MALLORY)).toBe(0n)
  })

  it('the daily budget is the chain\'s: 3 ETH a day, however the operator tries', async () => {
    const { wallet } = await openWallet({ unsafe: true })
    // 0.5 was spent today by the first test
    for (const v of ['1', '1', '0.5']) await wallet.sendTransaction({ to: SHOP, value: parseEther(v) }, { actionId: `${agentId}-0000000000b${v.length}` })
    const err = await wallet.sendTransaction({ to: SHOP, value: parseEther('0.01') }, { actionId: `${agentId}-0000000000bf` }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PolicyViolationError', rule: 'DailyBudget' })
    await advance(86_400)
  })

  it('stops itself while an old call is uncovered, and acts again once the committer covers it', async () => {
    const { wallet, wal } = await openWallet()
    // a day later, the calls above are far older than half the commit deadline
    const err = await wallet.sendTransaction({ to: SHOP, value: 1n }, { actionId: `${agentId}-0000000000e1` }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'AccountTraceBehindError', oldestUncovered: 0 })
    const committer = new Committer({ wal, da: memoryDa(), client: chain.as(2), agentId, account })
    await committer.flush()
    expect(await coveredCalls()).toBe(await callCount())
    await wallet.sendTransaction({ to: SHOP, value: 1n }, { actionId: `${agentId}-0000000000e2` })
    // this call's step is in the WAL after the last batch: the next flush covers it
    await committer.flush()
    expect(await coveredCalls()).toBe(await callCount())
  })

  it('follows the policy version in force after the owner activates an update', async () => {
    const owner = chain.as(1)
    await new Committer({ wal: (await openWallet()).wal, da: memoryDa(), client: chain.as(2), agentId, account }).flush()
    const { version, readyAt } = await proposeUpdate(owner, { agentId, manifestHash: keccak256(toBytes('m2')), policy: { ...policy, allowedTargets: [SHOP, VENDOR] } })
    const block = await chain.reader.publicClient.getBlock()
    await advance(readyAt - Number(block.timestamp) + 1)
    await activateUpdate(owner, { agentId })
    const { wallet, wal } = await openWallet({ follow: true })
    expect(wallet.policyVersion).toBe(1)
    await wallet.sendTransaction({ to: VENDOR, value: parseEther('0.1') }, { actionId: `${agentId}-0000000000c1` }).catch((e: unknown) => e)
    // the wallet was opened with version 1, which allows only SHOP: it pays SHOP under v2
    const sent = await wallet.sendTransaction({ to: SHOP, value: parseEther('0.1') }, { actionId: `${agentId}-0000000000c2` })
    expect(sent.receipt.status).toBe('success')
    expect(wallet.policyVersion).toBe(version)
    const { steps } = await wal.readAll()
    expect(steps.at(-1)).toMatchObject({ kind: 'wallet', policyVersion: version })
    // and now follows v2's rules: the vendor is allowed
    await wallet.sendTransaction({ to: VENDOR, value: parseEther('0.1') }, { actionId: `${agentId}-0000000000c3` })
    expect(await balance(VENDOR)).toBe(parseEther('0.1'))
  })

  it('recovery after a crash between the step and the signature sends exactly the call the step authorised', async () => {
    const { wallet, wal } = await openWallet({ follow: true })
    await wallet.sendTransaction({ to: SHOP, value: 1n }, { actionId: `${agentId}-0000000000d0` }) // follows v2
    const write = async (actionId: string, policyVersion: number) => {
      const nonce = await chain.reader.publicClient.getTransactionCount({ address: signer.address, blockTag: 'pending' })
      // what sendTransaction writes before it signs; then the process "dies"
      const { leaf } = await wal.appendNext({
        kind: 'wallet',
        actionId,
        timestamp: clock(),
        chainId: String(chain.anvil.chainId),
        from: account.toLowerCase() as Hex,
        to: SHOP.toLowerCase() as Hex,
        value: parseEther('0.2').toString(),
        data: '0x',
        nonce,
        policyVersion,
      })
      return { nonce, leaf }
    }
    const reopen = () => walletOn(wal, { policy: { ...policy, allowedTargets: [SHOP, VENDOR] }, policyVersion: wallet.policyVersion })
    const ok = await write(`${agentId}-0000000000d1`, wallet.policyVersion)
    expect((await reopen()).recovered).toMatchObject([{ outcome: 'signed-and-sent', nonce: ok.nonce }])
    expect((await executedLeaves()).at(-1)).toBe(ok.leaf)

    // a step citing a version no longer in force can never execute: nothing moves, and its
    // signer nonce is filled so the next payment is not held up
    const stale = await write(`${agentId}-0000000000d2`, 1)
    const shopBefore = await balance(SHOP)
    const after = await reopen()
    expect(after.recovered).toMatchObject([{ outcome: 'abandoned', nonce: stale.nonce }])
    expect(await balance(SHOP)).toBe(shopBefore)
    await after.sendTransaction({ to: SHOP, value: 1n }, { actionId: `${agentId}-0000000000d3` })
    expect(await chain.reader.publicClient.getTransactionCount({ address: signer.address })).toBe(stale.nonce + 2)
  })
})
