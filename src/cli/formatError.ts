import { BaseError as ViemBaseError, ContractFunctionRevertedError, HttpRequestError } from 'viem'
import { BaseError } from '../errors/base.js'

// Reading viem's errors needs viem: this file is loaded only when a command failed, so a
// command that does not touch the chain never pays for it.

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
