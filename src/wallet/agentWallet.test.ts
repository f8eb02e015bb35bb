import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { createWalletClient, custom, encodeFunctionData, http, keccak256, parseAbi, parseEther, type Address, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { StepBody, WalletStep } from '../trace/schemas.js'
import { TraceWal } from '../trace/wal.js'
import type { CreateAgentWalletParameters } from './agentWallet.js'
import { createWalletHandle } from './handles.js'
import { evaluatePolicy, policySchema } from './policy.js'
import {
  basePolicy,
  fundedAgentKey,
  memoryLogger,
  openWallet,
  randomAddress,
  startWalletChain,
  type WalletChain,
} from './_fixtures.js'

let c: WalletChain
beforeAll(async () => {
  c = await startWalletChain()
})
afterAll(async () => {
  await c?.stop()
})

const erc20 = parseAbi(['function transfer(address to, uint256 amount) returns (bool)', 'function approve(address, uint256) returns (bool)'])

/** A wallet step paying `to` 7 wei, written here by hand: what a crash right after the WAL append leaves behind. */
const walletStepBody = (from: Address, to: Address, actionId: string, nonce: number): StepBody => ({
  kind: 'wallet',
  actionId,
  timestamp: Date.now(),
  chainId: String(c.anvil.chainId),
  from: from.toLowerCase() as Hex,
  to: to.toLowerCase() as Hex,
  value: '7',
  data: '0x',
  nonce,
  policyVersion: 1,
})

async function walletSteps(wal: TraceWal): Promise<WalletStep[]> {
  const { steps } = await wal.readAll()
  return steps.filter((s): s is WalletStep => s.kind === 'wallet')
}

describe('AgentWallet on anvil', () => {
  test('pays within policy: wallet step first, then the transaction, matching field for field', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]) })
    const sent = await wallet.sendTransaction({ to: alice, value: parseEther('0.25') }, { actionId: 'a-1' })
    expect(await c.balance(alice)).toBe(parseEther('0.25'))
    expect(sent.receipt.status).toBe('success')
    expect(sent.nonce).toBe(0)
    const [step] = await walletSteps(wal)
    expect(step).toMatchObject({
      kind: 'wallet',
      actionId: 'a-1',
      chainId: String(c.anvil.chainId),
      from: key.address.toLowerCase(),
      to: alice.toLowerCase(),
      value: parseEther('0.25').toString(),
      data: '0x',
      nonce: 0,
      policyVersion: 1,
      index: sent.walletStepIndex,
    })
    const onChain = await c.client.getTransaction({ hash: sent.hash })
    expect({ from: onChain.from, to: onChain.to, value: onChain.value, input: onChain.input, nonce: onChain.nonce }).toEqual({
      from: key.address.toLowerCase(),
      to: alice.toLowerCase(),
      value: parseEther('0.25'),
      input: '0x',
      nonce: 0,
    })
    expect(wallet.getTransaction({ walletStepIndex: step!.index })).toMatchObject({ state: 'mined', hash: sent.hash })
    await wal.close()
  })

  test('the wallet step and its gas and fees are durable before signing, and the signed bytes are a function of that WAL record alone', async () => {
    const key = await fundedAgentKey(c)
    const bob = randomAddress()
    const dir = await c.tmpDir()
    const seen: string[] = []
    let walletStepsAtSign = -1
    let nodeKnewAtSigned = true
    let outboxFilesAtSigned = -1
    let rebuiltAtSigned: Hex | undefined
    let signedHash: Hex | undefined
    const { wal, wallet } = await openWallet(c, {
      dir,
      account: key.account,
      policy: basePolicy([bob]),
      on: {
        stepWritten: async () => {
          seen.push('stepWritten')
          // what a fresh reader of the file sees right now
          const { steps, sidecars } = await (await import('../trace/wal.js')).readWalFile(wal.paths.log, '1')
          walletStepsAtSign = steps.filter((s) => s.kind === 'wallet').length
          // the transaction, rebuilt by hand from what is on disk: the step and its sidecar
          const i = steps.findIndex((s) => s.kind === 'wallet')
          const step = steps[i] as WalletStep
          const params = JSON.parse(Buffer.from(sidecars.get(i)!).toString()) as Record<string, string>
          expect(params).toEqual({ version: 1, signer: key.address.toLowerCase(), gas: expect.stringMatching(/^\d+$/), maxFeePerGas: expect.stringMatching(/^\d+$/), maxPriorityFeePerGas: expect.stringMatching(/^\d+$/) })
          const raw = await key.account.signTransaction({
            chainId: c.anvil.chainId,
            type: 'eip1559',
            to: step.to as Address,
            value: BigInt(step.value),
            data: step.data,
            nonce: step.nonce,
            gas: BigInt(params.gas!),
            maxFeePerGas: BigInt(params.maxFeePerGas!),
            maxPriorityFeePerGas: BigInt(params.maxPriorityFeePerGas!),
          })
          rebuiltAtSigned = keccak256(raw)
        },
        signed: async ({ hash }) => {
          seen.push('signed')
          signedHash = hash
          nodeKnewAtSigned = await c.client.getTransaction({ hash }).then(() => true, () => false)
          // nothing is written for it: the WAL record is the durable one
          outboxFilesAtSigned = (await readdir(join(dir, 'agent-1.outbox', `${c.anvil.chainId}-${key.address.toLowerCase()}`))).length
        },
        broadcast: () => void seen.push('broadcast'),
        mined: () => void seen.push('mined'),
      },
    })
    await wallet.sendTransaction({ to: bob, value: 1n }, { actionId: 'a-2' })
    expect(seen).toEqual(['stepWritten', 'signed', 'broadcast', 'mined'])
    expect(walletStepsAtSign).toBe(1)
    expect(nodeKnewAtSigned).toBe(false)
    expect(outboxFilesAtSigned).toBe(0)
    expect(signedHash).toBe(rebuiltAtSigned)
    await wal.close()
  })

  test('refused beyond policy: typed error naming rule, limit and attempt; nothing signed, nothing written', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const stranger = randomAddress()
    const token = randomAddress()
    const { wal, wallet } = await openWallet(c, {
      dir: await c.tmpDir(),
      account: key.account,
      policy: basePolicy([alice, token], { allowedSelectors: ['0xa9059cbb'] }),
    })
    await wallet.sendTransaction({ to: alice, value: 1n }, { actionId: 'ok' })
    const nonceBefore = await c.nonce(key.address)
    const stepsBefore = (await wal.readAll()).steps.length

    const tooMuch = await wallet.sendTransaction({ to: alice, value: parseEther('1') + 1n }, { actionId: 'x' }).catch((e) => e)
    expect(tooMuch).toMatchObject({ name: 'PolicyViolationError', rule: 'ValueCap', limit: parseEther('1'), attempted: parseEther('1') + 1n, unrecoverable: true })
    expect(tooMuch.message).toMatchInlineSnapshot(`
      "Policy refused the transaction (ValueCap): value is above maxValuePerTx.

      Limit: 1000000000000000000 wei
      Attempted: 1000000000000000001 wei
      Nothing was signed and no trace step was written.
      To allow it, register a new policy version on chain (AgentRegistry.update) and restart the wallet with it.
      Docs: src/wallet/README.md#sending-one-transaction"
    `)
    const offList = await wallet.sendTransaction({ to: stranger, value: 1n }, { actionId: 'x' }).catch((e) => e)
    expect(offList).toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed', attempted: stranger })
    expect(offList.message).toContain(alice)

    const approve = encodeFunctionData({ abi: erc20, functionName: 'approve', args: [stranger, 1n] })
    const badSelector = await wallet.sendTransaction({ to: token, data: approve }, { actionId: 'x' }).catch((e) => e)
    expect(badSelector).toMatchObject({ name: 'PolicyViolationError', rule: 'SelectorNotAllowed', attempted: '0x095ea7b3', limit: ['0xa9059cbb'] })

    expect(await c.nonce(key.address)).toBe(nonceBefore)
    expect(await c.balance(stranger)).toBe(0n)
    expect((await wal.readAll()).steps.length).toBe(stepsBefore)
    await wal.close()
  })

  test('daily budget: counts the WAL wallet steps of the current UTC day, resets the next day', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const day = 20_000 * 86_400_000
    let clock = day + 1000
    const dir = await c.tmpDir()
    const policy = basePolicy([alice], { dailyBudget: parseEther('1') })
    const first = await openWallet(c, { dir, account: key.account, policy, now: () => clock })
    await first.wallet.sendTransaction({ to: alice, value: parseEther('0.6') }, { actionId: 'd1' })
    await first.wallet.sendTransaction({ to: alice, value: parseEther('0.3') }, { actionId: 'd1' })
    await first.wal.close()
    // a restart still knows what was spent today: the budget comes from the WAL
    clock = day + 86_400_000 - 1
    const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy, now: () => clock })
    expect(wallet.spentToday()).toBe(parseEther('0.9'))
    const err = await wallet.sendTransaction({ to: alice, value: parseEther('0.2') }, { actionId: 'd1' }).catch((e) => e)
    expect(err).toMatchObject({ name: 'PolicyViolationError', rule: 'DailyBudget', limit: parseEther('1'), attempted: parseEther('0.2'), spentToday: parseEther('0.9') })
    expect(() => wallet.check({ to: alice, value: parseEther('0.1') })).not.toThrow()
    clock = day + 86_400_000
    expect(wallet.spentToday()).toBe(0n)
    await wallet.sendTransaction({ to: alice, value: parseEther('0.2') }, { actionId: 'd2' })
    expect(await c.balance(alice)).toBe(parseEther('1.1'))
    await wal.close()
  })

  test('nonces come from the wallet: concurrent sends get consecutive nonces and all land', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]) })
    const sent = await Promise.all([1n, 2n, 3n, 4n, 5n].map((v) => wallet.sendTransaction({ to: alice, value: v }, { actionId: `n${v}` })))
    expect(sent.map((s) => s.nonce).sort()).toEqual([0, 1, 2, 3, 4])
    expect(await c.balance(alice)).toBe(15n)
    const steps = await walletSteps(wal)
    expect(steps.map((s) => s.nonce)).toEqual([0, 1, 2, 3, 4])
    // every transaction it sent is a wallet step with matching fields
    for (const s of sent) {
      const tx = await c.client.getTransaction({ hash: s.hash })
      const step = steps.find((w) => w.index === s.walletStepIndex)!
      expect([tx.to, tx.value.toString(), tx.input, tx.nonce]).toEqual([step.to, step.value, step.data, step.nonce])
    }
    await wal.close()
  })

  test('the receipt is asked for directly: a node that has none yet, fails or answers for another transaction is asked again, and nothing else is asked', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const node = http(c.anvil.rpcUrl)({ chain: c.chain })
    // after the broadcast: no receipt yet twice (as an automining node answers while it mines),
    // an error, the receipt of another transaction, then the node's answer
    const script: ('none' | 'fail' | 'forged')[] = []
    const after: string[] = []
    let broadcast = false
    const transport = custom({
      request: async (args: { method: string; params?: unknown }) => {
        if (broadcast) after.push(args.method)
        if (args.method === 'eth_sendRawTransaction') {
          const hash: unknown = await node.request(args as never)
          broadcast = true
          script.push('none', 'none', 'fail', 'forged')
          return hash
        }
        if (args.method === 'eth_getTransactionReceipt' && script.length > 0) {
          const next = script.shift()
          if (next === 'fail') throw new Error('the node failed this once')
          if (next === 'forged') return { ...((await node.request(args as never)) as object), transactionHash: `0x${'11'.repeat(32)}` }
          return null
        }
        return node.request(args as never)
      },
    })
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]), transport })
    const sent = await wallet.sendTransaction({ to: alice, value: 3n }, { actionId: 'rcpt' })
    expect(sent.receipt.status).toBe('success')
    expect(after).toEqual(Array(5).fill('eth_getTransactionReceipt'))
    expect(await c.balance(alice)).toBe(3n)
    await wal.close()
  })

  test('confirmations: 2 waits for the block after the receipt', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    let broadcast: (hash: Hex) => void = () => {}
    const hash = new Promise<Hex>((resolve) => (broadcast = resolve))
    const { wal, wallet } = await openWallet(c, {
      dir: await c.tmpDir(),
      account: key.account,
      policy: basePolicy([alice]),
      confirmations: 2,
      on: { broadcast: (e) => broadcast(e.hash) },
    })
    let done = false
    const sending = wallet.sendTransaction({ to: alice, value: 4n }, { actionId: 'conf' }).finally(() => {
      done = true
    })
    // mined (automine), but with no block after it the wait goes on
    await c.client.waitForTransactionReceipt({ hash: await hash })
    await new Promise((r) => setTimeout(r, 400))
    expect(done).toBe(false)
    await c.client.request({ method: 'evm_mine' as never })
    const sent = await sending
    expect(sent.receipt.status).toBe('success')
    expect(await c.client.getBlockNumber()).toBe(sent.receipt.blockNumber + 1n)
    await wal.close()
  })

  test('bad settings are refused when the wallet opens: confirmations, pollingIntervalMs, receiptTimeoutMs, feeReuseMs', async () => {
    const key = await fundedAgentKey(c)
    const dir = await c.tmpDir()
    const opening = (extra: Pick<CreateAgentWalletParameters, 'confirmations' | 'pollingIntervalMs' | 'receiptTimeoutMs' | 'feeReuseMs'>) =>
      openWallet(c, { dir, account: key.account, policy: basePolicy([]), ...extra })
    for (const pollingIntervalMs of [0, -5, 2.5, 60_001, Number.NaN]) {
      await expect(opening({ pollingIntervalMs })).rejects.toMatchObject({ name: 'WalletConfigError', message: expect.stringMatching(/pollingIntervalMs must be an integer from 1 to 60000/) })
    }
    for (const receiptTimeoutMs of [0, -1, 0.5, Number.POSITIVE_INFINITY]) {
      await expect(opening({ receiptTimeoutMs })).rejects.toMatchObject({ name: 'WalletConfigError', message: expect.stringMatching(/receiptTimeoutMs must be a positive integer/) })
    }
    for (const confirmations of [0, 1.5, -1]) {
      await expect(opening({ confirmations })).rejects.toMatchObject({ name: 'WalletConfigError', message: expect.stringMatching(/confirmations must be an integer/) })
    }
    for (const feeReuseMs of [-1, 0.5, 12_001, Number.NaN]) {
      await expect(opening({ feeReuseMs })).rejects.toMatchObject({ name: 'WalletConfigError', message: expect.stringMatching(/feeReuseMs must be an integer from 0 to 12000/) })
    }
    const { wal } = await opening({ feeReuseMs: 0 })
    await wal.close()
  })

  test('bad requests are refused with a clear error before anything happens', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]) })
    await expect(wallet.sendTransaction({ to: '0x1234' as Address, value: 1n }, { actionId: 'b' })).rejects.toMatchObject({ name: 'InvalidTransactionError' })
    await expect(wallet.sendTransaction({ to: alice, value: -1n }, { actionId: 'b' })).rejects.toMatchObject({ name: 'InvalidTransactionError' })
    await expect(wallet.sendTransaction({ to: alice, data: '0xabc' as Hex }, { actionId: 'b' })).rejects.toMatchObject({ name: 'InvalidTransactionError' })
    await expect(wallet.sendTransaction({ to: alice, value: 1n }, { actionId: '' })).rejects.toMatchObject({ name: 'InvalidTransactionError' })
    expect((await wal.readAll()).steps).toHaveLength(0)
    await wal.close()
  })
})

describe('RPC failures before the trace', () => {
  test('node down or unable to prepare: a clear error, nothing written, nothing signed; works again when the node is back', async () => {
    const key = await fundedAgentKey(c, '1')
    const alice = randomAddress()
    let down = false
    // a node that goes away: requests then go to a port where nothing listens
    const up = http(c.anvil.rpcUrl)({ chain: c.chain })
    const gone = http('http://127.0.0.1:1', { retryCount: 0 })({ chain: c.chain })
    const transport = custom({ request: async (args: { method: string; params?: unknown }) => (down ? gone : up).request(args as never) })
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice], { maxValuePerTx: parseEther('5') }), transport })
    down = true
    const err = await wallet.sendTransaction({ to: alice, value: 1n }, { actionId: 'r' }).catch((e) => e)
    expect(err.name).toBe('WalletRpcError')
    expect(err.message).toMatch(/Nothing was written to the trace and nothing was signed/)
    down = false
    // more than the balance: the node cannot estimate it
    await expect(wallet.sendTransaction({ to: alice, value: parseEther('2') }, { actionId: 'r' })).rejects.toMatchObject({ name: 'TransactionPreparationError' })
    expect((await wal.readAll()).steps).toHaveLength(0)
    await wallet.sendTransaction({ to: alice, value: 1n }, { actionId: 'r' })
    expect(await c.balance(alice)).toBe(1n)
    await wal.close()
  })
})

describe('least-privilege handles', () => {
  test('a pay handle pays within its own narrower limits and exposes nothing else', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const bob = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice, bob]) })
    const sentByHandle: string[] = []
    const handle = createWalletHandle(wallet, { kind: 'pay', maxValuePerTx: 1000n, recipients: [alice] }, {
      actionId: 'h1',
      tool: 'payAlice',
      onSent: (tx) => void sentByHandle.push(tx.hash),
    })
    expect(Reflect.ownKeys(handle)).toEqual(['pay'])
    expect(Object.getPrototypeOf(handle)).toBeNull()
    expect(Object.isFrozen(handle)).toBe(true)
    expect(JSON.stringify(handle)).toBe('{}')
    expect(inspect(handle, { showHidden: true, depth: 5 })).not.toMatch(/0x[0-9a-f]{64}|account|sign/i)
    const tx = await handle.pay({ to: alice, value: 999n })
    expect(sentByHandle).toEqual([tx.hash])
    await expect(handle.pay({ to: alice, value: 1001n })).rejects.toMatchObject({ name: 'CapabilityExceededError', rule: 'HandleValueCap', limit: 1000n, attempted: 1001n })
    // bob is allowed by the policy but not by this tool's effect
    await expect(handle.pay({ to: bob, value: 1n })).rejects.toMatchObject({ name: 'CapabilityExceededError', rule: 'RecipientNotAllowed', attempted: bob })
    // a handle cannot widen the policy
    const wide = createWalletHandle(wallet, { kind: 'pay' }, { actionId: 'h1' })
    await expect(wide.pay({ to: randomAddress(), value: 1n })).rejects.toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed' })
    expect(createWalletHandle(wallet, { kind: 'none' }, { actionId: 'h1' })).toBeUndefined()
    expect((await walletSteps(wal)).length).toBe(1)
    await wal.close()
  })

  test('a call handle calls only declared targets and selectors', async () => {
    const key = await fundedAgentKey(c)
    const token = randomAddress()
    const other = randomAddress()
    const { wal, wallet } = await openWallet(c, {
      dir: await c.tmpDir(),
      account: key.account,
      policy: basePolicy([token, other], { allowedSelectors: ['0xa9059cbb', '0x095ea7b3'] }),
    })
    const handle = createWalletHandle(wallet, { kind: 'call', targets: [token], selectors: ['0xa9059cbb'] }, { actionId: 'c1', tool: 'transfer' })
    // the function and the (public) address that pays: nothing else of the wallet
    expect(Reflect.ownKeys(handle)).toEqual(['call', 'account'])
    expect(handle.account).toBe(wallet.address)
    const transfer = encodeFunctionData({ abi: erc20, functionName: 'transfer', args: [other, 5n] })
    const approve = encodeFunctionData({ abi: erc20, functionName: 'approve', args: [other, 5n] })
    // the "token" is an empty account here: the call succeeds as a plain call with data
    const tx = await handle.call({ to: token, data: transfer })
    expect(tx.data).toBe(transfer)
    await expect(handle.call({ to: token, data: approve })).rejects.toMatchObject({ rule: 'SelectorNotAllowed', attempted: '0x095ea7b3' })
    await expect(handle.call({ to: other, data: transfer })).rejects.toMatchObject({ rule: 'TargetNotAllowed' })
    await expect(handle.call({ to: token, data: transfer, value: 1n })).rejects.toMatchObject({ rule: 'HandleValueCap', limit: 0n })
    await expect(handle.call({ to: token, data: '0x' })).rejects.toMatchObject({ rule: 'SelectorNotAllowed' })
    await wal.close()
  })
})

describe('UNSAFE dishonest-operator hook', () => {
  test('unsafe.skipPolicyCheck signs a forbidden transaction, but only after its wallet step is in the WAL, and warns loudly', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const thief = randomAddress()
    const { logger, lines } = memoryLogger()
    const { wal, wallet } = await openWallet(c, {
      dir: await c.tmpDir(),
      account: key.account,
      policy: basePolicy([alice]),
      logger,
      unsafe: { skipPolicyCheck: true },
    })
    expect(lines.join('\n')).toMatch(/UNSAFE WALLET: unsafe.skipPolicyCheck is enabled/)
    const sent = await wallet.sendTransaction({ to: thief, value: parseEther('2') }, { actionId: 'steal' })
    expect(await c.balance(thief)).toBe(parseEther('2'))
    expect(lines.join('\n')).toMatch(/UNSAFE WALLET: signing a transaction the policy forbids \(ValueCap\)/)
    const [step] = await walletSteps(wal)
    expect(step).toMatchObject({ to: thief.toLowerCase(), value: parseEther('2').toString(), nonce: sent.nonce })
    // the trace convicts it: the registered policy calls this step a breach
    expect(evaluatePolicy(policySchema.parse(basePolicy([alice])), { to: step!.to as Address, value: BigInt(step!.value), data: step!.data })).toBe('ValueCap')
    await wal.close()
  })
})

describe('keys never leak', () => {
  test('not through the wallet, its handles, its errors, its logs, the WAL or the outbox', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const { logger, lines } = memoryLogger()
    const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]), logger })
    const bare = key.privateKey.slice(2).toLowerCase()
    const texts: string[] = []
    const handle = createWalletHandle(wallet, { kind: 'pay' }, { actionId: 'k' })
    texts.push(JSON.stringify(wallet), String(wallet), inspect(wallet, { showHidden: true, depth: 10 }))
    texts.push(JSON.stringify(handle), inspect(handle, { showHidden: true, depth: 10 }))
    expect(JSON.stringify(wallet)).toBe(JSON.stringify({ kind: 'AgentWallet', address: key.address, chainId: c.anvil.chainId, policyVersion: 1 }))
    expect(Object.keys(wallet).sort()).toEqual(['address', 'chainId', 'mode', 'signer'])
    await handle.pay({ to: alice, value: 1n })
    const errors: unknown[] = []
    await handle.pay({ to: randomAddress(), value: 1n }).catch((e) => errors.push(e))
    await wallet.sendTransaction({ to: alice, value: parseEther('5') }, { actionId: 'k' }).catch((e) => errors.push(e))
    // a wallet whose node is gone: creation fails with an RPC error
    const dead = { ...c.chain, rpcUrls: { default: { http: ['http://127.0.0.1:1'] } } }
    await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]), chain: dead, logger }).catch((e) => errors.push(e))
    expect(errors).toHaveLength(3)
    for (const e of errors) texts.push(String(e), inspect(e, { showHidden: true, depth: 10 }), JSON.stringify(e), JSON.stringify(e, Object.getOwnPropertyNames(e)))
    await wal.close()
    texts.push(...lines)
    texts.push((await readFile(wal.paths.log)).toString('latin1'))
    const outboxDir = join(dir, 'agent-1.outbox', `${c.anvil.chainId}-${key.address.toLowerCase()}`)
    for (const f of await readdir(outboxDir)) texts.push(await readFile(join(outboxDir, f), 'utf8'))
    for (const t of texts) expect(t.toLowerCase()).not.toContain(bare)
  })
})

describe('recovery edge cases', () => {
  test('a wallet step whose nonce another transaction took is abandoned with a clear error, never sent', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const wal = await TraceWal.open({ dir, agentId: '1' })
    // the state a crash right after the WAL append leaves behind
    await wal.appendNext(walletStepBody(key.address, alice, 'lost', 0))
    // ... and meanwhile the same key was used elsewhere
    const outside = createWalletClient({ chain: c.chain, transport: http(c.anvil.rpcUrl), account: key.account })
    await c.client.waitForTransactionReceipt({ hash: await outside.sendTransaction({ to: randomAddress(), value: 1n }), pollingInterval: 50 })
    const { wallet } = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]), wal })
    expect(wallet.recovered).toHaveLength(1)
    expect(wallet.recovered[0]).toMatchObject({ walletStepIndex: 0, nonce: 0, outcome: 'abandoned', hash: null, error: { name: 'NonceConflictError' } })
    expect(wallet.recovered[0]!.error!.message).toMatch(/can never be sent: the account's on-chain nonce is already 1/)
    expect(await c.balance(alice)).toBe(0n)
    expect(wallet.getTransaction({ walletStepIndex: 0 })).toMatchObject({ state: 'abandoned' })
    // the next transaction takes the next free nonce
    const next = await wallet.sendTransaction({ to: alice, value: 1n }, { actionId: 'next' })
    expect(next.nonce).toBe(1)
    await wal.close()
  })

  test('an outbox entry that does not match its wallet step is refused, not broadcast', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const first = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })
    await first.wallet.sendTransaction({ to: alice, value: 5n }, { actionId: 'ok' })
    await first.wallet.flush() // the mined record is written off the payment's path
    const raw = await key.account.signTransaction({
      chainId: c.anvil.chainId,
      type: 'eip1559',
      to: alice,
      value: 999n,
      nonce: 0,
      gas: 21000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 1n,
    })
    const outboxDir = join(dir, 'agent-1.outbox', `${c.anvil.chainId}-${key.address.toLowerCase()}`)
    const hintPath = join(outboxDir, (await readdir(outboxDir)).find((f) => f.endsWith('.mined'))!)
    const entry = JSON.parse(await readFile(hintPath, 'utf8'))
    await first.wal.close()
    // tamper: a different (validly signed) transaction under the same nonce, as an unsent entry file
    const { canonicalize } = await import('../trace/canonical.js')
    await rm(hintPath)
    await writeFile(hintPath.replace(/\.mined$/, '.json'), canonicalize({ ...entry, state: 'signed', receipt: null, raw, hash: keccak256(raw) }))
    await expect(openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })).rejects.toMatchObject({
      name: 'OutboxCorruptedError',
      message: expect.stringMatching(/its value differs from wallet step 0/),
    })
    expect(await c.balance(alice)).toBe(5n)
  })

  test('nothing is written for a payment but its WAL record and, off its path, a mined hint: a crash before the hint lands is settled from the chain, sending nothing again', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const first = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })
    const sent = await first.wallet.sendTransaction({ to: alice, value: 5n }, { actionId: 'paid' })
    expect(first.wallet.getTransaction({ walletStepIndex: sent.walletStepIndex })).toMatchObject({ state: 'mined', hash: sent.hash })
    await first.wallet.flush()
    const outboxDir = join(dir, 'agent-1.outbox', `${c.anvil.chainId}-${key.address.toLowerCase()}`)
    expect(await readdir(outboxDir)).toEqual(['00000000000000000000.mined'])
    const hintPath = join(outboxDir, '00000000000000000000.mined')
    expect(JSON.parse(await readFile(hintPath, 'utf8'))).toMatchObject({ state: 'mined', hash: sent.hash }) // the background hint
    await first.wal.close()
    // the hint spares the next start any work: the entry is mined, nothing to recover
    const clean = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })
    expect(clean.wallet.recovered).toEqual([])
    expect(clean.wallet.getTransaction({ walletStepIndex: sent.walletStepIndex })).toMatchObject({ state: 'mined', hash: sent.hash })
    await clean.wal.close()
    // what kill -9 between the receipt and the background write leaves on disk: the WAL record alone
    await rm(hintPath)
    // a node that answers with another transaction's receipt: refused by name, nothing recorded or sent
    const node = http(c.anvil.rpcUrl)({ chain: c.chain })
    const forging = custom({
      request: async (args: { method: string; params?: unknown }) => {
        const answer: unknown = await node.request(args as never)
        return args.method === 'eth_getTransactionReceipt' && answer ? { ...(answer as object), transactionHash: `0x${'22'.repeat(32)}` } : answer
      },
    })
    await expect(openWallet(c, { dir, account: key.account, policy: basePolicy([alice]), transport: forging })).rejects.toMatchObject({
      name: 'WalletRpcAnswerError',
      message: expect.stringMatching(/reading a receipt[\s\S]*recovery reads its receipt again/),
    })
    expect(await readdir(outboxDir)).toEqual([])
    const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })
    expect(wallet.recovered).toMatchObject([{ walletStepIndex: sent.walletStepIndex, outcome: 'already-mined', hash: sent.hash, receipt: { status: 'success' } }])
    expect(await c.balance(alice)).toBe(5n) // paid once
    expect(await c.client.getTransactionCount({ address: key.address })).toBe(1)
    await wallet.flush()
    expect(JSON.parse(await readFile(hintPath, 'utf8'))).toMatchObject({ state: 'mined', hash: sent.hash })
    await wal.close()
  })

  test('a mined hint that does not name its wallet step exactly is deleted: recovery reads the chain, and a forged one with another hash cannot stop a payment', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const first = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })
    const paid = await first.wallet.sendTransaction({ to: alice, value: 5n }, { actionId: 'paid' })
    await first.wallet.flush()
    const outboxDir = join(dir, 'agent-1.outbox', `${c.anvil.chainId}-${key.address.toLowerCase()}`)
    const hintPath = join(outboxDir, '00000000000000000000.mined')
    const hint = JSON.parse(await readFile(hintPath, 'utf8'))
    // the next payment's step is written, then the process dies before signing it
    const step = await first.wal.appendNext(walletStepBody(key.address, alice, 'unsent', 1), { sidecar: new TextEncoder().encode(`{"gas":"21000","maxFeePerGas":"${10n ** 10n}","maxPriorityFeePerGas":"1","signer":"${key.address.toLowerCase()}","version":1}`) })
    await first.wal.close()
    const { canonicalize } = await import('../trace/canonical.js')
    // a forged hint claims the unsent step was mined (the first payment's bytes under its index and leaf)…
    await writeFile(join(outboxDir, '00000000000000000001.mined'), canonicalize({ ...hint, nonce: 1, walletStepIndex: step.step.index, walletStepLeaf: step.leaf, actionId: 'unsent', hash: keccak256('0x01') }))
    // …and the first payment's hint is swapped for one naming another leaf
    await writeFile(hintPath, canonicalize({ ...hint, walletStepLeaf: step.leaf }))
    const { wal, wallet } = await openWallet(c, { dir, account: key.account, policy: basePolicy([alice]) })
    expect(wallet.recovered).toMatchObject([
      { nonce: 0, outcome: 'already-mined', hash: paid.hash },
      { nonce: 1, outcome: 'signed-and-sent', hash: expect.stringMatching(/^0x/), receipt: { status: 'success' } },
    ])
    expect(await c.balance(alice)).toBe(12n) // each payment once
    expect(await c.client.getTransactionCount({ address: key.address })).toBe(2)
    await wallet.flush()
    expect(JSON.parse(await readFile(hintPath, 'utf8'))).toMatchObject({ walletStepIndex: paid.walletStepIndex, hash: paid.hash })
    await wal.close()
  })

  test('transaction parameters in the WAL that are not valid ones are a WalCorruptedError naming the step; nothing is sent', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const dir = await c.tmpDir()
    const wal = await TraceWal.open({ dir, agentId: '1' })
    await wal.appendNext(walletStepBody(key.address, alice, 'bad-params', 0), { sidecar: new TextEncoder().encode('{"gas":"lots","version":1}') })
    await expect(openWallet(c, { dir, wal, account: key.account, policy: basePolicy([alice]) })).rejects.toMatchObject({
      name: 'WalCorruptedError',
      offset: 8,
      message: expect.stringMatching(/the transaction parameters kept with wallet step 0 are invalid/),
    })
    expect(await c.client.getTransactionCount({ address: key.address })).toBe(0)
    await wal.close()
  })

  test('an account that signs non-deterministically is refused: a signed transaction could not be rebuilt after a crash', async () => {
    const key = await fundedAgentKey(c)
    const { toAccount } = await import('viem/accounts')
    const { randomBytes } = await import('node:crypto')
    const noisy = toAccount({
      address: key.address,
      signMessage: key.account.signMessage,
      signTypedData: key.account.signTypedData,
      signTransaction: async () => `0x${randomBytes(100).toString('hex')}` as Hex,
    })
    await expect(
      openWallet(c, { dir: await c.tmpDir(), account: noisy as unknown as typeof key.account, policy: basePolicy([randomAddress()]) }),
    ).rejects.toMatchObject({ name: 'WalletConfigError', message: expect.stringMatching(/deterministic \(RFC 6979\) signatures/) })
  })

  test('the nonce is tracked locally: a key used elsewhere behind its back costs that payment (refused at broadcast, abandoned by recovery), never a second send, and the chain is read again', async () => {
    const key = await fundedAgentKey(c)
    const alice = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice]) })
    expect((await wallet.sendTransaction({ to: alice, value: 1n }, { actionId: 'a' })).nonce).toBe(0)
    // the misuse: the wallet's key signs elsewhere, taking nonce 1
    const outside = createWalletClient({ chain: c.chain, transport: http(c.anvil.rpcUrl), account: key.account })
    await c.client.waitForTransactionReceipt({ hash: await outside.sendTransaction({ to: randomAddress(), value: 1n }), pollingInterval: 50 })
    await expect(wallet.sendTransaction({ to: alice, value: 2n }, { actionId: 'b' })).rejects.toMatchObject({ name: 'WalletBroadcastError' })
    const next = await wallet.sendTransaction({ to: alice, value: 4n }, { actionId: 'c' })
    expect(next.nonce).toBe(2)
    expect(wallet.recovered).toEqual([]) // (the report of the open; the later recovery ran inside the send)
    const [, b] = await walletSteps(wal)
    expect(wallet.getTransaction({ walletStepIndex: b!.index })).toMatchObject({ nonce: 1, state: 'abandoned' })
    expect(await c.balance(alice)).toBe(5n) // a and c, never b
    await wal.close()
  })

  test('the balance floor never lets a payment the balance cannot cover be written: past the floor the node is asked again', async () => {
    const key = await fundedAgentKey(c, '1')
    const alice = randomAddress()
    const { wal, wallet } = await openWallet(c, { dir: await c.tmpDir(), account: key.account, policy: basePolicy([alice], { maxValuePerTx: parseEther('5') }) })
    await wallet.sendTransaction({ to: alice, value: parseEther('0.3') }, { actionId: 'a' })
    await wallet.sendTransaction({ to: alice, value: parseEther('0.3') }, { actionId: 'b' }) // covered by the floor
    const head = wal.head
    await expect(wallet.sendTransaction({ to: alice, value: parseEther('0.5') }, { actionId: 'c' })).rejects.toMatchObject({
      name: 'TransactionPreparationError',
      message: expect.stringMatching(/insufficient funds/),
    })
    expect(wal.head).toEqual(head) // nothing written
    await c.fund(key.address, parseEther('1'))
    await wallet.sendTransaction({ to: alice, value: parseEther('0.5') }, { actionId: 'd' })
    expect(await c.balance(alice)).toBe(parseEther('1.1'))
    await wal.close()
  })
})
