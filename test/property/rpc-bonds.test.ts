/**
 * The bonds client against bad RPC answers: a proxy in front of a real anvil (contracts
 * deployed, one agent registered) answers one call with garbage, wrong JSON types,
 * JSON-RPC and HTTP errors, call data no ABI type decodes. Reads (getAgent, getBatch, getNextSequence, getBond) and a write (registerAgent)
 * end in a typed error — Covenant's (RpcError, ContractRevertError, …) or viem's, never a
 * bare TypeError — and the write never reaches eth_sendRawTransaction: nothing is signed
 * and sent, the account's nonce on chain does not move.
 */
import fc from 'fast-check'
import { BaseError as ViemBaseError, createPublicClient, createWalletClient, http, keccak256, parseEther, toHex, type PublicClient } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { getBatch, getNextSequence } from '../../src/bonds/actions/getBatch.js'
import { getAgent } from '../../src/bonds/actions/getAgent.js'
import { getBond } from '../../src/bonds/actions/getBond.js'
import { registerAgent } from '../../src/bonds/actions/registerAgent.js'
import { startAnvil, type Anvil } from '../../src/bonds/anvil.js'
import { chainFor, createCovenantClient, withAccount, type CovenantClient } from '../../src/bonds/client.js'
import { deployCovenant } from '../../src/bonds/deploy.js'
import type { CovenantDeployment } from '../../src/bonds/deployment.js'
import { BaseError } from '../../src/errors/base.js'
import { badCallResult, badEnvelope, badRetryable, startRpcProxy, type BadAnswer, type RpcProxy } from './_rpcProxy.js'

const RUNS = 1_000
let anvil: Anvil
let proxy: RpcProxy
let deployment: CovenantDeployment
let client: CovenantClient
let agentId: bigint

const registration = () => ({
  operator: anvil.accounts[3]!.address,
  wallet: anvil.accounts[4]!.address,
  manifestHash: keccak256(toHex('manifest')),
  policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
})

beforeAll(async () => {
  anvil = await startAnvil({ accounts: 6 })
  const chain = chainFor(anvil.rpcUrl, anvil.chainId)
  deployment = await deployCovenant({
    publicClient: createPublicClient({ chain, transport: http(anvil.rpcUrl), pollingInterval: 50 }) as PublicClient,
    walletClient: createWalletClient({ chain, transport: http(anvil.rpcUrl), account: anvil.accounts[0]!, pollingInterval: 50 }),
  })
  proxy = await startRpcProxy(anvil.rpcUrl)
  client = createCovenantClient({ rpcUrl: proxy.url, deployment, pollingInterval: 50 })
  ;({ agentId } = await registerAgent(withAccount(client, anvil.accounts[1]!), registration()))
})
afterAll(async () => {
  await proxy?.close()
  await anvil?.stop()
})

// viem's http transport retries 5xx, 'internal error' and unparseable bodies (2 retries,
// 450 ms): those stay rare here so the file runs in seconds; the wallet's test has them often.
const slow = fc.oneof(badRetryable, badEnvelope.filter((a) => a.kind === 'raw'))
const anyBad = (specific: fc.Arbitrary<BadAnswer>) =>
  fc.oneof({ arbitrary: specific, weight: 40 }, { arbitrary: badEnvelope.filter((a) => a.kind !== 'raw'), weight: 20 }, { arbitrary: slow, weight: 1 })
const reads = [
  ['getAgent', () => getAgent(client, agentId)],
  ['getBatch', () => getBatch(client, agentId, 0n)],
  ['getNextSequence', () => getNextSequence(client, agentId)],
  ['getBond', () => getBond(client, agentId)],
] as const

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
    return undefined
  } catch (e) {
    return e
  }
}

test(`${RUNS} bad answers to contract reads: a typed error, never a value`, async () => {
  const byName = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...reads), anyBad(badCallResult), async ([name, run], answer) => {
      proxy.plan = { method: 'eth_call', answer }
      proxy.reset()
      const err = await outcome(run)
      const what = `${name}: eth_call ← ${JSON.stringify(answer).slice(0, 160)}`
      expect(err, `${what} returned a value`).toBeDefined()
      expect(err instanceof BaseError || err instanceof ViemBaseError, `${what}: ${String(err)}`).toBe(true)
      byName.set((err as Error).name, (byName.get((err as Error).name) ?? 0) + 1)
    }),
    { numRuns: RUNS },
  )
  proxy.plan = undefined
  expect((await getAgent(client, agentId)).wallet).toBe(anvil.accounts[4]!.address)
  process.stdout.write(`[rpc-bonds] read errors: ${JSON.stringify(Object.fromEntries(byName))}\n`)
})

test(`${RUNS} bad answers to a write's simulation: a typed error, nothing signed and sent`, async () => {
  const owner = withAccount(client, anvil.accounts[2]!)
  proxy.plan = undefined
  proxy.reset()
  // what a clean registration asks, up to the send (the first registration of account 1 was clean too)
  const clean = await registerAgent(withAccount(client, anvil.accounts[5]!), registration())
  expect(clean.agentId).toBe(agentId + 1n)
  const before = proxy.seen.slice(0, proxy.seen.indexOf('eth_sendRawTransaction'))
  const nonce = await owner.publicClient.getTransactionCount({ address: anvil.accounts[2]!.address })

  // the simulation, then the gas estimate the write adds its margin to (viem asks the node to
  // fill the transaction), then viem fills the rest and signs (an unreadable fill answer makes
  // viem fall back to asking for gas and fees one by one)
  expect(before).toEqual(['eth_call', 'eth_fillTransaction', 'eth_fillTransaction'])
  const plan = anyBad(badCallResult).map((answer) => ({ method: 'eth_call', answer }))
  const byName = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(plan, async (p) => {
      proxy.plan = p
      proxy.reset()
      const err = await outcome(() => registerAgent(owner, registration()))
      const what = `${p.method} ← ${JSON.stringify(p.answer).slice(0, 160)} (seen ${proxy.seen.join(',')})`
      expect(proxy.sentRaw, `a transaction was sent: ${what}`).toBe(0)
      expect(err, `registered anyway: ${what}`).toBeDefined()
      expect(err instanceof BaseError || err instanceof ViemBaseError, `${what}: ${String(err)}`).toBe(true)
      byName.set((err as Error).name, (byName.get((err as Error).name) ?? 0) + 1)
    }),
    { numRuns: RUNS, endOnFailure: true },
  )
  proxy.plan = undefined
  expect(await owner.publicClient.getTransactionCount({ address: anvil.accounts[2]!.address })).toBe(nonce)
  process.stdout.write(`[rpc-bonds] asked before sending: ${before.join(', ')}; write errors: ${JSON.stringify(Object.fromEntries(byName))}\n`)
})
