import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { decryptKeystoreJson, encryptKeystoreJson } from 'ethers'
import { getAddress, isHex, type Address, type Hex, type PrivateKeyAccount } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { keyAccount } from './keyAccount.js'
import { z } from 'zod'
import { syncDir } from '../fs/syncDir.js'
import {
  InvalidPrivateKeyError,
  KeystoreFileError,
  KeystoreFormatError,
  KeystorePasswordError,
} from './errors.js'

/**
 * Encrypted keystores: Web3 Secret Storage v3 (scrypt + AES-128-CTR + keccak MAC), the
 * format geth, ethers and foundry's `cast wallet` read and write. The cryptography is
 * ethers v6's (`encryptKeystoreJson` / `decryptKeystoreJson`); this file only validates
 * input, bounds the work a hostile file can demand, and keeps the key out of every value,
 * error and log it produces: the decrypted key lives only inside viem's account closure.
 *
 * Files are written in geth's layout (`address`, lowercase `crypto`, `id`, `version`), which
 * cast and geth open; ethers writes `Crypto` and an `x-ethers` block, and files in that
 * layout (Covenant's before it wrote geth's) are still read.
 */

export type ScryptParams = { N: number; r: number; p: number }

/** The standard cost (geth's "standard", ethers' default): N = 2^17, r = 8, p = 1. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 })

/**
 * The most work a keystore may ask for when it is opened. scrypt needs 128·N·r bytes, so
 * a file claiming N = 2^30 would try to allocate 1 TiB; such files are refused up front.
 */
export const MAX_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 20, r: 16, p: 16 })
const MAX_PBKDF2_ROUNDS = 10_000_000

const hexField = (bytes?: number) =>
  z
    .string()
    .regex(bytes === undefined ? /^(0x)?([0-9a-fA-F]{2})+$/ : new RegExp(`^(0x)?[0-9a-fA-F]{${bytes * 2}}$`), 'expected hex')

const scryptParamsSchema = z.object({
  n: z
    .number()
    .int()
    .min(2)
    .max(MAX_SCRYPT.N, `scrypt n above ${MAX_SCRYPT.N} is refused`)
    .refine((n) => (n & (n - 1)) === 0, 'scrypt n must be a power of 2'),
  r: z.number().int().min(1).max(MAX_SCRYPT.r),
  p: z.number().int().min(1).max(MAX_SCRYPT.p),
  dklen: z.literal(32),
  salt: hexField(),
})

const pbkdf2ParamsSchema = z.object({
  c: z.number().int().min(1).max(MAX_PBKDF2_ROUNDS),
  prf: z.enum(['hmac-sha256', 'hmac-sha512']),
  dklen: z.literal(32),
  salt: hexField(),
})

const cryptoSchema = z.discriminatedUnion('kdf', [
  z.object({
    cipher: z.literal('aes-128-ctr'),
    cipherparams: z.object({ iv: hexField(16) }),
    ciphertext: hexField(32),
    kdf: z.literal('scrypt'),
    kdfparams: scryptParamsSchema,
    mac: hexField(32),
  }),
  z.object({
    cipher: z.literal('aes-128-ctr'),
    cipherparams: z.object({ iv: hexField(16) }),
    ciphertext: hexField(32),
    kdf: z.literal('pbkdf2'),
    kdfparams: pbkdf2ParamsSchema,
    mac: hexField(32),
  }),
])

/**
 * A v3 keystore. geth writes `crypto`, ethers `Crypto`; exactly one must be present. Other
 * top-level fields (`id`, ethers' `x-ethers`) are kept as they are.
 */
export const keystoreSchema = z
  .looseObject({
    version: z.literal(3),
    address: hexField(20).optional(),
    id: z.string().optional(),
    crypto: cryptoSchema.optional(),
    Crypto: cryptoSchema.optional(),
  })
  .refine((k) => (k.crypto === undefined) !== (k.Crypto === undefined), 'exactly one of "crypto" or "Crypto" is required')

export type Keystore = z.infer<typeof keystoreSchema>

/** What `createKeystore` returns: the encrypted document and the address it holds. */
export type CreateKeystoreReturnType = { keystore: Keystore; address: Address }

export type CreateKeystoreParameters = {
  password: string | Uint8Array
  /**
   * Key to encrypt. Omit to generate a fresh one (node's CSPRNG, via viem).
   * Prefer importing from another keystore over passing raw keys around.
   */
  privateKey?: Hex | undefined
  /** scrypt cost. @defaultValue {@link DEFAULT_SCRYPT}. Tests may use a low N; production should not. */
  scrypt?: Partial<ScryptParams> | undefined
}

/** Encrypts a (new or given) key into a v3 keystore. */
export async function createKeystore(p: CreateKeystoreParameters): Promise<CreateKeystoreReturnType> {
  const privateKey = p.privateKey ?? generatePrivateKey()
  const account = toAccount(privateKey)
  const scrypt = { ...DEFAULT_SCRYPT, ...p.scrypt }
  if (!(Number.isSafeInteger(scrypt.N) && scrypt.N >= 2 && (scrypt.N & (scrypt.N - 1)) === 0 && scrypt.N <= MAX_SCRYPT.N)) {
    throw new KeystoreFormatError(`scrypt N must be a power of 2 between 2 and ${MAX_SCRYPT.N}`)
  }
  if (!(Number.isSafeInteger(scrypt.r) && scrypt.r >= 1 && scrypt.r <= MAX_SCRYPT.r)) {
    throw new KeystoreFormatError(`scrypt r must be an integer between 1 and ${MAX_SCRYPT.r}`)
  }
  if (!(Number.isSafeInteger(scrypt.p) && scrypt.p >= 1 && scrypt.p <= MAX_SCRYPT.p)) {
    throw new KeystoreFormatError(`scrypt p must be an integer between 1 and ${MAX_SCRYPT.p}`)
  }
  let json: string
  try {
    json = await encryptKeystoreJson({ address: account.address, privateKey }, passwordBytes(p.password), { scrypt })
  } catch {
    // ethers' errors may quote their arguments: never pass them on.
    throw new KeystoreFormatError('encryption failed (check the scrypt parameters)')
  }
  return { keystore: gethLayout(keystoreSchema.parse(JSON.parse(json))), address: account.address }
}

/**
 * A keystore in geth's layout: `address` (when known), lowercase `crypto`, `id`, `version` 3
 * — nothing else (ethers' `x-ethers` block goes). The encrypted bytes are unchanged.
 */
export function gethLayout(keystore: Keystore): Keystore {
  const crypto = keystore.crypto ?? keystore.Crypto
  return {
    ...(keystore.address === undefined ? {} : { address: withoutPrefix(keystore.address).toLowerCase() }),
    crypto,
    ...(keystore.id === undefined ? {} : { id: keystore.id }),
    version: 3,
  }
}

/** Decrypts a validated document; the key is returned only to the functions of this file. */
async function openKeystore(doc: Keystore, password: string | Uint8Array, where: string | undefined): Promise<Hex> {
  let decrypted: { address: string; privateKey: string }
  try {
    decrypted = await decryptKeystoreJson(JSON.stringify(doc), passwordBytes(password))
  } catch (err) {
    const message = err instanceof Error ? err.message : ''
    if (message.includes('incorrect password')) throw new KeystorePasswordError(where)
    if (message.includes('address/privateKey mismatch')) throw new KeystoreFormatError('its address does not match its key', where)
    throw new KeystoreFormatError('it cannot be decrypted', where)
  }
  const account = toAccount(decrypted.privateKey as Hex)
  if (doc.address !== undefined && getAddress(withPrefix(doc.address)) !== account.address) {
    throw new KeystoreFormatError('its address does not match its key', where)
  }
  return decrypted.privateKey as Hex
}

/**
 * Opens a keystore (object or JSON text) with its password and returns a viem account.
 * The key stays inside the account's signing closures; the account's own fields are only
 * `address`, `publicKey`, `source` and `type`.
 */
export async function decryptKeystore(keystore: unknown, password: string | Uint8Array, where?: string): Promise<PrivateKeyAccount> {
  return toAccount(await openKeystore(parseKeystore(keystore, where), password, where))
}

export type ReencryptKeystoreParameters = {
  /** The keystore to open (object or JSON text): geth's, cast's, ethers' or Covenant's. */
  keystore: unknown
  /** Its password. */
  password: string | Uint8Array
  /** The password of the copy. */
  newPassword: string | Uint8Array
  /** scrypt cost of the copy. @defaultValue {@link DEFAULT_SCRYPT} */
  scrypt?: Partial<ScryptParams> | undefined
  /** Where the keystore came from, for errors (a path). */
  where?: string | undefined
}

/**
 * The same key under a new password (and scrypt cost), in geth's layout: how a key from
 * another tool is imported. The key never leaves this file.
 */
export async function reencryptKeystore(p: ReencryptKeystoreParameters): Promise<CreateKeystoreReturnType> {
  const privateKey = await openKeystore(parseKeystore(p.keystore, p.where), p.password, p.where)
  return createKeystore({ password: p.newPassword, privateKey, scrypt: p.scrypt })
}

/** Validates keystore JSON (text or parsed) without decrypting it. */
export function parseKeystore(keystore: unknown, where?: string): Keystore {
  let value = keystore
  if (typeof keystore === 'string') {
    try {
      value = JSON.parse(keystore)
    } catch {
      throw new KeystoreFormatError('it is not JSON', where)
    }
  }
  const parsed = keystoreSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new KeystoreFormatError(`${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'invalid'}`, where)
  }
  return parsed.data
}

/** The address a keystore claims to hold (not proven until it is decrypted). */
export function keystoreAddress(keystore: Keystore): Address | undefined {
  return keystore.address === undefined ? undefined : getAddress(withPrefix(keystore.address))
}

export type SaveKeystoreParameters = {
  /** Replace an existing file. @defaultValue false */
  overwrite?: boolean | undefined
}

/**
 * Writes a keystore file in geth's layout (see {@link gethLayout}) with mode 0600, atomically
 * (temp file, fsync, rename or link, fsync of the directory). Refuses to replace an existing
 * file unless `overwrite`.
 */
export async function saveKeystore(path: string, keystore: Keystore, options: SaveKeystoreParameters = {}): Promise<void> {
  const doc = gethLayout(parseKeystore(keystore, path))
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(`${JSON.stringify(doc, null, 2)}\n`)
    await fh.chmod(0o600) // a umask cannot loosen it
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    if (options.overwrite) await rename(tmp, path)
    else {
      try {
        await link(tmp, path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new KeystoreFileError(path, 'already exists (pass { overwrite: true } to replace it)', 'EEXIST')
        }
        throw new KeystoreFileError(path, 'cannot be written', (err as NodeJS.ErrnoException).code)
      }
    }
  } finally {
    await unlink(tmp).catch(() => {})
  }
  await syncDir(dir)
}

export type LoadKeystoreParameters = { password: string | Uint8Array }

/** Reads a keystore file and opens it with its password. */
export async function loadKeystore(path: string, p: LoadKeystoreParameters): Promise<PrivateKeyAccount> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new KeystoreFileError(path, code === 'ENOENT' ? 'does not exist' : 'cannot be read', code)
  }
  return decryptKeystore(text, p.password, path)
}

function toAccount(privateKey: Hex): PrivateKeyAccount {
  if (typeof privateKey !== 'string' || !isHex(privateKey, { strict: true }) || privateKey.length !== 66) {
    throw new InvalidPrivateKeyError()
  }
  try {
    return Object.freeze(keyAccount(privateKey))
  } catch {
    throw new InvalidPrivateKeyError()
  }
}

function passwordBytes(password: string | Uint8Array): Uint8Array {
  if (typeof password === 'string') return new TextEncoder().encode(password.normalize('NFKC'))
  if (password instanceof Uint8Array) return password
  throw new KeystoreFormatError('the password must be a string or bytes')
}

function withPrefix(hex: string): Hex {
  return (hex.startsWith('0x') ? hex : `0x${hex}`) as Hex
}

function withoutPrefix(hex: string): string {
  return hex.startsWith('0x') ? hex.slice(2) : hex
}
