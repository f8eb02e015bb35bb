// The replay sandbox's child process (compiled into the replay kit, see kit.ts): loads one
// agent code bundle and replays actions through it on request. It runs under Node's
// permission model (no file writes, no child processes, no worker threads, no native
// addons, reads only of the kit, the installed packages and the shipped models) with a
// capped heap; the parent kills it on a time limit. It holds no key and no secret.
import { pathToFileURL } from 'node:url'
import type { AgentDefinition } from '../../agent/defineAgent.js'
import type { Step } from '../../trace/index.js'
import { replayAction, type ActionReplayResult } from './replayAction.js'

export type SandboxRequest =
  | { type: 'load'; id: number; bundle: string }
  | { type: 'replay'; id: number; agentId: string; actionId: string; account?: string | undefined; steps: Step[] }

export type SandboxReply =
  | { type: 'ready' }
  | { type: 'loaded'; id: number; ok: true; name: string }
  | { type: 'loaded'; id: number; ok: false; error: string }
  | { type: 'result'; id: number; result: ActionReplayResult }

let agent: AgentDefinition | undefined

function send(m: SandboxReply): void {
  process.send?.(m)
}

function isAgentDefinition(x: unknown): x is AgentDefinition {
  const a = x as Partial<AgentDefinition> | undefined
  return !!a && typeof a.name === 'string' && typeof a.model === 'object' && Array.isArray(a.tools) && typeof a.policy === 'object'
}

function firstLine(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | null
  const text = typeof e?.message === 'string' ? e.message : String(err)
  return `${typeof e?.name === 'string' ? `${e.name}: ` : ''}${text.split('\n')[0] ?? ''}`.slice(0, 500)
}

process.on('message', (raw: unknown) => {
  const m = raw as SandboxRequest
  void (async () => {
    if (m.type === 'load') {
      try {
        const mod = (await import(pathToFileURL(m.bundle).href)) as Record<string, unknown>
        const a = mod['default'] ?? mod['agent']
        if (!isAgentDefinition(a)) return send({ type: 'loaded', id: m.id, ok: false, error: 'the bundle does not export an agent (defineAgent) as its default export or as `agent`' })
        agent = a
        send({ type: 'loaded', id: m.id, ok: true, name: a.name })
      } catch (err) {
        send({ type: 'loaded', id: m.id, ok: false, error: firstLine(err) })
      }
      return
    }
    if (m.type === 'replay') {
      if (!agent) return send({ type: 'result', id: m.id, result: { status: 'unverifiable', reason: 'no agent bundle is loaded' } })
      let result: ActionReplayResult
      try {
        result = await replayAction({ agent, agentId: m.agentId, actionId: m.actionId, account: m.account, steps: m.steps })
      } catch (err) {
        result = { status: 'unverifiable', reason: `the replay failed: ${firstLine(err)}` }
      }
      send({ type: 'result', id: m.id, result })
    }
  })()
})

// the verifier went away: so does its sandbox
process.on('disconnect', () => process.exit(0))
// agent code must not take the sandbox down with a stray rejection: the parent's time limit covers hangs
process.on('unhandledRejection', () => {})
process.on('uncaughtException', () => {})
send({ type: 'ready' })
