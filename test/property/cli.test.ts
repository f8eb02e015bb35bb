/**
 * The `covenant` command line against generated bad arguments: unknown commands and
 * options, missing arguments, bad action ids, agent ids, ports, addresses, hashes, step
 * indices, prefixes and numbers. The program runs in-process (src/cli/program.ts, what
 * bin/covenant.js runs) with its output captured; a sample also runs as real processes.
 * Every run exits non-zero with one clear message — commander's `error: …` or a typed
 * `SomethingError: …` — never a stack trace or a bare JS error, and writes nothing: the
 * working directory and the data dir stay as they were.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import fc from 'fast-check'
import type { Command } from 'commander'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { defaultProtocolParams, readDeployment, writeDeployment, type CovenantDeployment } from '../../src/bonds/deployment.js'
import { createProgram, runCli } from '../../src/cli/program.js'

const RUNS = 1_000
const BIN = resolve('bin/covenant.js')
let root: string
let cwd: string
let dataDir: string
let deploymentFile: string
const savedCwd = process.cwd()
const savedEnv = { ...process.env }

const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as `0x${string}`
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'covenant-prop-cli-'))
  cwd = join(root, 'cwd')
  dataDir = join(root, 'data')
  deploymentFile = join(root, 'deployment.json')
  for (const d of [cwd, dataDir]) mkdirp(d)
  const deployment: CovenantDeployment = {
    chainId: 31337,
    deployedAtBlock: 1n,
    deployer: addr(9),
    redistribution: addr(8),
    contracts: { agentRegistry: addr(1), bondVault: addr(2), traceLog: addr(3), verifierRegistry: addr(5), disputeGame: addr(4), bondToken: addr(6), workToken: addr(10), forkManager: addr(11) },
    params: defaultProtocolParams,
  }
  writeDeployment(deploymentFile, deployment)
  readDeployment(deploymentFile) // the commands get past it: what they refuse is the bad argument
  writeFileSync(join(root, 'not-json.txt'), 'this is { not json')
  for (const k of Object.keys(process.env)) if (k.startsWith('COVENANT_') || k === 'REDIS_URL') delete process.env[k]
  process.chdir(cwd) // defaults like ./.covenant land here, where we can see them
})
afterAll(() => {
  process.chdir(savedCwd)
  process.env = savedEnv
  rmSync(root, { recursive: true, force: true })
})

function mkdirp(d: string) {
  mkdirSync(d, { recursive: true })
}
function tree(d: string): string[] {
  const out: string[] = []
  const walk = (p: string) => {
    for (const name of readdirSync(p).sort()) {
      const full = join(p, name)
      out.push(`${full.slice(root.length)} ${statSync(full).size}`)
      if (statSync(full).isDirectory()) walk(full)
    }
  }
  walk(d)
  return out
}

type Outcome = { code: number; stdout: string; stderr: string }

/** One command line in-process, output captured; a run that does not settle in time fails. */
async function covenant(args: readonly string[]): Promise<Outcome> {
  let stdout = ''
  let stderr = ''
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write
  process.exitCode = undefined
  let timer: NodeJS.Timeout | undefined
  try {
    const code = await Promise.race([
      runCli(['node', 'covenant', ...args]),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`covenant ${args.join(' ')} did not finish in 15 s`)), 15_000))),
    ])
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
    process.stdout.write = out
    process.stderr.write = err
    process.exitCode = undefined
  }
}

const BUILTIN = /^(TypeError|SyntaxError|RangeError|ReferenceError|Error|AbortError|SystemError): /
/** The message a person reads: commander's `error: …`, or the command's `SomethingError: …` (progress lines may come first). */
function messageOf(o: Outcome): string {
  return o.stderr.split('\n').find((l) => /^(error: |[A-Z][A-Za-z.]*Error: )/.test(l)) ?? ''
}
function expectClearFailure(o: Outcome, args: readonly string[]): void {
  const shown = `covenant ${args.join(' ')}\n--- stdout\n${o.stdout}\n--- stderr\n${o.stderr}`
  expect(o.code, shown).not.toBe(0)
  const message = messageOf(o)
  expect(message, shown).toMatch(/^(error: .{8,}|[A-Z][A-Za-z]+Error: .{8,})/)
  expect(message, shown).not.toMatch(BUILTIN)
  expect(`${o.stdout}\n${o.stderr}`, shown).not.toMatch(/\n\s+at .+[:(]\d+:\d+\)?/)
  if (args.includes('--json') && !message.startsWith('error: ')) {
    const doc = JSON.parse(o.stdout) as { error: { name: string; message: string } }
    expect(doc.error.name, shown).toMatch(/Error$/)
    expect(doc.error.message.length).toBeGreaterThan(5)
  }
}

// ------------------------------------------------------------------ the commands, from the program itself

type Leaf = { path: string[]; required: number; flags: Set<string> }
function leaves(cmd: Command, path: string[] = []): Leaf[] {
  const here = cmd.commands.filter((c) => c.name() !== 'help')
  if (here.length > 0) return here.flatMap((c) => leaves(c, [...path, c.name()]))
  return [{ path, required: cmd.registeredArguments.filter((a) => a.required).length, flags: new Set(cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f))) }]
}
const PROGRAM = await createProgram()
const LEAVES = leaves(PROGRAM)
const GROUPS = PROGRAM.commands.filter((c) => c.commands.length > 0).map((c) => c.name())
const TOP = PROGRAM.commands.map((c) => c.name())

const env = () => ['--data-dir', dataDir, '--rpc', 'http://127.0.0.1:1', '--deployment', deploymentFile]
const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/)
const json = fc.boolean().map((j) => (j ? ['--json'] : []))

/** Port-like values commander or the command refuses (not an integer 0-65535 by either test). */
const badPort = fc.oneof(fc.integer({ min: 65_536, max: 10_000_000 }).map(String), fc.integer({ min: -100_000, max: -1 }).map(String), fc.constantFrom('eighty', '80.5', '1e10', 'NaN', '-0.5', '0x1ffff', '99999999999999999999'), word.filter((w) => !/^\d+$/.test(w)))
/** Strings that are no action id (`<agentId>-<12 lowercase hex>`). */
const badActionId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/^(0|[1-9][0-9]{0,77})-[0-9a-f]{12}$/.test(s) && !s.startsWith('-')),
  fc.constantFrom('1-0123456789AB', '1-0123', '01-0123456789ab', '1_0123456789ab', '1-0123456789abc', 'x-0123456789ab', `${'9'.repeat(79)}-0123456789ab`),
)
const notDecimal = fc.oneof(word, fc.constantFrom('1.5', '-1', '0x10', '1e3', '12a', ' 7', 'NaN', '∞')).filter((s) => !/^\d+$/.test(s))
/** Not a number at all: what even a lenient Number() check refuses. */
const notNumber = fc.oneof(word, fc.constantFrom('1.5', '-1', '12a', 'NaN', '∞', '2,3', '--')).filter((s) => !Number.isInteger(Number(s)) || Number(s) < 0)
const notHash = fc.oneof(word, fc.stringMatching(/^0x[0-9a-f]{1,63}$/), fc.stringMatching(/^0x[0-9a-f]{65,70}$/), fc.constant(`0x${'g'.repeat(64)}`))

const badLine: fc.Arbitrary<string[]> = fc.oneof(
  // commands and options that do not exist
  fc.tuple(word.filter((w) => !TOP.includes(w) && w !== 'help'), json).map(([w, j]) => [w, ...j]),
  fc.tuple(fc.constantFrom(...GROUPS), word.filter((w) => !['serve', 'models', 'replay', 'eval', 'start', 'worker', 'register', 'new', 'import', 'help'].includes(w))).map(([g, w]) => [g, w]),
  fc.tuple(fc.constantFrom(...LEAVES), word, json).filter(([l, w]) => !l.flags.has(`--${w}`) && !['help', 'version', 'json'].includes(w)).map(([l, w, j]) => [...l.path, ...Array.from({ length: l.required }, () => '1-0123456789ab'), `--${w}`, ...j]),
  // required arguments left out
  fc.constantFrom(...LEAVES.filter((l) => l.required > 0)).map((l) => [...l.path]),
  // bad values
  fc.tuple(badPort, json).map(([p, j]) => ['da', 'serve', '--port', p, ...j]),
  fc.tuple(badPort, json).map(([p, j]) => ['inference', 'serve', '--port', p, ...j]),
  fc.tuple(fc.constantFrom('--port', '--concurrency'), badPort, json).map(([f, p, j]) => ['serve', f, p, ...env(), ...j]),
  fc.tuple(fc.oneof(word.map((w) => `${w}!`), fc.constantFrom('a b', 'x'.repeat(65), 'ü', '*', 'a/b')), json).map(([p, j]) => ['serve', '--redis-prefix', p, ...env(), ...j]),
  fc.tuple(notDecimal, json).map(([id, j]) => ['bonds', id, ...env(), ...j]),
  fc.tuple(fc.constantFrom('verify', 'trace'), badActionId, json).map(([c, id, j]) => [c, id, ...env(), ...j]),
  fc.tuple(fc.constantFrom('verify', 'dispute'), notDecimal, json).map(([c, a, j]) => [c, '1-0123456789ab', '--agent', a, ...env(), ...j]),
  fc.tuple(fc.oneof(word.filter((r) => !['policy', 'inference', 'logic', 'withheld', 'untraced', 'equivocation', 'subjective'].includes(r))), json).map(([r, j]) => ['dispute', '1-0123456789ab', '--reason', r, ...env(), ...j]),
  fc.tuple(notHash, json).map(([h, j]) => ['dispute', '1-0123456789ab', '--tx', h, ...env(), ...j]),
  fc.tuple(notNumber, json).map(([s, j]) => ['dispute', '1-0123456789ab', '--step', s, ...env(), ...j]),
  fc.tuple(fc.constantFrom('--confirmations', '--grace', '--workers', '--poll'), notNumber, json).map(([f, v, j]) => ['verifier', 'start', f, v, ...env(), ...j]),
  fc.tuple(word.filter((w) => !['none', 'model', 'prompt'].includes(w)), json).map(([v, j]) => ['verifier', 'start', '--judge', v, ...env(), ...j]),
  fc.tuple(notDecimal, json).map(([a, j]) => ['verifier', 'start', '--agent', a, ...env(), ...j]),
  fc.tuple(fc.constantFrom('abc', '1.5', '-3', '1001', 'NaN', 'ten', '2,3'), fc.constantFrom('bonds', 'verifier'), json).map(([a, c, j]) => (c === 'bonds' ? ['bonds', '1', '--dev-account', a, ...env(), ...j] : ['verifier', 'register', '--dev-account', a, ...env(), ...j])),
  fc.tuple(fc.oneof(word, fc.constantFrom('-1', '1e5x', '0.000000000000000000001', 'ten')), json).map(([s, j]) => ['verifier', 'register', '--dev-account', '1', '--stake', s, ...env(), ...j]),
  fc.tuple(fc.constantFrom('-1', 'abc', 'NaN', 'Infinity'), json).map(([x, j]) => ['inference', 'replay', 'record.json', '--max-abs-diff', x, ...j]),
  fc.tuple(word, json).map(([f, j]) => ['inference', 'replay', join(root, `${f}.json`), ...j]),
  fc.tuple(fc.constantFrom('not-json', 'a directory'), json).map(([f, j]) => ['inference', 'replay', f === 'not-json' ? join(root, 'not-json.txt') : root, ...j]),
  fc.tuple(word.filter((m) => m !== 'exact' && m !== 'tolerance'), json).map(([m, j]) => ['inference', 'replay', 'record.json', '--mode', m, ...j]),
  fc.tuple(word, json).map(([f, j]) => ['deploy', join(root, `${f}.ts`), ...env(), ...j]),
  fc.tuple(notHash, json).map(([h, j]) => ['8004', 'status', h, ...env(), ...j]),
  fc.tuple(notDecimal, fc.constantFrom('agent', 'request'), json).map(([a, c, j]) => (c === 'agent' ? ['8004', 'agent', a, ...env(), ...j] : ['8004', 'request', a, '1-0123456789ab', ...env(), ...j])),
  // a deployment file without the ERC-8004 registries
  fc.tuple(fc.constantFrom('agent', 'status'), json).map(([c, j]) => ['8004', c, c === 'agent' ? '1' : `0x${'ab'.repeat(32)}`, ...env(), ...j]),
  fc.tuple(fc.constantFrom('bonds', 'verify'), json).map(([c, j]) => [c, c === 'bonds' ? '1' : '1-0123456789ab', '--data-dir', dataDir, '--rpc', 'http://127.0.0.1:1', '--deployment', join(root, 'missing.json'), ...j]),
)

test(`${RUNS} generated bad command lines: non-zero exit, one clear message, no stack, nothing written`, async () => {
  const before = { cwd: tree(cwd), data: tree(dataDir) }
  const firstWords = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(badLine, async (args) => {
      const o = await covenant(args)
      expectClearFailure(o, args)
      const kind = messageOf(o).split(':')[0]!
      firstWords.set(kind, (firstWords.get(kind) ?? 0) + 1)
    }),
    { numRuns: RUNS },
  )
  expect(tree(cwd)).toEqual(before.cwd)
  expect(tree(dataDir)).toEqual(before.data)
  // the refusals came from commander and from the commands' own checks
  expect([...firstWords.keys()]).toEqual(expect.arrayContaining(['error', 'EnvError']))
})

test('the same refusals from the real binary (a sample): exit code, message, no stack', () => {
  // three spawns: each costs a Node start with tsx (seconds on a busy machine)
  const sample = [
    ['nope'],
    ['da', 'serve', '--port', 'eighty'],
    ['verify', '1-0123456789ab', '--agent', 'x1', ...env(), '--json'],
  ]
  for (const args of sample) {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env } })
    expectClearFailure({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, args)
  }
  expect(tree(cwd)).toEqual([])
})
