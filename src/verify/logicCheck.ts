import type { Hex } from 'viem'
import { assertBundleHash } from '../agent/bundle.js'
import { getAgent } from '../bonds/actions/getAgent.js'
import type { ActionReplayResult } from './actionReplay/replayAction.js'
import type { ReplaySandbox, SandboxReplayJob } from './actionReplay/sandbox.js'
import type { CheckContext } from './check.js'
import type { Fault } from './faults.js'
import { cachedManifest } from './manifest.js'
import type { ManifestCode } from './schemas.js'
import type { CommittedStep } from './traceIndex.js'

/** Replays one action through an agent's code bundle (the sandbox, in a verifier). */
export type LogicReplayer = (job: SandboxReplayJob) => Promise<ActionReplayResult>

/** The replayer that runs agent code in a {@link ReplaySandbox}. */
export function sandboxLogicReplayer(sandbox: ReplaySandbox): LogicReplayer {
  return (job) => sandbox.replay(job)
}

export type TraceMismatchFault = Extract<Fault, { type: 'TraceMismatch' }>

/**
 * The agent's own logic, checked by whole-action replay:
 * - `ok`: its registered code produced the action's committed steps, in order;
 * - `fault`: it did not — the first step that differs, as a TraceMismatch;
 * - `unchecked`: it could not be replayed here. `codeless` when the agent registered no code
 *   (or its manifest, or its bundle, cannot be had or is not the registered code) — the
 *   logic part is then incomplete, never honest; otherwise the replay itself could not decide
 *   (a sandbox that timed out, a model output that cannot be read back).
 */
export type LogicCheck =
  | { status: 'ok'; reason: string }
  | { status: 'fault'; fault: TraceMismatchFault; reason: string }
  | { status: 'unchecked'; codeless: boolean; reason: string }

/**
 * Replays one action through the code its agent registered (manifest `codeHash`, bundle on
 * DA at `codeBundle.commitment`, checked against the hash) and compares the steps it takes
 * with the committed ones (src/verify/actionReplay). The manifest is the one of the agent's
 * version when the action's first step was committed.
 */
export async function checkActionLogic(ctx: CheckContext, p: { agentId: bigint; actionId: string; steps: readonly CommittedStep[] }): Promise<LogicCheck> {
  const first = p.steps[0]
  if (!first) return { status: 'unchecked', codeless: false, reason: 'no committed step of the action' }
  const version = await ctx.agents.versionAt(p.agentId, first.committedAt)
  if (!version) return { status: 'unchecked', codeless: true, reason: `agent ${p.agentId} had no registered version when the action was committed` }
  const loaded = await cachedManifest(ctx, p.agentId, version.manifestHash)
  if (!loaded) {
    return {
      status: 'unchecked',
      codeless: true,
      reason: `the agent's own logic was not replayed: its manifest ${version.manifestHash.slice(0, 10)}… is not available to this verifier (pass --manifest)`,
    }
  }
  if (!loaded.code) {
    return {
      status: 'unchecked',
      codeless: true,
      reason: `the agent's own logic cannot be replayed: agent ${p.agentId} is registered without a code bundle (its manifest's codeHash is null)`,
    }
  }
  const bundle = await codeBundle(ctx, loaded.code)
  if ('error' in bundle) return { status: 'unchecked', codeless: true, reason: `the agent's own logic was not replayed: ${bundle.error}` }
  if (!ctx.logic) return { status: 'unchecked', codeless: false, reason: 'this verifier does not replay agent code' }
  const r = await ctx.logic({
    codeHash: loaded.code.codeHash,
    bundle: bundle.bytes,
    agentId: p.agentId.toString(),
    actionId: p.actionId,
    account: await agentAccount(ctx, p.agentId),
    steps: p.steps.map((s) => s.step),
  })
  const code = `${loaded.code.codeHash.slice(0, 10)}…`
  if (r.status === 'unverifiable') return { status: 'unchecked', codeless: false, reason: `the replay of the agent's code ${code} could not decide: ${r.reason}` }
  if (r.status === 'match') {
    const so = r.shape === 'closed' ? '' : r.shape === 'open' ? ' (the action is not committed to its end yet: so far)' : ' (up to the crash recovery that closed it)'
    return { status: 'ok', reason: `replayed through the registered code ${code}: all ${r.reproduced} steps reproduced in order${so}` }
  }
  const at = p.steps[r.position] ?? (p.steps.at(-1) as CommittedStep)
  const reason = `step ${at.step.index} (${at.step.kind}): ${r.reason}`
  // a slash repays the owner what the action's committed wallet steps moved
  const harm = p.steps.reduce((sum, s) => (s.step.kind === 'wallet' ? sum + BigInt(s.step.value) : sum), 0n)
  return {
    status: 'fault',
    reason,
    fault: { type: 'TraceMismatch', agentId: p.agentId, sequence: at.sequence, stepIndex: at.stepIndex, actionId: p.actionId, reason, harm },
  }
}

/** The agent's account (AgentRegistry.accountOf), cached per agent; undefined where it cannot be read (the replay then takes it from the wallet steps). */
async function agentAccount(ctx: CheckContext, agentId: bigint): Promise<string | undefined> {
  const cache = (ctx.accountCache ??= new Map())
  const key = agentId.toString()
  let hit = cache.get(key)
  if (!hit) {
    hit = getAgent(ctx.client, agentId).then(
      (a) => (/^0x0{40}$/i.test(a.account) ? undefined : a.account),
      () => undefined,
    )
    cache.set(key, hit)
  }
  const account = await hit
  if (account === undefined) cache.delete(key)
  return account
}

/** The registered bundle from DA, checked against its codeHash (cached by hash; failures are not cached). */
async function codeBundle(ctx: CheckContext, code: ManifestCode): Promise<{ bytes: Uint8Array } | { error: string }> {
  const cache = (ctx.bundleCache ??= new Map())
  const hit = cache.get(code.codeHash)
  if (hit) return { bytes: await hit }
  let bytes: Uint8Array
  try {
    bytes = await ctx.da.get(code.commitment)
  } catch (err) {
    return { error: `its code bundle is not available on DA (${firstLine(err)})` }
  }
  try {
    assertBundleHash(bytes, code.codeHash as Hex)
  } catch (err) {
    return { error: `its code bundle is rejected: ${firstLine(err)}` }
  }
  cache.set(code.codeHash, Promise.resolve(bytes))
  return { bytes }
}

function firstLine(err: unknown): string {
  const e = err as { shortMessage?: unknown; message?: unknown } | null
  const text = typeof e?.shortMessage === 'string' ? e.shortMessage : typeof e?.message === 'string' ? e.message : String(err)
  return text.split('\n')[0] ?? text
}
