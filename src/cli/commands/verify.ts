import type { Command } from 'commander'
import { verifyAction } from '../../verify/index.js'
import { localAttestationCheck, localReplayer } from '../../verify/replayers.js'
import { resolveEnv, withEnvOptions, type EnvOptions, parseAgentId } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { manifestSources } from './verifier.js'

/**
 * `covenant verify <actionId>`: fetches the action's steps from DA through the agent's
 * committed batches, checks chain, roots, policy and registered models, replays every
 * inference, and prints a verdict with its reasons. Sends no transaction. Exit codes, for
 * scripts: 0 honest, 2 faulty, 3 incomplete or unverifiable (a batch could not be read, DA
 * is down, a step could not be replayed), 1 a usage or I/O error.
 */
export function register(program: Command): void {
  withEnvOptions(
    program
      .command('verify')
      .argument('<actionId>', 'the action id (<agentId>-<12 hex>)')
      .option('--agent <id>', 'the agent, for action ids not of the form <agentId>-<hex>')
      .option('--manifest <file|dir|url>', 'where to find the agent manifest (repeatable)', (v: string, p: string[] = []) => [...p, v])
      .description("check an action: fetch its steps from DA, check them against the chain, replay its inferences (no transaction)"),
  ).action(async (actionId: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<GlobalOptions & EnvOptions & { agent?: string; manifest?: string[] }>()
    const env = await resolveEnv(flags)
    progress(`verifying action ${actionId}…`)
    const report = await verifyAction(
      {
        client: env.client,
        da: env.da,
        replayer: localReplayer(),
        attestation: localAttestationCheck(),
        manifests: manifestSources(env, flags.manifest),
        agentId: flags.agent === undefined ? undefined : parseAgentId(flags.agent),
      },
      actionId,
    )
    const { faults: _faults, ...shown } = report
    const result = { ...shown, faults: report.faults.map((f) => ({ type: f.type, reason: f.reason, ...('stepIndex' in f ? { stepIndex: f.stepIndex } : {}), ...('sequence' in f ? { sequence: f.sequence } : {}) })) }
    printResult(result, flags, (r) =>
      [
        `action ${r.actionId} of agent #${r.agentId}: ${r.verdict.toUpperCase()}`,
        ...r.steps.map((s) => `  #${s.index} ${s.kind.padEnd(9)} batch ${s.sequence}  ${s.status === 'ok' ? 'ok' : s.status.toUpperCase()}  ${s.reason}`),
        ...(r.reasons.length ? ['', ...r.reasons.map((x) => `- ${x}`)] : []),
        ...(r.verdict === 'faulty' ? ['', `dispute it: covenant dispute ${r.actionId}`] : []),
      ].join('\n'),
    )
    process.exitCode = VERIFY_EXIT_CODES[report.verdict]
  })
}

/** `covenant verify` exit codes by verdict (1 is any usage or I/O error). */
export const VERIFY_EXIT_CODES = { honest: 0, faulty: 2, incomplete: 3, unverifiable: 3 } as const
