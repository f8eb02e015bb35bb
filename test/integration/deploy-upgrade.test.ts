import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEther } from 'viem'
import { defineAgent } from '../../src/agent/index.js'
import { activateUpdate, getAgent, increaseTime, withAccount, ContractRevertError } from '../../src/bonds/index.js'
import { deployAgent } from '../../src/service/deployAgent.js'
import { startLocalStack, type LocalStack } from '../../src/service/stack.js'
import moderation, { publishDecision } from '../../examples/agents/moderation/agent.js'

let stack: LocalStack
let dataDir: string
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'covenant-upgrade-'))
  stack = await startLocalStack({ dataDir, announce: false, params: { minPolicyDelay: 600 } })
})
afterAll(async () => {
  await stack?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('re-deploying a changed agent', () => {
  it('is an explicit upgrade that only the owner activates, after the policy delay and the challenge windows', async () => {
    const owner = withAccount(stack.client, stack.accounts[1]!)
    const common = { owner, da: stack.da, dataDir, password: 'pw', scrypt: { N: 1024 } }
    const first = await deployAgent({ ...common, agent: moderation })
    expect(first.outcome).toBe('registered')
    const agentId = BigInt(first.record.agentId)

    expect((await deployAgent({ ...common, agent: moderation })).outcome).toBe('unchanged')

    const v2 = defineAgent({
      name: 'moderation',
      instructions: 'Classify each post and publish keep/remove — version 2.',
      model: moderation.model,
      tools: [publishDecision],
      policy: { ...moderation.policy, challengeWindow: 7_200 },
      bond: { eth: parseEther('2') },
    })
    const upgrade = await deployAgent({ ...common, agent: v2 })
    expect(upgrade.outcome).toBe('upgrade-proposed')
    expect(upgrade.record.pendingVersion).toBe(2)
    const before = await getAgent(stack.client, agentId)
    expect(before).toMatchObject({ activeVersion: 1, pendingVersion: 2 })
    expect(before.active.policy.challengeWindow).toBe(3_600)

    const early = await activateUpdate(owner, { agentId }).catch((e: unknown) => e)
    expect(early).toBeInstanceOf(ContractRevertError)
    expect((early as ContractRevertError).errorName).toBe('UpdateNotReady')

    // the update waits for the longer of the policy delay and both challenge windows (7,200 s)
    const block = await stack.client.publicClient.getBlock()
    expect(upgrade.readyAt).toBeGreaterThanOrEqual(Number(block.timestamp) + 7_200 - 5)
    await increaseTime(stack.client.publicClient, upgrade.readyAt! - Number(block.timestamp) + 1)
    // only the owner activates: a stranger cannot switch the version under the running agent
    const stranger = withAccount(stack.client, stack.accounts[4]!)
    const byStranger = await activateUpdate(stranger, { agentId }).catch((e: unknown) => e)
    expect((byStranger as ContractRevertError).errorName).toBe('NotAgentOwner')
    await activateUpdate(owner, { agentId })
    const after = await getAgent(stack.client, agentId)
    expect(after).toMatchObject({ activeVersion: 2, pendingVersion: 0 })
    expect(after.active.policy.challengeWindow).toBe(7_200)
    expect(after.active.manifestHash).not.toBe(before.active.manifestHash)
  })
})
