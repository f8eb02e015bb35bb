import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, describe, expect, test } from 'vitest'
import { createKeystore, decryptKeystore, DEFAULT_SCRYPT, loadKeystore, parseKeystore, saveKeystore } from './keystore.js'

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
    const crypto = (keystore.crypto ?? keystore.Crypto)!
    expect(crypto.kdf).toBe('scrypt')
    expect(crypto.kdfparams).toMatchObject({ n: 1024, r: 8, p: 1, dklen: 32 })
  })

  test('a geth-style lowercase "crypto" keystore opens too', async () => {
    const privateKey = generatePrivateKey()
    const { keystore } = await createKeystore({ password: 'pw', privateKey, scrypt: FAST })
    const { Crypto, ...rest } = keystore as Record<string, unknown>
    const account = await decryptKeystore({ ...rest, crypto: Crypto }, 'pw')
    expect(account.address).toBe(privateKeyToAccount(privateKey).address)
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
    const crypto = keystore.Crypto!
    const cases: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [{ version: 2 }, /version/],
      [{ ...keystore, Crypto: { ...crypto, kdfparams: { ...crypto.kdfparams, n: 2 ** 30 } } }, /scrypt n above/],
      [{ ...keystore, Crypto: { ...crypto, kdfparams: { ...crypto.kdfparams, n: 1000 } } }, /power of 2/],
      [{ ...keystore, Crypto: { ...crypto, cipher: 'aes-256-gcm' } }, /cipher/],
      [{ ...keystore, crypto }, /exactly one/],
      [{ ...keystore, Crypto: { ...crypto, mac: 'zz' } }, /mac/],
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
})
