/**
 * The agent wallet against bad RPC answers: a proxy in front of a real anvil answers one of
 * the calls the wallet makes before it writes anything (eth_chainId when it opens; the
 * pending nonce, eth_fillTransaction — gas and fees —, the balance when it sends) with
 * garbage, wrong JSON types, JSON-RPC and HTTP errors, a wrong chain id or numbers out of
 * range. (An unreadable eth_fillTransaction answer is not among them: viem then asks the
 * node for gas and fees the classic way, and the send is as good as with a clean answer.)
 * Every run ends in a typed error (the wallet's or viem's, never a bare TypeError),
 * with nothing written to the WAL or the outbox and no transaction signed and sent.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import pino from 'pino'
import { BaseError as ViemBaseError, http, parseEther, type Address } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startAnvil, type Anvil } from '../../src/bonds/anvil.js'
import { chainFor } from '../../src/bonds/client.js'
import { BaseError } from '../../src/errors/base.js'
import { TraceWal } from '../../src/trace/wal.js'
import { createAgentWallet } from '../../src/wallet/agentWallet.js'
import { badEnvelope, badQuantity, hugeQuantity, startRpcProxy, type BadAnswer, type RpcProxy } from './_rpcProxy.js'

const RUNS = 1_000
const TO: Address = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
let anvil: Anvil
let proxy: RpcProxy
let dir: string
let wal: TraceWal

beforeAll(async () => {
  anvil = await startAnvil({ accounts: 6 })
  proxy = await startRpcProxy(anvil.rpcUrl)
  dir = mkdtempSync(join(tmpdir(), 'covenant-prop-rpc-wallet-'))
  wal = await TraceWal.open({ dir: join(dir, 'wal'), agentId: '1' })
})
afterAll(async () => {
  await wal?.close()
  await proxy?.close()
  await anvil?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const open = (account = anvil.accounts[3]!, outbox = join(dir, 'outbox'), onWal = wal) =>
  createAgentWallet({
    account,
    chain: chainFor(proxy.url, 31337),
    transport: http(proxy.url, { retryCount: 0 }),
    wal: onWal,
    outboxDir: outbox,
    policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [TO] },
    policyVersion: 1,
    logger: pino({ level: 'silent' }),
    pollingIntervalMs: 20,
    receiptTimeoutMs: 5_000,
  })

const fillResult = (tx: Record<string, unknown>) => ({ kind: 'result' as const, value: { raw: '0x', tx: { type: '0x2', nonce: '0x0', to: TO, value: '0x1', input: '0x', chainId: '0x7a69', gas: '0x5208', maxFeePerGas: '0x3b9aca00', maxPriorityFeePerGas: '0x1', ...tx } } })
const plan = fc.oneof(
  fc.tuple(fc.constant('eth_chainId'), fc.oneof(badEnvelope, badQuantity, fc.integer({ min: 1, max: 1e9 }).filter((n) => n !== 31337).map((n): BadAnswer => ({ kind: 'result', value: `0x${n.toString(16)}` })))),
  fc.tuple(fc.constant('eth_getTransactionCount'), fc.oneof(badEnvelope, badQuantity, hugeQuantity)),
  fc.tuple(fc.constant('eth_getBalance'), fc.oneof(badEnvelope, badQuantity, fc.constant<BadAnswer>({ kind: 'result', value: '0x0' }))),
  fc.tuple(
    fc.constant('eth_fillTransaction'),
    fc.constantFrom('gas', 'maxFeePerGas', 'maxPriorityFeePerGas').chain((field) => hugeQuantity.map((h) => fillResult({ [field]: (h as { value: unknown }).value }))),
  ),
).map(([method, answer]) => ({ method, answer }))

test('a clean send goes through the proxy (what the wallet asks, in order)', async () => {
  proxy.plan = undefined
  proxy.reset()
  const cleanWal = await TraceWal.open({ dir: join(dir, 'wal-clean'), agentId: '2' })
  const w = await open(anvil.accounts[4]!, join(dir, 'outbox-clean'), cleanWal)
  await w.sendTransaction({ to: TO, value: 1n }, { actionId: 'clean' })
  await cleanWal.close()
  expect(proxy.seen.slice(0, proxy.seen.indexOf('eth_sendRawTransaction'))).toEqual(['eth_chainId', 'eth_getTransactionCount', 'eth_fillTransaction', 'eth_getBalance'])
  expect(proxy.sentRaw).toBe(1)
})

test(`${RUNS} bad answers before the wallet writes: a typed error, nothing written, nothing sent`, async () => {
  const head = wal.head
  const byName = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(plan, async (p) => {
      proxy.plan = p
      proxy.reset()
      let err: unknown
      try {
        const w = await open()
        await w.sendTransaction({ to: TO, value: 1n }, { actionId: 'prop' })
      } catch (e) {
        err = e
      }
      const what = `${p.method} ← ${JSON.stringify(p.answer).slice(0, 200)} (seen ${proxy.seen.join(',')})`
      expect(proxy.corrupted, `the bad answer was never asked for: ${what}`).toBeGreaterThan(0)
      expect(err, `the send succeeded: ${what}`).toBeDefined()
      expect(err instanceof BaseError || err instanceof ViemBaseError, `${what}: ${String(err)}`).toBe(true)
      byName.set((err as Error).name, (byName.get((err as Error).name) ?? 0) + 1)
      expect(proxy.sentRaw, what).toBe(0)
      expect(wal.head, what).toEqual(head)
    }),
    // state carried from a failing run would blame the shrunk ones: report the first
    { numRuns: RUNS, endOnFailure: true },
  )
  proxy.plan = undefined
  expect((await wal.readAll()).steps).toEqual([])
  expect(readdirSync(join(dir, 'outbox'), { recursive: true }).filter((f) => String(f).endsWith('.json'))).toEqual([])
  expect(await (await import('viem')).createPublicClient({ transport: http(anvil.rpcUrl) }).getTransactionCount({ address: anvil.accounts[3]!.address })).toBe(0)
  process.stdout.write(`[rpc-wallet] errors: ${JSON.stringify(Object.fromEntries(byName))}\n`)
})
