import type { Command } from 'commander'
import { formatEther, isHash, type Hex } from 'viem'
import { disputeAction, type DisputeReason } from '../../verify/index.js'
import { localAttestationCheck, localReplayer } from '../../verify/replayers.js'
import { EnvError, resolveEnv, withEnvOptions, type EnvOptions, parseAgentId } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { headerSources, manifestSources } from './verifier.js'

const REASONS: readonly DisputeReason[] = ['policy', 'inference', 'logic', 'withheld', 'equivocation', 'untraced', 'subjective']

type DisputeFlags = GlobalOptions &
  EnvOptions & {
    step?: string
    reason?: string
    agent?: string
    tx?: string
    claim?: string
    header?: string[]
    manifest?: string[]
    wait?: boolean
  }

/**
 * `covenant dispute <actionId>`: builds the proof (policy breach, equivocation: slashed in
 * the same transaction) or opens the dispute with the challenger bond (inference, withheld,
 * untraced, subjective), waits for the verifiers, and prints who was slashed, how much,
 * and who was paid.
 */
export function register(program: Command): void {
  withEnvOptions(
    program
      .command('dispute')
      .argument('<actionId>', 'the action id (<agentId>-<12 hex>)')
      .option('--step <n>', "the step, by its index in the agent's trace (as `covenant verify` prints it)")
      .option('--reason <reason>', `${REASONS.join('|')} (default: the first fault \`covenant verify\` finds)`)
      .option('--agent <id>', 'the agent, for action ids not of the form <agentId>-<hex>')
      .option('--tx <hash>', 'the transaction, for --reason untraced')
      .option('--claim <text>', 'what you claim, for --reason subjective')
      .option('--header <file|url>', 'operator-signed batch headers, for --reason equivocation (repeatable)', (v: string, p: string[] = []) => [...p, v])
      .option('--manifest <file|dir|url>', 'where to find the agent manifest (repeatable)', (v: string, p: string[] = []) => [...p, v])
      .option('--no-wait', 'return once a quorum dispute is opened')
      .description('dispute an action: prove the fault on chain or open a dispute with the challenger bond, then print the outcome'),
  ).action(async (actionId: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<DisputeFlags>()
    if (flags.reason !== undefined && !REASONS.includes(flags.reason as DisputeReason)) {
      throw new EnvError(`--reason must be one of ${REASONS.join(', ')} (got "${flags.reason}").`)
    }
    if (flags.tx !== undefined && !isHash(flags.tx)) throw new EnvError(`--tx must be a 32-byte transaction hash (got "${flags.tx}").`)
    const step = flags.step === undefined ? undefined : Number(flags.step)
    if (step !== undefined && (!Number.isSafeInteger(step) || step < 0)) throw new EnvError(`--step must be a step index (got "${flags.step}").`)
    const env = await resolveEnv(flags)
    if (!env.account) throw new EnvError('A dispute sends transactions: pass --keystore (with COVENANT_PASSWORD) or --dev-account.')
    const outcome = await disputeAction({
      client: env.client as Parameters<typeof disputeAction>[0]['client'],
      da: env.da,
      actionId,
      agentId: flags.agent === undefined ? undefined : parseAgentId(flags.agent),
      step,
      reason: flags.reason as DisputeReason | undefined,
      replayer: localReplayer(),
      attestation: localAttestationCheck(),
      manifests: manifestSources(env, flags.manifest),
      headers: headerSources(flags.header ?? [], (m) => progress(`warning: ${m}`)),
      txHash: flags.tx as Hex | undefined,
      claim: flags.claim,
      wait: flags.wait,
      onProgress: progress,
    })
    printResult(outcome, flags, (o) =>
      [
        `${o.kind} against agent #${o.agentId} (action ${o.actionId}): ${o.status}${o.disputeId !== undefined ? ` — dispute #${o.disputeId}` : ''}`,
        `  ${o.fault}`,
        ...(o.slashed ? [`  agent #${o.agentId} slashed ${formatEther(o.slashed.eth)} ETH${o.slashed.token ? ` and ${o.slashed.token} tokens` : ''}`] : []),
        ...o.payouts.map((p) => `  ${p.role.padEnd(14)} ${p.to}  +${formatEther(p.eth)} ETH (${p.what})`),
        ...(o.payouts.some((p) => p.role === 'challenger') ? ['  credits are claimable from BondVault'] : []),
        `  gas used: ${o.gasUsed}`,
      ].join('\n'),
    )
  })
}
