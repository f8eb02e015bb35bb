import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from './errors.js'
import { LOG_LEVELS } from './logLevel.js'

/** The file `covenant` reads from the working directory unless --config or COVENANT_CONFIG names another. */
export const CONFIG_FILE = 'covenant.config.json'

const url = (what: string) => z.string().url(`${what} must be a URL such as http://127.0.0.1:8545`)

/**
 * covenant.config.json: defaults for a project's commands. A flag wins over the matching
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
 * The project's config: the file named by --config or COVENANT_CONFIG, else
 * ./covenant.config.json when it exists, else none. A named file that is missing, or any file
 * that is not valid, is a {@link ConfigError}.
 */
export function readConfig(options: { config?: string | undefined } = {}): LoadedConfig {
  const named = options.config ?? (process.env.COVENANT_CONFIG || undefined)
  const file = resolve(named ?? CONFIG_FILE)
  if (!named && !existsSync(file)) return { file: undefined, config: {} }
  const cached = cache.get(file)
  if (cached) return cached
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`Cannot read the config file ${file} (${code === 'ENOENT' ? 'it does not exist' : (code ?? 'unreadable')}).`, {
      metaMessages: ['Check --config / COVENANT_CONFIG, or create one with `covenant init`.'],
    })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ConfigError(`The config file ${file} is not JSON.`)
  }
  const parsed = configSchema.safeParse(json)
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
  const config: CovenantConfig = {
    ...c,
    ...(c.agent !== undefined ? { agent: abs(c.agent)! } : {}),
    ...(c.dataDir !== undefined ? { dataDir: abs(c.dataDir)! } : {}),
    ...(c.deployment !== undefined ? { deployment: abs(c.deployment)! } : {}),
    ...(c.keystore !== undefined ? { keystore: abs(c.keystore)! } : {}),
  }
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
