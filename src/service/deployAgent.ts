import { join } from 'node:path'
import { bytesToHex, parseEther, type Hex, type LocalAccount } from 'viem'
import { assertAgentName } from '../agent/agentName.js'
import { buildManifest } from '../agent/manifest.js'
import type { AgentDefinition } from '../agent/defineAgent.js'
import type { CovenantWriteClient } from '../bonds/client.js'
import { registerAgent } from '../bonds/actions/registerAgent.js'
import { depositBond } from '../bonds/actions/depositBond.js'
import { getAgent } from '../bonds/actions/getAgent.js'
import { proposeUpdate } from '../bonds/actions/updateAgent.js'
import { testTokenAbi } from '../bonds/generated/abis.js'
import type { DAClient } from '../da/client.js'
import { shippedModelStore } from '../inference/modelStore.js'
import { createKeystore, loadKeystore, saveKeystore, type ScryptParams } from '../wallet/keystore.js'
import { agentKeyDir, agentRecordFile, readAgentRecord, writeAgentRecord, type AgentRecord } from './agentRecord.js'
import { DeployAgentError } from './errors.js'

export type DeployAgentParameters = {
  /** Acts as the agent's owner (registers it and posts the bond). */
  owner: CovenantWriteClient
  da: DAClient
  dataDir: string
  agent: AgentDefinition
  /** The agent's source file, hashed into the manifest's codeHash. */
  source?: string | undefined
  /** Encrypts the operator and wallet keystores created for the agent. */
  password: string
  /** scrypt cost of new keystores. @defaultValue the standard cost */
  scrypt?: Partial<ScryptParams> | undefined
  /**
   * Sent from the owner (dev chains): gas money to the operator and to the signer key, and
   * the agent's own funds to its AgentAccount. @defaultValue 0 each
   */
  fund?: { operator?: bigint | undefined; signer?: bigint | undefined; account?: bigint | undefined } | undefined
  /** Mint the dev bond token for a token bond (dev TestToken only). @defaultValue false */
  mintDevToken?: boolean | undefined
  /** The inference container's measurement, from its attestation. */
  inferenceMeasurement?: Hex | undefined
  endpoints?: readonly string[] | undefined
  onProgress?: ((message: string) => void) | undefined
}

export type DeployAgentReturnType = {
  record: AgentRecord
  recordFile: string
  /** `registered` (new), `unchanged`, or `upgrade-proposed` (activates after the policy delay). */
  outcome: 'registered' | 'unchanged' | 'upgrade-proposed'
  readyAt: number | undefined
}

/**
 * Deploys an agent: builds its manifest, puts it on DA, registers the agent on chain with
 * the manifest hash, model digests and policy, and posts its bond. New operator and wallet
 * keys are created as encrypted keystores under `<dataDir>/agents/<name>/`. Re-deploying a
 * changed agent proposes an upgrade that activates only after the agent's policy delay.
 */
export async function deployAgent(p: DeployAgentParameters): Promise<DeployAgentReturnType> {
  const say = p.onProgress ?? (() => {})
  // The name becomes file names: it is checked, and its paths proven inside the data dir,
  // before anything is written (DA, files, chain). An agent object not made by defineAgent
  // (any module's export) gets the same check.
  assertAgentName(p.agent?.name)
  agentRecordFile(p.dataDir, p.agent.name)
  const keyDir = agentKeyDir(p.dataDir, p.agent.name)
  const store = shippedModelStore()
  const model = store.find(p.agent.model.model)
  if (!model) {
    throw new DeployAgentError(`The agent's model "${p.agent.model.model}" is not a known model.`, {
      metaMessages: [`Known models: ${store.list().map((m) => m.name).join(', ')}`],
    })
  }
  const built = buildManifest(p.agent, {
    modelDigests: { [p.agent.model.model]: model.digest },
    inferenceMeasurement: p.inferenceMeasurement,
    endpoints: p.endpoints,
    source: p.source,
  })
  const manifestCommitment = bytesToHex(await p.da.put(built.bytes))
  say(`manifest ${built.manifestHash.slice(0, 10)}… on DA (${built.bytes.length} bytes)`)

  const chainId = p.owner.deployment.chainId
  const existing = readAgentRecord(p.dataDir, p.agent.name)
  if (existing && existing.chainId === chainId && existing.agentRegistry === p.owner.deployment.contracts.agentRegistry) {
    if (existing.manifestHash === built.manifestHash) {
      return { record: existing, recordFile: '', outcome: 'unchanged', readyAt: undefined }
    }
    const r = await proposeUpdate(p.owner, {
      agentId: BigInt(existing.agentId),
      manifestHash: built.manifestHash,
      modelDigests: [model.digest],
      policy: p.agent.policy,
    })
    const record = { ...existing, pendingVersion: r.version, manifestCommitment, manifestHash: existing.manifestHash }
    const recordFile = writeAgentRecord(p.dataDir, record)
    say(`upgrade to version ${r.version} proposed; it can be activated at ${new Date(r.readyAt * 1000).toISOString()}`)
    return { record, recordFile, outcome: 'upgrade-proposed', readyAt: r.readyAt }
  }

  const operator = await newKey(join(keyDir, 'operator.json'), p)
  const wallet = await newKey(join(keyDir, 'wallet.json'), p)
  const { agentId } = await registerAgent(p.owner, {
    operator: operator.address,
    wallet: wallet.address,
    manifestHash: built.manifestHash,
    modelDigests: [model.digest],
    policy: p.agent.policy,
  })
  const account = (await getAgent(p.owner, agentId)).account
  say(`registered ${p.agent.name} as agent #${agentId} (account ${account}, signer ${wallet.address}, operator ${operator.address})`)

  if (p.mintDevToken && p.agent.bond.token > 0n) {
    const hash = await p.owner.walletClient.writeContract({
      address: p.owner.deployment.contracts.bondToken,
      abi: testTokenAbi,
      functionName: 'mint',
      args: [p.owner.walletClient.account.address, p.agent.bond.token],
    })
    await p.owner.publicClient.waitForTransactionReceipt({ hash })
  }
  if (p.agent.bond.eth > 0n || p.agent.bond.token > 0n) {
    await depositBond(p.owner, { agentId, eth: p.agent.bond.eth, token: p.agent.bond.token })
    say(`bonded ${Number(p.agent.bond.eth) / 1e18} ETH${p.agent.bond.token > 0n ? ` + ${p.agent.bond.token} tokens` : ''}`)
  }
  for (const [who, amount] of [
    [operator.address, p.fund?.operator ?? 0n],
    [wallet.address, p.fund?.signer ?? 0n],
    [account, p.fund?.account ?? 0n],
  ] as const) {
    if (amount > 0n) {
      const hash = await p.owner.walletClient.sendTransaction({ to: who, value: amount, account: p.owner.walletClient.account, chain: p.owner.walletClient.chain })
      await p.owner.publicClient.waitForTransactionReceipt({ hash })
    }
  }
  const onChain = await getAgent(p.owner, agentId)
  const record: AgentRecord = {
    version: 1,
    name: p.agent.name,
    agentId: agentId.toString(),
    chainId,
    agentRegistry: p.owner.deployment.contracts.agentRegistry,
    manifestHash: built.manifestHash,
    manifestCommitment,
    policyVersion: onChain.activeVersion,
    pendingVersion: null,
    source: p.source ?? null,
    owner: p.owner.walletClient.account.address,
    operator: { address: operator.address, keystore: operator.keystore },
    wallet: { address: wallet.address, keystore: wallet.keystore },
    deployedAt: Date.now(),
  }
  const recordFile = writeAgentRecord(p.dataDir, record)
  return { record, recordFile, outcome: 'registered', readyAt: undefined }
}

async function newKey(path: string, p: DeployAgentParameters) {
  const { keystore, address } = await createKeystore({ password: p.password, scrypt: p.scrypt })
  await saveKeystore(path, keystore)
  return { address, keystore: path }
}

/** Opens one of an agent's keystores. */
export async function openAgentKey(path: string, password: string): Promise<LocalAccount> {
  return loadKeystore(path, { password })
}

/** Default gas money for agents on a dev chain. */
/** Dev chains: gas money for the operator and the signer key; the agent's funds go to its account. */
export const DEV_FUNDING = { operator: parseEther('1'), signer: parseEther('0.5'), account: parseEther('5') } as const
