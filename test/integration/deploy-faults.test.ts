/**
 * `deployAgent` is all or nothing from the user's point of view, against a real anvil chain:
 * - what it refuses (policy, the chain's window bounds, the owner's balance, the model) is
 *   refused before anything reaches DA, the data dir or the chain;
 * - each step failed in turn — DA put, key files, register, deposit, funding, the ERC-8004
 *   identity, record write;
 *   before its transaction is sent and after it was mined unseen — stops with a
 *   DeployInterruptedError saying what was done, and the same deploy run again completes
 *   with exactly one agent registered, the bond deposited once and the record written.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestClient, http, parseEther, type Hash } from 'viem'
import { defineAgent, type AgentDefinition, type DefineAgentParameters } from '../../src/agent/index.js'
import { agentRegistryAbi, identityRegistryAbi } from '../../src/bonds/generated/abis.js'
import { COVENANT_METADATA_KEY, decodeCovenantMetadata, getAgent, getBond, getIdentity, withAccount, type CovenantWriteClient } from '../../src/bonds/index.js'
import type { DAClient } from '../../src/da/client.js'
import { agentRecordFile, readAgentRecord } from '../../src/service/agentRecord.js'
import { deployAgent, DEV_FUNDING, type DeployAgentParameters } from '../../src/service/deployAgent.js'
import { deployProgressFile } from '../../src/service/deployProgress.js'
import { DeployInterruptedError, DeployRefusedError } from '../../src/service/errors.js'
import { startLocalStack, type LocalStack } from '../../src/service/stack.js'

let stack: LocalStack
let root: string
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'covenant-deploy-faults-'))
  stack = await startLocalStack({ dataDir: join(root, 'stack'), announce: false, idleBlockMs: false })
})
afterAll(async () => {
  await stack?.stop()
  rmSync(root, { recursive: true, force: true })
})

let dirs = 0
const freshDataDir = () => {
  const d = join(root, `data-${++dirs}`)
  mkdirSync(d)
  return d
}

function agentNamed(name: string, over: Partial<Pick<DefineAgentParameters, 'instructions' | 'bond' | 'policy'>> = {}): AgentDefinition {
  return defineAgent({
    name,
    instructions: over.instructions ?? 'Answer briefly.',
    model: { kind: 'chat', model: 'covenant-chat' },
    tools: [],
    policy: over.policy ?? { maxValuePerTx: parseEther('0.1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
    bond: over.bond ?? { eth: parseEther('2') },
  })
}

/** The ERC-8004 identities whose `covenant` metadata names Covenant agent `agentId`. */
async function identitiesOf(agentId: bigint): Promise<bigint[]> {
  const identityRegistry = stack.deployment.erc8004!.identityRegistry
  const logs = await stack.client.publicClient.getContractEvents({ address: identityRegistry, abi: identityRegistryAbi, eventName: 'Registered', fromBlock: 0n })
  const out: bigint[] = []
  for (const l of logs) {
    const meta = await stack.client.publicClient.readContract({ address: identityRegistry, abi: identityRegistryAbi, functionName: 'getMetadata', args: [l.args.agentId!, COVENANT_METADATA_KEY] })
    if (decodeCovenantMetadata(meta)?.agentId === agentId) out.push(l.args.agentId!)
  }
  return out
}

const agentCount = () => stack.client.publicClient.readContract({ address: stack.deployment.contracts.agentRegistry, abi: agentRegistryAbi, functionName: 'agentCount' })

/** A DA client over the stack's that counts puts and can fail the next one. */
function countingDA(failNext = false) {
  const state = { puts: 0, failNext }
  const da: DAClient = new Proxy(stack.da, {
    get(target, key, receiver) {
      if (key !== 'put') return Reflect.get(target, key, receiver)
      return async (bytes: Uint8Array) => {
        state.puts++
        if (state.failNext) {
          state.failNext = false
          throw new Error('injected: DA unreachable')
        }
        return target.put(bytes)
      }
    },
  })
  return { da, state }
}

type Fault = { call: 'register' | 'depositEth' | 'transfer'; when: 'before-send' | 'after-send' | 'in-flight'; nth?: number }

/**
 * The owner's client, failing once at `fault`: before its transaction is sent (the node is
 * unreachable), after it was sent and mined (the receipt is lost: the run cannot know), or
 * right after it was sent (the run stops while it is still in flight).
 */
function faultyOwner(owner: CovenantWriteClient, fault: Fault): CovenantWriteClient {
  let seen = 0
  let armed = true
  let lostReceipt: Hash | undefined
  const hit = (call: Fault['call']) => armed && call === fault.call && ++seen === (fault.nth ?? 1)
  const walletClient = new Proxy(owner.walletClient, {
    get(target, key, receiver) {
      if (key === 'writeContract') {
        return async (request: Parameters<typeof target.writeContract>[0]) => {
          const call = request.functionName === 'register' ? 'register' : request.functionName === 'depositEth' ? 'depositEth' : undefined
          const now = call !== undefined && hit(call)
          if (now && fault.when === 'before-send') {
            armed = false
            throw new Error(`injected: node unreachable before ${call} was sent`)
          }
          const hash = await target.writeContract(request)
          if (now) lostReceipt = hash
          if (now && fault.when === 'in-flight') {
            armed = false
            throw new Error(`injected: stopped with ${call} in flight`)
          }
          return hash
        }
      }
      if (key === 'sendTransaction') {
        return async (request: Parameters<typeof target.sendTransaction>[0]) => {
          const now = hit('transfer')
          if (now && fault.when === 'before-send') {
            armed = false
            throw new Error('injected: node unreachable before a transfer was sent')
          }
          const hash = await target.sendTransaction(request)
          if (now) lostReceipt = hash
          return hash
        }
      }
      return Reflect.get(target, key, receiver)
    },
  })
  const publicClient = new Proxy(owner.publicClient, {
    get(target, key, receiver) {
      if (key === 'waitForTransactionReceipt') {
        return async (args: Parameters<typeof target.waitForTransactionReceipt>[0]) => {
          if (armed && lostReceipt !== undefined && args.hash === lostReceipt) {
            armed = false
            await target.waitForTransactionReceipt(args) // mined, for sure
            throw new Error('injected: connection lost while waiting for the receipt')
          }
          return target.waitForTransactionReceipt(args)
        }
      }
      return Reflect.get(target, key, receiver)
    },
  })
  return { ...owner, walletClient, publicClient }
}

function params(owner: CovenantWriteClient, dataDir: string, agent: AgentDefinition, over: Partial<DeployAgentParameters> = {}): DeployAgentParameters {
  return { owner, da: stack.da, dataDir, agent, password: 'pw', scrypt: { N: 1024 }, fund: DEV_FUNDING, ...over }
}

async function expectInterrupted(run: Promise<unknown>, step: RegExp): Promise<DeployInterruptedError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DeployInterruptedError)
  const e = err as DeployInterruptedError
  expect(e.step).toMatch(step)
  expect(e.message).toMatch(/^Deploy of \S+ stopped while it was to .+: .*injected|EISDIR|ENOTDIR|EEXIST/)
  expect(e.message).toMatch(/\nDone: .+\.\nNot done: .+\.\n/)
  // the cause in one line, not a viem error's twenty
  expect(e.message.split('\n').length).toBeLessThanOrEqual(6)
  return e
}

describe('deploy refuses before acting', () => {
  test.each([
    {
      what: 'a challenge window the chain refuses (window + dispute period >= unbonding delay)',
      agent: () => agentNamed('too-long', { policy: { maxValuePerTx: 1n, challengeWindow: 7 * 86_400 - 3_600, commitDeadline: 600, allowedTargets: [] } }),
      message: /policy\.challengeWindow is 601200 s, but on this chain .* must stay below the unbonding delay \(604800 s\): at most 601199 s each\./,
    },
    {
      what: 'a commit deadline the chain refuses',
      agent: () => agentNamed('late-commits', { policy: { maxValuePerTx: 1n, challengeWindow: 3_600, commitDeadline: 10 * 86_400, allowedTargets: [] } }),
      message: /policy\.commitDeadline is 864000 s/,
    },
    {
      what: 'a bond above what the owner holds',
      agent: () => agentNamed('too-rich', { bond: { eth: parseEther('20000') } }),
      message: /the owner 0x[0-9a-fA-F]{40} holds 10000 ETH; this deploy needs 2000\d\.\d+ ETH \(bond 20000 \+ funding 6\.5 \+ gas about 0\.\d+\)\./,
    },
    {
      what: 'a token bond the owner has no tokens for (and no dev mint)',
      agent: () => agentNamed('no-tokens', { bond: { eth: 0n, token: 5n } }),
      message: /holds 0 bond tokens; the bond needs 5\./,
    },
    {
      what: 'a policy outside the schema (an agent not made by defineAgent)',
      agent: () => ({ ...agentNamed('raw'), policy: { maxValuePerTx: 1n, challengeWindow: 30, commitDeadline: 600, allowedTargets: [], allowedSelectors: [] } }),
      message: /policy\.challengeWindow: the challenge window must be at least 60 s \(AgentRegistry\.MIN_CHALLENGE_WINDOW\)\./,
    },
    {
      what: 'an unknown model',
      agent: () => ({ ...agentNamed('no-model'), model: { kind: 'chat' as const, model: 'gpt-nothing' } }),
      message: /its model "gpt-nothing" is not a known model \(known: .*covenant-chat/,
    },
  ])('$what: DeployRefusedError, nothing on DA, on disk or on chain', async ({ agent, message }) => {
    const dataDir = freshDataDir()
    const owner = withAccount(stack.client, stack.accounts[2]!)
    const { da, state } = countingDA()
    const before = { agents: await agentCount(), nonce: await stack.client.publicClient.getTransactionCount({ address: owner.walletClient.account.address }) }
    const err = await deployAgent(params(owner, dataDir, agent(), { da })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeployRefusedError)
    expect((err as Error).message).toMatch(/^Cannot deploy [\w-]+: .+ Nothing was written \(DA, data dir, chain\)\./)
    expect((err as Error).message).toMatch(message)
    expect(state.puts).toBe(0)
    expect(readdirSync(dataDir)).toEqual([])
    expect(await agentCount()).toBe(before.agents)
    expect(await stack.client.publicClient.getTransactionCount({ address: owner.walletClient.account.address })).toBe(before.nonce)
  })

  test('every problem at once, one line each', async () => {
    const agent = { ...agentNamed('many'), model: { kind: 'chat' as const, model: 'nope' }, policy: { maxValuePerTx: 1n, challengeWindow: 10, commitDeadline: 600, allowedTargets: [], allowedSelectors: [] }, bond: { eth: -1n, token: 0n } }
    const err = (await deployAgent(params(withAccount(stack.client, stack.accounts[2]!), freshDataDir(), agent)).catch((e: unknown) => e)) as DeployRefusedError
    expect(err.name).toBe('DeployRefusedError')
    expect(err.problems.length).toBeGreaterThanOrEqual(3)
    expect(err.message.split('\n')[0]).toBe(`Cannot deploy many: ${err.problems.length} problems (below). Nothing was written (DA, data dir, chain).`)
  })
})

describe('a deploy failed at each step in turn, then run again: exactly one agent', () => {
  type Case = {
    name: string
    fail: (dataDir: string) => { owner?: CovenantWriteClient; da?: DAClient; onProgress?: (m: string) => void; fix?: () => void }
    step: RegExp
    /** what the re-run finds done by the first run */
    earlier: readonly string[]
  }
  const owner = () => withAccount(stack.client, stack.accounts[3]!)
  const cases: Case[] = [
    { name: 'f-da', fail: () => ({ da: countingDA(true).da }), step: /put the manifest on DA/, earlier: [] },
    {
      name: 'f-keys',
      // a file where the key dir goes: the keystores cannot be written
      fail: (dataDir) => {
        mkdirSync(join(dataDir, 'agents'), { recursive: true })
        writeFileSync(join(dataDir, 'agents', 'f-keys'), 'in the way')
        return { fix: () => rmSync(join(dataDir, 'agents', 'f-keys')) }
      },
      step: /create the operator and signer keys/,
      earlier: [],
    },
    { name: 'f-register-send', fail: () => ({ owner: faultyOwner(owner(), { call: 'register', when: 'before-send' }) }), step: /register the agent/, earlier: ['keys'] },
    { name: 'f-register-mined', fail: () => ({ owner: faultyOwner(owner(), { call: 'register', when: 'after-send' }) }), step: /register the agent/, earlier: ['keys', 'register'] },
    { name: 'f-deposit-send', fail: () => ({ owner: faultyOwner(owner(), { call: 'depositEth', when: 'before-send' }) }), step: /deposit the bond/, earlier: ['keys', 'register'] },
    { name: 'f-deposit-mined', fail: () => ({ owner: faultyOwner(owner(), { call: 'depositEth', when: 'after-send' }) }), step: /deposit the bond/, earlier: ['keys', 'register', 'bond'] },
    { name: 'f-fund-send', fail: () => ({ owner: faultyOwner(owner(), { call: 'transfer', when: 'before-send', nth: 2 }) }), step: /fund the operator/, earlier: ['keys', 'register', 'bond'] },
    { name: 'f-fund-mined', fail: () => ({ owner: faultyOwner(owner(), { call: 'transfer', when: 'after-send', nth: 3 }) }), step: /fund the operator/, earlier: ['keys', 'register', 'bond', 'fund'] },
    {
      name: 'f-record',
      // a directory where the record goes, put there once the funding is done
      fail: (dataDir) => {
        const file = agentRecordFile(dataDir, 'f-record')
        return { onProgress: (m) => m.startsWith('funded') && mkdirSync(file), fix: () => rmSync(file, { recursive: true }) }
      },
      step: /write the agent record/,
      earlier: ['keys', 'register', 'bond', 'fund', 'identity'],
    },
    // the ERC-8004 identity's mint is the deploy's second `register` call
    { name: 'f-identity-send', fail: () => ({ owner: faultyOwner(owner(), { call: 'register', when: 'before-send', nth: 2 }) }), step: /ERC-8004 identity/, earlier: ['keys', 'register', 'bond', 'fund'] },
    { name: 'f-identity-mined', fail: () => ({ owner: faultyOwner(owner(), { call: 'register', when: 'after-send', nth: 2 }) }), step: /ERC-8004 identity/, earlier: ['keys', 'register', 'bond', 'fund'] },
  ]

  test.each(cases)('$name', async ({ name, fail, step, earlier }) => {
    const dataDir = freshDataDir()
    const agent = agentNamed(name)
    const before = await agentCount()
    const f = fail(dataDir)
    const err = await expectInterrupted(deployAgent(params(f.owner ?? owner(), dataDir, agent, { ...(f.da ? { da: f.da } : {}), ...(f.onProgress ? { onProgress: f.onProgress } : {}) })), step)
    expect(await agentCount()).toBeLessThanOrEqual(before + 1n)
    expect(err.progressFile === undefined).toBe(name === 'f-da')
    expect(existsSync(agentRecordFile(dataDir, name))).toBe(name === 'f-record') // the obstacle, not a record
    f.fix?.()

    const lines: string[] = []
    const again = await deployAgent(params(owner(), dataDir, agent, { onProgress: (m) => lines.push(m) }))
    expect(again.outcome).toBe('registered')
    expect(await agentCount()).toBe(before + 1n)
    const agentId = BigInt(again.record.agentId)
    expect(agentId).toBe(before + 1n)
    expect((await getBond(stack.client, agentId)).eth).toBe(agent.bond.eth) // deposited once
    const onChain = await getAgent(stack.client, agentId)
    expect(onChain.owner).toBe(owner().walletClient.account.address)
    expect(onChain.operator).toBe(again.record.operator.address)
    expect(onChain.active.manifestHash).toBe(again.record.manifestHash)
    for (const [address, amount] of [
      [again.record.operator.address, DEV_FUNDING.operator],
      [again.record.wallet.address, DEV_FUNDING.signer],
      [onChain.account, DEV_FUNDING.account],
    ] as const) {
      expect(await stack.client.publicClient.getBalance({ address: address as `0x${string}` })).toBe(amount) // funded once
    }
    expect(readAgentRecord(dataDir, name)).toEqual(again.record)
    // one ERC-8004 identity, whose wallet is the agent's account
    expect(await identitiesOf(agentId)).toEqual([BigInt(again.record.erc8004AgentId ?? -1)])
    expect((await getIdentity(stack.client, BigInt(again.record.erc8004AgentId ?? -1))).wallet).toBe(onChain.account)
    expect(existsSync(deployProgressFile(dataDir, name))).toBe(false)
    expect(again.steps.filter((s) => s.status === 'done-earlier').map((s) => s.step)).toEqual(earlier)
    expect(lines.some((l) => l.includes('by an earlier run'))).toBe(earlier.length > 0)

    // and once more: nothing to do
    expect((await deployAgent(params(owner(), dataDir, agent))).outcome).toBe('unchanged')
    expect(await agentCount()).toBe(before + 1n)
  })

  test('an agent registered by a run that stopped is not registered again from a changed file: refused, with what to do', async () => {
    const dataDir = freshDataDir()
    const before = await agentCount()
    await expectInterrupted(deployAgent(params(faultyOwner(owner(), { call: 'register', when: 'after-send' }), dataDir, agentNamed('f-changed'))), /register/)
    const changed = agentNamed('f-changed', { instructions: 'Answer at length.' })
    const err = (await deployAgent(params(owner(), dataDir, changed)).catch((e: unknown) => e)) as DeployRefusedError
    expect(err.name).toBe('DeployRefusedError')
    expect(err.message).toMatch(/agent #\d+ was registered with these keys by an earlier run of this deploy from another version of the agent/)
    expect(err.message).toMatch(/Deploy the version that registered it to finish that deploy; this version then deploys as an upgrade\./)
    expect(await agentCount()).toBe(before + 1n)
    // the original finishes it; the changed one is then an upgrade
    expect((await deployAgent(params(owner(), dataDir, agentNamed('f-changed')))).outcome).toBe('registered')
    expect((await deployAgent(params(owner(), dataDir, changed))).outcome).toBe('upgrade-proposed')
    expect((await deployAgent(params(owner(), dataDir, changed))).outcome).toBe('upgrade-proposed') // proposed once, not twice
    expect(await agentCount()).toBe(before + 1n)
  })

  test('a run that stopped before registering resumes with a changed file', async () => {
    const dataDir = freshDataDir()
    const before = await agentCount()
    await expectInterrupted(deployAgent(params(faultyOwner(owner(), { call: 'register', when: 'before-send' }), dataDir, agentNamed('f-edit'))), /register/)
    const changed = agentNamed('f-edit', { instructions: 'Answer at length.' })
    const done = await deployAgent(params(owner(), dataDir, changed))
    expect(done.outcome).toBe('registered')
    expect(done.steps.find((s) => s.step === 'keys')?.status).toBe('done-earlier')
    expect(await agentCount()).toBe(before + 1n)
    expect((await getAgent(stack.client, before + 1n)).active.manifestHash).toBe(done.record.manifestHash)
  })

  test('a token bond with the dev mint: minted and deposited once across a failure', async () => {
    const dataDir = freshDataDir()
    const agent = agentNamed('f-token', { bond: { eth: parseEther('1'), token: 7n } })
    const before = await agentCount()
    await expectInterrupted(deployAgent(params(faultyOwner(owner(), { call: 'depositEth', when: 'after-send' }), dataDir, agent, { mintDevToken: true })), /deposit the bond/)
    const done = await deployAgent(params(owner(), dataDir, agent, { mintDevToken: true }))
    expect(await getBond(stack.client, BigInt(done.record.agentId))).toMatchObject({ eth: parseEther('1'), token: 7n })
    expect(await agentCount()).toBe(before + 1n)
  })

  test('a run that stopped with its register transaction in flight: the re-run waits for it, then finds the agent it registered', async () => {
    const dataDir = freshDataDir()
    const agent = agentNamed('f-in-flight')
    const before = await agentCount()
    const anvil = createTestClient({ mode: 'anvil', transport: http(stack.rpcUrl) })
    await anvil.setAutomine(false)
    try {
      await expectInterrupted(deployAgent(params(faultyOwner(owner(), { call: 'register', when: 'in-flight' }), dataDir, agent)), /register the agent/)
      const err = (await deployAgent(params(owner(), dataDir, agent)).catch((e: unknown) => e)) as DeployRefusedError
      expect(err.name).toBe('DeployRefusedError')
      expect(err.message).toMatch(/^Cannot deploy f-in-flight: a transaction the earlier run of this deploy sent \(owner nonce \d+\) is not mined yet\./)
      expect(await agentCount()).toBe(before)
      await anvil.mine({ blocks: 1 })
    } finally {
      await anvil.setAutomine(true)
    }
    const done = await deployAgent(params(owner(), dataDir, agent))
    expect(done.steps.find((s) => s.step === 'register')?.status).toBe('done-earlier')
    expect(await agentCount()).toBe(before + 1n)
  })
})
