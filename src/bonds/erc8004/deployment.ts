import { z } from 'zod'
import type { Address } from 'viem'
import type { CovenantClient } from '../client.js'
import { TrustlessAgentsNotDeployedError } from './errors.js'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address') as unknown as z.ZodType<Address>

/** The three ERC-8004 registries of a Covenant deployment (`deployErc8004`). */
export const erc8004DeploymentSchema = z.object({
  identityRegistry: address,
  reputationRegistry: address,
  validationRegistry: address,
})
export type Erc8004Deployment = z.output<typeof erc8004DeploymentSchema>

/** The deployment's ERC-8004 registries, or {@link TrustlessAgentsNotDeployedError} when it has none (a deployment file from before them). */
export function requireErc8004(client: CovenantClient): Erc8004Deployment {
  const r = client.deployment.erc8004
  if (!r) throw new TrustlessAgentsNotDeployedError()
  return r
}
