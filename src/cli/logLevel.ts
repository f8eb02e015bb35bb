import { InvalidArgumentError } from 'commander'

/** pino's levels, most severe first, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The default operators get: what happened (info), what was retried (warn), what failed (error). */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value)
}

/** `--log-level <level>` (an option parser). */
export function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`)
  return value
}
