import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { parseEther } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { getAccount, withAccount } from '../../src/bonds/index.js'
import type { DAClient } from '../../src/da/client.js'
import { AgentHost } from '../../src/service/agentHost.js'
import { deployAgent, DEV_FUNDING } from '../../src/service/deployAgent.js'
import { inferenceClients } from '../../src/service/inference.js'
import { startLocalStack, type LocalStack } from '../../src/service/stack.js'
import { payingAgent, PAYEE } from '../fixtures/serviceAgents.js'

// Issue 11: an honest operator was slashed for an untraced action after a DA outage longer
// than the commit deadline, because the agent accepted a task while DA writes were already
// failing (the guard looked only at the age of the backlog). Now a paying agent takes no new
// task while its last commit attempt failed — nothing is written or signed — and resumes by
// itself after the next successful commit. Every call its account made is covered.
let dir: string
let stack: LocalStack
let host: AgentHost
let daDown = false
const commitErrors: unknown[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-commit-outage-'))
  stack = await startLocalStack({ dataDir: dir, announce: false, idleBlockMs: false })
  const agent = payingAgent('outage-pay', { commitDeadline: 600, bond: parseEther('2') })
  const { record } = await deployAgent({ owner: withAccount(stack.client, stack.accounts[1]!), da: stack.da, dataDir: dir, agent, password: 'pw', scrypt: { N: 1024 }, fund: DEV_FUNDING })
  // DA that can be switched off for puts (what an outage of the DA endpoint looks like)
  const da: DAClient = {
    name: 'outage-switchable DA',
    get: (c) => stack.da.get(c),
    health: () => stack.da.health(),
    put: async (blob) => {
      if (daDown) throw new Error('DA endpoint unreachable (test outage)')
      return stack.da.put(blob)
    },
  }
  host = await AgentHost.open({
    agent,
    record,
    deployment: stack.deployment,
    rpcUrl: stack.rpcUrl,
    da,
    dataDir: dir,
    password: 'pw',
    onnx: await inferenceClients({}).onnx(agent),
    commitIntervalMs: 200,
    onCommitError: (err) => commitErrors.push(err),
    logger: pino({ level: 'silent' }),
  })
})

afterAll(async () => {
  await host?.close().catch(() => {})
  await stack?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const task = (i: number) => ({ memo: `invoice ${i}`, to: PAYEE, amountEth: '0.001' })
const until = async (ok: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('a paying agent takes no task while its commits fail, and resumes after the next good commit', async () => {
  const id = host.record.agentId
  expect((await host.run(task(0), `${id}-000000000001`)).txHashes).toHaveLength(1)
  await host.flush()

  daDown = true
  // something to commit, so the committer tries (and fails): a non-paying step is enough
  await host.wal.appendNext({ kind: 'input', actionId: `${id}-0000000000ff`, timestamp: Date.now(), task: 'noted while DA is down' })
  await until(() => commitErrors.length > 0)
  const head = host.wal.head.nextIndex
  const refused = await host.run(task(1), `${id}-000000000002`).catch((e: unknown) => e)
  expect(refused).toMatchObject({ name: 'CommitPipelineDownError' })
  expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0)
  // refused before anything was written or signed
  expect(host.wal.head.nextIndex).toBe(head)

  daDown = false
  await until(() => host.commitPipelineDown() === undefined)
  expect((await host.run(task(1), `${id}-000000000002`)).txHashes).toHaveLength(1)
  await host.flush()
  const account = await getAccount(stack.client, BigInt(id))
  expect(account.callCount).toBe(2)
  expect(account.coveredCalls).toBe(2)
})
