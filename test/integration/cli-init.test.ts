/**
 * `covenant init`, the config file, and `covenant deploy`'s type check, as the real binary.
 * An agent file that does not type-check is refused before anything else happens (nothing
 * written, the chain never asked); one that does goes on to the next step. (The scaffolded
 * project compiled and loaded against the installed package: test/integration/package.test.ts.)
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'

const BIN = resolve('bin/covenant.js')
const root = mkdtempSync(join(tmpdir(), 'covenant-cli-init-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function covenant(args: readonly string[], cwd: string) {
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (k.startsWith('COVENANT_')) delete env[k]
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, shown: `covenant ${args.join(' ')}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}` }
}

describe('covenant init', () => {
  test('scaffolds a project: agent, config, package.json with scripts, tsconfig, the .npmrc line', () => {
    const r = covenant(['init', 'Shop Bot', '--json'], root)
    expect(r.code, r.shown).toBe(0)
    const dir = join(root, 'Shop Bot')
    const out = JSON.parse(r.stdout) as { dir: string; files: string[]; next: string[] }
    expect(out.dir).toBe(dir)
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', '.npmrc', 'agent.ts', 'covenant.config.json', 'package.json', 'tsconfig.json'])
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; type: string; scripts: Record<string, string>; dependencies: Record<string, string> }
    expect(pkg).toMatchObject({ name: 'shop-bot', type: 'module', scripts: { dev: 'covenant dev', deploy: 'covenant deploy', typecheck: 'tsc --noEmit' } })
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version
    expect(pkg.dependencies['covenant']).toBe(`^${version}`)
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['covenant', 'viem', 'zod'])
    expect(JSON.parse(readFileSync(join(dir, 'covenant.config.json'), 'utf8'))).toEqual({ agent: 'agent.ts', dataDir: '.covenant', logLevel: 'info' })
    expect(readFileSync(join(dir, '.npmrc'), 'utf8')).toBe('onnxruntime-node-install=skip\n')
    expect(readFileSync(join(dir, 'agent.ts'), 'utf8')).toMatch(/name: 'shop-bot',/)
    expect(out.next).toEqual(['cd Shop Bot', 'npm install', 'npm run dev        # in one terminal', 'npm run deploy     # in another'])
  })

  test('--config-ts writes covenant.config.ts (typed with defineConfig from covenant/config) instead of the JSON file', () => {
    const r = covenant(['init', 'typed-config', '--config-ts', '--json'], root)
    expect(r.code, r.shown).toBe(0)
    const dir = join(root, 'typed-config')
    expect(readdirSync(dir).sort()).toEqual(['.gitignore', '.npmrc', 'agent.ts', 'covenant.config.ts', 'package.json', 'tsconfig.json'])
    expect(readFileSync(join(dir, 'covenant.config.ts'), 'utf8')).toMatch(/^import \{ defineConfig \} from 'covenant\/config'\n[\s\S]*export default defineConfig\(\{\n  agent: 'agent\.ts',\n  dataDir: '\.covenant',\n  logLevel: 'info',\n\}\)\n$/)
  })

  test('writes nothing over an existing project', () => {
    const dir = join(root, 'taken')
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), '{"name":"mine"}\n')
    const r = covenant(['init'], dir)
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^EnvError: .+taken already has package\.json; init writes nothing over existing files\./)
    expect(readdirSync(dir)).toEqual(['package.json'])
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe('{"name":"mine"}\n')
  })
})

describe('covenant deploy type-checks the agent file first', () => {
  // a TypeScript project of its own (no Node types needed), with the config naming its agent
  const project = join(root, 'typed')
  mkdirSync(project)
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: [], noEmit: true } }))
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(join(project, 'bad.ts'), "const budget: number = 'ten'\nexport default { budget }\n")
  writeFileSync(join(project, 'good.ts'), 'const budget: number = 10\nexport default { budget }\n')
  const dataDir = join(project, 'state')

  test('a file that does not type-check: exit 1, the compiler errors, nothing written, no chain asked', () => {
    const r = covenant(['deploy', 'bad.ts', '--no-serve', '--data-dir', dataDir, '--rpc', 'http://127.0.0.1:9'], project)
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^AgentTypeError: The agent file .+bad\.ts does not type-check \(.+tsconfig\.json\); nothing was done\./)
    expect(r.stderr).toMatch(/bad\.ts\(1,7\): error TS2322: Type 'string' is not assignable to type 'number'\./)
    expect(r.stderr).toMatch(/Fix these, or pass --no-typecheck/)
    expect(r.stderr).not.toMatch(/ChainUnavailable|cannot reach/)
    expect(existsSync(dataDir)).toBe(false)
  })

  test('a file that type-checks goes on to the next step (here: it exports no agent)', () => {
    const r = covenant(['deploy', 'good.ts', '--no-serve', '--data-dir', dataDir], project)
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr.trim()).toMatch(/^AgentFileError: .+good\.ts does not export an agent\./)
    expect(existsSync(dataDir)).toBe(false)
  })

  test('--no-typecheck skips it: the same bad file is loaded as it is', () => {
    const r = covenant(['deploy', 'bad.ts', '--no-serve', '--no-typecheck', '--data-dir', dataDir], project)
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr.trim()).toMatch(/^AgentFileError: .+bad\.ts does not export an agent\./)
  })

  test('with no file argument the config\'s "agent" is deployed; with neither, one line says what to do', () => {
    writeFileSync(join(project, 'covenant.config.json'), JSON.stringify({ agent: 'bad.ts', dataDir: 'state' }))
    const fromConfig = covenant(['deploy', '--no-serve'], project)
    expect(fromConfig.code, fromConfig.shown).toBe(1)
    expect(fromConfig.stderr).toMatch(/^AgentTypeError: The agent file .+typed\/bad\.ts does not type-check/)
    rmSync(join(project, 'covenant.config.json'))
    const none = covenant(['deploy', '--no-serve'], project)
    expect(none.code, none.shown).toBe(1)
    expect(none.stderr).toMatch(/^EnvError: No agent file to deploy\.\n\nPass one \(covenant deploy agent\.ts\), or set "agent" in covenant\.config\.json/)
  })

  test('a covenant.config.ts is loaded (through tsx) and read like the JSON file', () => {
    writeFileSync(join(project, 'covenant.config.ts'), "const agent: string = 'bad.ts'\nexport default { agent, dataDir: 'state' }\n")
    try {
      const r = covenant(['deploy', '--no-serve'], project)
      expect(r.code, r.shown).toBe(1)
      expect(r.stderr).toMatch(/^AgentTypeError: The agent file .+typed\/bad\.ts does not type-check/)
    } finally {
      rmSync(join(project, 'covenant.config.ts'))
    }
  })

  test('a covenant.config.ts that is wrong is refused by name; with --json as one JSON document', () => {
    writeFileSync(join(project, 'covenant.config.ts'), "export default { rpc: 'localhost' }\n")
    try {
      const r = covenant(['bonds', '1', '--json'], project)
      expect(r.code, r.shown).toBe(1)
      expect(r.stderr).toMatch(/^ConfigError: The config file .+covenant\.config\.ts is not valid: "rpc": rpc must be a URL/)
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { name: 'ConfigError', message: expect.stringContaining('covenant.config.ts is not valid') } })
      writeFileSync(join(project, 'covenant.config.ts'), 'export default {{\n')
      const broken = covenant(['bonds', '1'], project)
      expect(broken.code, broken.shown).toBe(1)
      expect(broken.stderr).toMatch(/^ConfigError: The config file .+covenant\.config\.ts failed to load: /)
      // --version and --help never load it
      expect(covenant(['--version'], project).code).toBe(0)
    } finally {
      rmSync(join(project, 'covenant.config.ts'))
    }
  })

  test('a config file with a typo is refused by name, before anything is done', () => {
    writeFileSync(join(project, 'covenant.config.json'), JSON.stringify({ agnet: 'good.ts' }))
    const r = covenant(['bonds', '1'], project)
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^ConfigError: The config file .+covenant\.config\.json is not valid: unknown field "agnet"/)
    rmSync(join(project, 'covenant.config.json'))
  })

  test('a file outside any TypeScript project is deployed with a note that it was not type-checked', () => {
    const loose = mkdtempSync(join(tmpdir(), 'covenant-loose-'))
    try {
      writeFileSync(join(loose, 'package.json'), '{ "type": "module" }\n')
      writeFileSync(join(loose, 'a.ts'), 'export default 1\n')
      const r = covenant(['deploy', join(loose, 'a.ts'), '--no-serve', '--data-dir', join(loose, 'state')], loose)
      expect(r.code, r.shown).toBe(1)
      expect(r.stderr).toMatch(/^not type-checked: no tsconfig\.json in .+ or above it\nAgentFileError: .+a\.ts does not export an agent\./)
    } finally {
      rmSync(loose, { recursive: true, force: true })
    }
  })
})
