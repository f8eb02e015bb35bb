import { InvalidAgentNameError } from './errors.js'
import { agentNameSchema } from './schemas.js'

/**
 * Throws {@link InvalidAgentNameError} unless `name` follows the one rule for agent names
 * ({@link agentNameSchema}). Callers check before they write anything under the name.
 */
export function assertAgentName(name: unknown): asserts name is string {
  if (!agentNameSchema.safeParse(name).success) throw new InvalidAgentNameError(name)
}
