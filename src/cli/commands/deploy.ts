import { statSync } from 'node:fs'
import type { Command } from 'commander'
import { mnemonicToAccount } from 'viem/accounts'
import { ANVIL_MNEMONIC } from '../../bonds/anvil.js'
import { withAccount, type CovenantWriteClient } from '../../bonds/client.js'
import { activateUpdate } from '../../bonds/actions/updateAgent.js'
import { loadAgentFile } from '../../service/agentFile.js'
import { typecheckAgentFile } from '../../service/typecheckAgentFile.js'
import { readAgentRecord, writeAgentRecord } from '../../service/agentRecord.js'
import { deployAgent, DEV_FUNDING, type DeployAgentReturnType, type DeployStepStatus } from '../../service/deployAgent.js'
import { readConfig } from '../config.js'
import { EnvError, parseLoadTimeout, resolveEnv, withEnvOptions, type EnvOptions } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { keystorePassword } from '../password.js'
import { CONCURRENCY_HELP, serveAgents, type ServeFlags } from './serve.js'

type DeployOptions = GlobalOptions & EnvOptions & ServeFlags & { serve: boolean; activate: boolean; typecheck: boolean; operatorKey?: string | undefined }

const STEP_WORDS = { manifest: 'manifest on DA', keys: 'keys', register: 'registered', bond: 'bond', fund: 'funding', identity: 'ERC-8004 identity', record: 'record' } as const

/**
 * `covenant deploy [agent-file]`: type-check the agent file (TypeScript, with its project's
 * tsconfig.json), then manifest → DA, register on chain, post the bond, then serve the agent
 * (HTTP API + worker) unless `--no-serve`. Everything is checked before anything is written;
 * a deploy that stops part-way says what was done and resumes when run again. Re-deploying a
 * changed agent proposes an upgrade that activates after the policy delay (`--activate`
 * then). Without a file argument, the config's `agent`.
 */
export function register(program: Command): void {
  withEnvOptions(
    program
      .command('deploy')
      .argument('[agent-file]', 'a module whose default export is defineAgent({...}) (default: "agent" in covenant.config.json)')
      .description('register an agent on chain (manifest on DA, policy, bond) and serve it as a verifiable service')
      .option('--no-serve', 'deploy only; do not start the service')
      .option('--no-typecheck', 'deploy without type-checking the agent file first')
      .option('--activate', 'activate a pending upgrade whose policy delay has passed')
      .option('--operator-key <keystore>', "register a new agent with this operator keystore (e.g. another agent's agents/<name>/operator.json in the data dir) instead of a new key: a worker hosting agents of one operator commits their batches in shared bundles")
      .option('--port <n>', 'HTTP port of the service', '8787')
      .option('--concurrency <n>', CONCURRENCY_HELP)
      .option('--load-timeout <seconds>', 'longest the agent file may take to load', parseLoadTimeout),
  ).action(async (given: string | undefined, _o, cmd: Command) => {
    const options = cmd.optsWithGlobals<DeployOptions>()
    const file = given ?? readConfig(options).config.agent
    if (file === undefined) {
      throw new EnvError('No agent file to deploy.', { metaMessages: ['Pass one (covenant deploy agent.ts), or set "agent" in covenant.config.json (covenant init writes one).'] })
    }
    // the file first: one that does not type-check, or that exits, throws or hangs while
    // loading, is reported before the chain is touched
    if (options.typecheck && statSync(file, { throwIfNoEntry: false })?.isFile()) {
      const checked = await typecheckAgentFile(file)
      if (!checked.checked && checked.reason !== 'it is JavaScript') progress(`not type-checked: ${checked.reason}`)
    }
    const { agent, file: source } = await loadAgentFile(file, { timeoutMs: options.loadTimeout })
    const env = await resolveEnv(options)
    const dev = env.deployment.chainId === 31337
    let owner: CovenantWriteClient
    if (env.account) owner = withAccount(env.client, env.account)
    else if (dev) {
      progress('no --keystore given: deploying as dev account 1 (dev chain only)')
      owner = withAccount(env.client, mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: 1 }))
    } else {
      throw new EnvError('Deploying needs an owner account: pass --keystore <file> (password in COVENANT_PASSWORD).')
    }
    if (options.activate) {
      const record = readAgentRecord(env.dataDir, agent.name)
      if (!record?.pendingVersion) throw new EnvError(`Agent ${agent.name} has no pending upgrade to activate.`)
      await activateUpdate(owner, { agentId: BigInt(record.agentId) })
      writeAgentRecord(env.dataDir, { ...record, policyVersion: record.pendingVersion, pendingVersion: null })
      progress(`activated version ${record.pendingVersion} of ${agent.name}`)
    }
    const password = keystorePassword(env.deployment.chainId)
    const deployed = await deployAgent({
      owner,
      da: env.da,
      dataDir: env.dataDir,
      agent,
      source,
      password,
      operatorKeystore: options.operatorKey,
      fund: dev ? DEV_FUNDING : undefined,
      mintDevToken: dev,
      endpoints: env.inferenceUrl ? [`${env.inferenceUrl}/v1`] : undefined,
      onProgress: progress,
    })
    printResult(
      { outcome: deployed.outcome, ...deployed.record, readyAt: deployed.readyAt ?? null, steps: deployed.steps },
      options,
      (r) =>
        [
          `${r.name}: ${r.outcome} as agent #${r.agentId}`,
          `  manifest ${r.manifestHash} (DA ${r.manifestCommitment.slice(0, 18)}…)`,
          `  operator ${r.operator.address}  wallet ${r.wallet.address}`,
          ...(r.erc8004AgentId !== undefined ? [`  ERC-8004 identity #${r.erc8004AgentId} (covenant 8004 agent ${r.erc8004AgentId})`] : []),
          ...stepLines(r.steps),
          ...(r.readyAt ? [`  upgrade activates after ${new Date(r.readyAt * 1000).toISOString()} (covenant deploy ${file} --activate)`] : []),
        ].join('\n'),
    )
    if (options.serve) await serveAgents(env, [agent.name], options, password)
  })
}

/** `  done now: …` / `  done by an earlier run: …` / `  not needed: …`, for the steps that had any. */
function stepLines(steps: DeployAgentReturnType['steps']): string[] {
  const of = (status: DeployStepStatus) => steps.filter((x) => x.status === status).map((x) => STEP_WORDS[x.step])
  return (
    [
      ['done now', of('done')],
      ['done by an earlier run of this deploy', of('done-earlier')],
      ['not needed', of('not-needed')],
    ] as const
  ).flatMap(([label, words]) => (words.length ? [`  ${label}: ${words.join(', ')}`] : []))
}
