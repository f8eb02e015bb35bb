/**
 * The root of every Covenant error. Like viem's BaseError: a short message, optional
 * hints ("meta messages") and details, and a docs pointer, assembled into `message`.
 * Each subclass carries a literal `name`, so callers can narrow with `err.name === ...`.
 */
export type BaseErrorParameters = {
  /** Lines shown under the message: what to check or do next. */
  metaMessages?: readonly string[] | undefined
  /** Low-level detail, e.g. the message of the cause. */
  details?: string | undefined
  /** Where this error is explained, e.g. `src/trace/README.md#write-ahead-log`. */
  docsPath?: string | undefined
  cause?: unknown
}

export class BaseError extends Error {
  override name = 'CovenantError'
  readonly shortMessage: string
  readonly metaMessages: readonly string[]
  readonly details: string | undefined
  readonly docsPath: string | undefined
  /** Errors that change control flow (a worker must not retry them) set this. */
  readonly unrecoverable: boolean = false

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const details =
      parameters.details ??
      (parameters.cause instanceof Error ? parameters.cause.message : undefined)
    const lines = [
      shortMessage,
      ...(parameters.metaMessages?.length ? ['', ...parameters.metaMessages] : []),
      ...(details && details !== shortMessage ? ['', `Details: ${details}`] : []),
      ...(parameters.docsPath ? [`Docs: ${parameters.docsPath}`] : []),
    ]
    super(lines.join('\n'), parameters.cause === undefined ? undefined : { cause: parameters.cause })
    this.shortMessage = shortMessage
    this.metaMessages = parameters.metaMessages ?? []
    this.details = details
    this.docsPath = parameters.docsPath
  }

  /** Walks the `cause` chain and returns the first error `fn` accepts. */
  walk(fn: (err: unknown) => boolean): unknown {
    let err: unknown = this
    while (err instanceof Error) {
      if (fn(err)) return err
      err = err.cause
    }
    return undefined
  }
}

/**
 * An error that retrying cannot fix: a policy refusal, a slashed bond, a trace that will
 * never commit. Queue workers (BullMQ) fail such jobs at once instead of retrying.
 */
export class UnrecoverableCovenantError extends BaseError {
  override name = 'UnrecoverableCovenantError'
  override readonly unrecoverable = true
}

export function isUnrecoverable(err: unknown): boolean {
  return err instanceof BaseError && err.unrecoverable
}

/**
 * "Not now": the work was refused before it started (nothing was written) and can run
 * later, e.g. an agent whose trace cannot be committed. Queue workers put the job back,
 * delayed by `retryAfterMs`, without counting an attempt.
 */
export class RetryLaterCovenantError extends BaseError {
  override name = 'RetryLaterCovenantError'
  readonly retryAfterMs: number
  constructor(shortMessage: string, parameters: BaseErrorParameters & { retryAfterMs: number }) {
    super(shortMessage, parameters)
    this.retryAfterMs = Math.max(0, Math.floor(parameters.retryAfterMs))
  }
}

/** The delay a {@link RetryLaterCovenantError} asks for, or undefined for any other error. */
export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof RetryLaterCovenantError ? err.retryAfterMs : undefined
}
