/**
 * `covenant keys new|import` as the real binary: the files it writes are Web3 Secret Storage
 * v3 in geth's layout — opened here by an independent geth-style reader (node:crypto, not
 * ethers) and by ethers' standard decryption — it imports a key piped on stdin or a keystore
 * cast wrote, and it never prints a key, never takes one from the command line, never
 * replaces a file, and writes nothing when a password is missing or wrong.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { decryptKeystoreJson } from 'ethers'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, describe, expect, test } from 'vitest'
import { castKeystore, decryptLikeGeth } from '../../src/wallet/_keystoreFixtures.js'
import { loadKeystore } from '../../src/wallet/keystore.js'

const BIN = resolve('bin/covenant.js')
const root = mkdtempSync(join(tmpdir(), 'covenant-cli-keys-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let dirs = 0
function dataDir(): string {
  return join(root, `data-${dirs++}`)
}

function covenant(args: readonly string[], env: Record<string, string> = {}, input = '') {
  const clean = { ...process.env }
  for (const k of Object.keys(clean)) if (k.startsWith('COVENANT_')) delete clean[k]
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...clean, ...env }, input })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, shown: `covenant ${args.join(' ')}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}` }
}

function expectNoKey(text: string, privateKey: string): void {
  expect(text.toLowerCase()).not.toContain(privateKey.slice(2).toLowerCase())
}

describe('covenant keys new', () => {
  test('writes a keystore geth, cast and ethers open, with mode 0600, and prints only the address and the path', async () => {
    const dir = dataDir()
    const r = covenant(['keys', 'new', '--light-kdf', '--data-dir', dir, '--json'], { COVENANT_PASSWORD: 'pw-1' })
    expect(r.code, r.shown).toBe(0)
    const out = JSON.parse(r.stdout) as { address: string; keystore: string }
    expect(out.keystore).toBe(join(dir, 'keys', `${out.address}.json`))
    expect(statSync(out.keystore).mode & 0o777).toBe(0o600)
    const text = readFileSync(out.keystore, 'utf8')
    const doc = JSON.parse(text) as Record<string, unknown>
    expect(Object.keys(doc)).toEqual(['address', 'crypto', 'id', 'version'])
    const privateKey = decryptLikeGeth(doc, 'pw-1')
    expect(privateKeyToAccount(privateKey).address).toBe(out.address)
    expect((await decryptKeystoreJson(text, 'pw-1')).address).toBe(out.address)
    expectNoKey(r.stdout + r.stderr, privateKey)
  })

  test('uses the standard scrypt cost unless --light-kdf; --out names the file', () => {
    const out = join(root, 'standard.json')
    const r = covenant(['keys', 'new', '--out', out], { COVENANT_PASSWORD: 'pw-2' })
    expect(r.code, r.shown).toBe(0)
    expect(r.stdout).toMatch(/^0x[0-9a-fA-F]{40}\n {2}keystore .+standard\.json/)
    const doc = JSON.parse(readFileSync(out, 'utf8')) as { crypto: { kdf: string; kdfparams: { n: number; r: number; p: number } } }
    expect(doc.crypto.kdf).toBe('scrypt')
    expect(doc.crypto.kdfparams).toMatchObject({ n: 131_072, r: 8, p: 1 })
  })

  test('without COVENANT_PASSWORD: exit 1, one line that says what to set, nothing written', () => {
    const dir = dataDir()
    const r = covenant(['keys', 'new', '--light-kdf', '--data-dir', dir])
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^EnvError: Agent keystores need a password\.\n\nSet COVENANT_PASSWORD/)
    expect(existsSync(dir)).toBe(false)
  })

  test('never replaces an existing keystore', () => {
    const out = join(root, 'taken.json')
    writeFileSync(out, 'precious')
    const r = covenant(['keys', 'new', '--light-kdf', '--out', out], { COVENANT_PASSWORD: 'pw' })
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^EnvError: .+taken\.json already exists; a keystore is never replaced\./)
    expect(readFileSync(out, 'utf8')).toBe('precious')
  })
})

describe('covenant keys import', () => {
  test('a private key piped on stdin: the same address, opened by loadKeystore (what --keystore does) with COVENANT_PASSWORD', async () => {
    const privateKey = generatePrivateKey()
    const dir = dataDir()
    const r = covenant(['keys', 'import', '--light-kdf', '--data-dir', dir, '--json'], { COVENANT_PASSWORD: 'pw-3' }, `${privateKey}\n`)
    expect(r.code, r.shown).toBe(0)
    const out = JSON.parse(r.stdout) as { address: string; keystore: string }
    expect(out.address).toBe(privateKeyToAccount(privateKey).address)
    expect(decryptLikeGeth(JSON.parse(readFileSync(out.keystore, 'utf8')), 'pw-3')).toBe(privateKey)
    expect((await loadKeystore(out.keystore, { password: 'pw-3' })).address).toBe(out.address)
    expectNoKey(r.stdout + r.stderr, privateKey)
  })

  test('a keystore cast wrote (its password in COVENANT_IMPORT_PASSWORD): re-encrypted with COVENANT_PASSWORD', () => {
    const privateKey = generatePrivateKey()
    const castFile = join(root, 'cast-key')
    writeFileSync(castFile, JSON.stringify(castKeystore(privateKey, 'cast-pw')))
    const out = join(root, 'imported.json')
    const r = covenant(['keys', 'import', castFile, '--light-kdf', '--out', out, '--json'], { COVENANT_IMPORT_PASSWORD: 'cast-pw', COVENANT_PASSWORD: 'ours' })
    expect(r.code, r.shown).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ address: privateKeyToAccount(privateKey).address, keystore: out })
    const doc = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>
    expect(decryptLikeGeth(doc, 'ours')).toBe(privateKey)
    expect(() => decryptLikeGeth(doc, 'cast-pw')).toThrow(/MAC mismatch/)
    expectNoKey(r.stdout + r.stderr, privateKey)
  })

  test('the wrong password for the file to import: exit 1, it says which variable to set, nothing written', () => {
    const privateKey = generatePrivateKey()
    const castFile = join(root, 'cast-key-2')
    writeFileSync(castFile, JSON.stringify(castKeystore(privateKey, 'cast-pw')))
    const dir = dataDir()
    const r = covenant(['keys', 'import', castFile, '--data-dir', dir], { COVENANT_IMPORT_PASSWORD: 'a guess', COVENANT_PASSWORD: 'ours' })
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^EnvError: The password does not open .+cast-key-2\.\n\nSet COVENANT_IMPORT_PASSWORD/)
    expect(existsSync(dir)).toBe(false)
    expectNoKey(r.stdout + r.stderr, privateKey)
  })

  test('stdin that is not exactly one key is refused without being echoed', () => {
    const privateKey = generatePrivateKey()
    const dir = dataDir()
    for (const input of [`${privateKey}0\n`, `${privateKey.slice(0, 60)}\n`, `${privateKey} ${privateKey}\n`, '', 'x'.repeat(10_000)]) {
      const r = covenant(['keys', 'import', '--light-kdf', '--data-dir', dir], { COVENANT_PASSWORD: 'pw' }, input)
      expect(r.code, r.shown).toBe(1)
      expect(r.stderr, r.shown).toMatch(/^EnvError: stdin (is not a private key|holds more than 4096 bytes)/)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
      expectNoKey(r.stdout + r.stderr, privateKey)
    }
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([])
  })

  test('an invalid secp256k1 key (all f) is refused by name, never quoted', () => {
    const r = covenant(['keys', 'import', '--light-kdf', '--data-dir', dataDir()], { COVENANT_PASSWORD: 'pw' }, `0x${'f'.repeat(64)}\n`)
    expect(r.code, r.shown).toBe(1)
    expect(r.stderr).toMatch(/^InvalidPrivateKeyError: Invalid private key/)
    expect(r.stderr).not.toContain('f'.repeat(64))
  })
})
