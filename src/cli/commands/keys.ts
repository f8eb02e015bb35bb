import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createKeystore, reencryptKeystore, saveKeystore, type CreateKeystoreReturnType, type ScryptParams } from '../../wallet/keystore.js'
import { KeystoreFileError, KeystorePasswordError } from '../../wallet/errors.js'
import { DEFAULT_DATA_DIR, EnvError } from '../errors.js'
import { printResult, type GlobalOptions } from '../output.js'
import { importPassword, keystorePassword } from '../password.js'

type KeysOptions = GlobalOptions & { out?: string; dataDir?: string; lightKdf?: boolean }

/** geth's `--lightkdf` cost: quick to open, weak against guessing. */
const LIGHT_SCRYPT: ScryptParams = { N: 4096, r: 8, p: 6 }
/** A private key is 66 characters; anything much longer on stdin is not one. */
const MAX_STDIN_BYTES = 4096

function addOptions(cmd: Command): Command {
  return cmd
    .option('--out <file>', 'where to write the keystore (default <data-dir>/keys/<address>.json)')
    .option('--data-dir <dir>', 'where local state lives (default ./.covenant)')
    .option('--light-kdf', 'scrypt N = 4096, p = 6 (geth --lightkdf) instead of the standard N = 131072: quick to open, weak against guessing')
}

/**
 * `covenant keys new|import`: encrypted key files in Web3 Secret Storage v3, in geth's layout
 * (what geth and `cast wallet` open), for `--keystore <file>`. The password is
 * COVENANT_PASSWORD; a key is never printed, and never read from the command line (where the
 * shell history and `ps` would keep it).
 */
export function register(program: Command): void {
  const keys = program.command('keys').description('encrypted key files (Web3 Secret Storage v3, as geth and cast read them): new, import')

  addOptions(keys.command('new').description('create a key in a new encrypted keystore (password: COVENANT_PASSWORD) and print its address')).action(
    async (_opts, cmd: Command) => {
      const o = cmd.optsWithGlobals<KeysOptions>()
      const password = keystorePassword()
      await write(await createKeystore({ password, ...scrypt(o) }), o)
    },
  )

  addOptions(
    keys
      .command('import [keystore]')
      .description(
        'import a key: a private key (hex) piped on stdin, or a geth/cast keystore file (its password: COVENANT_IMPORT_PASSWORD, else COVENANT_PASSWORD); written re-encrypted with COVENANT_PASSWORD',
      ),
  ).action(async (from: string | undefined, _opts, cmd: Command) => {
    const o = cmd.optsWithGlobals<KeysOptions>()
    const password = keystorePassword()
    if (from === undefined || from === '-') {
      const privateKey = await readPrivateKey()
      await write(await createKeystore({ password, privateKey, ...scrypt(o) }), o)
      return
    }
    const path = resolve(from)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new KeystoreFileError(path, code === 'ENOENT' ? 'does not exist' : 'cannot be read', code)
    }
    try {
      await write(await reencryptKeystore({ keystore: text, password: importPassword(), newPassword: password, where: path, ...scrypt(o) }), o)
    } catch (err) {
      if (!(err instanceof KeystorePasswordError)) throw err
      throw new EnvError(`The password does not open ${path}.`, {
        metaMessages: ['Set COVENANT_IMPORT_PASSWORD to the password it was created with (cast, geth); COVENANT_PASSWORD is the password of the copy written here.'],
      })
    }
  })
}

function scrypt(o: KeysOptions): { scrypt?: ScryptParams } {
  return o.lightKdf ? { scrypt: LIGHT_SCRYPT } : {}
}

async function write({ keystore, address }: CreateKeystoreReturnType, o: KeysOptions): Promise<void> {
  const dataDir = resolve(o.dataDir ?? process.env.COVENANT_DATA_DIR ?? DEFAULT_DATA_DIR)
  const path = resolve(o.out ?? join(dataDir, 'keys', `${address}.json`))
  try {
    await saveKeystore(path, keystore)
  } catch (err) {
    if (err instanceof KeystoreFileError && err.details === 'EEXIST') {
      throw new EnvError(`${path} already exists; a keystore is never replaced.`, { metaMessages: ['Pass another --out, or move the old file away first.'] })
    }
    throw err
  }
  printResult({ address, keystore: path }, o, (r) => [`${r.address}`, `  keystore ${r.keystore} (use it with --keystore; password COVENANT_PASSWORD)`].join('\n'))
}

/** A private key piped on stdin: 64 hex digits, with or without 0x, surrounding whitespace ignored. */
async function readPrivateKey(): Promise<`0x${string}`> {
  if (process.stdin.isTTY) {
    throw new EnvError('keys import reads the private key from stdin, and stdin is a terminal.', {
      metaMessages: ['Pipe it in (e.g. `covenant keys import < key.txt`), or pass the path of a keystore file.'],
    })
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += b.length
    if (size > MAX_STDIN_BYTES) throw new EnvError(`stdin holds more than ${MAX_STDIN_BYTES} bytes: expected one private key (64 hex digits).`)
    chunks.push(b)
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  // never quote what was read: it may be a key with a typo
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) throw new EnvError('stdin is not a private key: expected 64 hex digits, with or without 0x (nothing else on the line).')
  return `0x${text.replace(/^0x/, '').toLowerCase()}`
}
