/**
 * How `covenant` starts, as the real binary: each command line loads the module of its own
 * verb and nothing else (`--version` and `--help` load no command at all, and no viem, ONNX
 * Runtime or LangChain), and bin/covenant.js runs the build only while it is current. Start-up
 * time itself is measured in bench/cli-startup.ts, not asserted here.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'

const BIN = resolve('bin/covenant.js')
const LOAD_LOG = resolve('test/fixtures/loadLog.mjs')
const root = mkdtempSync(join(tmpdir(), 'covenant-cli-startup-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (k.startsWith('COVENANT_')) delete env[k]
  return env
}

let runs = 0
/** Runs the real binary and returns what it printed and the URL of every module it loaded. */
function covenant(args: readonly string[]) {
  const log = join(root, `loaded-${runs++}.txt`)
  writeFileSync(log, '')
  const r = spawnSync(process.execPath, ['--import', LOAD_LOG, BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...cleanEnv(), COVENANT_LOAD_LOG: log } })
  const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, loaded }
}

/** Dependencies that cost hundreds of milliseconds each to load. */
const HEAVY = /\/node_modules\/(viem|ethers|onnxruntime-node|@langchain\/[^/]+|langchain|bullmq|ioredis|hono|@hono\/node-server|pino|zod)\//
const commandModules = (loaded: string[]) => [...new Set(loaded.map((u) => /\/cli\/commands\/([\w.-]+)\.[jt]s$/.exec(u)?.[1]).filter((m) => m !== undefined))].sort()
const heavy = (loaded: string[]) => [...new Set(loaded.map((u) => HEAVY.exec(u)?.[1]).filter((m) => m !== undefined))].sort()

describe('each command line loads only what it needs', () => {
  test('--version prints the package.json version and loads no command and no heavy dependency', () => {
    const r = covenant(['--version'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version)
    expect(commandModules(r.loaded)).toEqual(['index'])
    expect(heavy(r.loaded)).toEqual([])
  })

  test('--help lists every verb without loading one', () => {
    const r = covenant(['--help'])
    expect(r.code, r.stderr).toBe(0)
    for (const verb of ['bond', 'bonds', 'claim', 'da', 'demo', 'deploy', 'dev', 'dispute', 'inference', 'init', 'keys', 'serve', 'trace', 'verifier', 'verify', 'worker']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${verb} `, 'm'))
    }
    expect(commandModules(r.loaded)).toEqual(['index'])
    expect(heavy(r.loaded)).toEqual([])
  })

  test('`da serve --help` loads the da command alone', () => {
    const r = covenant(['da', 'serve', '--help'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/--dir <d>/)
    expect(commandModules(r.loaded)).toEqual(['da', 'index'])
  })

  test('`inference models` lists the shipped models without loading ONNX Runtime, LangChain or viem', () => {
    const r = covenant(['inference', 'models', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const models = JSON.parse(r.stdout) as Array<{ name: string; digest: string }>
    expect(models.map((m) => m.name)).toEqual(['covenant-chat', 'moderation', 'tiny-qwen2'])
    for (const m of models) expect(m.digest).toMatch(/^0x[0-9a-f]{64}$/)
    expect(commandModules(r.loaded)).toEqual(['index', 'inference'])
    expect(heavy(r.loaded)).toEqual([])
  })

  test('an unknown verb is a usage error that names the verbs it may have meant', () => {
    const r = covenant(['deplyo'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^error: unknown command 'deplyo'\n\(Did you mean deploy\?\)/)
    expect(commandModules(r.loaded)).toEqual(['index'])
  })
})

describe('bin/covenant.js runs the build while it is current, the sources otherwise', () => {
  // A stand-in package: bin/covenant.js itself, a "build" and "sources" that say which ran.
  const pkg = join(root, 'pkg')
  const old = new Date('2024-01-01T00:00:00Z')
  const later = new Date('2024-06-01T00:00:00Z')
  mkdirSync(join(pkg, 'bin'), { recursive: true })
  cpSync(BIN, join(pkg, 'bin', 'covenant.js'))
  writeFileSync(join(pkg, 'package.json'), '{ "name": "stand-in", "type": "module" }\n')
  symlinkSync(resolve('node_modules'), join(pkg, 'node_modules'))
  const file = (path: string, text: string, mtime: Date) => {
    mkdirSync(join(pkg, path, '..'), { recursive: true })
    writeFileSync(join(pkg, path), text)
    utimesSync(join(pkg, path), mtime, mtime)
  }
  const built = () => {
    file('dist/src/cli/main.js', "console.log('dist')\n", later)
    file('dist/build.json', '{}\n', later)
  }
  const sources = (mtime: Date) => {
    file('src/cli/main.ts', "const from: string = 'src'\nconsole.log(from)\n", mtime)
    file('examples/agents/a/agent.ts', 'export {}\n', old)
  }
  const which = (env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [join(pkg, 'bin', 'covenant.js')], { encoding: 'utf8', timeout: 60_000, env: { ...cleanEnv(), ...env } })
    expect(r.status, r.stderr).toBe(0)
    return r.stdout.trim()
  }

  test('a checkout built after its last edit runs dist/', () => {
    sources(old)
    built()
    expect(which()).toBe('dist')
  })

  test('a source saved after the build started runs the sources (a stale build never runs)', () => {
    sources(old)
    built()
    const edited = new Date(later.getTime() + 1_000)
    utimesSync(join(pkg, 'examples/agents/a/agent.ts'), edited, edited)
    expect(which()).toBe('src')
  })

  test('an edited test file does not make the build stale (tests are not built)', () => {
    sources(old)
    built()
    file('src/cli/main.test.ts', 'export {}\n', new Date(later.getTime() + 1_000))
    expect(which()).toBe('dist')
    rmSync(join(pkg, 'src/cli/main.test.ts'))
  })

  test('COVENANT_FROM_SOURCE=1 runs the sources', () => {
    sources(old)
    built()
    expect(which({ COVENANT_FROM_SOURCE: '1' })).toBe('src')
  })

  test('a checkout without a build runs the sources', () => {
    sources(old)
    rmSync(join(pkg, 'dist'), { recursive: true, force: true })
    expect(which()).toBe('src')
  })

  test('an installed package (no sources) runs its build', () => {
    built()
    rmSync(join(pkg, 'src'), { recursive: true, force: true })
    rmSync(join(pkg, 'examples'), { recursive: true, force: true })
    expect(which()).toBe('dist')
  })
})
