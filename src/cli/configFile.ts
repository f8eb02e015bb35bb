import { existsSync } from 'node:fs'
import { basename, extname, resolve } from 'node:path'
import { ConfigError } from './errors.js'

// Which config file a command reads. Kept apart from config.ts (zod): the CLI asks this
// before every command, and a command that needs no config loads nothing more.

/** The JSON config file `covenant init` writes by default. */
export const CONFIG_FILE = 'covenant.config.json'

/**
 * The files `covenant` looks for in the working directory, unless --config or
 * COVENANT_CONFIG names one: a module whose default export is the config
 * (`export default defineConfig({...})`, `defineConfig` from `covenant/config`), or JSON.
 * More than one of them is an error (which one wins would be a guess).
 */
export const CONFIG_FILES = ['covenant.config.ts', 'covenant.config.mts', 'covenant.config.js', 'covenant.config.mjs', CONFIG_FILE] as const

/** Extensions of a config that is a module (run, not parsed): TypeScript through tsx. */
const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'])
export const TS_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts'])

/** Whether the config file is a module (TypeScript or JavaScript) rather than JSON. */
export function isModuleConfig(file: string): boolean {
  return MODULE_EXTENSIONS.has(extname(file))
}

/**
 * The config file in use: the one named by --config or COVENANT_CONFIG, else the one of
 * {@link CONFIG_FILES} in the working directory, else undefined.
 */
export function configFileOf(options: { config?: string | undefined } = {}): string | undefined {
  const named = options.config ?? (process.env.COVENANT_CONFIG || undefined)
  if (named) return resolve(named)
  const found = CONFIG_FILES.map((f) => resolve(f)).filter((f) => existsSync(f))
  if (found.length > 1) {
    throw new ConfigError(`This folder has ${found.length} config files: ${found.map((f) => basename(f)).join(', ')}.`, {
      metaMessages: ['Keep one of them, or name the one to use with --config.'],
    })
  }
  return found[0]
}
