import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { Hex, LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ContainerKeyError } from './errors.js'
import { signDigest } from './secp256k1.js'

/**
 * The container's secp256k1 signing key. By default ephemeral: generated in memory at
 * start, never written or logged, so every start has a new address (clients re-read
 * GET /attestation). `--key-file` keeps one across restarts, encrypted with scrypt +
 * AES-256-GCM under a password. The private key exists only inside the viem account's
 * closures; nothing here returns or prints it.
 */
export type ContainerKey = { account: LocalAccount; source: 'ephemeral' | 'file' }

export function ephemeralContainerKey(): ContainerKey {
  return { account: containerAccount(generatePrivateKey()), source: 'ephemeral' }
}

type KeyFile = {
  version: 1
  address: string
  kdf: 'scrypt'
  kdfparams: { N: number; r: number; p: number; salt: string }
  cipher: 'aes-256-gcm'
  iv: string
  ciphertext: string
  tag: string
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 }

/** Loads the key in `path`, or creates it there (mode 0600) if the file does not exist. */
export function loadOrCreateContainerKey(path: string, password: string): ContainerKey {
  if (password.length < 8) {
    throw new ContainerKeyError('password too short', 'Set COVENANT_INFERENCE_KEY_PASSWORD to at least 8 characters.')
  }
  if (!existsSync(path)) {
    const pk = generatePrivateKey()
    const account = containerAccount(pk)
    const salt = randomBytes(16)
    const iv = randomBytes(12)
    const key = scryptSync(password, salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 })
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    const ciphertext = Buffer.concat([cipher.update(Buffer.from(pk.slice(2), 'hex')), cipher.final()])
    const file: KeyFile = {
      version: 1,
      address: account.address,
      kdf: 'scrypt',
      kdfparams: { ...SCRYPT, salt: salt.toString('hex') },
      cipher: 'aes-256-gcm',
      iv: iv.toString('hex'),
      ciphertext: ciphertext.toString('hex'),
      tag: cipher.getAuthTag().toString('hex'),
    }
    writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
    return { account, source: 'file' }
  }
  let file: KeyFile
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile
  } catch {
    throw new ContainerKeyError(`${path} is not a key file`, 'Point --key-file at a file this command created, or at a path that does not exist yet.')
  }
  if (file.version !== 1 || file.kdf !== 'scrypt' || file.cipher !== 'aes-256-gcm') {
    throw new ContainerKeyError(`${path} has an unknown format`, 'Expected version 1, scrypt, aes-256-gcm.')
  }
  let pk: Buffer
  try {
    const { N, r, p, salt } = file.kdfparams
    const key = scryptSync(password, Buffer.from(salt, 'hex'), 32, { N, r, p, maxmem: 64 * 1024 * 1024 })
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.iv, 'hex'))
    decipher.setAuthTag(Buffer.from(file.tag, 'hex'))
    pk = Buffer.concat([decipher.update(Buffer.from(file.ciphertext, 'hex')), decipher.final()])
  } catch {
    throw new ContainerKeyError(`cannot decrypt ${path}`, 'Wrong password (COVENANT_INFERENCE_KEY_PASSWORD) or a corrupted file.')
  }
  const account = containerAccount(`0x${pk.toString('hex')}`)
  pk.fill(0)
  if (account.address.toLowerCase() !== file.address.toLowerCase()) {
    throw new ContainerKeyError(`${path} decrypts to another address than it names`, 'The file was edited; restore it or start with a new path.')
  }
  return { account, source: 'file' }
}

/**
 * viem's account for the key, with `sign` (a digest: every receipt) through libsecp256k1
 * (secp256k1.ts): the same signature bytes as viem's, at about a third of its time.
 */
function containerAccount(privateKey: Hex): LocalAccount {
  const account = privateKeyToAccount(privateKey)
  return { ...account, sign: async ({ hash }) => signDigest(privateKey, hash) }
}
