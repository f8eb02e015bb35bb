import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The user story, as a person types it: `covenant dev` in one terminal; `covenant deploy`
// (which serves the agent) in another; a task over HTTP; `covenant trace`, `covenant verify`
// and `covenant bonds` on the action. Real processes, a real chain, the local DA server.
const BIN = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url))
const AGENT = fileURLToPath(new URL('../../examples/agents/moderation/agent.ts', import.meta.url))
let root: string
const running: ChildProcess[] = []

type Run = { code: number | null; stdout: string; stderr: string }

type Started = { child: ChildProcess; json: Record<string, unknown>; stdout: () => string; stderr: () => string }

/**
 * Starts a long-running command and resolves with its first JSON document on stdout (the
 * first `}` at a line's end that closes a whole document: later documents may come in the
 * same chunk). `stdout()` is all it has printed so far, the first document included.
 */
function start(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDIS_URL: '', COVENANT_PASSWORD: '' } })
  running.push(child)
  let out = ''
  let err = ''
  let found = false
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (found) return
      const begin = out.indexOf('{')
      for (let end = out.indexOf('}\n', begin); begin >= 0 && end >= 0; end = out.indexOf('}\n', end + 1)) {
        try {
          resolve({ child, json: JSON.parse(out.slice(begin, end + 1)) as Record<string, unknown>, stdout: () => out, stderr: () => err })
          found = true
          return
        } catch {
          // not a whole document yet
        }
      }
    })
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.once('exit', (code) => reject(new Error(`covenant ${args[0]} exited with ${code}: ${err.slice(-2000)}`)))
  })
}

function run(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDIS_URL: '' } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
}

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.kill('SIGTERM')
  })
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'covenant-cli-flow-'))
})
afterAll(async () => {
  for (const c of running.reverse()) await stop(c)
  rmSync(root, { recursive: true, force: true })
})

describe('covenant dev → deploy → task → trace → verify', () => {
  it('serves an agent anyone can trace and verify from the command line', async () => {
    const dev = await start(['dev', '--no-inference', '--data-dir', root])
    expect(dev.json).toMatchObject({ rpcUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) })

    const deployed = await start(['deploy', AGENT, '--data-dir', root, '--port', '0'])
    expect(deployed.json).toMatchObject({ outcome: 'registered', name: 'moderation' })
    // the document that says it serves: printed after the first, possibly in the same chunk
    const served = await new Promise<{ url: string }>((resolve) => {
      const look = () => {
        const m = /"url": "(http:\/\/[^"]+)"/.exec(deployed.stdout())
        if (m) resolve({ url: m[1]! })
        return Boolean(m)
      }
      if (!look()) deployed.child.stdout!.on('data', look) // after start's own listener, which appends the chunk
    })

    const post = await fetch(`${served.url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'moderation', task: { postId: 'p-1', text: 'Win a free iPhone now, just send your bank password' } }),
    })
    expect(post.status).toBe(202)
    const { taskId } = (await post.json()) as { taskId: string }
    let task: { status: string; committed?: boolean; commitments: unknown[] } | undefined
    for (let i = 0; i < 300; i++) {
      task = (await (await fetch(`${served.url}/tasks/${taskId}`)).json()) as typeof task
      if (task?.status === 'completed' && task.commitments.length > 0 && task.committed !== false) break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(task?.status).toBe('completed')
    // the operator log (pino JSON lines on stderr, --log-level info by default) says so too
    const logged = deployed.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; taskId?: string; name?: string })
    expect(logged.find((l) => l.msg === 'service listening')).toMatchObject({ level: 30, name: 'covenant' })
    expect(logged.find((l) => l.msg === 'task completed')).toMatchObject({ level: 30, taskId })

    const traced = await run(['trace', taskId, '--json', '--data-dir', root])
    expect(traced.code, traced.stderr).toBe(0)
    const trace = JSON.parse(traced.stdout) as { steps: Array<{ kind: string }>; batches: Array<{ status: string }> }
    expect(trace.steps.map((s) => s.kind)).toEqual(['input', 'inference', 'tool', 'output'])
    expect(trace.batches.every((b) => b.status === 'ok')).toBe(true)

    const verified = await run(['verify', taskId, '--json', '--data-dir', root])
    expect(verified.code, verified.stderr + verified.stdout).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ verdict: 'honest' })

    const bonds = await run(['bonds', String(taskId.split('-')[0]), '--json', '--data-dir', root])
    expect(bonds.code, bonds.stderr).toBe(0)
    expect(bonds.stdout).toContain('2000000000000000000')

    // the money verbs: anyone tops a bond up; only the owner asks it back; credits are claimed
    const agentId = String(taskId.split('-')[0])
    const topUp = await run(['bond', 'deposit', agentId, '--eth', '1', '--dev-account', '3', '--json', '--data-dir', root])
    expect(topUp.code, topUp.stderr).toBe(0)
    expect(JSON.parse(topUp.stdout)).toMatchObject({ deposited: { eth: '1000000000000000000' }, bond: { eth: '3000000000000000000' } })
    const status = await run(['bond', 'status', agentId, '--json', '--data-dir', root])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ agentId, bond: { eth: '3000000000000000000' } })
    const notOwner = await run(['bond', 'withdraw', agentId, '--eth', '1', '--dev-account', '3', '--data-dir', root])
    expect(notOwner.code).toBe(1)
    expect(notOwner.stderr.trim()).toMatch(/^ContractRevertError: BondVault\.requestWithdraw reverted: NotAgentOwner\(\d+, 0x[0-9a-fA-F]{40}\)/)
    expect(notOwner.stderr).toMatch(/use the owner's account/)
    const badAmount = await run(['bond', 'deposit', agentId, '--eth', '-1', '--dev-account', '3', '--data-dir', root])
    expect(badAmount.code).toBe(1)
    expect(badAmount.stderr).toMatch(/--eth must be a positive amount/)
    const nothing = await run(['claim', '--dev-account', '3', '--data-dir', root])
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toMatch(/has no credits to claim/)

    const bad = await run(['trace', 'not-an-action', '--data-dir', root])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/action id/i)
    expect(bad.stderr).not.toMatch(/\n\s+at /) // a message, not a stack trace

    // an unknown agent and an unreachable chain: one line each, not viem's dump
    const unknown = await run(['bonds', '999', '--data-dir', root])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr.trim()).toMatch(/^EnvError: No agent #999 on this chain \(agents #1–#\d+ are registered\)\.$/)
    const down = await run(['verify', taskId, '--rpc', 'http://127.0.0.1:9', '--json', '--data-dir', root])
    expect(down.code).toBe(1)
    expect(down.stderr.trim().split('\n').at(-1)).toMatch(/^ChainUnavailable: cannot reach the node at http:\/\/127\.0\.0\.1:9\/\. /)
    expect(down.stderr).not.toMatch(/Request body/)
    expect(JSON.parse(down.stdout)).toMatchObject({ error: { message: expect.stringMatching(/^ChainUnavailable: cannot reach the node/) } })

    expect(await stop(deployed.child)).toBe(0) // drains and exits cleanly on SIGTERM
  }, 180_000) // a dozen real processes, deploy's type check of the agent among them: minutes on a busy 2-core box
})
