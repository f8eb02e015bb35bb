/**
 * The contracts' invariant campaigns (every `invariant_*` function in contracts/test/invariant:
 * CovenantInvariants — bond, trace log and dispute accounting across every handler path —,
 * BondInvariants — a bond cannot run —, AccountInvariants and ForkInvariants) with a budget
 * well past `npm test`'s (128 runs × 96 calls): by default 512 runs × 128 calls = 65,536
 * handler calls per campaign. The campaigns expected are read from the sources, so a new one
 * cannot be left out of this count.
 * FAULT_FORGE_RUNS / FAULT_FORGE_DEPTH change it (512 × 128 takes ~9 min on two busy cores).
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { expect, test } from 'vitest'

const RUNS = Number(process.env.FAULT_FORGE_RUNS ?? 512)
const DEPTH = Number(process.env.FAULT_FORGE_DEPTH ?? 128)
const INVARIANT_DIR = resolve('contracts/test/invariant')

type Declared = { invariant: string; runs: number; depth: number }

/**
 * The `invariant_*` functions declared in the invariant test sources, each with the budget it
 * runs under: RUNS × DEPTH, or its own inline `forge-config` (which forge prefers to the
 * environment).
 */
function declaredInvariants(): Declared[] {
  return readdirSync(INVARIANT_DIR)
    .filter((f) => f.endsWith('.t.sol'))
    .flatMap((f) =>
      [...readFileSync(join(INVARIANT_DIR, f), 'utf8').matchAll(/((?:[ \t]*\/\/\/[^\n]*\n)*)[ \t]*function (invariant_\w+)\s*\(/g)].map((m) => {
        const inline = (key: string) => m[1]!.match(new RegExp(`forge-config:\\s*default\\.invariant\\.${key}\\s*=\\s*(\\d+)`))?.[1]
        return { invariant: m[2]!, runs: Number(inline('runs') ?? RUNS), depth: Number(inline('depth') ?? DEPTH) }
      }),
    )
    .sort((a, b) => a.invariant.localeCompare(b.invariant))
}

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
  const expected = declaredInvariants()
  expect(expected.length).toBeGreaterThanOrEqual(4)
  campaigns.sort((a, b) => a.invariant.localeCompare(b.invariant))
  expect(campaigns.map((c) => c.invariant)).toEqual(expected.map((d) => d.invariant))
  for (const [i, c] of campaigns.entries()) {
    expect(c.runs, c.invariant).toBe(expected[i]!.runs)
    expect(c.calls, c.invariant).toBe(expected[i]!.runs * expected[i]!.depth)
    expect(c.reverts, c.invariant).toBe(0) // fail_on_revert: the handlers catch every call that may legitimately fail
  }
  const total = campaigns.reduce((n, c) => n + c.calls, 0)
  process.stdout.write(`[forge] ${JSON.stringify({ runs: RUNS, depth: DEPTH, campaigns, totalCalls: total, seconds: Math.round((Date.now() - t0) / 1000) })}\n`)
})
