/**
 * RPC down, anvil restarted → clear typed errors, nothing corrupted, work resumes.
 *
 * A real anvil started with `--state <file>` (it dumps its chain on exit and loads it on
 * start), stopped and restarted on the same port, under:
 *  - a paying agent live in an AgentHost (WAL, wallet, runtime, committer): while the node
 *    is down a new task is refused before anything is written (ChainUnavailableError, a
 *    retry-later error naming the URL and --rpc), commits fail with RpcError and keep the
 *    batch pending; after the restart the same task id runs once and the backlog commits;
 *  - a wallet whose node dies between signing and broadcasting: WalletBroadcastError, the
 *    signed transaction is held by the wallet (no outbox file: its WAL record fixes its
 *    bytes), and after the restart recovery re-broadcasts the very same bytes (one
 *    transaction per nonce on chain);
 *  - the bonds client: reads fail with RpcError (URL, what to check) and work afterwards.
 * Then the host is reopened (an action answered from the WAL lists its one transaction
 * once) and the whole trace is audited against the chain and DA.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createPublicClient, createWalletClient, http, parseEther, type PublicClient } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startAnvil, type Anvil } from '../../src/bonds/anvil.js'
import { chainFor, createCovenantClient, withAccount, type CovenantClient } from '../../src/bonds/client.js'
import { deployCovenant } from '../../src/bonds/deploy.js'
import type { CovenantDeployment } from '../../src/bonds/deployment.js'
import { getAgent } from '../../src/bonds/actions/getAgent.js'
import { LocalDAStore } from '../../src/da/localStore.js'
import { BaseError, RetryLaterCovenantError } from '../../src/errors/base.js'
import { AgentHost, type OpenAgentHostParameters } from '../../src/service/agentHost.js'
import { deployAgent, DEV_FUNDING } from '../../src/service/deployAgent.js'
import { inferenceClients } from '../../src/service/inference.js'
import { TraceWal } from '../../src/trace/wal.js'
import { createAgentWallet } from '../../src/wallet/agentWallet.js'
import { PAYEE, payTask, quickPayingAgent } from './_agents.js'
import { auditAgent, readCursorFile, transactionsFrom, walSteps } from './_support.js'

const PASSWORD = 'fault-rpc'
const silent = pino({ level: 'silent' })
const log = (m: string) => process.stdout.write(`[rpc-down] ${m}\n`)

let dir: string
let stateFile: string
let anvil: Anvil
let port: number
let deployment: CovenantDeployment
let client: CovenantClient
let da: LocalDAStore
let host: AgentHost | undefined
let hostParams: OpenAgentHostParameters
const commitErrors: unknown[] = []

async function startChain(): Promise<void> {
  anvil = await startAnvil({ accounts: 20, stateFile, ...(port ? { port } : {}) })
  port = anvil.port
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-fault-rpc-'))
  stateFile = join(dir, 'anvil-state.json')
  await startChain()
  const chain = chainFor(anvil.rpcUrl, anvil.chainId)
  deployment = await deployCovenant({
    publicClient: createPublicClient({ chain, transport: http(anvil.rpcUrl), pollingInterval: 100 }) as PublicClient,
    walletClient: createWalletClient({ chain, transport: http(anvil.rpcUrl), account: anvil.accounts[0]!, pollingInterval: 100 }),
  })
  client = createCovenantClient({ rpcUrl: anvil.rpcUrl, deployment, pollingInterval: 100 })
  da = new LocalDAStore({ dir: join(dir, 'da') })
  const agent = quickPayingAgent('fault-rpc-pay', 600)
  const { record } = await deployAgent({ owner: withAccount(client, anvil.accounts[1]!), da, dataDir: dir, agent, password: PASSWORD, scrypt: { N: 1024 }, fund: DEV_FUNDING })
  hostParams = {
    agent,
    record,
    deployment,
    rpcUrl: anvil.rpcUrl,
    da,
    dataDir: dir,
    password: PASSWORD,
    onnx: await inferenceClients({}).onnx(agent),
    commitIntervalMs: 300,
    onCommitError: (err) => commitErrors.push(err),
    logger: silent,
  }
  host = await AgentHost.open(hostParams)
})

afterAll(async () => {
  await host?.close({ flush: false }).catch(() => {})
  await anvil?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const agentId = () => hostParams.record.agentId
const walletAddress = () => hostParams.record.wallet.address as `0x${string}`
const outboxFiles = () => readdirSync(join(dir, 'outbox'), { recursive: true }).map(String).sort()
const caught = async (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error('expected a rejection') }, (e: Error) => e)

test('anvil stopped and restarted (--state): typed errors while down, nothing corrupted, work resumes', async () => {
  // 1. healthy
  for (let i = 0; i < 3; i++) expect((await host!.run(payTask(i), `${agentId()}-00000000000${i}`)).txHashes).toHaveLength(1)
  await host!.flush()

  // one more action whose steps are not committed yet (the committer paused for it)
  await host!.committer.stop()
  expect((await host!.run(payTask(3), `${agentId()}-000000000003`)).txHashes).toHaveLength(1)

  // 2. the node goes away (SIGTERM: anvil dumps its chain to the state file)
  const blockBefore = await client.publicClient.getBlockNumber()
  await anvil.stop()
  log(`anvil stopped at block ${blockBefore}`)
  const walLen = (await walSteps(dir, agentId())).length
  const outbox = outboxFiles()
  const refusedId = `${agentId()}-0000000000aa`
  for (let attempt = 0; attempt < 3; attempt++) {
    const err = await caught(host!.run(payTask(10), refusedId))
    expect(err).toBeInstanceOf(RetryLaterCovenantError)
    expect(err).toMatchObject({ name: 'ChainUnavailableError', rpcUrl: anvil.rpcUrl })
    expect(err.message).toContain(`cannot reach the chain at ${anvil.rpcUrl}`)
    expect(err.message).toContain('Check that the node is running and the URL is right (--rpc)')
  }
  // the bonds client: RpcError, with what to check
  const readErr = await caught(getAgent(client, BigInt(agentId())))
  expect(readErr, String(readErr)).toBeInstanceOf(BaseError)
  expect(readErr).toMatchObject({ name: 'RpcError' })
  expect(readErr.message).toMatch(/Cannot reach the chain at .*\n\nCheck that the node is running and the URL is right \(--rpc\)/)
  // the committer: RpcError on every try; the batch it put on DA stays pending, unchanged
  const commitErrs: Error[] = []
  for (let i = 0; i < 3; i++) commitErrs.push(await caught(host!.flush()))
  for (const e of commitErrs) expect(e, String(e)).toMatchObject({ name: 'RpcError' })
  const pending = readCursorFile(dir, agentId()).pending
  expect(pending).not.toBeNull()
  // nothing was written or signed for the refused task
  expect((await walSteps(dir, agentId())).length).toBe(walLen)
  expect(outboxFiles()).toEqual(outbox)
  log('while down: the task was refused 3 times (ChainUnavailableError), 3 commits failed with RpcError (batch kept pending), WAL and outbox unchanged')

  // 3. the node comes back on its port with its state
  await startChain()
  expect(await client.publicClient.getBlockNumber()).toBe(blockBefore)
  const resumed = await host!.run(payTask(10), refusedId)
  expect(resumed.txHashes).toHaveLength(1)
  expect((await host!.run(payTask(10), refusedId)).txHashes).toEqual(resumed.txHashes) // answered, not run again
  const committed = await host!.flush()
  expect(committed[0]).toMatchObject({ sequence: (pending as { sequence: number }).sequence, root: (pending as { root: string }).root })
  host!.committer.start(300, (e) => commitErrors.push(e))
  expect(host!.committer.oldestUncommittedAt).toBeUndefined()
  expect((await getAgent(client, BigInt(agentId()))).wallet.toLowerCase()).toBe(walletAddress().toLowerCase())
  log('after the restart: the refused task ran once, the backlog committed')

  // 4. the node dies between signing and broadcasting a wallet transaction
  const wdir = join(dir, 'wallet-only')
  const wal = await TraceWal.open({ dir: wdir, agentId: '4242' })
  const account = anvil.accounts[7]!
  const stopOnSign = { armed: true }
  const wallet = await createAgentWallet({
    account,
    chain: chainFor(anvil.rpcUrl, anvil.chainId),
    wal,
    policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [PAYEE] },
    policyVersion: 1,
    pollingIntervalMs: 100,
    logger: silent,
    on: {
      signed: async () => {
        if (!stopOnSign.armed) return
        stopOnSign.armed = false
        await anvil.stop()
      },
    },
  })
  const nonce0 = await client.publicClient.getTransactionCount({ address: account.address })
  const broadcastErr = await caught(wallet.sendTransaction({ to: PAYEE, value: parseEther('0.01') }, { actionId: 'w-1' }))
  expect(broadcastErr).toMatchObject({ name: 'WalletBroadcastError' })
  // the signed bytes are held in memory: the WAL record (the step, its gas and fees) is the durable one
  const entryFiles = readdirSync(join(wdir, 'agent-4242.outbox'), { recursive: true }).map(String).filter((f) => /\.(json|mined)$/.test(f))
  expect(entryFiles).toEqual([])
  const signedHash = (broadcastErr as unknown as { hash: string }).hash
  // while down, the next send fails before anything is written
  const stepsBefore = (await wal.readAll()).steps.length
  const rpcErr = await caught(wallet.sendTransaction({ to: PAYEE, value: parseEther('0.02') }, { actionId: 'w-2' }))
  expect(rpcErr.name).toMatch(/^(WalletRpcError|WalletBroadcastError)$/)
  expect((await wal.readAll()).steps.length).toBe(stepsBefore)
  await startChain()
  const report = await wallet.recover()
  expect(report).toMatchObject([{ nonce: nonce0, outcome: 'rebroadcast' }])
  const second = await wallet.sendTransaction({ to: PAYEE, value: parseEther('0.02') }, { actionId: 'w-2' })
  expect(second.nonce).toBe(nonce0 + 1)
  const sent = await transactionsFrom(client, account.address)
  expect(sent.map((t) => t.nonce)).toEqual([nonce0, nonce0 + 1])
  expect(sent[0]!.hash).toBe(report[0]!.hash)
  expect(sent[0]!.hash).toBe(signedHash)
  await wal.close()
  log('a broadcast cut off by the node going down: the wallet held the signed bytes, recovery re-sent them once')

  // 5. reopen the host: actions answered from the WAL list their one transaction once
  await host!.close()
  host = await AgentHost.open({ ...hostParams })
  const again = await host.run(payTask(10), refusedId)
  expect(again.txHashes).toEqual(resumed.txHashes)
  await host.close()
  host = undefined

  const audit = await auditAgent({ dataDir: dir, agentId: agentId(), wallet: walletAddress(), client, da, expect: (c, m) => expect(c, m).toBe(true) })
  expect(audit.walletTxsOnChain).toBe(5)
  log(`audit: ${JSON.stringify({ ...audit, interrupted: audit.interrupted.length })}`)
})
