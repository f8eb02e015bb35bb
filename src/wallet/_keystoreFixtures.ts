// Test fixtures: Web3 Secret Storage v3 written and read with node:crypto and viem's keccak,
// independently of ethers (which keystore.ts uses), so the tests check the format itself and
// not one library against itself.
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes, randomUUID, scryptSync } from 'node:crypto'
import { concat, keccak256, type Hex } from 'viem'

type KdfParams = { dklen: number; salt: string } & ({ n: number; r: number; p: number } | { c: number; prf: string })
type CryptoSection = { cipher: string; cipherparams: { iv: string }; ciphertext: string; kdf: string; kdfparams: KdfParams; mac: string }

/**
 * A keystore exactly as foundry's `cast wallet new` / `cast wallet import` writes it (the
 * eth-keystore crate): lowercase `crypto`, scrypt n = 8192, r = 8, p = 1, a 32-byte salt, a
 * uuid `id`, `version` 3, and no `address` field.
 */
export function castKeystore(privateKey: Hex, password: string): Record<string, unknown> {
  const salt = randomBytes(32)
  const iv = randomBytes(16)
  const dk = scryptSync(password, salt, 32, { N: 8192, r: 8, p: 1 })
  const cipher = createCipheriv('aes-128-ctr', dk.subarray(0, 16), iv)
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), 'hex')), cipher.final()])
  return {
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv.toString('hex') },
      ciphertext: ciphertext.toString('hex'),
      kdf: 'scrypt',
      kdfparams: { dklen: 32, n: 8192, p: 1, r: 8, salt: salt.toString('hex') },
      mac: keccak256(concat([dk.subarray(16, 32), ciphertext])).slice(2),
    },
    id: randomUUID(),
    version: 3,
  }
}

/**
 * Opens a v3 keystore the way geth and cast do — the lowercase `crypto` section only — and
 * returns its key; throws if that section is missing or the MAC does not match.
 */
export function decryptLikeGeth(keystore: unknown, password: string): Hex {
  const c = (keystore as { crypto?: CryptoSection }).crypto
  if (!c) throw new Error('no "crypto" section: geth and cast cannot read this file')
  if (c.cipher !== 'aes-128-ctr') throw new Error(`cipher ${c.cipher}`)
  const salt = Buffer.from(c.kdfparams.salt, 'hex')
  const k = c.kdfparams
  const dk =
    c.kdf === 'scrypt' && 'n' in k
      ? scryptSync(password, salt, k.dklen, { N: k.n, r: k.r, p: k.p, maxmem: 256 * k.n * k.r })
      : c.kdf === 'pbkdf2' && 'c' in k && k.prf === 'hmac-sha256'
        ? pbkdf2Sync(password, salt, k.c, k.dklen, 'sha256')
        : undefined
  if (!dk) throw new Error(`kdf ${c.kdf}`)
  const ciphertext = Buffer.from(c.ciphertext, 'hex')
  if (keccak256(concat([dk.subarray(16, 32), ciphertext])).slice(2) !== c.mac.toLowerCase()) throw new Error('MAC mismatch')
  const decipher = createDecipheriv('aes-128-ctr', dk.subarray(0, 16), Buffer.from(c.cipherparams.iv, 'hex'))
  return `0x${Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('hex')}`
}

/** The pbkdf2 test vector of the Web3 Secret Storage definition (password `testpassword`). */
export const SPEC_PBKDF2_VECTOR = {
  keystore: {
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: '6087dab2f9fdbbfaddc31a909735c1e6' },
      ciphertext: '5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46',
      kdf: 'pbkdf2',
      kdfparams: { c: 262144, dklen: 32, prf: 'hmac-sha256', salt: 'ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd' },
      mac: '517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2',
    },
    id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
    version: 3,
  },
  password: 'testpassword',
  privateKey: '0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d' as Hex,
} as const
