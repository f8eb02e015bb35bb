import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { readConfig, withConfig } from './config.js'
import type { EnvOptions } from './env.js'

const root = mkdtempSync(join(tmpdir(), 'covenant-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const savedEnv = { ...process.env }
afterEach(() => {
  process.env = { ...savedEnv }
})

let n = 0
function configFile(doc: unknown): string {
  const dir = join(root, `p${n++}`)
  mkdirSync(dir)
  const file = join(dir, 'covenant.config.json')
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return file
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
