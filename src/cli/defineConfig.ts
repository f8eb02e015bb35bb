import type { CovenantConfig } from './config.js'

export type { CovenantConfig } from './config.js'

/**
 * Types a `covenant.config.ts` (the CLI validates it again when it loads it):
 *
 * ```ts
 * import { defineConfig } from 'covenant/config'
 * export default defineConfig({ agent: 'agent.ts', dataDir: '.covenant', logLevel: 'info' })
 * ```
 *
 * Paths are relative to the config file. This entry point loads nothing else of Covenant,
 * so evaluating a config stays quick.
 */
export function defineConfig(config: CovenantConfig): CovenantConfig {
  return config
}
