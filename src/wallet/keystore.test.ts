import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { decryptKeystoreJson, Wallet } from 'ethers'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, describe, expect, test } from 'vitest'
import { castKeystore, decryptLikeGeth, SPEC_PBKDF2_VECTOR } from './_keystoreFixtures.js'
import { createKeystore, decryptKeystore, DEFAULT_SCRYPT, gethLayout, loadKeystore, parseKeystore, reencryptKeystore, saveKeystore } from './keystore.js'

const FAST = { N: 1024, r: 8, p: 1 }
const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tmp() {
  const d = await mkdtemp(join(tmpdir(), 'covenant-keystore-'))
  dirs.push(d)
  return d
}

/** Every way the key could show up: with and without 0x, any case. */
function expectNoKey(text: string, privateKey: string) {
  const bare = privateKey.slice(2).toLowerCase()
  expect(text.toLowerCase()).not.toContain(bare)
}

describe('keystore', () => {
  test('round-trips a key through a v3 scrypt keystore file (mode 0600)', async () => {
    const privateKey = generatePrivateKey()
    const { keystore, address } = await createKeystore({ password: 'correct horse', privateKey, scrypt: FAST })
    expect(address).toBe(privateKeyToAccount(privateKey).address)
    expect(keystore.version).toBe(3)
    expectNoKey(JSON.stringify(keystore), privateKey)
    const path = join(await tmp(), 'agent.json')
    await saveKeystore(path, keystore)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const account = await loadKeystore(path, { password: 'correct horse' })
    expect(account.address).toBe(address)
    expect(account.type).toBe('local')
    // signs like the original key
    const msg = { message: 'hello' }
    expect(await account.signMessage(msg)).toBe(await privateKeyToAccount(privateKey).signMessage(msg))
  })

  test('generates a key when none is given, with the standard scrypt cost by default', async () => {
    expect(DEFAULT_SCRYPT).toEqual({ N: 131072, r: 8, p: 1 })
    const { keystore } = await createKeystore({ password: 'pw', scrypt: FAST })
    const crypto = keystore.crypto!
    expect(crypto.kdf).toBe('scrypt')
    expect(crypto.kdfparams).toMatchObject({ n: 1024, r: 8, p: 1, dklen: 32 })
  })

  test('an ethers-layout keystore ("Crypto", x-ethers: what Covenant wrote before) still opens, and is saved in geth\'s layout', async () => {
    const privateKey = generatePrivateKey()
    const { keystore } = await createKeystore({ password: 'pw', privateKey, scrypt: FAST })
    const { crypto, ...rest } = keystore as Record<string, unknown>
    const old = { ...rest, address: `0x${String(rest['address'])}`, Crypto: crypto, 'x-ethers': { client: 'ethers/6', gethFilename: 'UTC--x' } }
    expect((await decryptKeystore(old, 'pw')).address).toBe(privateKeyToAccount(privateKey).address)
    const path = join(await tmp(), 'old.json')
    await saveKeystore(path, parseKeystore(old))
    const saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    expect(Object.keys(saved)).toEqual(['address', 'crypto', 'id', 'version'])
    expect(decryptLikeGeth(saved, 'pw')).toBe(privateKey)
  })

  test('the key never appears in the account, its inspection, or any error', async () => {
    const privateKey = generatePrivateKey()
    const { keystore } = await createKeystore({ password: 'pw', privateKey, scrypt: FAST })
    const account = await decryptKeystore(keystore, 'pw')
    expectNoKey(JSON.stringify(account), privateKey)
    expectNoKey(inspect(account, { depth: 10, showHidden: true }), privateKey)
    expectNoKey(String(account), privateKey)
    expect(Object.keys(account).sort()).toEqual(
      ['address', 'nonceManager', 'publicKey', 'sign', 'signAuthorization', 'signMessage', 'signTransaction', 'signTypedData', 'source', 'type'].sort(),
    )
    const errors: unknown[] = []
    await decryptKeystore(keystore, 'wrong').catch((e) => errors.push(e))
    await createKeystore({ password: 'pw', privateKey: `${privateKey}00` as `0x${string}`, scrypt: FAST }).catch((e) => errors.push(e))
    await createKeystore({ password: 'pw', privateKey: `0x${'f'.repeat(64)}`, scrypt: FAST }).catch((e) => errors.push(e))
    await createKeystore({ password: 'pw', privateKey: privateKey.slice(0, 40) as `0x${string}`, scrypt: FAST }).catch((e) => errors.push(e))
    // a keystore whose address field does not match its key
    await decryptKeystore({ ...keystore, address: 'ff'.repeat(20) }, 'pw').catch((e) => errors.push(e))
    expect(errors).toHaveLength(5)
    for (const e of errors) {
      expectNoKey(String(e), privateKey)
      expectNoKey(inspect(e, { depth: 10, showHidden: true }), privateKey)
      expectNoKey(JSON.stringify(e, Object.getOwnPropertyNames(e)), privateKey)
    }
    expect((errors[0] as Error).name).toBe('KeystorePasswordError')
    expect((errors[1] as Error).name).toBe('InvalidPrivateKeyError')
    expect((errors[4] as Error).name).toBe('KeystoreFormatError')
  })

  test('malformed and hostile keystores are refused before any work', async () => {
    const { keystore } = await createKeystore({ password: 'pw', scrypt: FAST })
    const crypto = keystore.crypto!
    const cases: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [{ version: 2 }, /version/],
      [{ ...keystore, crypto: { ...crypto, kdfparams: { ...crypto.kdfparams, n: 2 ** 30 } } }, /scrypt n above/],
      [{ ...keystore, crypto: { ...crypto, kdfparams: { ...crypto.kdfparams, n: 1000 } } }, /power of 2/],
      [{ ...keystore, crypto: { ...crypto, cipher: 'aes-256-gcm' } }, /cipher/],
      [{ ...keystore, Crypto: crypto }, /exactly one/],
      [{ ...keystore, crypto: { ...crypto, mac: 'zz' } }, /mac/],
    ]
    for (const [input, message] of cases) {
      expect(() => parseKeystore(input)).toThrow(message)
      await expect(decryptKeystore(input, 'pw')).rejects.toMatchObject({ name: 'KeystoreFormatError' })
    }
  })

  test('saveKeystore refuses to replace a file unless asked; loadKeystore names missing files', async () => {
    const dir = await tmp()
    const path = join(dir, 'k.json')
    const { keystore } = await createKeystore({ password: 'pw', scrypt: FAST })
    await saveKeystore(path, keystore)
    await expect(saveKeystore(path, keystore)).rejects.toMatchObject({ name: 'KeystoreFileError' })
    await saveKeystore(path, keystore, { overwrite: true })
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    await expect(loadKeystore(join(dir, 'missing.json'), { password: 'pw' })).rejects.toThrow(/does not exist/)
    await writeFile(join(dir, 'bad.json'), '{')
    await expect(loadKeystore(join(dir, 'bad.json'), { password: 'pw' })).rejects.toMatchObject({ name: 'KeystoreFormatError' })
    expect(JSON.parse(await readFile(path, 'utf8')).version).toBe(3)
  })

  test("writes geth's layout, which ethers' standard decryption and an independent geth-style reader both open", async () => {
    const privateKey = generatePrivateKey()
    const { keystore, address } = await createKeystore({ password: 'pw', privateKey, scrypt: FAST })
    const path = join(await tmp(), 'new.json')
    await saveKeystore(path, keystore)
    const text = await readFile(path, 'utf8')
    const doc = JSON.parse(text) as Record<string, unknown>
    // exactly what geth writes: no capitalised "Crypto", no x-ethers block
    expect(Object.keys(doc)).toEqual(['address', 'crypto', 'id', 'version'])
    expect(doc['version']).toBe(3)
    expect(doc['address']).toBe(address.slice(2).toLowerCase())
    expect(doc['id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(decryptLikeGeth(doc, 'pw')).toBe(privateKey)
    const ethers = await decryptKeystoreJson(text, 'pw')
    expect(ethers.address).toBe(address)
    expect((await Wallet.fromEncryptedJson(text, 'pw')).address).toBe(address)
    expect(() => decryptLikeGeth(doc, 'wrong')).toThrow(/MAC mismatch/)
  })

  test('opens a file cast wrote (no address field, scrypt n = 8192), and refuses it tampered or with the wrong password', async () => {
    const privateKey = generatePrivateKey()
    const cast = castKeystore(privateKey, 'cast-pw')
    const path = join(await tmp(), 'cast-key')
    await writeFile(path, JSON.stringify(cast))
    const account = await loadKeystore(path, { password: 'cast-pw' })
    expect(account.address).toBe(privateKeyToAccount(privateKey).address)
    await expect(loadKeystore(path, { password: 'not-it' })).rejects.toMatchObject({ name: 'KeystorePasswordError' })
    const crypto = cast['crypto'] as { ciphertext: string }
    const flipped = `${crypto.ciphertext[0] === '0' ? '1' : '0'}${crypto.ciphertext.slice(1)}`
    const tampered = { ...cast, crypto: { ...crypto, ciphertext: flipped } }
    const errors = await decryptKeystore(tampered, 'cast-pw').catch((e: unknown) => e)
    expect(errors).toMatchObject({ name: 'KeystorePasswordError' })
    expectNoKey(String(errors), privateKey)
  })

  test('opens the pbkdf2 test vector of the Web3 Secret Storage definition', async () => {
    const account = await decryptKeystore(SPEC_PBKDF2_VECTOR.keystore, SPEC_PBKDF2_VECTOR.password)
    expect(account.address).toBe(privateKeyToAccount(SPEC_PBKDF2_VECTOR.privateKey).address)
    expect(decryptLikeGeth(SPEC_PBKDF2_VECTOR.keystore, SPEC_PBKDF2_VECTOR.password)).toBe(SPEC_PBKDF2_VECTOR.privateKey)
  })

  test('reencryptKeystore: the same key under a new password, in geth\'s layout; the old password no longer opens the copy', async () => {
    const privateKey = generatePrivateKey()
    const { keystore, address } = await reencryptKeystore({ keystore: castKeystore(privateKey, 'old'), password: 'old', newPassword: 'new', scrypt: FAST })
    expect(address).toBe(privateKeyToAccount(privateKey).address)
    expect(Object.keys(keystore)).toEqual(['address', 'crypto', 'id', 'version'])
    expect(decryptLikeGeth(keystore, 'new')).toBe(privateKey)
    await expect(decryptKeystore(keystore, 'old')).rejects.toMatchObject({ name: 'KeystorePasswordError' })
    expectNoKey(JSON.stringify(keystore), privateKey)
    const wrong = await reencryptKeystore({ keystore: castKeystore(privateKey, 'old'), password: 'guess', newPassword: 'new', scrypt: FAST, where: 'cast-key' }).catch((e: unknown) => e)
    expect(wrong).toMatchObject({ name: 'KeystorePasswordError' })
    expect(String(wrong)).toMatch(/cast-key/)
    expectNoKey(inspect(wrong, { depth: 10, showHidden: true }), privateKey)
  })

  test('gethLayout keeps the encrypted bytes and drops only what geth does not write', async () => {
    const { keystore } = await createKeystore({ password: 'pw', scrypt: FAST })
    const { crypto, ...rest } = keystore as Record<string, unknown>
    const ethersLayout = parseKeystore({ ...rest, Crypto: crypto, 'x-ethers': { client: 'ethers' } })
    expect(gethLayout(ethersLayout)).toEqual(keystore)
  })
})
