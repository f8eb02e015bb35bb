import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KICKBACK, PRICE, runPaidApiExample, type PaidApiStack, type PaidApiSummary } from './run.js'

const BIN = fileURLToPath(new URL('../../../bin/covenant.js', import.meta.url))

/** `covenant verify <action> --json` as a process, against the run's chain and DA. */
function covenantVerify(stack: PaidApiStack, dataDir: string, actionId: string): Promise<{ code: number | null; report: { verdict?: string; logic?: { status: string } } }> {
  const args = [BIN, 'verify', actionId, '--json', '--data-dir', dataDir, '--rpc', stack.rpcUrl, '--deployment', stack.deploymentFile, '--da', stack.daUrl]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDIS_URL: '' } })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, report: stdout ? (JSON.parse(stdout) as { verdict?: string }) : {} })))
}

describe('npm run example:x402', () => {
  let dir: string
  let s: PaidApiSummary
  const cli: Array<{ operator: string; label: string; code: number | null; verdict: string | undefined; logic: string | undefined }> = []
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'covenant-example-x402-'))
    s = await runPaidApiExample({
      dataDir: dir,
      // `covenant verify` as users run it, on one honest paid action and the kickback one
      beforeClose: async (stack) => {
        for (const a of stack.actions.filter((x) => x.label === 'lisbon')) {
          const r = await covenantVerify(stack, stack.dataDirs[a.operator], a.actionId)
          cli.push({ operator: a.operator, label: a.label, code: r.code, verdict: r.report.verdict, logic: r.report.logic?.status })
        }
      },
    })
  }, 600_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('the honest agent pays the price asked for the ok requests, nothing for the scam; the API is paid', () => {
    const row = (a: PaidApiSummary['actions'][number]) => [a.operator, a.label, a.asked, a.authorized, a.status]
    expect(s.actions.map(row)).toEqual([
      ['honest', 'lisbon', PRICE.toString(), PRICE.toString(), 200],
      ['honest', 'oslo', PRICE.toString(), PRICE.toString(), 200],
      ['honest', 'scam', null, null, null],
      // the kickback copy authorizes more than the recorded 402 asked; the API's facilitator refuses that payment
      ['kickback', 'lisbon', PRICE.toString(), KICKBACK.toString(), 402],
    ])
    expect(s.actions[0]!.body).toBe('Lisbon tomorrow: sunny, 24 °C, light wind')
    expect(BigInt(s.payeeReceived)).toBe(2n * PRICE)
  })

  it('every honest action is replayed through the registered code on the recorded HTTP exchanges: honest, never disputed', () => {
    for (const a of s.actions.filter((x) => x.operator === 'honest')) {
      expect(a.verdict, `${a.label}: ${a.logic}`).toBe('honest')
      expect(a.logic).toMatch(/^replayed through the registered code 0x[0-9a-f]{8}…: all \d+ steps reproduced in order$/)
    }
    expect(s.disputes.filter((d) => d.agentId === s.agents.honest)).toEqual([])
    expect(cli.find((c) => c.operator === 'honest')).toEqual({ operator: 'honest', label: 'lisbon', code: 0, verdict: 'honest', logic: 'ok' })
    expect(s.bonds.honest.after).toBe(s.bonds.honest.before)
  })

  it('the kickback authorization is a TraceMismatch: faulty, voted, slashed', () => {
    const k = s.actions.find((a) => a.operator === 'kickback')!
    expect(k.verdict).toBe('faulty')
    expect(cli.find((c) => c.operator === 'kickback')).toEqual({ operator: 'kickback', label: 'lisbon', code: 2, verdict: 'faulty', logic: 'fault' })
    expect(s.disputes).toEqual([expect.objectContaining({ kind: 'TraceMismatch', status: 'Slashed', agentId: s.agents.kickback })])
    expect(BigInt(s.bonds.kickback.after)).toBeLessThan(BigInt(s.bonds.kickback.before))
  })
})
