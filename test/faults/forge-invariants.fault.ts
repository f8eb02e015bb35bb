/**
 * The contracts' invariant campaigns (contracts/test/invariant: CovenantInvariants — bond,
 * trace log and dispute accounting across every handler path — and BondInvariants — a bond
 * cannot run) with a budget well past `npm test`'s (128 runs × 96 calls): by default
 * 256 runs × 128 calls = 32,768 handler calls per campaign, 65,536 in all.
 * FAULT_FORGE_RUNS / FAULT_FORGE_DEPTH change it (512 × 128 takes ~9 min on two busy cores).
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { expect, test } from 'vitest'

const RUNS = Number(process.env.FAULT_FORGE_RUNS ?? 512)
const DEPTH = Number(process.env.FAULT_FORGE_DEPTH ?? 128)

test(`forge invariant campaigns at ${RUNS} runs × ${DEPTH} depth`, async () => {
  const t0 = Date.now()
  const { code, out } = await new Promise<{ code: number | null; out: string }>((done) => {
    const child = spawn(resolve('node_modules/.bin/forge'), ['test', '--match-path', 'contracts/test/invariant/*'], {
      env: { ...process.env, FOUNDRY_INVARIANT_RUNS: String(RUNS), FOUNDRY_INVARIANT_DEPTH: String(DEPTH) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('exit', (c) => done({ code: c, out }))
  })
  expect(code, out.slice(-4000)).toBe(0)
  const campaigns = [...out.matchAll(/\[PASS\] (invariant_\w+)\(\) \(runs: (\d+), calls: (\d+), reverts: (\d+)\)/g)].map((m) => ({
    invariant: m[1]!,
    runs: Number(m[2]),
    calls: Number(m[3]),
    reverts: Number(m[4]),
  }))
  expect(campaigns.map((c) => c.invariant).sort()).toEqual(['invariant_bondsCannotRun', 'invariant_covenant'])
  for (const c of campaigns) {
    expect(c.runs).toBe(RUNS)
    expect(c.calls).toBe(RUNS * DEPTH)
    expect(c.reverts).toBe(0) // fail_on_revert: the handlers catch every call that may legitimately fail
  }
  const total = campaigns.reduce((n, c) => n + c.calls, 0)
  process.stdout.write(`[forge] ${JSON.stringify({ runs: RUNS, depth: DEPTH, campaigns, totalCalls: total, seconds: Math.round((Date.now() - t0) / 1000) })}\n`)
})
