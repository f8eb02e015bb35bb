export { BaseError, RetryLaterCovenantError, UnrecoverableCovenantError, isUnrecoverable, retryAfterMs } from './base.js'
export type { BaseErrorParameters } from './base.js'
