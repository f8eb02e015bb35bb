import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEventLogs, type Address } from 'viem'
import { getBatch } from '../../src/bonds/actions/getBatch.js'
import { traceLogAbi } from '../../src/bonds/generated/abis.js'
import { createModerationClassifier } from '../../src/inference/moderation.js'
import { findRegistration } from '../../src/service/deployChecks.js'
import { startService, type StartServiceOptions } from '../../src/service/service.js'
import { onStack, startLocalStack, type LocalStack } from '../../src/service/stack.js'
import type { DeployedAgent } from '../../src/service/worker.js'
import { createKeystore, saveKeystore } from '../../src/wallet/keystore.js'
import { deployFixtureAgents, finished, PASSWORD, postTask } from '../fixtures/serviceStack.js'

// Agents deployed with one operator key (deploy --operator-key) and hosted by one worker
// commit their batches in shared TraceLog bundles: one transaction, one storage slot.

let dataDir: string
let stack: LocalStack
let agents: DeployedAgent[]
let inference: StartServiceOptions['inference']

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-svc-bundles-'))
  stack = await startLocalStack({ dataDir, announce: false })
  const [first] = await deployFixtureAgents(stack, ['svc-mod-1'])
  const [second] = await deployFixtureAgents(stack, ['svc-mod-2'], { operatorKeystore: first!.record.operator.keystore })
  agents = [first!, second!]
  const classifier = await createModerationClassifier()
  inference = { chat: () => undefined, onnx: async () => classifier }
}, 120_000)

afterAll(async () => {
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('agents sharing an operator', () => {
  it('deploy --operator-key registers the second agent with the first one\'s operator', () => {
    const [a, b] = agents
    expect(b!.record.operator.address).toBe(a!.record.operator.address)
    expect(b!.record.operator.keystore).toBe(a!.record.operator.keystore)
    expect(b!.record.wallet.address).not.toBe(a!.record.wallet.address) // its own signer key
  })

  it("a resumed deploy finds its own registration by operator and signer key, not another agent's of the same operator", async () => {
    const [a, b] = agents
    const owner = stack.accounts[1]!.address
    for (const d of [a!, b!]) {
      const found = await findRegistration(stack.client, owner, { operator: d.record.operator.address as Address, wallet: d.record.wallet.address as Address })
      expect(found?.agentId.toString()).toBe(d.record.agentId)
    }
  })

  it('refuses an operator key that does not open, or one other than an existing agent\'s operator', async () => {
    await expect(deployFixtureAgents(stack, ['svc-mod-1'], { operatorKeystore: join(dataDir, 'no-such-key.json') })).rejects.toMatchObject({
      name: 'DeployRefusedError',
      message: expect.stringContaining('does not open'),
    })
    const other = join(dataDir, 'other-operator.json')
    const { keystore } = await createKeystore({ password: PASSWORD, scrypt: { N: 1024 } })
    await saveKeystore(other, keystore)
    await expect(deployFixtureAgents(stack, ['svc-mod-1'], { operatorKeystore: other })).rejects.toMatchObject({
      name: 'DeployRefusedError',
      message: expect.stringContaining('fixed when its keys were made'),
    })
  })

  it("one worker commits both agents' batches in one bundle; each batch reads back from the chain", async () => {
    // a long interval: the commits below are the test's own flushes
    const service = await startService({ agents, ...onStack(stack), port: 0, password: PASSWORD, inference, commitIntervalMs: 600_000 })
    try {
      const ids = await Promise.all(agents.map((a, i) => postTask(service.url, { agent: a.agent.name, task: { postId: `b-${i}`, text: 'The bake sale is on Sunday' } })))
      for (const id of ids) expect((await finished(service.url, id)).status).toBe('completed')
      const hosts = [...service.worker!.hosts().values()]
      expect(hosts).toHaveLength(2)
      const flushed = (await Promise.all(hosts.map((h) => h.flush()))).flat()
      expect(flushed).toHaveLength(2)
      expect(new Set(flushed.map((b) => b.txHash)).size).toBe(1)
      const receipt = await stack.client.publicClient.getTransactionReceipt({ hash: flushed[0]!.txHash! })
      const [bundle] = parseEventLogs({ abi: traceLogAbi, eventName: 'BundleCommitted', logs: receipt.logs })
      expect(bundle?.args.leaves).toHaveLength(2)
      for (const h of hosts) {
        const b = await getBatch(stack.client, BigInt(h.record.agentId), 0n)
        expect(b).toMatchObject({ opened: false, transactionHash: receipt.transactionHash, bundle: { bundle: bundle!.args.bundle } })
      }
    } finally {
      await service.close()
    }
  })
})
