import { BaseError, UnrecoverableCovenantError } from '../../errors/base.js'

export class TrustlessAgentsNotDeployedError extends UnrecoverableCovenantError {
  override name = 'TrustlessAgentsNotDeployedError' as const
  constructor() {
    super('This deployment has no ERC-8004 registries.', {
      metaMessages: [
        'Deployments made before them do not have them: redeploy the contracts (`covenant dev`, `deployCovenant`),',
        'or add their addresses under "erc8004" in the deployment file.',
      ],
      docsPath: 'src/bonds/erc8004/README.md',
    })
  }
}

/** A `covenant:` URI (request, response or DA pointer) that is not of the documented form. */
export class InvalidCovenantUriError extends BaseError {
  override name = 'InvalidCovenantUriError' as const
  constructor(uri: string, expected: string) {
    super(`${JSON.stringify(uri.length > 120 ? `${uri.slice(0, 120)}…` : uri)} is not ${expected}.`, {
      docsPath: 'src/bonds/erc8004/README.md#uris',
    })
  }
}

/** An ERC-8004 registration file (the agentURI's document) that is not one. */
export class InvalidRegistrationFileError extends BaseError {
  override name = 'InvalidRegistrationFileError' as const
}
