import { BaseError as ViemBaseError, ContractFunctionRevertedError, HttpRequestError } from 'viem'
import { BaseError } from '../errors/base.js'

/** Options every command accepts. */
export type GlobalOptions = {
  /** Print one JSON document on stdout instead of text. */
  json?: boolean | undefined
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

/** Turns any thrown value into the message a person should read. */
export function formatError(err: unknown): string {
  if (err instanceof BaseError) return `${err.name}: ${err.message}`
  // viem's errors carry the request body and a docs link: one line says what matters
  if (err instanceof ViemBaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null
    if (reverted?.data?.errorName) {
      const args = (reverted.data.args ?? []).map((a) => String(a)).join(', ')
      return `${reverted.data.errorName}(${args}): the contract refused the call.`
    }
    const http = err.walk((e) => e instanceof HttpRequestError) as HttpRequestError | null
    if (http) return `ChainUnavailable: cannot reach the node at ${http.url}. Is it running? Check --rpc, or start \`covenant dev\`.`
    return `${err.name}: ${err.shortMessage}`
  }
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}

/** The one-line message of an error, for `--json` error documents. */
export function errorMessage(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage
  if (err instanceof ViemBaseError) return formatError(err)
  return err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)
}
