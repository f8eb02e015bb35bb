/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the
 * tarball unpacked into a fresh project's node_modules, then used from plain Node ESM, from
 * CommonJS (`require`, the dist/cjs bundles), from a strict TypeScript project (the README's agent snippet included) and
 * through its `covenant` binary. Nothing outside the tarball is visible to the consumer but
 * the runtime dependencies package.json declares: they are linked from this checkout's
 * node_modules (the test is offline), dev dependencies are not. So a wrong `exports` or
 * `types` path, a file missing from `files`, or a runtime import of a dev dependency fails
 * here.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const REPO = resolve('.')
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; exports: Record<string, unknown> }
const root = mkdtempSync(join(tmpdir(), 'covenant-package-'))
const consumer = join(root, 'consumer')
const installed = join(consumer, 'node_modules', PKG.name)
let packed: { filename: string; files: Array<{ path: string }> }

/** npm's own CLI, run by this node (npm ships with it; `npm test` names it in npm_execpath). */
function npmCli(): string {
  const candidates = [process.env['npm_execpath'], join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')]
  const found = candidates.find((p): p is string => !!p && /npm-cli\.js$/.test(p) && existsSync(p))
  if (!found) throw new Error(`npm's CLI is not beside ${process.execPath}; run the test through npm (npm test), which names it in npm_execpath`)
  return found
}

function run(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, shown: `${args.join(' ')}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}` }
}

/** Unpacks an npm tarball (gzip'd ustar, every entry under `package/`) into `dir`. */
function unpack(tarball: string, dir: string): void {
  const tar = gunzipSync(readFileSync(tarball))
  const text = (at: number, len: number) => tar.subarray(at, at + len).toString('utf8').replace(/\0.*$/s, '')
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = text(at, 100)
    if (name === '') break
    const size = Number.parseInt(text(at + 124, 12).trim() || '0', 8)
    const type = text(at + 156, 1)
    const path = [text(at + 345, 155), name].filter(Boolean).join('/')
    const body = at + 512
    if (type === '0' || type === '') {
      const out = join(dir, path.replace(/^package\//, ''))
      mkdirSync(dirname(out), { recursive: true })
      writeFileSync(out, tar.subarray(body, body + size))
    }
    at = body + Math.ceil(size / 512) * 512
  }
}

/** The runtime dependencies (the whole tree npm installs for a user: package-lock entries not marked dev), linked in. */
function linkRuntimeDependencies(nodeModules: string): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  const names = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && !path.slice('node_modules/'.length).includes('node_modules/') && !entry.dev)
    .map(([path]) => path.slice('node_modules/'.length))
  for (const name of names) {
    const target = join(REPO, 'node_modules', name)
    if (!existsSync(target)) continue // an optional dependency for another platform
    mkdirSync(dirname(join(nodeModules, name)), { recursive: true })
    symlinkSync(target, join(nodeModules, name))
  }
  return names
}

/** The consumer's own dev tools: a compiler and Node's types. */
function linkDevTools(): void {
  for (const dev of ['typescript', '@types/node']) {
    if (existsSync(join(consumer, 'node_modules', dev))) continue
    mkdirSync(dirname(join(consumer, 'node_modules', dev)), { recursive: true })
    symlinkSync(join(REPO, 'node_modules', dev), join(consumer, 'node_modules', dev))
  }
}

/** The fenced TypeScript block that follows a README heading. */
function readmeSnippet(heading: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
  const from = readme.indexOf(`\n${heading}\n`)
  expect(from, `README.md has no "${heading}" section`).toBeGreaterThan(0)
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(from))
  expect(block, `no \`\`\`ts block under "${heading}"`).not.toBeNull()
  return block![1]!
}

beforeAll(() => {
  const r = run([npmCli(), 'pack', '--json', '--pack-destination', root], REPO)
  expect(r.code, r.shown).toBe(0)
  // lifecycle output may precede the JSON document
  const json = r.stdout.slice(r.stdout.indexOf('[\n'))
  packed = (JSON.parse(json) as Array<typeof packed>)[0]!
  mkdirSync(join(consumer, 'node_modules'), { recursive: true })
  writeFileSync(join(consumer, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`)
  unpack(join(root, packed.filename), installed)
  const linked = linkRuntimeDependencies(join(consumer, 'node_modules'))
  expect(linked).toContain('viem')
  expect(linked).not.toContain('vitest')
}, 300_000)
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('the tarball', () => {
  test('carries the build, the binary and the shipped models, and no tests or sources', () => {
    const files = packed.files.map((f) => f.path)
    for (const f of ['package.json', 'README.md', 'bin/covenant.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'models/moderation/model.onnx', 'models/covenant-chat/model.onnx']) {
      expect(files).toContain(f)
    }
    expect(files.filter((f) => /\.test\.|(^|\/)(test|contracts|scripts|bench)\//.test(f))).toEqual([])
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>
    expect(manifest['private']).toBeUndefined()
    expect(manifest['version']).toBe(PKG.version)
  })

  test('every export points at a file the tarball has, JavaScript and types', () => {
    for (const [subpath, target] of Object.entries(PKG.exports)) {
      if (subpath === './package.json') continue
      const t = target as { types: string; require?: string; default: string }
      // types first, as TypeScript needs; covenant/agentkit is ESM only (its optional peer is)
      expect(Object.keys(t), subpath).toEqual(subpath === './agentkit' ? ['types', 'default'] : ['types', 'require', 'default'])
      expect(t.types, subpath).toMatch(/^\.\/dist\/.+\.d\.ts$/)
      expect(t.default, subpath).toMatch(/^\.\/dist\/.+\.js$/)
      expect(existsSync(join(installed, t.types)), `${subpath} types`).toBe(true)
      expect(existsSync(join(installed, t.default)), `${subpath} code`).toBe(true)
      if (t.require === undefined) continue
      expect(t.require, subpath).toMatch(/^\.\/dist\/cjs\/.+\.cjs$/)
      expect(existsSync(join(installed, t.require)), `${subpath} CommonJS`).toBe(true)
    }
  })
})

describe('a consumer project', () => {
  test('imports every entry from plain Node ESM, loads a TypeScript agent file and finds the shipped models', () => {
    writeFileSync(join(consumer, 'agent.ts'), readmeSnippet('## Define an agent'))
    // covenant/agentkit needs the optional peer @coinbase/agentkit, which a consumer may not have (below)
    const entries = Object.keys(PKG.exports).filter((s) => s !== './package.json' && s !== './agentkit').map((s) => s.replace(/^\./, PKG.name))
    writeFileSync(
      join(consumer, 'main.mjs'),
      [
        ...entries.map((e, i) => `import * as m${i} from '${e}'`),
        `import { loadAgentFile } from '${PKG.name}/service'`,
        `import { createModelStore } from '${PKG.name}/inference'`,
        `const entries = { ${entries.map((e, i) => `'${e}': Object.keys(m${i}).length`).join(', ')} }`,
        `const { agent } = await loadAgentFile('agent.ts')`,
        // a second load, as covenant deploy does when it goes on to serve what it registered
        `const again = await loadAgentFile('agent.ts')`,
        `if (again.agent !== agent) throw new Error('the second load gave another module')`,
        `const models = createModelStore().list().map((m) => ({ name: m.name, path: m.path }))`,
        `console.log(JSON.stringify({ entries, agent: { name: agent.name, tools: agent.tools.map((t) => t.name) }, models, defineAgent: typeof m0.defineAgent }))`,
      ].join('\n'),
    )
    const r = run(['main.mjs'], consumer)
    expect(r.code, r.shown).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      entries: Record<string, number>
      agent: { name: string; tools: string[] }
      models: Array<{ name: string; path: string }>
      defineAgent: string
    }
    for (const e of entries) expect(out.entries[e], e).toBeGreaterThan(0)
    expect(out.defineAgent).toBe('function')
    expect(out.agent).toEqual({ name: 'treasury', tools: ['pay_invoice'] })
    expect(out.models.map((m) => m.name)).toEqual(['covenant-chat', 'moderation', 'tiny-qwen2'])
    for (const m of out.models) expect(m.path.startsWith(join(installed, 'models'))).toBe(true)
  })

  test('without the optional peer @coinbase/agentkit, covenant/agentkit says what to install (the rest works)', () => {
    writeFileSync(join(consumer, 'agentkit.mjs'), `import('${PKG.name}/agentkit').then(() => console.log('loaded'), (e) => console.log(JSON.stringify({ name: e.name, message: e.message })))\n`)
    const r = run(['agentkit.mjs'], consumer)
    expect(r.code, r.shown).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { name: string; message: string }
    expect(out.name).toBe('AgentKitMissingError')
    expect(out.message).toContain('npm install @coinbase/agentkit')
  })

  test('CommonJS require()s every entry (dist/cjs) and gets the same answers as ESM', () => {
    // every entry with a `require` condition (covenant/agentkit is ESM only: its peer is)
    const entries = Object.entries(PKG.exports as Record<string, unknown>)
      .filter(([, t]) => typeof t === 'object' && t !== null && 'require' in t)
      .map(([s]) => s.replace(/^\./, PKG.name))
    writeFileSync(
      join(consumer, 'main.cjs'),
      [
        `const entries = { ${entries.map((e) => `'${e}': Object.keys(require('${e}')).length`).join(', ')} }`,
        `const c = require('${PKG.name}')`,
        `const { createServiceClient, stepEventSchema } = require('${PKG.name}/client')`,
        `const { defineConfig } = require('${PKG.name}/config')`,
        `const { createModelStore } = require('${PKG.name}/inference')`,
        // keccak answers synchronously from the first call (JavaScript until the WebAssembly hasher is ready)
        `const early = c.merkleRoot(['0x${'11'.repeat(32)}', '0x${'22'.repeat(32)}'])`,
        `setTimeout(() => {`,
        `  const late = c.merkleRoot(['0x${'11'.repeat(32)}', '0x${'22'.repeat(32)}'])`,
        `  console.log(JSON.stringify({ entries, early, late, client: typeof createServiceClient({ url: 'http://127.0.0.1:1' }).events, step: typeof stepEventSchema.parse, config: defineConfig({ rpc: 'http://127.0.0.1:8545' }), models: createModelStore().list().map((m) => m.name) }))`,
        `}, 200)`,
      ].join('\n'),
    )
    const r = run(['main.cjs'], consumer)
    expect(r.code, r.shown).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { entries: Record<string, number>; early: string; late: string; client: string; step: string; config: unknown; models: string[] }
    for (const e of entries) expect(out.entries[e], e).toBeGreaterThan(0)
    writeFileSync(join(consumer, 'same.mjs'), `import { merkleRoot } from '${PKG.name}'\nconsole.log(merkleRoot(['0x${'11'.repeat(32)}', '0x${'22'.repeat(32)}']))\n`)
    const esm = run(['same.mjs'], consumer)
    expect(esm.code, esm.shown).toBe(0)
    expect(out.early).toBe(esm.stdout.trim())
    expect(out.late).toBe(out.early)
    expect(out).toMatchObject({ client: 'function', step: 'function', config: { rpc: 'http://127.0.0.1:8545' }, models: ['covenant-chat', 'moderation', 'tiny-qwen2'] })
  })

  test("a strict TypeScript project type-checks against the package's declarations, the README snippet included", () => {
    linkDevTools()
    writeFileSync(join(consumer, 'agent.ts'), readmeSnippet('## Define an agent'))
    writeFileSync(
      join(consumer, 'use.ts'),
      [
        `import { merkleRoot, type Manifest } from '${PKG.name}'`,
        `import agent from './agent.js'`,
        `import { createModelStore } from '${PKG.name}/inference'`,
        `import { LocalDAStore } from '${PKG.name}/da'`,
        `export const root: \`0x\${string}\` = merkleRoot([])`,
        `export const name: string = agent.name`,
        `export const models: number = createModelStore().list().length`,
        `export const store = new LocalDAStore({ dir: '.da' })`,
        `export type M = Manifest`,
        `import { createServiceClient, type StepEvent, type TaskStreamEvent } from '${PKG.name}/client'`,
        `import { defineConfig } from '${PKG.name}/config'`,
        `export const config = defineConfig({ agent: 'agent.ts', logLevel: 'warn' })`,
        `export async function steps(id: string): Promise<StepEvent[]> {`,
        `  const out: StepEvent[] = []`,
        `  for await (const e of createServiceClient({ url: 'http://127.0.0.1:8787' }).events(id, { lastEventId: 3 })) {`,
        `    const ev: TaskStreamEvent = e`,
        `    if (ev.type === 'step') out.push(ev.step)`,
        `  }`,
        `  return out`,
        `}`,
      ].join('\n'),
    )
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noUncheckedIndexedAccess: true,
          noPropertyAccessFromIndexSignature: true,
          exactOptionalPropertyTypes: true,
          noImplicitOverride: true,
          noUnusedLocals: true,
          verbatimModuleSyntax: true,
          skipLibCheck: false,
          noEmit: true,
        },
        include: ['*.ts'],
      }),
    )
    const r = run([join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], consumer)
    // Errors inside other libraries' declarations are theirs; none may be in Covenant's or the consumer's files.
    const errors = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l))
    // (linked dependencies are reported by their real path, outside the consumer)
    const ours = errors.filter((l) => !l.includes('node_modules/') || l.startsWith(`node_modules/${PKG.name}/`))
    expect(ours, r.shown).toEqual([])
    // with skipLibCheck (what most projects set), the whole check passes
    const usual = run([join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--skipLibCheck'], consumer)
    expect(usual.code, usual.shown).toBe(0)
    // and the check did look at Covenant's declarations (not JavaScript without types)
    const list = run([join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--listFilesOnly'], consumer)
    expect(list.stdout).toContain(`node_modules/${PKG.name}/dist/src/index.d.ts`)
    // three full tsc runs (one without skipLibCheck): 70 s on 2 cores shared with other suites
  }, 180_000)

  test('its `covenant` binary runs the build: --version, and the shipped models', () => {
    const bin = join(installed, 'bin', 'covenant.js')
    expect(readdirSync(installed)).not.toContain('src')
    const version = run([bin, '--version'], consumer)
    expect(version.code, version.shown).toBe(0)
    expect(version.stdout.trim()).toBe(PKG.version)
    const models = run([bin, 'inference', 'models', '--json'], consumer)
    expect(models.code, models.shown).toBe(0)
    expect((JSON.parse(models.stdout) as Array<{ name: string }>).map((m) => m.name)).toEqual(['covenant-chat', 'moderation', 'tiny-qwen2'])
  })

  test('`covenant init` scaffolds a project whose agent type-checks, passes deploy\'s type check and loads', () => {
    linkDevTools()
    const bin = join(installed, 'bin', 'covenant.js')
    const init = run([bin, 'init', 'app', '--json'], consumer)
    expect(init.code, init.shown).toBe(0)
    const app = join(consumer, 'app')
    const tsc = run([join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], app)
    expect(tsc.code, tsc.shown).toBe(0)
    writeFileSync(
      join(consumer, 'init.mjs'),
      [
        `import { loadAgentFile, typecheckAgentFile } from '${PKG.name}/service'`,
        `const checked = await typecheckAgentFile('app/agent.ts')`,
        `const { agent } = await loadAgentFile('app/agent.ts')`,
        `console.log(JSON.stringify({ checked: checked.checked, name: agent.name, tools: agent.tools.map((t) => t.name), model: agent.model.kind }))`,
      ].join('\n'),
    )
    const r = run(['init.mjs'], consumer)
    expect(r.code, r.shown).toBe(0)
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ checked: true, name: 'app', tools: ['publish_decision'], model: 'onnx' })
  })

  test('`covenant init --config-ts`: the covenant.config.ts (defineConfig from covenant/config) type-checks and the binary reads it', () => {
    linkDevTools()
    const bin = join(installed, 'bin', 'covenant.js')
    const init = run([bin, 'init', 'app-ts', '--config-ts', '--json'], consumer)
    expect(init.code, init.shown).toBe(0)
    const app = join(consumer, 'app-ts')
    const file = join(app, 'covenant.config.ts')
    const tsc = run([join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], app)
    expect(tsc.code, tsc.shown).toBe(0)
    // a chain and a data dir of its own, set in the config: the command's one-line error names the dir
    writeFileSync(file, readFileSync(file, 'utf8').replace("dataDir: '.covenant',", "dataDir: 'state',\n  rpc: 'http://127.0.0.1:9',"))
    const r = run([bin, 'bonds', '1', '--json'], app)
    expect(r.code, r.shown).toBe(1)
    const err = JSON.parse(r.stdout) as { error: { name: string; message: string } }
    expect(err.error, r.shown).toMatchObject({ name: 'EnvError', message: expect.stringContaining(`No deployment file at ${join(app, 'state', 'deployment.json')}`) })
  })
})
