import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { AgentDefinition } from '../agent/defineAgent.js'
import { AgentFileError, AgentFileLoadError } from './errors.js'
import { importModule } from './importModule.js'
import { probeAgentFile } from './probeAgentFile.js'

/** Longest an agent file may take to load, by default. */
export const AGENT_FILE_LOAD_TIMEOUT_MS = 30_000

export type LoadAgentFileOptions = {
  /** Longest the file may take to load (each of the two imports). @defaultValue 30 s */
  timeoutMs?: number | undefined
  /**
   * Import the file in a worker thread first, where an exit or an endless loop in its
   * top-level code is seen and reported instead of ending or hanging this process.
   * @defaultValue true
   */
  probe?: boolean | undefined
}

function isAgentDefinition(x: unknown): x is AgentDefinition {
  const a = x as Partial<AgentDefinition> | undefined
  return !!a && typeof a.name === 'string' && typeof a.model === 'object' && Array.isArray(a.tools) && typeof a.policy === 'object'
}

/**
 * Loads an agent module (TypeScript or JavaScript) and returns the agent it exports:
 * the default export, or a named `agent` export, made with `defineAgent`.
 *
 * The file is user code: it is first imported in a worker thread (see
 * {@link probeAgentFile}), then here with `process.exit` intercepted and a time limit. An
 * exit, a throw or a hang while loading becomes one {@link AgentFileLoadError} naming it —
 * never a silent exit 0, a stack trace, or a command that never returns. The file's
 * top-level code therefore runs twice: it should do nothing but define the agent.
 */
export async function loadAgentFile(path: string, o: LoadAgentFileOptions = {}): Promise<{ agent: AgentDefinition; file: string }> {
  const file = resolve(path)
  const timeoutMs = o.timeoutMs ?? AGENT_FILE_LOAD_TIMEOUT_MS
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new AgentFileError(`The load timeout must be a positive number of milliseconds, not ${timeoutMs}.`)
  const stat = statOf(file)
  if (!stat) throw new AgentFileError(`No agent file at ${file}.`, { metaMessages: ['Pass the path of a module whose default export is defineAgent({...}).'] })
  if (!stat.isFile()) throw new AgentFileError(`${file} is not a file.`, { metaMessages: ['Pass the path of a module whose default export is defineAgent({...}).'] })
  if (o.probe ?? true) await probeAgentFile(file, { timeoutMs })
  const mod = await importGuarded(file, timeoutMs)
  const agent = mod.default ?? mod.agent
  if (!isAgentDefinition(agent)) {
    throw new AgentFileError(`${file} does not export an agent.`, {
      metaMessages: ['Export the result of defineAgent({...}) as the default export (or as `agent`).'],
    })
  }
  return { agent, file }
}

function statOf(file: string) {
  try {
    return statSync(file)
  } catch {
    return undefined
  }
}

/**
 * `import(file)` in this process, with `process.exit` made to throw while it runs (the
 * probe saw none, but the file may behave differently outside a worker) and a time limit.
 */
async function importGuarded(file: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const realExit = process.exit
  let exitCode: number | undefined
  process.exit = (code?: number | string | null): never => {
    const n = Number(code ?? 0)
    exitCode ??= Number.isInteger(n) ? n : 1
    throw new AgentFileLoadError({ file, reason: 'exit', exitCode })
  }
  let timer: NodeJS.Timeout | undefined
  try {
    const imported = importModule(file)
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AgentFileLoadError({ file, reason: 'timeout', timeoutMs })), timeoutMs)
    })
    const mod = await Promise.race([imported, timedOut])
    // an exit the file caught (try { process.exit() } catch {}) is still an exit
    if (exitCode !== undefined) throw new AgentFileLoadError({ file, reason: 'exit', exitCode })
    return mod
  } catch (err) {
    if (err instanceof AgentFileLoadError) throw err
    if (exitCode !== undefined) throw new AgentFileLoadError({ file, reason: 'exit', exitCode })
    throw new AgentFileLoadError({ file, reason: 'throw', thrown: firstLineOf(err) })
  } finally {
    clearTimeout(timer)
    process.exit = realExit
  }
}

function firstLineOf(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | null | undefined
  const isError = typeof e === 'object' && e !== null && typeof e.message === 'string'
  const line = `${isError && typeof e.name === 'string' ? e.name : 'Error'}: ${(isError ? String(e.message) : String(err)).split('\n')[0] ?? ''}`
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}
