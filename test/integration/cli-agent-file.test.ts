/**
 * `covenant deploy` of an agent file whose top-level code exits, throws or hangs, run as the
 * real binary: a non-zero exit and one line that says which, soon — never exit 0 having
 * done nothing, a stack trace, or a command that never returns — and nothing written.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'

const BIN = resolve('bin/covenant.js')
let root: string
let dataDir: string
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'covenant-cli-agent-file-'))
  dataDir = join(root, 'data')
  mkdirSync(dataDir)
  writeFileSync(join(root, 'exits.ts'), "const code: number = 0\nconsole.log('bye')\nprocess.exit(code)\n")
  writeFileSync(join(root, 'throws.ts'), "import { readFileSync } from 'node:fs'\nexport default JSON.parse(readFileSync('/nonexistent/agent-config.json', 'utf8'))\n")
  writeFileSync(join(root, 'spins.ts'), 'while (true) {}\n')
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

function covenant(args: readonly string[]) {
  const started = Date.now()
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (k.startsWith('COVENANT_')) delete env[k]
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, env })
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started }
}

test.each([
  { file: 'exits.ts', line: /^AgentFileLoadError: The agent file \S+exits\.ts called process\.exit\(0\) while loading; an agent file must only define and export its agent \(nothing was done\)\.$/ },
  { file: 'throws.ts', line: /^AgentFileLoadError: The agent file \S+throws\.ts threw while loading: Error: ENOENT: no such file or directory, open '\/nonexistent\/agent-config\.json' \(run `npx tsx \S+throws\.ts` to see where; nothing was done\)\.$/ },
  { file: 'spins.ts', line: /^AgentFileLoadError: The agent file \S+spins\.ts did not finish loading within 2 s \(top-level code that waits or loops forever\?\); nothing was done — if it is only slow, pass --load-timeout <seconds>\.$/ },
])('deploy $file: exit 1, one line that says so, nothing written', ({ file, line }) => {
  // --no-typecheck: these files sit in no TypeScript project (deploy would say so on a line of its own)
  const r = covenant(['deploy', join(root, file), '--no-serve', '--no-typecheck', '--load-timeout', '2', '--data-dir', dataDir])
  const shown = JSON.stringify(r, null, 2)
  expect(r.code, shown).toBe(1)
  expect(r.signal, shown).toBeNull()
  expect(r.stderr.trimEnd().split('\n'), shown).toHaveLength(1)
  expect(r.stderr.trimEnd(), shown).toMatch(line)
  expect(r.stdout, shown).toBe('') // the probe's output is dropped; the file never ran here
  expect(readdirSync(dataDir)).toEqual([])
  expect(r.ms, shown).toBeLessThan(45_000)
})

test('--json: the same refusal as one JSON document on stdout', () => {
  const r = covenant(['deploy', join(root, 'exits.ts'), '--no-serve', '--no-typecheck', '--json', '--data-dir', dataDir])
  expect(r.code).toBe(1)
  const doc = JSON.parse(r.stdout) as { error: { name: string; message: string } }
  expect(doc.error.name).toBe('AgentFileLoadError')
  expect(doc.error.message).toMatch(/called process\.exit\(0\) while loading/)
})

test('a bad --load-timeout is a usage error', () => {
  const r = covenant(['deploy', join(root, 'exits.ts'), '--load-timeout', 'soon'])
  expect(r.code).toBe(1)
  expect(r.stderr).toMatch(/^error: option '--load-timeout <seconds>' argument 'soon' is invalid\. expected seconds, a number above 0 and at most 3600/)
})
