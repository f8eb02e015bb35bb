import type { Command } from 'commander'
import { findAction } from '../../verify/action.js'
import { resolveEnv, withEnvOptions, type EnvOptions } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'

/**
 * `covenant trace <actionId>`: fetches the action's steps from DA through the agent's
 * committed batches, checks every blob against its on-chain root, and prints the steps.
 */
export function register(program: Command): void {
  withEnvOptions(
    program
      .command('trace')
      .argument('<actionId>', 'the action id (<agentId>-<12 hex>)')
      .description("print an action's trace steps, fetched from DA and checked against the on-chain Merkle roots"),
  ).action(async (actionId: string, _o, cmd: Command) => {
    const options = cmd.optsWithGlobals<GlobalOptions & EnvOptions>()
    const env = await resolveEnv(options)
    progress(`reading the committed batches of agent ${actionId.split('-')[0]}…`)
    const found = await findAction({ client: env.client, da: env.da }, actionId)
    const batches = found.batches.map((b) => ({
      sequence: b.ev.sequence,
      root: b.ev.merkleRoot,
      daCommitment: b.ev.daCommitment,
      status: b.check.status,
      ...(b.check.status === 'ok' ? {} : { reason: (b.check as { reason: string }).reason }),
    }))
    const result = {
      actionId,
      agentId: found.agentId,
      steps: found.steps.map((s) => ({ sequence: s.sequence, stepIndex: s.stepIndex, ...s.step })),
      batches: batches.filter((b) => found.steps.some((s) => s.sequence === b.sequence) || b.status !== 'ok'),
    }
    printResult(result, options, (r) =>
      [
        `action ${r.actionId} of agent #${r.agentId}: ${r.steps.length} steps`,
        ...r.batches.map((b) => `  batch ${b.sequence}: ${b.status === 'ok' ? 'blob matches the on-chain root' : `${b.status}: ${b.reason}`} (${b.root.slice(0, 10)}…)`),
        ...r.steps.map((s) => `  #${s.index} ${s.kind.padEnd(9)} ${describe(s)}`),
      ].join('\n'),
    )
  })
}

function describe(s: Record<string, unknown>): string {
  switch (s.kind) {
    case 'input':
      return JSON.stringify(s.task).slice(0, 100)
    case 'inference': {
      const r = s.record as { backend: string; modelDigest: string; replay: string }
      return `${r.backend} model ${r.modelDigest.slice(0, 10)}… replay=${r.replay}`
    }
    case 'tool': {
      const o = s.outcome as { status: string }
      return `${s.tool}(${JSON.stringify(s.args).slice(0, 80)}) → ${o.status}`
    }
    case 'wallet':
      return `to ${s.to} value ${s.value} wei nonce ${s.nonce} (policy v${s.policyVersion})`
    case 'output':
      return JSON.stringify(s.result).slice(0, 100)
    default:
      return ''
  }
}
