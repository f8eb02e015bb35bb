/**
 * DA down → the agent stops acting (no trace, no action), and resumes when DA is back.
 *
 * A paying agent (commit deadline 40 s) served in-process (HTTP API + worker, in-process
 * queue) commits through an eigenda-proxy-API DA server that this test stops and restarts
 * on the same port. While DA is down the committer cannot put blobs; once the oldest
 * uncommitted step is older than half the commit deadline the host refuses new tasks with
 * CommitBacklogError (recoverable: the queue puts the task back without counting an
 * attempt) — nothing is written, nothing signed. When DA returns, the backlog commits, the
 * waiting tasks run, and every transaction is in a batch committed within its deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { withAccount } from '../../src/bonds/client.js'
import { getBatch } from '../../src/bonds/actions/getBatch.js'
import { EigenDAProxyClient } from '../../src/da/eigendaProxyClient.js'
import { LocalDAStore } from '../../src/da/localStore.js'
import { startDAServer, type DAServer } from '../../src/da/server.js'
import { RetryLaterCovenantError } from '../../src/errors/base.js'
import { deployAgent, DEV_FUNDING } from '../../src/service/deployAgent.js'
import { inferenceClients } from '../../src/service/inference.js'
import { startService, type Service } from '../../src/service/service.js'
import { startLocalStack, type LocalStack, onStack } from '../../src/service/stack.js'
import type { DeployedAgent } from '../../src/service/worker.js'
import type { WalletStep } from '../../src/trace/schemas.js'
import { getTask, postTask, type TaskView } from '../fixtures/serviceStack.js'
import { payTask, quickPayingAgent } from './_agents.js'
import { auditAgent, freePort, readCursorFile, sleep, transactionsFrom, until, walSteps } from './_support.js'

const COMMIT_DEADLINE = 60 // s: the host refuses new tasks once the backlog is 30 s old
const PASSWORD = 'fault-da'

let dataDir: string
let stack: LocalStack
let daPort: number
let daServer: DAServer | undefined
let service: Service
let deployed: DeployedAgent
const log = (m: string) => process.stdout.write(`[da-down] ${m}\n`)

// the DA server and its store: stopping DA closes both (the server leaves its store to its owner)
let daStore: LocalDAStore | undefined
const startDA = async () => {
  daStore = new LocalDAStore({ dir: join(dataDir, 'da-own') })
  daServer = await startDAServer({ store: daStore, port: daPort })
}
const stopDA = async () => {
  await daServer?.close()
  await daStore?.close()
  daServer = undefined
  daStore = undefined
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-fault-da-'))
  stack = await startLocalStack({ dataDir, announce: false })
  daPort = await freePort()
  await startDA()
  const owner = withAccount(stack.client, stack.accounts[1]!)
  const agent = quickPayingAgent('fault-da-pay', COMMIT_DEADLINE)
  const { record } = await deployAgent({ owner, da: stack.da, dataDir, agent, password: PASSWORD, scrypt: { N: 1024 }, fund: DEV_FUNDING })
  deployed = { agent, record }
  service = await startService({
    agents: [deployed],
    ...onStack(stack),
    // few retries: a committer tick gives up on a dead DA within a second or two
    da: new EigenDAProxyClient({ url: `http://127.0.0.1:${daPort}`, retries: 1, backoffMs: 100, putTimeoutMs: 5_000 }),
    port: 0,
    password: PASSWORD,
    inference: inferenceClients({}),
    logger: pino({ level: 'fatal' }),
  })
})

afterAll(async () => {
  await service?.close().catch(() => {})
  await stopDA().catch(() => {})
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const agentId = () => deployed.record.agentId
const wallet = () => deployed.record.wallet.address as `0x${string}`
const final = (t: TaskView) => t.status === 'completed' || t.status === 'failed'
const txCount = () => stack.client.publicClient.getTransactionCount({ address: wallet() })
const host = () => service.worker!.hosts().get(agentId())!

test('DA down: the agent stops acting before its commit deadline (no trace, no action), then the backlog commits and it resumes', async () => {
  // 1. healthy: tasks run and commit
  const before = await Promise.all([0, 1, 2].map((i) => postTask(service.url, { agent: 'fault-da-pay', task: payTask(i) })))
  for (const id of before) expect((await until(async () => ((t) => (final(t) ? t : undefined))(await getTask(service.url, id)), id)).status).toBe('completed')
  await host().flush()
  expect(host().committer.oldestUncommittedAt).toBeUndefined()

  // 2. DA goes down; the agent keeps working on tasks until its backlog is half a deadline old
  await stopDA()
  const downAt = Date.now()
  log('DA server stopped')
  const during: string[] = []
  let refused: TaskView | undefined
  for (let i = 10; !refused; i++) {
    const id = await postTask(service.url, { agent: 'fault-da-pay', task: payTask(i) })
    during.push(id)
    const t = await until(async () => {
      const v = await getTask(service.url, id)
      return final(v) || v.error?.name === 'CommitBacklogError' ? v : undefined
    }, `task ${id}`)
    if (t.error?.name === 'CommitBacklogError') refused = t
    else {
      expect(t.status).toBe('completed')
      await sleep(1_000)
    }
  }
  const acted = during.slice(0, -1)
  log(`${acted.length} tasks ran while DA was down before the host refused (${refused.taskId}: ${refused.error?.message})`)
  expect(acted.length).toBeGreaterThan(0)
  expect(refused).toMatchObject({ status: 'queued', attempts: 0, error: { name: 'CommitBacklogError', final: false } }) // refused before it started: not an attempt

  // the typed refusal, as the host gives it
  const err = host().commitBacklog()
  expect(err).toBeInstanceOf(RetryLaterCovenantError)
  expect(err).toMatchObject({ name: 'CommitBacklogError', maxLagMs: (COMMIT_DEADLINE * 1000) / 2 })
  expect(err!.lagMs).toBeGreaterThan(err!.maxLagMs)
  expect(err!.retryAfterMs).toBeGreaterThan(0)
  expect(err!.message).toMatch(/Check that the DA endpoint \(--da\) and the chain \(--rpc\) are reachable/)
  expect(err!.message).toMatch(/Last commit error: DAUnavailableError/)

  // 3. while refused: more tasks wait; across several retries nothing is written or signed
  const waiting = [refused.taskId]
  for (let i = 100; i < 103; i++) waiting.push(await postTask(service.url, { agent: 'fault-da-pay', task: payTask(i) }))
  const walLen = (await host().wal.readAll()).steps.length
  const txs = await txCount()
  await sleep(12_000) // more than two retry delays of the refused tasks
  expect((await host().wal.readAll()).steps.length).toBe(walLen)
  expect(await txCount()).toBe(txs)
  for (const id of waiting) {
    const t = await getTask(service.url, id)
    expect(t).toMatchObject({ status: 'queued', attempts: 0, error: { name: 'CommitBacklogError', final: false } })
    expect((await walSteps(dataDir, agentId())).some((s) => s.actionId === id)).toBe(false)
  }
  log(`refusing: ${waiting.length} tasks waiting, WAL at ${walLen} steps, ${txs} wallet transactions, unchanged over 12 s`)

  // 4. DA back on the same port: the backlog commits, the waiting tasks run
  await startDA()
  const downMs = Date.now() - downAt
  log(`DA server back after ${Math.round(downMs / 1000)} s`)
  for (const id of waiting) {
    const t = await until(async () => ((v) => (final(v) ? v : undefined))(await getTask(service.url, id)), `task ${id} after DA came back`, 120_000)
    expect(t.status, JSON.stringify(t.error)).toBe('completed')
    expect(t.attempts).toBe(1) // the refusals did not count as attempts
    expect(t.txHashes).toHaveLength(1)
  }
  await host().flush()
  expect(host().committer.oldestUncommittedAt).toBeUndefined()

  // 5. every transaction's wallet step is in a batch committed within the commit deadline
  const steps = await walSteps(dataDir, agentId())
  const cursor = readCursorFile(dataDir, agentId())
  const sent = await transactionsFrom(stack.client, wallet())
  let latest = 0
  for (const s of steps.filter((x): x is WalletStep => x.kind === 'wallet')) {
    const tx = sent.find((t) => t.nonce === s.nonce)!
    const receipt = await stack.client.publicClient.getTransactionReceipt({ hash: tx.hash })
    const block = await stack.client.publicClient.getBlock({ blockNumber: receipt.blockNumber })
    let committedAt: number | undefined
    for (let seq = 0n; seq < BigInt(cursor.nextSequence); seq++) {
      const b = await getBatch(stack.client, BigInt(agentId()), seq)
      if (b && s.index >= Number(b.firstIndex) && s.index < Number(b.firstIndex) + Number(b.stepCount)) committedAt = b.committedAt
    }
    expect(committedAt, `wallet step ${s.index} not committed`).toBeDefined()
    const lag = committedAt! - Number(block.timestamp)
    latest = Math.max(latest, lag)
    expect(lag, `nonce ${s.nonce}: committed ${lag} s after its transaction`).toBeLessThanOrEqual(COMMIT_DEADLINE)
  }
  log(`longest transaction → commitment: ${latest} s (deadline ${COMMIT_DEADLINE} s)`)

  // 6. audit after the final flush
  await service.close()
  const audit = await auditAgent({ dataDir, agentId: agentId(), wallet: wallet(), client: stack.client, da: new LocalDAStore({ dir: join(dataDir, 'da-own') }), expect: (c, m) => expect(c, m).toBe(true) })
  expect(audit.walletTxsOnChain).toBe(before.length + acted.length + waiting.length)
  log(`audit: ${JSON.stringify({ ...audit, interrupted: audit.interrupted.length })}`)
})
