import { progress } from './output.js'
import { EnvError } from './env.js'

/** The password well-known to every dev stack: dev chains only, announced loudly. */
export const DEV_PASSWORD = 'covenant-dev-only'

/**
 * The password for agent keystores: COVENANT_PASSWORD, or on a dev chain (31337) the
 * well-known dev password with a warning. Never printed.
 */
export function keystorePassword(chainId: number): string {
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
