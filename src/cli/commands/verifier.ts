import type { Command } from 'commander'
import { formatEther, type Hex } from 'viem'
import { chainNow } from '../../verify/challenge.js'
import { exitVerifier, getVerifierStake, registerVerifier, requestExitVerifier, verifierExitableAt, type CovenantDeployment } from '../../bonds/index.js'
import { moderationJudge } from '../../verify/moderationJudge.js'
import {
  daManifestSource,
  fileManifestSource,
  httpHeaderSource,
  jsonlHeaderSource,
  promptJudge,
  startReplayWorker,
  urlManifestSource,
  VerifierNode,
  type HeaderSource,
  type Judge,
  type ManifestSource,
  type VerifierEvent,
} from '../../verify/index.js'
import { localAttestationCheck, localReplayer } from '../../verify/replayers.js'
import { listAgentRecords } from '../../service/agentRecord.js'
import { EnvError, parseAgentId, parseCvwFlag, resolveEnv, withEnvOptions, type CovenantEnv, type EnvOptions } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { join } from 'node:path'
import { untilSignal } from './dev.js'
import { cliLogger } from '../logger.js'
import { jsonLine, describeEvent, logVerifierEvent } from '../verifierLog.js'

/** The replay queue every node and worker of one deployment shares. */
export function defaultQueueName(d: CovenantDeployment): string {
  return `covenant-verify-${d.chainId}-${d.contracts.traceLog.slice(2, 10).toLowerCase()}`
}

/**
 * Where the verifier looks for agent manifests: `--manifest` files, dirs or URLs, the
 * `<dataDir>/manifests` dir, and the manifests of agents this data dir deployed (on DA).
 */
export function manifestSources(env: CovenantEnv, flags: readonly string[] = []): ManifestSource[] {
  const out: ManifestSource[] = flags.map((f) => (/^https?:\/\//.test(f) ? urlManifestSource(f) : fileManifestSource(f)))
  out.push(fileManifestSource(join(env.dataDir, 'manifests')))
  let records: ReturnType<typeof listAgentRecords> = []
  try {
    records = listAgentRecords(env.dataDir)
  } catch {
    records = []
  }
  if (records.length > 0) {
    out.push(daManifestSource(env.da, ({ agentId }) => records.find((r) => r.agentId === agentId.toString())?.manifestCommitment as Hex | undefined))
  }
  return out
}

export function headerSources(flags: readonly string[], onInvalid: (message: string) => void): HeaderSource[] {
  return flags.map((f) =>
    /^https?:\/\//.test(f)
      ? httpHeaderSource(f, { onInvalid: (e) => onInvalid(e.shortMessage) })
      : jsonlHeaderSource(f, { onInvalid: (e) => onInvalid(e.shortMessage) }),
  )
}

async function judgeFor(kind: string | undefined): Promise<Judge | undefined> {
  switch (kind ?? 'none') {
    case 'none':
      return undefined
    case 'prompt':
      return promptJudge()
    case 'model':
      return moderationJudge()
    default:
      throw new EnvError(`--judge must be none, model or prompt (got "${kind}").`)
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

function intFlag(v: string | undefined, what: string, min = 0): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new EnvError(`${what} must be an integer of at least ${min} (got "${v}").`)
  return n
}

type StartFlags = GlobalOptions &
  EnvOptions & {
    header?: string[]
    manifest?: string[]
    judge?: string
    confirmations?: string
    grace?: string
    workers?: string
    poll?: string
    agent?: string[]
    register?: boolean
    stake?: string
    watchOnly?: boolean
    /** false with --no-validations */
    validations?: boolean
    queue?: string
  }

/**
 * `covenant verifier start|worker|register|exit`: the verifier node (EigenVerify role), replay
 * workers that join its queue from other processes or machines, and verifier registration.
 */
export function register(program: Command): void {
  const verifier = program.command('verifier').description('run a verifier: watch commitments, replay, challenge, vote')

  withEnvOptions(
    verifier
      .command('start')
      .description('follow every agent\'s commitments, check and replay them, challenge faults and vote on disputes (until Ctrl-C); operator log at --log-level on stderr')
      .option('--header <file|url>', 'operator-signed batch headers to check for equivocation (repeatable)', collect)
      .option('--manifest <file|dir|url>', 'where to find agent manifests (repeatable; also <data-dir>/manifests)', collect)
      .option('--judge <none|model|prompt>', 'who judges subjective claims (default none: abstain)')
      .option('--confirmations <n>', 'blocks to stay below the head (default 0; use 2+ on real chains)')
      .option('--grace <seconds>', 'how long a blob may be missing before it is disputed as withheld (default 60)')
      .option('--workers <n>', 'replays run in this process at once; 0 leaves them to `covenant verifier worker` processes (default 1)')
      .option('--poll <ms>', 'pause between passes when caught up (default 1000)')
      .option('--agent <id>', 'follow only this agent (repeatable)', collect)
      .option('--register', 'register this account as a verifier first (stakes --stake CVW)')
      .option('--stake <cvw>', 'CVW to stake for --register (default: the protocol minimum)')
      .option('--watch-only', 'report faults but send no transaction')
      .option('--no-validations', 'do not answer ERC-8004 validation requests addressed to this verifier')
      .option('--queue <name>', 'the replay queue name (default: one per deployment)'),
  ).action(async (_o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<StartFlags>()
    const env = await resolveEnv(flags)
    // the operator log (pino JSON lines on stderr at --log-level), beside what a person reads
    // on stderr, or the JSON lines of --json on stdout
    const logger = cliLogger(flags).child({ component: 'verifier' })
    const say = (e: VerifierEvent) => {
      logVerifierEvent(logger, e)
      if (flags.json) {
        process.stdout.write(`${jsonLine(e)}\n`)
        return
      }
      const line = describeEvent(e)
      if (line) progress(line)
    }
    if (!env.account && !flags.watchOnly) {
      progress('no account (--keystore or --dev-account): watching only, no challenges or votes')
    }
    if (flags.register) {
      if (!env.account) throw new EnvError('--register needs an account (--keystore or --dev-account).')
      const current = await getVerifierStake(env.client, env.account.address)
      if (current.stake === 0n) {
        const stake = flags.stake ? parseCvwFlag(flags.stake, '--stake') : env.deployment.params.verifierMinStake
        const { hash } = await registerVerifier(env.client, { stake })
        logger.info({ event: 'registered', verifier: env.account.address, stake: stake.toString(), hash }, 'registered as a verifier')
        progress(`registered ${env.account.address} as a verifier with ${formatEther(stake)} CVW staked`)
      } else {
        progress(`${env.account.address} is already a verifier (${formatEther(current.stake)} CVW staked)`)
      }
    }
    const node = new VerifierNode({
      client: env.client,
      da: env.da,
      dataDir: join(env.dataDir, 'verifier'),
      replayer: localReplayer(),
      attestation: localAttestationCheck(),
      redisUrl: env.redisUrl,
      queueName: flags.queue ?? defaultQueueName(env.deployment),
      localWorkers: intFlag(flags.workers, '--workers'),
      manifests: manifestSources(env, flags.manifest),
      headers: headerSources(flags.header ?? [], (m) => {
        logger.warn({ event: 'invalid-header' }, m)
        progress(`warning: ${m}`)
      }),
      judge: await judgeFor(flags.judge),
      confirmations: intFlag(flags.confirmations, '--confirmations'),
      withheldGraceSeconds: intFlag(flags.grace, '--grace'),
      pollIntervalMs: intFlag(flags.poll, '--poll', 1),
      agents: flags.agent?.map((a) => parseAgentId(a)),
      act: flags.watchOnly ? false : undefined,
      vote: flags.watchOnly ? false : undefined,
      validations: flags.watchOnly || flags.validations === false ? false : undefined,
      onEvent: say,
    })
    await node.start()
    await untilSignal()
    progress('stopping: finishing the current pass…')
    logger.info({ event: 'stopping' }, 'stopping: finishing the current pass')
    await node.stop()
    logger.info({ event: 'stopped' }, 'verifier stopped')
  })

  withEnvOptions(
    verifier
      .command('worker')
      .description("replay inferences from a verifier's BullMQ queue (needs --redis or REDIS_URL); run as many as you like")
      .option('--concurrency <n>', 'replays at once (default 1)')
      .option('--queue <name>', 'the replay queue name (default: one per deployment)'),
  ).action(async (_o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<GlobalOptions & EnvOptions & { concurrency?: string; queue?: string }>()
    const env = await resolveEnv(flags)
    if (!env.redisUrl) {
      throw new EnvError('A replay worker needs Redis.', { metaMessages: ['Pass --redis <url> or set REDIS_URL (the verifier node must use the same).'] })
    }
    const queueName = flags.queue ?? defaultQueueName(env.deployment)
    const worker = await startReplayWorker({
      replayer: localReplayer(),
      redisUrl: env.redisUrl,
      queueName,
      concurrency: intFlag(flags.concurrency, '--concurrency', 1),
      onEvent: (e) => {
        if (flags.json) process.stdout.write(`${JSON.stringify(e)}\n`)
        else if (e.type !== 'active') progress(`${e.type} ${e.id}${e.type === 'failed' ? `: ${e.error}` : ''}`)
      },
    })
    progress(`replay worker on queue ${queueName} (${env.redisUrl.replace(/\/\/[^@]*@/, '//***@')})`)
    await untilSignal()
    await worker.close()
  })

  withEnvOptions(
    verifier
      .command('register')
      .description('stake WorkToken (CVW) in VerifierRegistry so this account can vote on disputes opened from the next block on')
      .option('--stake <cvw>', 'stake in CVW (default: the protocol minimum)'),
  ).action(async (_o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<GlobalOptions & EnvOptions & { stake?: string }>()
    const env = await resolveEnv(flags)
    if (!env.account) throw new EnvError('Registering needs an account (--keystore or --dev-account).')
    const stake = flags.stake ? parseCvwFlag(flags.stake, '--stake') : env.deployment.params.verifierMinStake
    const { hash } = await registerVerifier(env.client, { stake })
    const info = await getVerifierStake(env.client, env.account.address)
    printResult({ verifier: env.account.address, stake: info.stake, registeredBlock: info.registeredBlock, hash }, flags, (r) =>
      `${r.verifier} is a verifier: ${formatEther(r.stake)} CVW staked in block ${r.registeredBlock}`,
    )
  })

  withEnvOptions(
    verifier
      .command('exit')
      .description('leave the verifier set: the first run asks to exit; run it again once the exit delay has passed to get the stake back'),
  ).action(async (_o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<GlobalOptions & EnvOptions>()
    const env = await resolveEnv(flags)
    if (!env.account) throw new EnvError('Exiting needs the verifier\'s account (--keystore or --dev-account).')
    const me = env.account.address
    const { stake, exitRequestedAt } = await getVerifierStake(env.client, me)
    if (stake === 0n) throw new EnvError(`${me} is not a registered verifier (or has already exited): nothing to exit.`)
    const at = (t: number) => new Date(t * 1000).toISOString()
    if (exitRequestedAt === 0) {
      progress('the stake keeps voting and answering for its votes until the exit completes')
      const r = await requestExitVerifier(env.client)
      printResult({ verifier: me, stake, exitRequested: true, exitableAt: r.exitableAt, hash: r.hash }, flags, (x) =>
        `${x.verifier}: exit requested; ${formatEther(x.stake)} CVW can be taken back from ${at(x.exitableAt)} (then: covenant verifier exit)`,
      )
      return
    }
    const exitableAt = await verifierExitableAt(env.client, me)
    const now = await chainNow(env.client)
    if (now < exitableAt) throw new EnvError(`${me}'s exit unlocks at ${at(exitableAt)} (chain time now ${at(now)}); run covenant verifier exit again then.`)
    const r = await exitVerifier(env.client)
    printResult({ verifier: me, withdrawn: stake, hash: r.hash }, flags, (x) => `${x.verifier}: left the verifier set; ${formatEther(x.withdrawn)} CVW paid back`)
  })
}
