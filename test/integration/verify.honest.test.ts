import { toHex } from 'viem'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { disputeGameAbi, getBond, registerVerifier } from '../../src/bonds/index.js'
import { increaseTime } from '../../src/bonds/devTime.js'
import { LocalDAStore } from '../../src/da/index.js'
import { fileManifestSource, VerifierNode, type VerifierEvent } from '../../src/verify/index.js'
import moderationAgent from '../../examples/agents/moderation/agent.js'
import { createTestAgent, ETH, moderationDigest, tempDir, writeManifest, type TestAgent } from '../../src/verify/_testing.js'
import { localReplayer } from '../../src/verify/replayers.js'

// An honest agent is never slashed by an honest verifier: 300 actions (input, an inference
// of the real moderation model, a real payment within policy, output) committed in batches while a verifier runs.
const ACTIONS = 300
const RUNTIME_ACTIONS = 20
let chain: TestChain
let node: VerifierNode
let a: TestAgent
let m: TestAgent
const events: VerifierEvent[] = []

let da: LocalDAStore | undefined
beforeAll(async () => {
  chain = await startTestChain()
  const root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  await registerVerifier(chain.as(5))
  a = await createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: 3, payee: 8 }, da, dir: root, modelDigests: [await moderationDigest()] })
  // a second agent run by the real agent runtime (src/agent), its manifest registered
  const { manifestHash } = await writeManifest(moderationAgent, root)
  m = await createTestAgent(chain, { roles: { owner: 1, operator: 4, wallet: 9, payee: 8 }, da, dir: await tempDir(), modelDigests: [await moderationDigest()], manifestHash })
  node = new VerifierNode({
    client: chain.as(5),
    da,
    dataDir: join(root, 'verifier'),
    replayer: localReplayer(),
    localWorkers: 2,
    pollIntervalMs: 100,
    withheldGraceSeconds: 30,
    manifests: [fileManifestSource(root)],
    onEvent: (e) => events.push(e),
  })
  await node.start()
})

afterAll(async () => {
  await node?.stop()
  await a?.op.close()
  await m?.op.close()
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

it(`finds no fault in ${ACTIONS} honest actions + ${RUNTIME_ACTIONS} by the agent runtime, and never disputes`, async () => {
  const bondBefore = (await getBond(chain.reader, a.agentId)).eth
  const bondBeforeM = (await getBond(chain.reader, m.agentId)).eth
  for (let i = 0; i < ACTIONS; i++) {
    const actionId = `${a.agentId}-${i.toString(16).padStart(12, '0')}`
    await a.op.append({ kind: 'input', actionId, timestamp: i, task: { pay: i } })
    await a.op.classify(actionId, `invoice ${i}: please pay ${i} units for order #${7 * i}`)
    // traced before it is sent, sent before the batch is committed: within the deadline
    await a.op.pay(actionId, { to: chain.account(8).address, value: ETH('0.001') + BigInt(i) })
    if (i % 50 === 49) await a.op.commit()
  }
  await a.op.commit()
  const runtime = await m.op.runtime(moderationAgent)
  for (let i = 0; i < RUNTIME_ACTIONS; i++) {
    await runtime.run({ postId: `p${i}`, text: i % 4 === 0 ? 'click here for free money!!!' : `meeting notes ${i}, see you tomorrow` })
    if (i % 10 === 9) await m.op.commit()
  }
  const head = await chain.reader.publicClient.getBlockNumber()

  // let the verifier catch up, then move past every commit deadline and let it look again
  const deadline = Date.now() + 60_000
  for (;;) {
    await node.nextPasses(1)
    const st = node.state
    if (st?.cursor && BigInt(st.cursor.block) >= head && st.pendingTxs.length === 0 && st.pendingBlobs.length === 0) break
    if (Date.now() > deadline) throw new Error(`verifier did not catch up: ${JSON.stringify(st?.cursor)}, ${st?.pendingTxs.length} pending txs`)
  }
  await increaseTime(chain.reader.publicClient, 601)
  await node.nextPasses(2)

  const batches = events.filter((e): e is Extract<VerifierEvent, { type: 'batch' }> => e.type === 'batch')
  expect(batches.length).toBe(ACTIONS / 50 + RUNTIME_ACTIONS / 10)
  expect(batches.every((b) => b.status === 'ok' && b.faults === 0)).toBe(true)
  expect(batches.filter((b) => b.agentId === a.agentId).reduce((n, b) => n + b.steps, 0)).toBe(ACTIONS * 5)
  // input, inference, tool, output per runtime action
  expect(batches.filter((b) => b.agentId === m.agentId).reduce((n, b) => n + b.steps, 0)).toBe(RUNTIME_ACTIONS * 4)
  // the manifest was found and matched its registered hash (no fallback warning); neither
  // agent registered code, so the node says once per agent that their logic is not replayed
  const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []))
  expect(warnings.sort()).toEqual(
    [
      `agent ${a.agentId}: the agent's own logic was not replayed: its manifest ${toHex('verify-test-agent', { size: 32 }).slice(0, 10)}… is not available to this verifier (pass --manifest)`,
      `agent ${m.agentId}: the agent's own logic cannot be replayed: agent ${m.agentId} is registered without a code bundle (its manifest's codeHash is null)`,
    ].sort(),
  )
  expect(events.filter((e) => e.type === 'fault' || e.type === 'challenge')).toEqual([])
  expect(events.filter((e) => e.type === 'error')).toEqual([])
  const disputes = await chain.reader.publicClient.readContract({
    address: chain.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'disputeCount',
  })
  expect(disputes).toBe(0n)
  expect((await getBond(chain.reader, a.agentId)).eth).toBe(bondBefore)
  expect((await getBond(chain.reader, m.agentId)).eth).toBe(bondBeforeM)
  // every payment was seen and matched to its committed wallet step
  expect(node.state?.pendingTxs).toEqual([])
})
