import { BaseError } from '../errors/base.js'

/** The command line or its environment is missing something, or names something wrong; the message says what to set or pass. */
export class EnvError extends BaseError {
  override name = 'EnvError' as const
}

/** Where local state lives unless --data-dir or COVENANT_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = '.covenant'

/** The config file (covenant.config.json, .ts, .mts or .js) cannot be read or loaded, is not JSON, or holds a field that is wrong or unknown. */
export class ConfigError extends BaseError {
  override name = 'ConfigError' as const
}
