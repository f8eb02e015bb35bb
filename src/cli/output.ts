import type { LogLevel } from './logLevel.js'

/** Options every command accepts. */
export type GlobalOptions = {
  /** Print one JSON document on stdout instead of text. */
  json?: boolean | undefined
  /** The level of the operator log (serving commands), from `--log-level`. */
  logLevel?: LogLevel | undefined
  /** The project config file, from `--config`. */
  config?: string | undefined
}

/** Progress goes to stderr so that stdout stays clean for `--json` and pipes. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`)
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
}

/** Prints a command's result: `text()` for people, the value itself for `--json`. */
export function printResult<T>(value: T, options: GlobalOptions, text: (value: T) => string): void {
  process.stdout.write(options.json ? `${toJson(value)}\n` : `${text(value)}\n`)
}
