import pino, { type Logger } from 'pino'
import { EnvError } from './errors.js'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, isLogLevel, type LogLevel } from './logLevel.js'

const loggers = new Map<LogLevel, Logger>()

/**
 * The level a command logs at: `--log-level`, else COVENANT_LOG_LEVEL, else `info`. A bad
 * COVENANT_LOG_LEVEL is an {@link EnvError} (the flag is checked by commander).
 */
export function logLevelOf(options: { logLevel?: LogLevel | undefined }): LogLevel {
  if (options.logLevel !== undefined) return options.logLevel
  const env = process.env.COVENANT_LOG_LEVEL
  if (env === undefined || env === '') return DEFAULT_LOG_LEVEL
  if (!isLogLevel(env)) throw new EnvError(`COVENANT_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${env}".`)
  return env
}

/**
 * The operator log of a serving command (`serve`, `worker`, `deploy`): pino JSON lines on
 * stderr at the chosen level, shared by the service, its worker, the agent runtimes and their
 * wallets. stdout stays the command's own output.
 */
export function cliLogger(options: { logLevel?: LogLevel | undefined }): Logger {
  const level = logLevelOf(options)
  let logger = loggers.get(level)
  if (!logger) {
    logger = pino({ name: 'covenant', level }, pino.destination(2))
    loggers.set(level, logger)
  }
  return logger
}
