import type { AgentDefinition } from '../agent/defineAgent.js'
import { listAgentRecords, type AgentRecord } from './agentRecord.js'
import { loadAgentFile } from './agentFile.js'
import { ServiceConfigError } from './errors.js'
import type { DeployedAgent } from './worker.js'

/**
 * The deployed agents of a data dir (optionally only `names`), each with its definition
 * loaded from the source file it was deployed from, for the current deployment.
 */
export async function loadDeployedAgents(
  dataDir: string,
  o: {
    chainId: number
    agentRegistry: string
    names?: readonly string[] | undefined
    /** Longest each agent file may take to load. @defaultValue 30 s */
    loadTimeoutMs?: number | undefined
  },
): Promise<DeployedAgent[]> {
  const records = listAgentRecords(dataDir).filter(
    (r) => r.chainId === o.chainId && r.agentRegistry.toLowerCase() === o.agentRegistry.toLowerCase(),
  )
  const wanted = o.names?.length ? o.names : records.map((r) => r.name)
  const out: DeployedAgent[] = []
  for (const name of wanted) {
    const record = records.find((r) => r.name === name)
    if (!record) {
      throw new ServiceConfigError(`No agent "${name}" is deployed on this chain from ${dataDir}.`, {
        metaMessages: [`Deployed here: ${records.map((r) => r.name).join(', ') || 'none'}. Deploy it with \`covenant deploy <agent-file>\`.`],
      })
    }
    out.push({ record, agent: await definitionOf(record, o.loadTimeoutMs) })
  }
  return out
}

async function definitionOf(record: AgentRecord, timeoutMs: number | undefined): Promise<AgentDefinition> {
  if (!record.source) {
    throw new ServiceConfigError(`Agent ${record.name} was deployed without a source file; it cannot be served from here.`)
  }
  const { agent } = await loadAgentFile(record.source, { timeoutMs })
  if (agent.name !== record.name) {
    throw new ServiceConfigError(`${record.source} now defines agent "${agent.name}", not "${record.name}".`)
  }
  return agent
}
