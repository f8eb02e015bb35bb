import { existsSync, readFileSync } from 'node:fs'
import { dirname, extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { z } from 'zod'
import { ConfigError } from './errors.js'
import { LOG_LEVELS } from './logLevel.js'
import { configFileOf, isModuleConfig, TS_EXTENSIONS } from './configFile.js'

export { CONFIG_FILE, CONFIG_FILES, configFileOf, isModuleConfig } from './configFile.js'

const url = (what: string) => z.string().url(`${what} must be a URL such as http://127.0.0.1:8545`)

/**
 * covenant.config.json (or .ts/.mts/.js, see {@link CONFIG_FILES}): defaults for a project's commands. A flag wins over the matching
 * environment variable, which wins over this file, which wins over the local dev stack and
 * the built-in defaults. Paths are relative to the file. Unknown fields are refused (a typo
 * must not be silently ignored).
 */
export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  /** The agent file `covenant deploy` deploys when given none. */
  agent: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  rpc: url('rpc').optional(),
  deployment: z.string().min(1).optional(),
  da: url('da').optional(),
  redis: z.string().regex(/^rediss?:\/\/\S+$/, 'redis must be a redis:// or rediss:// URL').optional(),
  keystore: z.string().min(1).optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
})

export type CovenantConfig = z.infer<typeof configSchema>

/** A config whose paths are absolute, and the file it came from. */
export type LoadedConfig = { file: string | undefined; config: CovenantConfig }

const cache = new Map<string, LoadedConfig>()

/**
 * The project's config (see {@link configFileOf}), read and validated once per file. A named
 * file that is missing, or any file that is not valid, is a {@link ConfigError} naming it.
 *
 * A JSON file is read here; a `.ts`/`.mts`/`.js` config is a module, which must have been
 * loaded by {@link loadConfig} first (the CLI does it before each command runs).
 */
export function readConfig(options: { config?: string | undefined } = {}): LoadedConfig {
  const file = configFileOf(options)
  if (file === undefined) return { file: undefined, config: {} }
  const cached = cache.get(file)
  if (cached) return cached
  if (isModuleConfig(file)) {
    throw new ConfigError(`The config file ${file} is a module and was not loaded yet.`, {
      metaMessages: ['Call loadConfig() (covenant/config) before readConfig(); the covenant command does.'],
    })
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw unreadable(file, err)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ConfigError(`The config file ${file} is not JSON.`)
  }
  return remember(file, validate(file, json))
}

/**
 * Loads the project's config, a module one included: a `.ts`/`.mts` file runs through tsx's
 * API (imported only then, so a project with a JSON config, or none, starts without it), a
 * `.js`/`.mjs` one is imported as it is. Its default export is validated with the same
 * schema as the JSON file. Afterwards {@link readConfig} answers from memory.
 */
export async function loadConfig(options: { config?: string | undefined } = {}): Promise<LoadedConfig> {
  const file = configFileOf(options)
  if (file === undefined || !isModuleConfig(file)) return readConfig(options)
  const cached = cache.get(file)
  if (cached) return cached
  if (!existsSync(file)) throw unreadable(file, Object.assign(new Error('missing'), { code: 'ENOENT' }))
  let mod: { default?: unknown }
  try {
    const url = pathToFileURL(file).href
    if (TS_EXTENSIONS.has(extname(file))) {
      const { tsImport } = await import('tsx/esm/api')
      mod = (await tsImport(url, import.meta.url)) as { default?: unknown }
    } else {
      mod = (await import(url)) as { default?: unknown }
    }
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]
    throw new ConfigError(`The config file ${file} failed to load: ${reason}`, {
      metaMessages: ['It is run as a module: fix the error above (or use covenant.config.json).'],
    })
  }
  // In a folder that is not "type": "module", tsx runs a .ts file as CommonJS: its exports
  // object arrives as `default`, marked __esModule, and the file's own default export is in it.
  // A plain CommonJS file's `module.exports` is the config.
  let value = mod.default
  if (value !== null && typeof value === 'object' && (value as { __esModule?: unknown }).__esModule === true) value = (value as { default?: unknown }).default
  if (value === undefined) {
    throw new ConfigError(`The config file ${file} has no default export.`, {
      metaMessages: ["Write: import { defineConfig } from 'covenant/config'; export default defineConfig({ ... })"],
    })
  }
  return remember(file, validate(file, value))
}

function unreadable(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code
  return new ConfigError(`Cannot read the config file ${file} (${code === 'ENOENT' ? 'it does not exist' : (code ?? 'unreadable')}).`, {
    metaMessages: ['Check --config / COVENANT_CONFIG, or create one with `covenant init`.'],
  })
}

/** The config, checked by the schema, its paths made absolute (relative to the file). */
function validate(file: string, doc: unknown): CovenantConfig {
  const parsed = configSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? `"${issue.path.join('.')}"` : issue?.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : 'the document'
    throw new ConfigError(`The config file ${file} is not valid: ${where}: ${issue?.message ?? 'invalid'}.`, {
      metaMessages: [`Fields: ${Object.keys(configSchema.shape).filter((k) => k !== '$schema').join(', ')} (paths relative to the file).`],
    })
  }
  const base = dirname(file)
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(base, p))
  const c = parsed.data
  return {
    ...c,
    ...(c.agent !== undefined ? { agent: abs(c.agent)! } : {}),
    ...(c.dataDir !== undefined ? { dataDir: abs(c.dataDir)! } : {}),
    ...(c.deployment !== undefined ? { deployment: abs(c.deployment)! } : {}),
    ...(c.keystore !== undefined ? { keystore: abs(c.keystore)! } : {}),
  }
}

function remember(file: string, config: CovenantConfig): LoadedConfig {
  const loaded = { file, config }
  cache.set(file, loaded)
  return loaded
}

/** The environment variable that, when set, wins over each config field. */
const ENV_OF = {
  dataDir: 'COVENANT_DATA_DIR',
  rpc: 'COVENANT_RPC_URL',
  deployment: 'COVENANT_DEPLOYMENT',
  da: 'COVENANT_DA_URL',
  redis: 'REDIS_URL',
  keystore: 'COVENANT_KEYSTORE',
} as const

/** `options` with the config's value for every field the flags and the environment left unset. */
export function withConfig<T extends { config?: string | undefined } & Partial<Record<keyof typeof ENV_OF, string | undefined>>>(options: T): T {
  const { config } = readConfig(options)
  const out = { ...options }
  for (const [field, env] of Object.entries(ENV_OF) as Array<[keyof typeof ENV_OF, string]>) {
    const value = config[field]
    if (out[field] === undefined && !process.env[env] && value !== undefined) (out as Record<string, unknown>)[field] = value
  }
  return out
}
