import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { increaseTime, mine } from '../../src/bonds/devTime.js'
import { getVerifierStake, getWorkTokenBalance, registerVerifier, writeDeployment } from '../../src/bonds/index.js'
import { LocalDAStore } from '../../src/da/index.js'
import { VerifierNode } from '../../src/verify/index.js'
import { createTestAgent, ETH, moderationDigest, tempDir, writeManifest, type TestAgent } from '../../src/verify/_testing.js'
import moderation from '../../examples/agents/moderation/agent.js'
import { localReplayer } from '../../src/verify/replayers.js'

// The commands a person uses: `covenant verify`, `covenant dispute`, `covenant bonds`,
// `covenant verifier start|register|exit`, run as real processes against an anvil chain and the local
// DA store of their data dir.
const BIN = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url))
let chain: TestChain
let root: string
let a: TestAgent
/** The agent's manifest (registered without a code bundle: codeHash null), for `--manifest`. */
let manifests: string
const voters: VerifierNode[] = []
const ids = { honest: '', overCap: '', faked: '' }

type Run = { code: number | null; stdout: string; stderr: string }

function covenant(args: string[], options: { until?: (stdout: string) => boolean } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args, '--data-dir', root, '--rpc', chain.anvil.rpcUrl, '--deployment', join(root, 'deployment.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, REDIS_URL: '' },
  })
  let stdout = ''
  let stderr = ''
  let stopped = false
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (!stopped && options.until?.(stdout)) {
      stopped = true
      child.kill('SIGTERM')
    }
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

const actionId = (n: number) => `${a.agentId}-${n.toString(16).padStart(12, '0')}`

let da: LocalDAStore | undefined
beforeAll(async () => {
  chain = await startTestChain()
  root = await tempDir()
  writeDeployment(join(root, 'deployment.json'), chain.deployment)
  da = new LocalDAStore({ dir: join(root, 'da') })
  for (const i of [5, 6, 7]) await registerVerifier(chain.as(i))
  manifests = await tempDir()
  const { manifestHash } = await writeManifest(moderation, manifests)
  a = await createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: 3, payee: 8 }, da, dir: await tempDir(), modelDigests: [await moderationDigest()], manifestHash })
  ids.honest = actionId(1)
  ids.overCap = actionId(2)
  ids.faked = actionId(3)
  await a.op.append({ kind: 'input', actionId: ids.honest, timestamp: 1, task: 'moderate and pay' })
  await a.op.classify(ids.honest, 'great product, fast shipping')
  await a.op.pay(ids.honest, { to: chain.account(8).address, value: ETH('0.5') })
  await a.op.pay(ids.overCap, { to: chain.account(8).address, value: ETH('3'), send: false })
  await a.op.append({ kind: 'input', actionId: ids.faked, timestamp: 1, task: 'moderate' })
  await a.op.classify(ids.faked, 'free crypto giveaway, send 1 ETH to get 2 back', { fake: true })
  await a.op.append({ kind: 'output', actionId: ids.faked, timestamp: 2, result: 'ok' })
  await a.op.commit()
  // the registered verifiers that will vote on the inference dispute
  for (const i of [5, 6, 7]) {
    const n = new VerifierNode({ client: chain.as(i), da, dataDir: join(root, `voter-${i}`), replayer: localReplayer(), act: false, pollIntervalMs: 100 })
    await n.start()
    voters.push(n)
  }
})

afterAll(async () => {
  await Promise.all(voters.map((v) => v.stop()))
  await a?.op.close()
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

describe('covenant verify', () => {
  it('never prints HONEST for an agent registered without code: every step checks out, the logic part is INCOMPLETE (exit 3)', async () => {
    const r = await covenant(['verify', ids.honest, '--json', '--manifest', manifests])
    expect(r.code).toBe(3)
    const report = JSON.parse(r.stdout)
    expect(report.verdict).toBe('incomplete')
    expect(report.logic).toEqual({
      status: 'unchecked',
      reason: `the agent's own logic cannot be replayed: agent ${a.agentId} is registered without a code bundle (its manifest's codeHash is null)`,
    })
    expect(report.reasons).toEqual([report.logic.reason])
    expect(report.steps.map((s: { kind: string; status: string }) => `${s.kind}:${s.status}`)).toEqual([
      'input:ok',
      'inference:ok',
      'input:ok',
      'wallet:ok',
      'output:ok',
    ])
  })

  it('judges no inference by a default when the manifest cannot be found: the faked one is unknown (INCOMPLETE, exit 3) until --manifest says what it owes', async () => {
    const blind = await covenant(['verify', ids.faked, '--json'])
    expect(blind.code).toBe(3)
    const report = JSON.parse(blind.stdout)
    expect(report).toMatchObject({ verdict: 'incomplete', faults: [] })
    expect(report.steps.find((s: { kind: string }) => s.kind === 'inference')).toMatchObject({ status: 'unverifiable', reason: expect.stringMatching(/manifest is not available/) })
    const seen = await covenant(['verify', ids.faked, '--json', '--manifest', manifests])
    expect(seen.code).toBe(2)
    expect(JSON.parse(seen.stdout)).toMatchObject({ verdict: 'faulty' })
  })

  it('prints FAULTY with the reason for an over-cap payment (exit 2), and sends nothing', async () => {
    const r = await covenant(['verify', ids.overCap])
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/FAULTY/)
    expect(r.stdout).toMatch(/ValueCap: pays 3000000000000000000 wei, over the cap of 1000000000000000000/)
    expect(r.stdout).toContain(`covenant dispute ${ids.overCap}`)
  })
})

describe('covenant dispute', () => {
  it('proves a policy breach on chain and prints who was slashed and who was paid', async () => {
    const r = await covenant(['dispute', ids.overCap, '--dev-account', '4', '--json'])
    expect(r.code).toBe(0)
    const o = JSON.parse(r.stdout)
    expect(o).toMatchObject({ kind: 'PolicyBreach', status: 'Slashed', slashed: { eth: ETH('5').toString() } })
    expect(o.payouts).toEqual([
      expect.objectContaining({ role: 'challenger', to: chain.account(4).address, eth: ETH('2.5').toString() }),
      expect.objectContaining({ role: 'redistribution', eth: ETH('1.5').toString() }),
      expect.objectContaining({ role: 'burned', eth: ETH('1').toString() }),
    ])
  })

  it('opens an inference dispute with the challenger bond, waits for the verifiers, prints the slash', async () => {
    // the inference is judged by the agent's manifest: where to find it (without, it is unknown, not a fault)
    const r = await covenant(['dispute', ids.faked, '--reason', 'inference', '--dev-account', '4', '--manifest', manifests])
    expect(r.stderr).toMatch(/opened with a 100000000000000000 wei bond/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/InferenceFraud against agent #\d+ .*: Slashed — dispute #2/)
    expect(r.stdout).toMatch(/slashed 2\.5 ETH/)
    expect(r.stdout).toMatch(/challenger +0x[0-9a-fA-F]{40} +\+1\.35 ETH \(reward 1250000000000000000 \+ bond 100000000000000000 back\)/)
  })

  it('refuses a path that does not apply, with a clear error', async () => {
    const r = await covenant(['dispute', ids.honest, '--reason', 'policy', '--dev-account', '4'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/NothingToDisputeError: No wallet step of action .* breaks the agent's policy/)
  })
})

describe('covenant bonds', () => {
  it('shows the bond after both slashes, the slashes and the disputes', async () => {
    const r = await covenant(['bonds', a.agentId.toString(), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const b = JSON.parse(r.stdout)
    expect(b.bond.eth).toBe(ETH('2.5').toString())
    expect(b.totalSlashedEth).toBe(ETH('7.5').toString())
    expect(b.slashes).toHaveLength(2)
    expect(b.disputes.map((d: { kind: string; status: string }) => `${d.kind}:${d.status}`)).toEqual(['PolicyBreach:Slashed', 'InferenceFraud:Slashed'])
    expect(b.locked).toBe(true)
    // what the policy can move before a fault is slashed, against the bond left
    expect(b.requiredEth).not.toBeNull()
    expect(b.covered).toBe(BigInt(b.bond.eth) >= BigInt(b.requiredEth))
    expect(r.stderr + (await covenant(['bonds', a.agentId.toString()])).stdout).toMatch(/at risk: [\d.]+ ETH can move before a fault is slashed; the bond (covers it|does NOT cover it)/)
  })
})

describe('covenant verifier start', () => {
  it('follows the chain and reports every fault as a JSON line until Ctrl-C; the operator log (pino, --log-level) goes to stderr', async () => {
    const r = await covenant(['verifier', 'start', '--json', '--watch-only', '--poll', '100', '--log-level', 'info', '--manifest', manifests], {
      until: (out) => (out.match(/"type":"fault"/g) ?? []).length >= 2,
    })
    expect(r.code).toBe(0)
    // stdout: JSON lines only (one document per event), never a log record
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(events[0]).toMatchObject({ type: 'started', verifier: null })
    expect(events.every((e) => typeof e.type === 'string' && e.level === undefined)).toBe(true)
    const faults = events.filter((e) => e.type === 'fault').map((e) => e.description)
    expect(faults).toEqual([expect.stringMatching(/^PolicyBreach agent \d+ batch 0 step 6 \(ValueCap\)$/), expect.stringMatching(/^InferenceFraud agent \d+ batch 0 step 9$/)])
    // stderr: pino records at info and above: started and stopped (info), the faults (warn)
    const logs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; event: string; component: string; msg: string; disputeId?: string; status?: string })
    expect(logs.every((l) => l.component === 'verifier' && l.level >= 30)).toBe(true)
    expect(logs.find((l) => l.event === 'started')).toMatchObject({ level: 30, msg: expect.stringMatching(/^verifier \(watch only: no account\) following from block/) })
    expect(logs.filter((l) => l.event === 'fault').map((l) => [l.level, l.msg])).toEqual([
      [40, expect.stringMatching(/^FAULT PolicyBreach agent \d+ batch 0 step 6 \(ValueCap\): /)],
      [40, expect.stringMatching(/^FAULT InferenceFraud agent \d+ batch 0 step 9: /)],
    ])
    // (disputes opened by the tests above, if the node reached them before Ctrl-C: info)
    for (const l of logs.filter((x) => x.event === 'dispute')) expect(l.level).toBe(30)
    expect(logs.filter((l) => l.event === 'range')).toEqual([]) // debug
    expect(logs.at(-1)).toMatchObject({ event: 'stopped', level: 30 })

    // at --log-level error a run logs nothing but errors (it resumes from its saved cursor: started, then passes over new blocks)
    let mined = false
    const quiet = await covenant(['verifier', 'start', '--json', '--watch-only', '--poll', '100', '--log-level', 'error'], {
      // once it is up, a new block gives it a pass to make (Ctrl-C is handled from then on)
      until: (out) => {
        if (out.includes('"type":"started"') && !mined) {
          mined = true
          void mine(chain.reader.publicClient)
        }
        return out.includes('"type":"range"')
      },
    })
    expect(quiet.code).toBe(0)
    expect(JSON.parse(quiet.stdout.split('\n')[0]!)).toMatchObject({ type: 'started' })
    expect(quiet.stderr.split('\n').filter((l) => l.startsWith('{'))).toEqual([])
  }, 120_000) // two verifier processes, the first replaying the faked inference: slow on a busy 2-core box
})

describe('covenant verifier exit', () => {
  // last in the file: it moves the chain's clock past the exit delay
  it('asks to exit, refuses to pay out before the delay, then pays the whole stake back', async () => {
    const me = chain.account(9).address
    const stranger = await covenant(['verifier', 'exit', '--dev-account', '9'])
    expect(stranger.code).toBe(1)
    expect(stranger.stderr.trim()).toMatch(/^EnvError: 0x[0-9a-fA-F]{40} is not a registered verifier \(or has already exited\): nothing to exit\.$/)

    const reg = await covenant(['verifier', 'register', '--dev-account', '9', '--json'])
    expect(reg.code, reg.stderr).toBe(0)
    const stake = chain.deployment.params.verifierMinStake
    const asked = await covenant(['verifier', 'exit', '--dev-account', '9', '--json'])
    expect(asked.code, asked.stderr).toBe(0)
    const request = JSON.parse(asked.stdout) as { exitRequested: boolean; exitableAt: number; stake: string }
    expect(request).toMatchObject({ exitRequested: true, stake: stake.toString() })
    const { exitRequestedAt } = await getVerifierStake(chain.reader, me)
    expect(request.exitableAt).toBe(exitRequestedAt + chain.deployment.params.verifierExitDelay)

    // too early: one line naming when, and the stake stays (it still answers for its votes)
    const early = await covenant(['verifier', 'exit', '--dev-account', '9', '--json'])
    expect(early.code).toBe(1)
    expect(early.stderr.trim()).toMatch(/exit unlocks at \d{4}-\d\d-\d\dT[\d:.]+Z .*run covenant verifier exit again then\.$/)
    expect((await getVerifierStake(chain.reader, me)).stake).toBe(stake)

    await increaseTime(chain.reader.publicClient, chain.deployment.params.verifierExitDelay + 1)
    const before = await getWorkTokenBalance(chain.reader, me)
    const done = await covenant(['verifier', 'exit', '--dev-account', '9', '--json'])
    expect(done.code, done.stderr).toBe(0)
    expect(JSON.parse(done.stdout)).toMatchObject({ verifier: me, withdrawn: stake.toString() })
    expect((await getVerifierStake(chain.reader, me)).stake).toBe(0n)
    // the stake is WorkToken: all of it comes back (gas is paid in ETH)
    expect(await getWorkTokenBalance(chain.reader, me)).toBe(before + stake)

    const again = await covenant(['verifier', 'exit', '--dev-account', '9'])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/not a registered verifier \(or has already exited\)/)
  }, 180_000) // six CLI processes and registering (approve + register): slow on a busy 2-core box
})
