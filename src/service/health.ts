import type { AgentRecord } from './agentRecord.js'
import { firstLine } from './errors.js'
import type { ServiceWorker } from './worker.js'

/**
 * What this process does with one agent:
 * - `hosted`: it holds the agent's WAL and runs its tasks (`commitLagMs`: age of the oldest
 *   step not yet committed, 0 when all are; `lastCommitError` while commits fail);
 * - `standby`: another process holds the WAL (`heldBy`, its pid); this one takes over when
 *   that one dies;
 * - `quarantined`: opening the agent failed (a damaged WAL, a keystore that does not open…);
 *   it is not hosted here until the cause is fixed and the process restarted (`error`);
 * - `starting`: the worker is still opening its agents;
 * - `remote`: this process runs no worker (`serve --no-worker`): `covenant worker`s host it.
 */
export type AgentHealth = {
  name: string
  agentId: string
  state: 'hosted' | 'standby' | 'quarantined' | 'starting' | 'remote'
  commitLagMs?: number
  lastCommitError?: string
  heldBy?: number | null
  error?: string
}

/** `GET /health`: 200 with `ok`; 503 with `degraded` (an agent is quarantined) or `starting`. */
export type ServiceHealth = { status: 'ok' | 'degraded' | 'starting'; agents: AgentHealth[] }

const MAX_ERROR_CHARS = 200
const short = (err: unknown) => {
  const line = firstLine(err)
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line
}

/**
 * The health of a service's agents as this process sees them: `worker` is the in-process
 * worker, `'starting'` while it opens its agents, undefined when the process has none.
 */
export function serviceHealth(agents: readonly AgentRecord[], worker: ServiceWorker | 'starting' | undefined, now = Date.now()): ServiceHealth {
  const list = agents.map((a): AgentHealth => {
    const base = { name: a.name, agentId: a.agentId }
    if (worker === undefined) return { ...base, state: 'remote' }
    if (worker === 'starting') return { ...base, state: 'starting' }
    const host = worker.hosts().get(a.agentId)
    if (host) {
      const oldest = host.committer.oldestUncommittedAt
      const failed = worker.lastCommitError(a.agentId)
      return { ...base, state: 'hosted', commitLagMs: oldest === undefined ? 0 : Math.max(0, now - oldest), ...(failed ? { lastCommitError: short(failed.error) } : {}) }
    }
    const q = worker.quarantined().get(a.agentId)
    if (q) return { ...base, state: 'quarantined', error: short(q.error) }
    const s = worker.standingBy().get(a.agentId)
    return { ...base, state: 'standby', heldBy: s?.heldBy ?? null }
  })
  const status = list.some((a) => a.state === 'quarantined') ? 'degraded' : list.some((a) => a.state === 'starting') ? 'starting' : 'ok'
  return { status, agents: list }
}
