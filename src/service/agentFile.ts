import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AgentDefinition } from '../agent/defineAgent.js'
import { AgentFileError } from './errors.js'

function isAgentDefinition(x: unknown): x is AgentDefinition {
  const a = x as Partial<AgentDefinition> | undefined
  return !!a && typeof a.name === 'string' && typeof a.model === 'object' && Array.isArray(a.tools) && typeof a.policy === 'object'
}

/**
 * Loads an agent module (TypeScript or JavaScript) and returns the agent it exports:
 * the default export, or a named `agent` export, made with `defineAgent`.
 */
export async function loadAgentFile(path: string): Promise<{ agent: AgentDefinition; file: string }> {
  const file = resolve(path)
  if (!existsSync(file)) throw new AgentFileError(`No agent file at ${file}.`)
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  } catch (cause) {
    throw new AgentFileError(`Cannot load the agent file ${file}.`, { cause })
  }
  const agent = mod.default ?? mod.agent
  if (!isAgentDefinition(agent)) {
    throw new AgentFileError(`${file} does not export an agent.`, {
      metaMessages: ['Export the result of defineAgent({...}) as the default export (or as `agent`).'],
    })
  }
  return { agent, file }
}
