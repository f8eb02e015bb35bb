import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringToBytes, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { getAgent, registerCovenantIdentity, registerVerifier, writeDeployment } from '../../src/bonds/index.js'
import { LocalDAStore } from '../../src/da/index.js'
import { ValidationResponder } from '../../src/verify/index.js'
import { localReplayer } from '../../src/verify/replayers.js'
import { createTestAgent, ETH, moderationDigest, tempDir, type TestAgent } from '../../src/verify/_testing.js'

// `covenant 8004 agent|request|status` as real processes against a real chain, with a
// validation responder (what `covenant verifier start` runs) answering in between.
const BIN = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url))
let chain: TestChain
let root: string
let a: TestAgent
let erc8004Id: bigint
let responder: ValidationResponder
const actionId = () => `${a.agentId}-000000000001`

function covenant(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const flags = ['--rpc', chain.anvil.rpcUrl, '--deployment', join(root, 'deployment.json'), '--data-dir', join(root, 'cli')]
  const child = spawn(process.execPath, [BIN, ...args, ...flags], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDIS_URL: '' } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

let da: LocalDAStore | undefined
beforeAll(async () => {
  chain = await startTestChain()
  root = await tempDir()
  writeDeployment(join(root, 'deployment.json'), chain.deployment)
  da = new LocalDAStore({ dir: join(root, 'da') })
  await registerVerifier(chain.as(5))
  a = await createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: 3, payee: 8 }, da, dir: await tempDir(), modelDigests: [await moderationDigest()] })
  const commitment = await da.put(stringToBytes('a manifest'))
  erc8004Id = (
    await registerCovenantIdentity(chain.as(1), {
      agentId: a.agentId,
      name: 'cli-agent',
      description: 'an agent for the CLI suite',
      manifestHash: `0x${'22'.repeat(32)}`,
      manifestCommitment: `0x${Buffer.from(commitment).toString('hex')}`,
    })
  ).erc8004AgentId
  await a.op.append({ kind: 'input', actionId: actionId(), timestamp: 1, task: 'moderate and pay' })
  await a.op.classify(actionId(), 'great product, fast shipping')
  await a.op.pay(actionId(), { to: chain.account(8).address, value: ETH('0.5') })
  await a.op.commit()
  await mkdir(join(root, 'verifier'), { recursive: true })
  responder = new ValidationResponder({ client: chain.as(5), da, dataDir: join(root, 'verifier'), replayer: localReplayer() })
})

afterAll(async () => {
  await a?.op.close()
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

describe('covenant 8004', () => {
  // each spawn starts Node with tsx: seconds on a busy machine
  it('agent: the identity, its registration file, the Covenant agent its wallet proves', { timeout: 150_000 }, async () => {
    const r = await covenant(['8004', 'agent', erc8004Id.toString(), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(o).toMatchObject({
      agentId: erc8004Id.toString(),
      owner: chain.account(1).address,
      wallet: (await getAgent(chain.reader, a.agentId)).account,
      covenantAgentId: a.agentId.toString(),
      registration: { name: 'cli-agent' },
      summary: { all: { count: '0' } },
      validations: [],
    })
  })

  // each spawn starts Node with tsx: seconds on a busy machine
  it('request (to the only registered verifier) → the verifier answers → status shows the bond-backed answer', { timeout: 150_000 }, async () => {
    const r = await covenant(['8004', 'request', erc8004Id.toString(), actionId(), '--dev-account', '1', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const req = JSON.parse(r.stdout) as { requestHash: Hex; validator: string; requestURI: string }
    expect(req.validator).toBe(chain.account(5).address)
    expect(req.requestURI).toBe(`covenant:action/${actionId()}?validator=${chain.account(5).address.toLowerCase()}`)

    for (let i = 0; i < 3 && !responder.state?.requests[req.requestHash]?.answered; i++) await responder.tick()
    expect(responder.state?.requests[req.requestHash]).toMatchObject({ status: 'pending', verdict: 'honest', answered: { response: 100, tag: 'bond-backed:soft' } })

    const s = await covenant(['8004', 'status', req.requestHash])
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toContain(`asks: covenant:action/${actionId()}?validator=`)
    expect(s.stdout).toMatch(new RegExp(`response: 100 \\(bond-backed:soft\\) covenant:action/${actionId()}, updated `))
  })

  // each spawn starts Node with tsx: seconds on a busy machine
  it('one-line refusals: not the owner (the registry says so), an unknown request', { timeout: 150_000 }, async () => {
    const notOwner = await covenant(['8004', 'request', erc8004Id.toString(), `${a.agentId}-000000000002`, '--dev-account', '9'])
    expect(notOwner.code).toBe(1)
    expect(notOwner.stderr).toMatch(/^ContractRevertError: ValidationRegistry\.validationRequest reverted: NotAgentOwnerOrOperator\(\d+, 0x[0-9a-fA-F]{40}\)/)
    expect(notOwner.stderr).not.toMatch(/\n\s+at /)

    const unknown = await covenant(['8004', 'status', `0x${'ab'.repeat(32)}`, '--json'])
    expect(unknown.code).toBe(1)
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ name: 'EnvError', message: expect.stringMatching(/^No validation request 0x(ab){32} on this deployment's ValidationRegistry\.$/) })
  })
})
