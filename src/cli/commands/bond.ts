import type { Command } from 'commander'
import { formatEther, parseEther } from 'viem'
import { bondVaultAbi, claimCredits, depositBond, getBond, requestWithdraw, withdrawBond, type CovenantClient } from '../../bonds/index.js'
import { EnvError, parseAgentId, resolveEnv, withEnvOptions, type EnvOptions } from '../env.js'
import { printResult, progress, type GlobalOptions } from '../output.js'
import { BONDS_DESCRIPTION, showBonds } from './bonds.js'

type BondFlags = GlobalOptions & EnvOptions & { eth?: string; token?: string }

/** `--eth 1.5` → wei; an amount must be a positive plain decimal. */
function ethAmount(text: string | undefined, flag: string): bigint | undefined {
  if (text === undefined) return undefined
  if (!/^(0|[1-9]\d*)(\.\d{1,18})?$/.test(text) || /^0(\.0+)?$/.test(text)) {
    throw new EnvError(`${flag} must be a positive amount such as 1.5 (got "${text.slice(0, 40)}").`)
  }
  return parseEther(text)
}

function tokenAmount(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined
  if (!/^[1-9]\d{0,76}$/.test(text)) throw new EnvError(`--token must be a positive whole number of token units (got "${text.slice(0, 40)}").`)
  return BigInt(text)
}

async function writer(flags: BondFlags, what: string) {
  const env = await resolveEnv(flags)
  if (!env.account) throw new EnvError(`${what} sends a transaction: pass --keystore (with COVENANT_PASSWORD) or --dev-account.`)
  return { env, client: env.client as CovenantClient }
}

/**
 * The bond's money lifecycle: `covenant bond deposit|withdraw|cancel|status <agentId>`, and
 * `covenant claim` for credits (slash rewards, refunded or forfeited challenger bonds,
 * an owner's compensation). `bond status` is `covenant bonds <agentId>`: the state.
 */
export function register(program: Command): void {
  const bond = program.command('bond').description("move an agent's bond: deposit, withdraw (request, then complete), cancel; status")

  withEnvOptions(bond.command('status').argument('<agentId>', 'the agent id').description(`${BONDS_DESCRIPTION} (same as covenant bonds)`)).action(showBonds)

  withEnvOptions(
    bond
      .command('deposit')
      .argument('<agentId>', 'the agent')
      .option('--eth <amount>', 'ETH to add, e.g. 2.5')
      .option('--token <units>', 'bond-token units to add (approved automatically)')
      .description('add to an agent\'s bond (anyone may top up any agent)'),
  ).action(async (agentIdText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<BondFlags>()
    const agentId = parseAgentId(agentIdText)
    const eth = ethAmount(flags.eth, '--eth')
    const token = tokenAmount(flags.token)
    if (eth === undefined && token === undefined) throw new EnvError('Say how much: --eth <amount> and/or --token <units>.')
    const { client } = await writer(flags, 'A deposit')
    const r = await depositBond(client, { agentId, eth, token })
    const after = await getBond(client, agentId)
    printResult({ agentId, deposited: { eth: eth ?? 0n, token: token ?? 0n }, hashes: r.hashes, bond: { eth: after.eth, token: after.token } }, flags, (x) =>
      `agent #${x.agentId}: deposited ${formatEther(x.deposited.eth)} ETH${x.deposited.token ? ` + ${x.deposited.token} tokens` : ''}; bond now ${formatEther(x.bond.eth)} ETH${x.bond.token ? ` + ${x.bond.token} tokens` : ''}`,
    )
  })

  withEnvOptions(
    bond
      .command('withdraw')
      .argument('<agentId>', 'the agent (you must be its owner)')
      .option('--eth <amount>', 'ETH to ask back (with --token: a new request)')
      .option('--token <units>', 'bond-token units to ask back')
      .description('ask for (part of) the bond back, or — with no amount — complete the pending withdrawal once it unlocks'),
  ).action(async (agentIdText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<BondFlags>()
    const agentId = parseAgentId(agentIdText)
    const eth = ethAmount(flags.eth, '--eth')
    const token = tokenAmount(flags.token)
    const { client } = await writer(flags, 'A withdrawal')
    if (eth !== undefined || token !== undefined) {
      const r = await requestWithdraw(client, { agentId, eth, token })
      const b = await getBond(client, agentId)
      progress('the agent account makes no call while a withdrawal is requested (covenant bond cancel lifts it)')
      printResult({ agentId, requested: { eth: eth ?? 0n, token: token ?? 0n }, hash: r.hash, withdrawableAt: b.withdrawableAt }, flags, (x) =>
        `agent #${x.agentId}: asked for ${formatEther(x.requested.eth)} ETH${x.requested.token ? ` + ${x.requested.token} tokens` : ''}; withdrawable at ${new Date(x.withdrawableAt * 1000).toISOString()} (then: covenant bond withdraw ${x.agentId})`,
      )
      return
    }
    const before = await getBond(client, agentId)
    if (!before.requestedAt) throw new EnvError(`Agent #${agentId} has no pending withdrawal: ask first with --eth <amount>.`)
    const r = await withdrawBond(client, { agentId })
    printResult({ agentId, withdrawn: { eth: before.pendingEth, token: before.pendingToken }, hash: r.hash }, flags, (x) =>
      `agent #${x.agentId}: withdrew ${formatEther(x.withdrawn.eth)} ETH${x.withdrawn.token ? ` + ${x.withdrawn.token} tokens` : ''} to the owner`,
    )
  })

  withEnvOptions(
    bond.command('cancel').argument('<agentId>', 'the agent (you must be its owner)').description('cancel a pending withdrawal: the agent may act again'),
  ).action(async (agentIdText: string, _o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<BondFlags>()
    const agentId = parseAgentId(agentIdText)
    const { client } = await writer(flags, 'Cancelling')
    const w = client as CovenantClient & { walletClient: NonNullable<CovenantClient['walletClient']> }
    const hash = await w.walletClient.writeContract({
      address: client.deployment.contracts.bondVault,
      abi: bondVaultAbi,
      functionName: 'cancelWithdraw',
      args: [agentId],
      account: w.walletClient.account!,
      chain: w.walletClient.chain,
    })
    await client.publicClient.waitForTransactionReceipt({ hash })
    printResult({ agentId, cancelled: true, hash }, flags, (x) => `agent #${x.agentId}: withdrawal cancelled; the agent account may act again`)
  })

  withEnvOptions(
    program.command('claim').description('pay out your credits: slash rewards, refunded or forfeited challenger bonds, compensation'),
  ).action(async (_o, cmd: Command) => {
    const flags = cmd.optsWithGlobals<BondFlags>()
    const { env, client } = await writer(flags, 'A claim')
    const who = env.account!.address
    const [eth, token] = await Promise.all([
      client.publicClient.readContract({ address: client.deployment.contracts.bondVault, abi: bondVaultAbi, functionName: 'ethCredits', args: [who] }),
      client.publicClient.readContract({ address: client.deployment.contracts.bondVault, abi: bondVaultAbi, functionName: 'tokenCredits', args: [who] }),
    ])
    if (eth === 0n && token === 0n) throw new EnvError(`${who} has no credits to claim.`)
    const r = await claimCredits(client)
    printResult({ account: who, claimed: { eth, token }, hash: r.hash }, flags, (x) => `${x.account}: claimed ${formatEther(x.claimed.eth)} ETH${x.claimed.token ? ` + ${x.claimed.token} tokens` : ''}`)
  })
}
