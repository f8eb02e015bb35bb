import { progress } from './output.js'
import { EnvError } from './errors.js'

/** The password well-known to every dev stack: dev chains only, announced loudly. */
export const DEV_PASSWORD = 'covenant-dev-only'

/**
 * The password for agent keystores: COVENANT_PASSWORD, or on a dev chain (31337) the
 * well-known dev password with a warning. Without a chain (`covenant keys`), only
 * COVENANT_PASSWORD. Never printed.
 */
export function keystorePassword(chainId?: number): string {
  const p = process.env.COVENANT_PASSWORD
  if (p !== undefined && p.length > 0) return p
  if (chainId === 31337) {
    progress('warning: COVENANT_PASSWORD is not set; agent keystores use the public dev password (dev chain only)')
    return DEV_PASSWORD
  }
  throw new EnvError('Agent keystores need a password.', {
    metaMessages: ['Set COVENANT_PASSWORD in the environment (it is never printed or logged).'],
  })
}

/**
 * The password of a keystore another tool wrote (geth, cast), for `covenant keys import`:
 * COVENANT_IMPORT_PASSWORD, else COVENANT_PASSWORD. Never printed.
 */
export function importPassword(): string {
  for (const name of ['COVENANT_IMPORT_PASSWORD', 'COVENANT_PASSWORD'] as const) {
    const p = process.env[name]
    if (p !== undefined && p.length > 0) return p
  }
  throw new EnvError('The keystore to import needs its password.', {
    metaMessages: ['Set COVENANT_IMPORT_PASSWORD to the password it was created with (COVENANT_PASSWORD is used when it is not set).'],
  })
}
