import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { BaseError as ViemBaseError, bytesToHex, ContractFunctionRevertedError, formatEther, getAddress, isAddressEqual, type Address, type Hex } from 'viem'
import { z } from 'zod'
import { assertAgentName } from '../agent/agentName.js'
import { bundleAgentFile, type AgentBundle } from '../agent/bundle.js'
import { buildManifest, modelRegistration, type BuiltManifest } from '../agent/manifest.js'
import type { CovenantClient, CovenantWriteClient } from '../bonds/client.js'
import { localCommitment } from '../da/commitment.js'
import { getAgent, getAgentVersion } from '../bonds/actions/getAgent.js'
import { getBond } from '../bonds/actions/getBond.js'
import { agentRegistryAbi, testTokenAbi } from '../bonds/generated/abis.js'
import { shippedModelStore } from '../inference/modelStore.js'
import { keystoreAddress, loadKeystore, parseKeystore } from '../wallet/keystore.js'
import { policySchema, policyToContract, type Policy } from '../wallet/policy.js'
import { agentKeyDir, agentRecordFile, readAgentRecord, type AgentRecord } from './agentRecord.js'
import type { DeployAgentParameters } from './deployAgent.js'
import { deployProgressFile, readDeployProgress, type DeployProgress } from './deployProgress.js'
import { DeployRefusedError, firstLine } from './errors.js'

/**
 * Gas a deploy's smaller transactions use at most (measured on anvil: 84k, 46k + 118k, 68k,
 * 21-25k; the ERC-8004 identity's three transactions ~1.1M for a short name, most of it the
 * on-chain registration file — a 64-character name adds ~0.15M; with room to spare). Registering and proposing an upgrade cost with the policy's
 * lists (up to ~19M gas for 256 targets and selectors): those are estimated on the node.
 */
export const DEPLOY_GAS = { depositEth: 120_000n, depositToken: 250_000n, mint: 100_000n, transfer: 60_000n, identity: 1_600_000n } as const

export type DeployKey = { address: Address; keystore: string }

/** What `deploy` found before acting, and what it will do. */
export type CheckedDeploy = {
  name: string
  built: BuiltManifest
  /**
   * The agent's code bundle and the DA commitment `built` registers for it: an earlier run's
   * (`onDA`: the same bytes are on DA already) or, until the bundle is put, the commitment
   * the local store would give it (the deploy rebuilds the manifest if DA answers another).
   */
  code: { bundle: AgentBundle; commitment: Hex; onDA: boolean } | undefined
  modelDigest: Hex
  policy: Policy
  ownerAddress: Address
  progressFile: string
  /** The operator key to register the agent with instead of a new one (`operatorKeystore`), opened and checked. */
  sharedOperator: DeployKey | undefined
} & (
  | { kind: 'unchanged'; record: AgentRecord; staleProgress: boolean }
  /** This very manifest is already proposed as the agent's pending version. */
  | { kind: 'upgrade-pending'; record: AgentRecord; version: number; readyAt: number; staleProgress: boolean }
  | { kind: 'upgrade'; record: AgentRecord; staleProgress: boolean }
  | {
      kind: 'register'
      /** An earlier run of this deploy, to resume (its manifest fields may be of an earlier, never-registered version). */
      progress: DeployProgress | undefined
      /** Keystores a run that stopped before noting them left behind (never registered): used again, not replaced. */
      leftoverKeys: { operator?: DeployKey | undefined; wallet?: DeployKey | undefined }
      /** The agent an earlier run registered, found on chain though its progress did not note it. */
      registered: { agentId: bigint; account: Address } | undefined
    }
)

/**
 * Checks everything `deploy` can check before it acts — the name, the model, the policy and
 * the chain's bounds on it, the bond, the data dir, an unfinished earlier run, the agent on
 * chain, the owner's balance — and says what the deploy will do. Throws
 * {@link DeployRefusedError} (every problem found) or InvalidAgentNameError; reads only.
 */
export async function checkDeploy(p: DeployAgentParameters): Promise<CheckedDeploy> {
  // The name becomes file names: it is checked, and its paths proven inside the data dir,
  // before anything else (an agent object not made by defineAgent gets the same check).
  assertAgentName(p.agent?.name)
  const name = p.agent.name
  agentRecordFile(p.dataDir, name)
  const progressFile = deployProgressFile(p.dataDir, name)
  const keyDir = agentKeyDir(p.dataDir, name)
  const refuse = (problems: readonly string[], hints?: readonly string[]) => new DeployRefusedError({ agent: name, problems, hints })

  const problems: string[] = []
  const store = shippedModelStore()
  const modelName = (p.agent.model as { model?: unknown } | undefined)?.model
  const local = typeof modelName === 'string' ? store.find(modelName) : undefined
  // what the manifest registers: a remote model declared `none`/`attested` by endpoint and name;
  // `exact`/`tolerance` only for a model Covenant can run (else every inference would be read as fraud)
  let model: { name: string; digest: string } | undefined
  try {
    const reg = modelRegistration(p.agent, local ? { modelDigests: { [local.name]: local.digest as Hex } } : {})
    if (reg.digestOf === 'endpoint-and-name' || local) model = { name: String(modelName), digest: reg.digest }
  } catch {
    // reported below
  }
  if (!model) {
    const mode = (p.agent.replay as { mode?: unknown } | undefined)?.mode
    const baseURL = p.agent.model?.kind === 'chat' ? p.agent.model.baseURL : undefined
    problems.push(
      baseURL
        ? `its model ${JSON.stringify(String(modelName)).slice(0, 60)} at ${baseURL} is not one Covenant can run (known: ${store.list().map((m) => m.name).join(', ')}), so verifiers cannot replay it ${String(mode)}: declare what the endpoint can honour, replay: { mode: 'none' } (its answers are never checked; policy and logic still are) or { mode: 'attested', signers: ['0x…'], measurement: null } (its receipt key).`
        : `its model ${JSON.stringify(String(modelName)).slice(0, 60)} is not a known model (known: ${store.list().map((m) => m.name).join(', ')}); a remote model needs model.baseURL and replay: { mode: 'none' } or { mode: 'attested', … }.`,
    )
  }
  const parsedPolicy = policySchema.safeParse(p.agent.policy)
  if (!parsedPolicy.success) problems.push(...parsedPolicy.error.issues.map((i) => `policy.${i.path.join('.')}: ${i.message}.`))
  const bond = p.agent.bond as { eth?: unknown; token?: unknown } | undefined
  if (typeof bond?.eth !== 'bigint' || bond.eth < 0n) problems.push('bond.eth must be wei, a non-negative bigint.')
  if (typeof bond?.token !== 'bigint' || bond.token < 0n) problems.push('bond.token must be token units, a non-negative bigint.')
  const params = p.owner.deployment.params
  if (parsedPolicy.success) {
    const { challengeWindow, commitDeadline, maxValuePerTx, dailyBudget } = parsedPolicy.data
    // the chain takes them as uint256: a negative amount would only fail when encoded
    if (maxValuePerTx < 0n) problems.push('policy.maxValuePerTx must be wei, not a negative amount.')
    if (dailyBudget !== undefined && dailyBudget < 0n) problems.push('policy.dailyBudget must be wei, not a negative amount.')
    const longest = Math.max(challengeWindow, commitDeadline)
    if (longest + params.disputePeriod >= params.unbondingDelay) {
      const which = challengeWindow >= commitDeadline ? 'challengeWindow' : 'commitDeadline'
      problems.push(
        `policy.${which} is ${longest} s, but on this chain the challenge window and the commit deadline plus the dispute period (${params.disputePeriod} s) must stay below the unbonding delay (${params.unbondingDelay} s): at most ${params.unbondingDelay - params.disputePeriod - 1} s each.`,
      )
    }
  }
  let bundle: AgentBundle | undefined
  if (p.source !== undefined && problems.length === 0) {
    try {
      bundle = await bundleAgentFile(p.source)
    } catch (err) {
      problems.push(`its code cannot be bundled: ${firstLine(err)}.`)
    }
  }
  let record: AgentRecord | undefined
  let progress: DeployProgress | undefined
  try {
    record = readAgentRecord(p.dataDir, name)
    progress = readDeployProgress(p.dataDir, name)
  } catch (err) {
    throw refuse([firstLine(err).replace(/^\w+: /, '')], ['Move the file away if it is damaged (check first on chain whether the agent exists), then deploy again.'])
  }
  // the same bytes already on DA keep their commitment, so an unchanged agent keeps its manifest
  const earlier = [progress?.code, record?.code].find((c) => c && bundle && c.hash === bundle.codeHash)
  const code = bundle && { bundle, commitment: (earlier?.commitment ?? bytesToHex(localCommitment(bundle.bytes))) as Hex, onDA: !!earlier }
  let built: BuiltManifest | undefined
  if (model && problems.length === 0) {
    try {
      built = buildManifest(p.agent, {
        modelDigests: { [model.name]: model.digest as Hex },
        inferenceMeasurement: p.inferenceMeasurement,
        endpoints: p.endpoints,
        code: code && { bundle: code.bundle, commitment: code.commitment },
      })
    } catch (err) {
      problems.push(`its manifest cannot be built: ${firstLine(err)}.`)
    }
  }
  // a shared operator key must open with the deploy's password; an agent whose keys exist
  // already (registered, or made by an unfinished run) keeps its operator
  let sharedOperator: DeployKey | undefined
  if (p.operatorKeystore !== undefined) {
    const keystore = resolve(p.operatorKeystore)
    try {
      sharedOperator = { address: (await loadKeystore(keystore, { password: p.password })).address, keystore }
    } catch (err) {
      problems.push(`the operator keystore ${p.operatorKeystore} does not open: ${firstLine(err).replace(/^\w+: /, '')}`)
    }
    const fixed = record?.operator.address ?? progress?.keys?.operator.address
    if (sharedOperator && fixed && !isAddressEqual(getAddress(fixed), sharedOperator.address)) {
      problems.push(`its operator is ${fixed}, fixed when its keys were made; ${p.operatorKeystore} holds ${sharedOperator.address}. Leave the operator key out for this agent.`)
    }
  }
  if (problems.length > 0 || !built || !model || !parsedPolicy.success) throw refuse(problems)

  const policy = parsedPolicy.data
  const ethBond = p.agent.bond.eth
  const tokenBond = p.agent.bond.token
  const ownerAddress = getAddress(p.owner.walletClient.account.address)
  const { chainId, contracts } = p.owner.deployment
  const onThisChain = (x: { chainId: number; agentRegistry: string }) => x.chainId === chainId && isAddressEqual(getAddress(x.agentRegistry), contracts.agentRegistry)
  const common = { name, built, code, modelDigest: model.digest as Hex, policy, ownerAddress, progressFile, sharedOperator }
  // a run that wrote the record and stopped before removing its progress had finished
  const staleProgress = !!progress && !!record && onThisChain(record) && progress.agentId === record.agentId
  if (staleProgress) progress = undefined

  if (progress) {
    if (!onThisChain(progress)) {
      throw refuse([`an unfinished deploy of ${name} on another chain (${progress.chainId}, registry ${progress.agentRegistry}) is kept in ${progressFile}.`], [
        'Finish it there (deploy with that chain\'s --rpc and --deployment), or use another --data-dir for this chain.',
      ])
    }
    if (!isAddressEqual(progress.owner, ownerAddress)) {
      throw refuse([`an unfinished deploy of ${name} by owner ${progress.owner} is kept in ${progressFile}; this deploy acts as ${ownerAddress}.`], ['Deploy as that owner (its --keystore) to finish it.'])
    }
    if (record && onThisChain(record)) {
      throw refuse([`${name} has both an agent record (agent #${record.agentId}) and an unfinished deploy (${progressFile}) on this chain.`], [
        'Check on chain which agent is the one to keep, and move the other file away.',
      ])
    }
  } else if (record && !onThisChain(record)) {
    throw refuse([`${name} is already deployed from this data dir on another chain (${record.chainId}, registry ${record.agentRegistry}); its keys are in ${keyDir}.`], ['Use another --data-dir for this chain.'])
  }

  if (!progress && record) {
    if (record.manifestHash === built.manifestHash) return { ...common, kind: 'unchanged', record, staleProgress }
    const onChain = await getAgent(p.owner, BigInt(record.agentId))
    const upgradeProblems: string[] = []
    if (!isAddressEqual(onChain.owner, ownerAddress)) upgradeProblems.push(`agent #${record.agentId} is owned by ${onChain.owner}; only its owner proposes an upgrade, and this deploy acts as ${ownerAddress}.`)
    if (onChain.openDisputes > 0) upgradeProblems.push(`agent #${record.agentId} has ${onChain.openDisputes} open dispute(s); an upgrade can be proposed once they are settled.`)
    if (onChain.pendingVersion !== 0) {
      const pending = await getAgentVersion(p.owner, BigInt(record.agentId), onChain.pendingVersion)
      if (pending.manifestHash === built.manifestHash && upgradeProblems.length === 0) {
        return { ...common, kind: 'upgrade-pending', record, version: onChain.pendingVersion, readyAt: pending.readyAt, staleProgress }
      }
      upgradeProblems.push(`agent #${record.agentId} already has an upgrade pending (version ${onChain.pendingVersion}, another manifest); activate it (deploy --activate, once ready) before proposing the next.`)
    }
    if (upgradeProblems.length === 0) {
      const gas = await estimate('upgrade', () =>
        p.owner.publicClient.estimateContractGas({
          address: contracts.agentRegistry,
          abi: agentRegistryAbi,
          functionName: 'proposeUpdate',
          args: [BigInt(record.agentId), built.manifestHash, [model.digest as Hex], policyToContract(policy)],
          account: p.owner.walletClient.account,
        }),
      )
      if (typeof gas === 'string') upgradeProblems.push(gas)
      else {
        const short = await ethShortfall(p.owner, ownerAddress, 0n, gas)
        if (short) upgradeProblems.push(short)
      }
    }
    if (upgradeProblems.length > 0) throw refuse(upgradeProblems)
    return { ...common, kind: 'upgrade', record, staleProgress }
  }

  // A new agent, or the rest of an earlier run of this deploy.
  const keys = progress?.keys
  const keyProblems: string[] = []
  const leftoverKeys = keys ? {} : readLeftoverKeys(keyDir, keyProblems)
  if (keyProblems.length > 0) throw refuse(keyProblems)
  const resumeProblems: string[] = []
  let registered: { agentId: bigint; account: Address } | undefined =
    progress?.agentId !== undefined && progress.account !== undefined ? { agentId: BigInt(progress.agentId), account: getAddress(progress.account) } : undefined
  if (!registered && keys) {
    // the register transaction may have been mined after the run stopped, before it noted the id
    const found = await findRegistration(p.owner, ownerAddress, { operator: keys.operator.address, wallet: keys.wallet.address })
    if (found && found.manifestHash !== built.manifestHash) {
      resumeProblems.push(`agent #${found.agentId} was registered with these keys by an earlier run of this deploy from another version of the agent (manifest ${found.manifestHash.slice(0, 18)}…), and that deploy did not finish.`)
    } else if (found) registered = { agentId: found.agentId, account: found.account }
  }
  if (registered && progress && progress.manifestHash !== built.manifestHash) {
    resumeProblems.push(`agent #${registered.agentId} was registered by an earlier run of this deploy from another version of the agent (manifest ${progress.manifestHash.slice(0, 18)}…), and that deploy did not finish.`)
  }
  if (resumeProblems.length > 0) {
    throw refuse(resumeProblems, [
      'Deploy the version that registered it to finish that deploy; this version then deploys as an upgrade.',
      `To leave that agent as it is and start anew instead, move ${progressFile} and ${keyDir} away.`,
    ])
  }
  if (progress?.nextNonce !== undefined) {
    const [mined, pending] = await Promise.all([
      p.owner.publicClient.getTransactionCount({ address: ownerAddress, blockTag: 'latest' }),
      p.owner.publicClient.getTransactionCount({ address: ownerAddress, blockTag: 'pending' }),
    ])
    if (mined <= progress.nextNonce && pending > progress.nextNonce) {
      throw refuse([`a transaction the earlier run of this deploy sent (owner nonce ${progress.nextNonce}) is not mined yet.`], ['Wait until it is mined (or dropped), then deploy again: sending its step again now could do it twice.'])
    }
  }

  // The owner pays what is left: the bond, the funding, and gas.
  const bondNow = registered ? await getBond(p.owner, registered.agentId) : { eth: 0n, token: 0n }
  const ethLeft = progress?.bonded ? 0n : max0(ethBond - bondNow.eth)
  const tokenLeft = progress?.bonded ? 0n : max0(tokenBond - bondNow.token)
  const targets = progress?.funded ? [] : fundingTargets(p, keys?.operator.address, keys?.wallet.address, registered?.account)
  let fundingLeft = 0n
  for (const t of targets) fundingLeft += t.address ? max0(t.amount - (await p.owner.publicClient.getBalance({ address: t.address }))) : t.amount
  const registerGas = registered
    ? 0n
    : await estimate('registration', () =>
        // the keys not made yet stand in as the owner's address
        p.owner.publicClient.estimateContractGas({
          address: contracts.agentRegistry,
          abi: agentRegistryAbi,
          functionName: 'register',
          args: [ownerAddress, ownerAddress, built.manifestHash, [model.digest as Hex], policyToContract(policy), BigInt(Math.max(params.minPolicyDelay, policy.challengeWindow))],
          account: p.owner.walletClient.account,
        }),
      )
  if (typeof registerGas === 'string') throw refuse([registerGas])
  const gas =
    registerGas +
    (ethLeft > 0n ? DEPLOY_GAS.depositEth : 0n) +
    (tokenLeft > 0n ? DEPLOY_GAS.depositToken + (p.mintDevToken ? DEPLOY_GAS.mint : 0n) : 0n) +
    BigInt(targets.length) * DEPLOY_GAS.transfer +
    (p.owner.deployment.erc8004 && !progress?.identityDone ? DEPLOY_GAS.identity : 0n)
  const fundProblems: string[] = []
  const short = await ethShortfall(p.owner, ownerAddress, ethLeft + fundingLeft, gas, { bond: ethLeft, funding: fundingLeft })
  if (short) fundProblems.push(short)
  if (tokenLeft > 0n && !p.mintDevToken) {
    const tokens = await p.owner.publicClient.readContract({ address: contracts.bondToken, abi: testTokenAbi, functionName: 'balanceOf', args: [ownerAddress] })
    if (tokens < tokenLeft) fundProblems.push(`the owner ${ownerAddress} holds ${tokens} bond tokens; the bond needs ${tokenLeft}.`)
  }
  if (fundProblems.length > 0) {
    throw refuse(fundProblems, ['Lower the bond (bond.eth / bond.token in the agent file) or send the owner what is missing, then deploy again.'])
  }
  return { ...common, kind: 'register', progress, leftoverKeys, registered }
}

/** Who a deploy funds and with how much: gas money for the operator and signer keys, the agent's funds for its account. */
export function fundingTargets<A extends Address | undefined>(p: Pick<DeployAgentParameters, 'fund'>, operator: A, wallet: A, account: A) {
  return (
    [
      { who: 'operator', address: operator, amount: p.fund?.operator ?? 0n },
      { who: 'signer', address: wallet, amount: p.fund?.signer ?? 0n },
      { who: 'account', address: account, amount: p.fund?.account ?? 0n },
    ] as const
  ).filter((t) => t.amount > 0n)
}

/** The gas of a registry call as estimated on the node (with a fifth more), or why the registry would refuse it. */
async function estimate(what: 'registration' | 'upgrade', run: () => Promise<bigint>): Promise<bigint | string> {
  try {
    return ((await run()) * 12n) / 10n
  } catch (err) {
    // a revert is the registry's answer; anything else (the node unreachable) is not
    const reverted = err instanceof ViemBaseError && err.walk((e) => e instanceof ContractFunctionRevertedError) !== null
    if (!reverted) throw err
    return `the registry would refuse this ${what}: ${firstLine(err)}.`
  }
}

async function ethShortfall(owner: CovenantWriteClient, address: Address, value: bigint, gas: bigint, parts?: { bond: bigint; funding: bigint }): Promise<string | undefined> {
  const [balance, gasPrice] = await Promise.all([owner.publicClient.getBalance({ address }), owner.publicClient.getGasPrice()])
  const fee = gas * gasPrice
  if (balance >= value + fee) return undefined
  const breakdown = parts ? ` (bond ${formatEther(parts.bond)} + funding ${formatEther(parts.funding)} + gas about ${formatEther(fee)})` : ` (gas about ${formatEther(fee)})`
  return `the owner ${address} holds ${formatEther(balance)} ETH; this deploy needs ${formatEther(value + fee)} ETH${breakdown}.`
}

/**
 * Keystores left in the agent's key dir by a run that stopped before it noted them. They
 * were never registered (registering comes after noting them), so they are used again
 * rather than replaced; an unreadable one is a problem to fix by hand.
 */
function readLeftoverKeys(keyDir: string, problems: string[]): { operator?: DeployKey | undefined; wallet?: DeployKey | undefined } {
  const read = (file: string): DeployKey | undefined => {
    const path = join(keyDir, file)
    if (!existsSync(path)) return undefined
    try {
      const address = keystoreAddress(parseKeystore(JSON.parse(readFileSync(path, 'utf8')), path))
      if (address) return { address, keystore: path }
    } catch {
      // reported below
    }
    problems.push(`${path} is there but is not a keystore with an address; move it away (it may hold a key).`)
    return undefined
  }
  return { operator: read('operator.json'), wallet: read('wallet.json') }
}

const registeredEvent = z.object({ agentId: z.bigint(), operator: z.string(), wallet: z.string(), manifestHash: z.string(), account: z.string() })

/**
 * The agent `owner` registered with these operator and signer keys, if any. The signer key is
 * made fresh for each agent, so at most one matches; the operator key alone would not do, as
 * agents may share one (`operatorKeystore`).
 */
export async function findRegistration(
  client: CovenantClient,
  owner: Address,
  keys: { operator: Address; wallet: Address },
): Promise<{ agentId: bigint; account: Address; manifestHash: Hex } | undefined> {
  const logs = await client.publicClient.getContractEvents({
    address: client.deployment.contracts.agentRegistry,
    abi: agentRegistryAbi,
    eventName: 'AgentRegistered',
    args: { owner },
    fromBlock: client.deployment.deployedAtBlock,
    toBlock: 'latest',
  })
  for (const log of logs) {
    const e = registeredEvent.safeParse(log.args)
    if (e.success && isAddressEqual(e.data.operator as Address, keys.operator) && isAddressEqual(e.data.wallet as Address, keys.wallet)) {
      return { agentId: e.data.agentId, account: getAddress(e.data.account), manifestHash: e.data.manifestHash as Hex }
    }
  }
  return undefined
}

function max0(x: bigint): bigint {
  return x > 0n ? x : 0n
}
