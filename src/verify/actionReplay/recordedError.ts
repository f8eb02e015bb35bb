import * as agentErrors from '../../agent/errors.js'
import { BaseError } from '../../errors/base.js'
import * as walletErrors from '../../wallet/errors.js'

type ErrorClass = abstract new (...args: never[]) => Error

/** The error classes an agent's code or its runtime can meet from the outside world, by name. */
const CLASSES: ReadonlyMap<string, ErrorClass> = new Map(
  ([...Object.values(walletErrors), ...Object.values(agentErrors), BaseError] as unknown[])
    .filter((v): v is ErrorClass => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Error)
    .map((c) => [c.name, c]),
)

/**
 * The error the live run met, as committed (a policy refusal, an endpoint that failed, a
 * tool of the outside world that threw), rebuilt for the replay: an instance of the same
 * class where the class is known (so `instanceof` and the runtime's refusal handling act as
 * they did), with the recorded name and message. `shortMessage` is what the action's failed
 * output step shows, when it names the same error.
 */
export function recordedError(p: { name: string; message: string; shortMessage?: string | undefined }): Error {
  const cls = CLASSES.get(p.name)
  const e: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(p.message)
  const fields: PropertyDescriptorMap = {
    name: { value: p.name, writable: true, configurable: true },
    message: { value: p.message, writable: true, configurable: true },
    stack: { value: `${p.name}: ${p.message}\n    (recorded in the committed trace)`, writable: true, configurable: true },
  }
  if (e instanceof BaseError) {
    fields.shortMessage = { value: p.shortMessage ?? p.message.split('\n')[0] ?? p.message, configurable: true }
    fields.metaMessages = { value: [], configurable: true }
  }
  Object.defineProperties(e, fields)
  return e
}

/** The note the runtime appends to a tool error after transactions were sent (stripped: it is appended again). */
export const SENT_NOTE = '\nTransactions sent before the error: '

/** A recorded tool error's message without the runtime's note of the transactions sent before it. */
export function withoutSentNote(message: string): string {
  const i = message.lastIndexOf(SENT_NOTE)
  return i >= 0 ? message.slice(0, i) : message
}
