import { join } from 'node:path'
import { bytesToHex, formatEther, parseEther, type Address, type Hex, type LocalAccount } from 'viem'
import type { AgentDefinition } from '../agent/defineAgent.js'
import { buildManifest, type BuiltManifest } from '../agent/manifest.js'
import type { CovenantWriteClient } from '../bonds/client.js'
import { registerAgent } from '../bonds/actions/registerAgent.js'
import { depositBond } from '../bonds/actions/depositBond.js'
import { getAgent } from '../bonds/actions/getAgent.js'
import { getBond } from '../bonds/actions/getBond.js'
import { proposeUpdate } from '../bonds/actions/updateAgent.js'
import { registerCovenantIdentity } from '../bonds/erc8004/registerCovenantIdentity.js'
import { testTokenAbi } from '../bonds/generated/abis.js'
import type { DAClient } from '../da/client.js'
import { createKeystore, loadKeystore, saveKeystore, type ScryptParams } from '../wallet/keystore.js'
import { agentKeyDir, agentRecordFile, saveAgentRecord, type AgentRecord } from './agentRecord.js'
import { checkDeploy, fundingTargets, type CheckedDeploy, type DeployKey } from './deployChecks.js'
import { removeDeployProgress, writeDeployProgress, type DeployProgress } from './deployProgress.js'
import { DeployAgentError, DeployInterruptedError } from './errors.js'

export type DeployAgentParameters = {
  /** Acts as the agent's owner (registers it and posts the bond). */
  owner: CovenantWriteClient
  da: DAClient
  dataDir: string
  agent: AgentDefinition
  /**
   * The agent's source file: bundled (src/agent/bundle.ts), the bundle put on DA, and its
   * hash and commitment registered in the manifest (`codeHash`, `codeBundle`), so verifiers
   * can replay the agent's own logic. Without it the agent registers no code.
   */
  source?: string | undefined
  /** Encrypts the operator and wallet keystores created for the agent. */
  password: string
  /**
   * An operator keystore to register the agent with (it must open with `password`) instead
   * of a new key: agents that share an operator and are hosted by one worker commit their
   * batches in shared TraceLog bundles (CommitBundler). The operator is fixed at registration.
   */
  operatorKeystore?: string | undefined
  /** scrypt cost of new keystores. @defaultValue the standard cost */
  scrypt?: Partial<ScryptParams> | undefined
  /**
   * Sent from the owner (dev chains): gas money to the operator and to the signer key, and
   * the agent's own funds to its AgentAccount — each topped up to this amount. @defaultValue 0 each
   */
  fund?: { operator?: bigint | undefined; signer?: bigint | undefined; account?: bigint | undefined } | undefined
  /** Mint the dev bond token for a token bond (dev TestToken only). @defaultValue false */
  mintDevToken?: boolean | undefined
  /** The inference container's measurement, from its attestation. */
  inferenceMeasurement?: Hex | undefined
  endpoints?: readonly string[] | undefined
  onProgress?: ((message: string) => void) | undefined
}

/** The steps of deploying a new agent, in order. */
export const DEPLOY_STEPS = ['manifest', 'keys', 'register', 'bond', 'fund', 'identity', 'record'] as const
export type DeployStep = (typeof DEPLOY_STEPS)[number]
/** `done` by this run, `done-earlier` by an earlier run of the same deploy, `not-needed` (no bond, no funding). */
export type DeployStepStatus = 'done' | 'done-earlier' | 'not-needed'

export type DeployAgentReturnType = {
  record: AgentRecord
  recordFile: string
  /** `registered` (new), `unchanged`, or `upgrade-proposed` (activates after the policy delay). */
  outcome: 'registered' | 'unchanged' | 'upgrade-proposed'
  readyAt: number | undefined
  /** What each step of a new agent's deploy came to (empty for `unchanged` and upgrades). */
  steps: ReadonlyArray<{ step: DeployStep; status: DeployStepStatus }>
}

const TO_DO: Record<DeployStep, string> = {
  manifest: 'put the manifest on DA',
  keys: 'create the operator and signer keys',
  register: 'register the agent on chain',
  bond: 'deposit the bond',
  fund: 'fund the operator, signer and account',
  identity: "register the agent's ERC-8004 identity",
  record: 'write the agent record',
}

/**
 * Deploys an agent, all or nothing from the user's point of view. First everything is
 * checked ({@link checkDeploy}: name, model, policy within the chain's bounds, bond and
 * funding against the owner's balance, the data dir): a refusal writes nothing. Then the
 * manifest goes on DA, operator and signer keys are created as encrypted keystores under
 * `<dataDir>/agents/<name>/`, the agent is registered with the manifest hash, model digests
 * and policy, its bond is posted, its keys and account are funded, it gets its ERC-8004
 * identity when the deployment has the registries (agentURI: its registration file, naming
 * the manifest on DA; agentWallet: its AgentAccount), and its record is written.
 * After each step the progress is written to `<dataDir>/agents/<name>.deploy.json`: a deploy
 * that stopped part-way throws {@link DeployInterruptedError} saying what was done and what
 * was not, and the same deploy run again resumes — never a second agent, never a second
 * bond. Re-deploying a changed agent proposes an upgrade that activates only after the
 * agent's policy delay.
 */
export async function deployAgent(p: DeployAgentParameters): Promise<DeployAgentReturnType> {
  const say = p.onProgress ?? (() => {})
  const c = await checkDeploy(p)
  if (c.kind !== 'register' && c.staleProgress) removeDeployProgress(p.dataDir, c.name)
  switch (c.kind) {
    case 'unchanged':
      say(`${c.name} is deployed as agent #${c.record.agentId} with this manifest already: nothing to do`)
      return { record: c.record, recordFile: agentRecordFile(p.dataDir, c.name), outcome: 'unchanged', readyAt: undefined, steps: [] }
    case 'upgrade-pending': {
      say(`upgrade to version ${c.version} with this manifest was proposed already; it can be activated at ${new Date(c.readyAt * 1000).toISOString()}`)
      const record = { ...c.record, pendingVersion: c.version }
      const recordFile = c.record.pendingVersion === c.version ? agentRecordFile(p.dataDir, c.name) : await saveAgentRecord(p.dataDir, record)
      return { record, recordFile, outcome: 'upgrade-proposed', readyAt: c.readyAt, steps: [] }
    }
    case 'upgrade':
      return proposeUpgrade(p, c)
    case 'register':
      return registerNew(p, c)
  }
}

async function proposeUpgrade(p: DeployAgentParameters, checked: CheckedDeploy & { kind: 'upgrade' }): Promise<DeployAgentReturnType> {
  let c = checked
  const say = p.onProgress ?? (() => {})
  const done: string[] = []
  let step = TO_DO.manifest
  try {
    const { built, code } = await putCode(p, c)
    c = { ...c, built }
    const manifestCommitment = bytesToHex(await p.da.put(c.built.bytes))
    done.push('manifest on DA')
    step = 'propose the upgrade on chain'
    const r = await proposeUpdate(p.owner, { agentId: BigInt(c.record.agentId), manifestHash: c.built.manifestHash, modelDigests: [c.modelDigest], policy: c.policy })
    done.push(`upgrade to version ${r.version} proposed`)
    step = TO_DO.record
    const record = { ...c.record, pendingVersion: r.version, manifestCommitment, manifestHash: c.record.manifestHash, code }
    const recordFile = await saveAgentRecord(p.dataDir, record)
    say(`upgrade to version ${r.version} proposed; it can be activated at ${new Date(r.readyAt * 1000).toISOString()}`)
    return { record, recordFile, outcome: 'upgrade-proposed', readyAt: r.readyAt, steps: [] }
  } catch (cause) {
    const all = [TO_DO.manifest, 'propose the upgrade on chain', TO_DO.record]
    throw new DeployInterruptedError({ agent: c.name, step, done, notDone: all.slice(all.indexOf(step)), progressFile: undefined, cause })
  }
}

async function registerNew(p: DeployAgentParameters, checked: CheckedDeploy & { kind: 'register' }): Promise<DeployAgentReturnType> {
  let c = checked
  const say = p.onProgress ?? (() => {})
  const owner = p.owner
  const ownerAddress: Address = c.ownerAddress
  const statuses: Array<{ step: DeployStep; status: DeployStepStatus }> = []
  const done: string[] = []
  const finish = (step: DeployStep, status: DeployStepStatus, what: string) => {
    statuses.push({ step, status })
    if (status !== 'not-needed') done.push(status === 'done-earlier' ? `${what} (by an earlier run)` : what)
    say(status === 'done-earlier' ? `${what} (done by an earlier run)` : what)
  }
  let progress: DeployProgress | undefined = c.progress
  let progressWritten = !!progress
  const save = async (next: DeployProgress) => {
    progress = { ...next, updatedAt: Date.now() }
    await writeDeployProgress(p.dataDir, progress)
    progressWritten = true
    return progress
  }
  /** Notes the owner's next nonce before a transaction, so a re-run can tell when it is still pending. */
  const noteNonce = async (at: DeployProgress) => save({ ...at, nextNonce: await owner.publicClient.getTransactionCount({ address: ownerAddress, blockTag: 'pending' }) })

  let step: DeployStep = 'manifest'
  try {
    // the code bundle first: the manifest registers its commitment
    const { built, code } = await putCode(p, c)
    c = { ...c, built }
    // manifest: content-addressed, so putting it again (a resumed run) changes nothing
    const manifestCommitment = bytesToHex(await p.da.put(c.built.bytes))
    const now = Date.now()
    let at = await save({
      ...(progress ?? { version: 1, name: c.name, chainId: owner.deployment.chainId, agentRegistry: owner.deployment.contracts.agentRegistry, owner: ownerAddress, bonded: false, funded: false, identityDone: false, startedAt: now, updatedAt: now }),
      manifestHash: c.built.manifestHash,
      manifestCommitment,
      code,
    })
    finish(
      'manifest',
      'done',
      `manifest ${c.built.manifestHash.slice(0, 10)}… on DA (${c.built.bytes.length} bytes)${code ? `, code bundle ${code.hash.slice(0, 10)}… (${c.code?.bundle.bytes.length} bytes)` : ', no code bundle (no source file)'}`,
    )

    step = 'keys'
    let keys = at.keys
    if (keys) finish('keys', 'done-earlier', `operator ${keys.operator.address} and signer ${keys.wallet.address} keys`)
    else {
      const keyDir = agentKeyDir(p.dataDir, c.name)
      const operator = c.sharedOperator ?? c.leftoverKeys.operator ?? (await newKey(join(keyDir, 'operator.json'), p))
      const wallet = c.leftoverKeys.wallet ?? (await newKey(join(keyDir, 'wallet.json'), p))
      keys = { operator, wallet }
      at = await save({ ...at, keys })
      finish('keys', c.leftoverKeys.operator && c.leftoverKeys.wallet ? 'done-earlier' : 'done', `${c.sharedOperator ? `operator ${operator.address} (shared, ${operator.keystore})` : `operator ${operator.address}`} and signer ${wallet.address} keys created`)
    }

    step = 'register'
    let agentId: bigint
    let account: Address
    if (at.agentId !== undefined && at.account !== undefined) {
      agentId = BigInt(at.agentId)
      account = at.account
      finish('register', 'done-earlier', `registered as agent #${agentId} (account ${account})`)
    } else if (c.registered) {
      ;({ agentId, account } = c.registered)
      at = await save({ ...at, agentId: agentId.toString(), account })
      finish('register', 'done-earlier', `registered as agent #${agentId} (account ${account})`)
    } else {
      at = await noteNonce(at)
      agentId = (await registerAgent(owner, { operator: keys.operator.address, wallet: keys.wallet.address, manifestHash: c.built.manifestHash, modelDigests: [c.modelDigest], policy: c.policy })).agentId
      account = (await getAgent(owner, agentId)).account
      at = await save({ ...at, agentId: agentId.toString(), account })
      finish('register', 'done', `registered ${c.name} as agent #${agentId} (account ${account}, signer ${keys.wallet.address}, operator ${keys.operator.address})`)
    }

    step = 'bond'
    const bonds = p.agent.bond.eth > 0n || p.agent.bond.token > 0n
    if (at.bonded) finish('bond', bonds ? 'done-earlier' : 'not-needed', bonds ? 'bond deposited' : 'no bond')
    else {
      const held = await getBond(owner, agentId)
      const ethLeft = max0(p.agent.bond.eth - held.eth)
      const tokenLeft = max0(p.agent.bond.token - held.token)
      const what = `bonded ${formatEther(p.agent.bond.eth)} ETH${p.agent.bond.token > 0n ? ` + ${p.agent.bond.token} tokens` : ''}`
      if (ethLeft > 0n || tokenLeft > 0n) {
        const toMint = p.mintDevToken ? await devTokensToMint(owner, ownerAddress, tokenLeft) : 0n
        if (toMint > 0n) {
          at = await noteNonce(at)
          const token = owner.deployment.contracts.bondToken
          const hash = await owner.walletClient.writeContract({ address: token, abi: testTokenAbi, functionName: 'mint', args: [ownerAddress, toMint] })
          await owner.publicClient.waitForTransactionReceipt({ hash })
        }
        at = await noteNonce(at)
        await depositBond(owner, { agentId, eth: ethLeft, token: tokenLeft })
        at = await save({ ...at, bonded: true })
        finish('bond', 'done', what)
      } else {
        at = await save({ ...at, bonded: true })
        finish('bond', bonds ? 'done-earlier' : 'not-needed', bonds ? what : 'no bond')
      }
    }

    step = 'fund'
    const targets = fundingTargets(p, keys.operator.address, keys.wallet.address, account)
    if (at.funded) finish('fund', targets.length ? 'done-earlier' : 'not-needed', targets.length ? 'funded' : 'no funding asked')
    else if (targets.length === 0) {
      at = await save({ ...at, funded: true })
      finish('fund', 'not-needed', 'no funding asked')
    } else {
      const sent: string[] = []
      for (const t of targets) {
        // topped up to the amount: a transfer an earlier run made is not made twice (the keys and the account are new and unused until the record exists)
        const left = max0(t.amount - (await owner.publicClient.getBalance({ address: t.address })))
        if (left === 0n) continue
        at = await noteNonce(at)
        const hash = await owner.walletClient.sendTransaction({ to: t.address, value: left, account: owner.walletClient.account, chain: owner.walletClient.chain })
        const receipt = await owner.publicClient.waitForTransactionReceipt({ hash })
        if (receipt.status !== 'success') throw new DeployAgentError(`The transfer of ${formatEther(left)} ETH to the ${t.who} (${t.address}) reverted (${hash}).`)
        sent.push(`${t.who} ${formatEther(left)} ETH`)
      }
      at = await save({ ...at, funded: true })
      finish('fund', sent.length ? 'done' : 'done-earlier', sent.length ? `funded ${sent.join(', ')}` : 'funded')
    }

    step = 'identity'
    if (!owner.deployment.erc8004) finish('identity', 'not-needed', 'no ERC-8004 registries on this deployment: no identity')
    else if (at.identityDone && at.erc8004AgentId !== undefined) finish('identity', 'done-earlier', `ERC-8004 identity #${at.erc8004AgentId}`)
    else {
      const r = await registerCovenantIdentity(owner, {
        agentId,
        name: c.name,
        description: `Covenant agent ${c.name}: bonded, every step committed to DA, faults disputable.`,
        manifestHash: c.built.manifestHash,
        manifestCommitment,
        erc8004AgentId: at.erc8004AgentId !== undefined ? BigInt(at.erc8004AgentId) : undefined,
        beforeSend: async () => {
          at = await noteNonce(at)
        },
        onRegistered: async (id) => {
          at = await save({ ...at, erc8004AgentId: id.toString() })
        },
      })
      at = await save({ ...at, erc8004AgentId: r.erc8004AgentId.toString(), identityDone: true })
      finish('identity', r.sent.length ? 'done' : 'done-earlier', `ERC-8004 identity #${r.erc8004AgentId} (agentWallet ${account}; agentURI: its registration file, naming the manifest on DA)`)
    }

    step = 'record'
    const onChain = await getAgent(owner, agentId)
    const record: AgentRecord = {
      version: 1,
      name: c.name,
      agentId: agentId.toString(),
      chainId: owner.deployment.chainId,
      agentRegistry: owner.deployment.contracts.agentRegistry,
      manifestHash: c.built.manifestHash,
      manifestCommitment,
      policyVersion: onChain.activeVersion,
      pendingVersion: null,
      source: p.source ?? null,
      code: at.code ?? null,
      owner: ownerAddress,
      operator: keys.operator,
      wallet: keys.wallet,
      deployedAt: Date.now(),
      ...(at.erc8004AgentId !== undefined ? { erc8004AgentId: at.erc8004AgentId } : {}),
    }
    const recordFile = await saveAgentRecord(p.dataDir, record)
    removeDeployProgress(p.dataDir, c.name)
    finish('record', 'done', `record written to ${recordFile}`)
    return { record, recordFile, outcome: 'registered', readyAt: undefined, steps: statuses }
  } catch (cause) {
    throw new DeployInterruptedError({
      agent: c.name,
      step: TO_DO[step],
      done,
      notDone: DEPLOY_STEPS.slice(DEPLOY_STEPS.indexOf(step)).map((s) => TO_DO[s]),
      progressFile: progressWritten ? c.progressFile : undefined,
      cause,
    })
  }
}

/**
 * Puts the agent's code bundle on DA (unless an earlier run did: the same bytes keep their
 * commitment) and returns the manifest that registers it — rebuilt when DA answered another
 * commitment than the one the checks assumed.
 */
async function putCode(p: DeployAgentParameters, c: CheckedDeploy): Promise<{ built: BuiltManifest; code: { hash: Hex; commitment: Hex } | null }> {
  if (!c.code) return { built: c.built, code: null }
  const { bundle } = c.code
  const commitment = c.code.onDA ? c.code.commitment : bytesToHex(await p.da.put(bundle.bytes))
  const built =
    commitment.toLowerCase() === c.code.commitment.toLowerCase()
      ? c.built
      : buildManifest(p.agent, { modelDigests: { [c.built.manifest.model.name]: c.modelDigest }, inferenceMeasurement: p.inferenceMeasurement, endpoints: p.endpoints, code: { bundle, commitment } })
  return { built, code: { hash: bundle.codeHash, commitment } }
}

/** Dev bond tokens to mint so the owner holds `needed`: none when an earlier run minted them already. */
async function devTokensToMint(owner: CovenantWriteClient, ownerAddress: Address, needed: bigint): Promise<bigint> {
  if (needed === 0n) return 0n
  const held = await owner.publicClient.readContract({ address: owner.deployment.contracts.bondToken, abi: testTokenAbi, functionName: 'balanceOf', args: [ownerAddress] })
  return max0(needed - held)
}

async function newKey(path: string, p: DeployAgentParameters): Promise<DeployKey> {
  const { keystore, address } = await createKeystore({ password: p.password, scrypt: p.scrypt })
  await saveKeystore(path, keystore)
  return { address, keystore: path }
}

function max0(x: bigint): bigint {
  return x > 0n ? x : 0n
}

/** Opens one of an agent's keystores. */
export async function openAgentKey(path: string, password: string): Promise<LocalAccount> {
  return loadKeystore(path, { password })
}

/** Dev chains: gas money for the operator and the signer key; the agent's funds go to its account. */
export const DEV_FUNDING = { operator: parseEther('1'), signer: parseEther('0.5'), account: parseEther('5') } as const
