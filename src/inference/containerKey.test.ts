import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { ephemeralContainerKey, loadOrCreateContainerKey } from './containerKey.js'

describe('container key', () => {
  test('ephemeral keys differ per start and expose no private key', () => {
    const a = ephemeralContainerKey()
    const b = ephemeralContainerKey()
    expect(a.account.address).not.toBe(b.account.address)
    // Serialised, the key object shows its address and public key and nothing else of 32+ bytes.
    const shown = JSON.stringify(a).replace(a.account.publicKey ?? '', '')
    expect(shown).not.toMatch(/[0-9a-fA-F]{64}/)
  })

  test('a key file is created encrypted, reloaded with the password, refused with another', () => {
    const dir = mkdtempSync(join(tmpdir(), 'covenant-key-'))
    const path = join(dir, 'key.json')
    const created = loadOrCreateContainerKey(path, 'correct horse battery')
    const file = readFileSync(path, 'utf8')
    expect(JSON.parse(file)).toMatchObject({ version: 1, kdf: 'scrypt', cipher: 'aes-256-gcm', address: created.account.address })
    const again = loadOrCreateContainerKey(path, 'correct horse battery')
    expect(again.account.address).toBe(created.account.address)
    const err = (() => {
      try {
        loadOrCreateContainerKey(path, 'wrong password!')
      } catch (e) {
        return e as Error
      }
    })()
    expect(err?.name).toBe('ContainerKeyError')
    expect(err?.message).toMatch(/cannot decrypt/)
    expect(() => loadOrCreateContainerKey(join(dir, 'other.json'), 'short')).toThrow(/at least 8/)
  })
})
