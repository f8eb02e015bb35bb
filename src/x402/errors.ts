import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of the x402 room. Every class has a literal `name`. A payment the agent's limits
 * forbid is refused before any authorization: nothing is written or signed.
 */

/** The resource asked for a payment this tool may not make (wrong token or recipient, too much, not the account's). */
export class X402PaymentRefusedError extends UnrecoverableCovenantError {
  override name = 'X402PaymentRefusedError' as const
  constructor(reason: string) {
    super(`x402 payment refused: ${reason}.`, {
      metaMessages: [
        'Nothing was signed and no trace step was written.',
        "To allow it, widen the tool's x402 options (token, payTo, maxAmount) and the agent's policy (allowedTargets, allowedSelectors).",
      ],
      docsPath: 'src/x402/README.md',
    })
  }
}

/** The resource server's answer broke the x402 protocol (no requirements, or it refused the payment it asked for). */
export class X402ProtocolError extends BaseError {
  override name = 'X402ProtocolError' as const
  constructor(reason: string) {
    super(`x402: ${reason}.`, { docsPath: 'src/x402/README.md' })
  }
}
