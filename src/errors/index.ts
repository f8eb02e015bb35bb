export { BaseError, UnrecoverableCovenantError, isUnrecoverable } from './base.js'
export type { BaseErrorParameters } from './base.js'
