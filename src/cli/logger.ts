import pino, { type Logger } from 'pino'
import { readConfig } from './config.js'
import { EnvError } from './errors.js'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, isLogLevel, type LogLevel } from './logLevel.js'

const loggers = new Map<LogLevel, Logger>()

type LogOptions = { logLevel?: LogLevel | undefined; config?: string | undefined }

/**
 * The level a command logs at: `--log-level`, else COVENANT_LOG_LEVEL, else the config's
 * `logLevel`, else `info`. A bad COVENANT_LOG_LEVEL is an {@link EnvError} (the flag is
 * checked by commander, the config by its schema).
 */
export function logLevelOf(options: LogOptions): LogLevel {
  if (options.logLevel !== undefined) return options.logLevel
  const env = process.env.COVENANT_LOG_LEVEL
  if (env !== undefined && env !== '') {
    if (!isLogLevel(env)) throw new EnvError(`COVENANT_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${env}".`)
    return env
  }
  return readConfig(options).config.logLevel ?? DEFAULT_LOG_LEVEL
}

/**
 * How the operator log reaches stderr: buffered, written at 4 KiB or every
 * {@link LOG_FLUSH_MS} ms, whichever comes first, and flushed synchronously when the process
 * exits (pino registers that). A busy worker logs a line per task; one write(2) per line was
 * 0.13 ms of its CPU per task. A process killed with SIGKILL loses at most the last
 * {@link LOG_FLUSH_MS} ms of lines.
 */
export const LOG_FLUSH_MS = 50

/**
 * The operator log of a long-running command (`serve`, `worker`, `deploy`, `verifier start`): pino JSON lines on
 * stderr at the chosen level, shared by the service, its worker, the agent runtimes and their
 * wallets. stdout stays the command's own output.
 */
export function cliLogger(options: LogOptions): Logger {
  const level = logLevelOf(options)
  let logger = loggers.get(level)
  if (!logger) {
    logger = pino({ name: 'covenant', level }, pino.destination({ dest: 2, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS }))
    loggers.set(level, logger)
  }
  return logger
}
