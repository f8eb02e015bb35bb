import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { pathToFileURL } from 'node:url'
import { configFileOf, loadConfig, readConfig, withConfig } from './config.js'
import type { EnvOptions } from './env.js'

const root = mkdtempSync(join(tmpdir(), 'covenant-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const savedEnv = { ...process.env }
afterEach(() => {
  process.env = { ...savedEnv }
})

let n = 0
function configFile(doc: unknown, name = 'covenant.config.json'): string {
  const dir = join(root, `p${n++}`)
  mkdirSync(dir)
  const file = join(dir, name)
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return file
}

const defineConfigUrl = pathToFileURL(join(import.meta.dirname, 'defineConfig.ts')).href

function inDir<T>(dir: string, fn: () => T): T {
  const cwd = process.cwd()
  process.chdir(dir)
  try {
    return fn()
  } finally {
    process.chdir(cwd)
  }
}

describe('covenant.config.json', () => {
  test('paths are relative to the file; URLs are kept', () => {
    const file = configFile({ agent: 'agent.ts', dataDir: '.covenant', deployment: 'chain/deployment.json', keystore: 'keys/owner.json', rpc: 'http://127.0.0.1:8545', logLevel: 'warn' })
    const dir = join(file, '..')
    expect(readConfig({ config: file }).config).toEqual({
      agent: join(dir, 'agent.ts'),
      dataDir: join(dir, '.covenant'),
      deployment: join(dir, 'chain/deployment.json'),
      keystore: join(dir, 'keys/owner.json'),
      rpc: 'http://127.0.0.1:8545',
      logLevel: 'warn',
    })
  })

  test('a flag wins over the environment, which wins over the file', () => {
    const file = configFile({ rpc: 'http://127.0.0.1:1111', da: 'http://127.0.0.1:3100', dataDir: 'state' })
    for (const k of ['COVENANT_RPC_URL', 'COVENANT_DA_URL', 'COVENANT_DATA_DIR']) delete process.env[k]
    process.env.COVENANT_DA_URL = 'http://127.0.0.1:9999'
    const merged = withConfig<EnvOptions>({ config: file, rpc: 'http://127.0.0.1:2222' })
    expect(merged.rpc).toBe('http://127.0.0.1:2222') // the flag
    expect(merged.da).toBeUndefined() // the environment variable wins: resolveEnv reads it
    expect(merged.dataDir).toBe(join(file, '..', 'state')) // the file
  })

  test('no file in the working directory: no config; a named file that is missing: ConfigError', () => {
    delete process.env.COVENANT_CONFIG
    const cwd = process.cwd()
    process.chdir(root)
    try {
      expect(readConfig({})).toEqual({ file: undefined, config: {} })
    } finally {
      process.chdir(cwd)
    }
    expect(() => readConfig({ config: join(root, 'missing.json') })).toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/^Cannot read the config file .+missing\.json \(it does not exist\)\./) }))
  })

  test.each([
    ['{ not json', /is not JSON\./],
    [{ rcp: 'http://127.0.0.1:8545' }, /is not valid: unknown field "rcp"/],
    [{ rpc: 'localhost' }, /is not valid: "rpc": rpc must be a URL/],
    [{ logLevel: 'loud' }, /is not valid: "logLevel"/],
    [{ redis: 'http://x' }, /is not valid: "redis": redis must be a redis:\/\//],
    [[], /is not valid/],
  ])('refuses %j with a ConfigError that names the problem', (doc, message) => {
    const file = configFile(doc)
    expect(() => readConfig({ config: file })).toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(message) }))
  })
})

describe('covenant.config.ts', () => {
  test('a typed module config is loaded through tsx and validated like the JSON one; readConfig then answers from memory', async () => {
    const file = configFile(
      [
        `import { defineConfig } from '${defineConfigUrl}'`,
        "const level: 'warn' | 'info' = 'warn'",
        "export default defineConfig({ agent: 'agents/a.ts', dataDir: '.state', rpc: 'http://127.0.0.1:8545', logLevel: level })",
      ].join('\n'),
      'covenant.config.ts',
    )
    const dir = join(file, '..')
    expect(() => readConfig({ config: file })).toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining('was not loaded yet') }))
    const loaded = await loadConfig({ config: file })
    expect(loaded).toEqual({ file, config: { agent: join(dir, 'agents/a.ts'), dataDir: join(dir, '.state'), rpc: 'http://127.0.0.1:8545', logLevel: 'warn' } })
    expect(readConfig({ config: file })).toBe(loaded)
  })

  test('found in the working directory (.ts, .mts, .js); two config files in one folder is an error naming both', async () => {
    for (const [name, text] of [
      ['covenant.config.ts', "export default { dataDir: 'ts' satisfies string }"],
      ['covenant.config.mts', "export default { dataDir: 'mts' as string }"],
      ['covenant.config.js', "export default { dataDir: 'js' }"],
    ] as const) {
      const file = configFile(text, name)
      delete process.env.COVENANT_CONFIG
      const dir = join(file, '..')
      const cwd = process.cwd()
      process.chdir(dir)
      try {
        expect((await loadConfig({})).config.dataDir).toBe(join(dir, name.split('.').at(-1)!))
      } finally {
        process.chdir(cwd)
      }
    }
    const two = configFile("export default { dataDir: 'x' }", 'covenant.config.ts')
    writeFileSync(join(two, '..', 'covenant.config.json'), '{}')
    delete process.env.COVENANT_CONFIG
    expect(() => inDir(join(two, '..'), () => configFileOf({}))).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/^This folder has 2 config files: covenant\.config\.ts, covenant\.config\.json\./) }),
    )
  })

  test.each([
    ["export default { rcp: 'http://127.0.0.1:8545' }", /^The config file .+covenant\.config\.ts is not valid: unknown field "rcp"/],
    ["export default { logLevel: 'loud' }", /^The config file .+covenant\.config\.ts is not valid: "logLevel"/],
    ["export const rpc = 'http://127.0.0.1:8545'", /^The config file .+covenant\.config\.ts has no default export\./],
    ['export default {{', /^The config file .+covenant\.config\.ts failed to load: /],
    ["throw new Error('no network here')", /^The config file .+covenant\.config\.ts failed to load: no network here/],
    ["module.exports = { rpc: 'nope' }", /^The config file .+covenant\.config\.ts is not valid: "rpc"/],
  ])('refuses %s with a ConfigError naming the file', async (text, message) => {
    const file = configFile(text, 'covenant.config.ts')
    await expect(loadConfig({ config: file })).rejects.toThrow(expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(message) }))
  })
})
