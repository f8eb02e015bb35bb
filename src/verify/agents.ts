import { getAddress, type Hex } from 'viem'
import { agentRegistryAbi, getAgent, getAgentVersion, type AgentVersion, type CovenantClient, type GetAgentReturnType } from '../bonds/index.js'
import type { WalletStep } from '../trace/index.js'
import { BREACHES, evaluatePolicy, type Breach } from '../wallet/policy.js'

/**
 * What the verifier reads about agents from AgentRegistry, cached for one pass: a
 * version's rules never change, but `activeUntil` is set when the next version activates,
 * so the cache is cleared between passes ({@link AgentBook.clear}).
 */
export class AgentBook {
  readonly client: CovenantClient
  #agents = new Map<bigint, Promise<GetAgentReturnType>>()
  #versions = new Map<string, Promise<AgentVersion>>()

  constructor(client: CovenantClient) {
    this.client = client
  }

  clear(): void {
    this.#agents.clear()
    this.#versions.clear()
  }

  agent(agentId: bigint): Promise<GetAgentReturnType> {
    let p = this.#agents.get(agentId)
    if (!p) {
      p = getAgent(this.client, agentId)
      p.catch(() => this.#agents.delete(agentId))
      this.#agents.set(agentId, p)
    }
    return p
  }

  version(agentId: bigint, version: number): Promise<AgentVersion> {
    const key = `${agentId}/${version}`
    let p = this.#versions.get(key)
    if (!p) {
      p = getAgentVersion(this.client, agentId, version)
      p.catch(() => this.#versions.delete(key))
      this.#versions.set(key, p)
    }
    return p
  }

  /** Every version the agent has had (active, replaced or pending), oldest first. */
  async versions(agentId: bigint): Promise<AgentVersion[]> {
    const a = await this.agent(agentId)
    const count = Math.max(a.activeVersion, a.pendingVersion)
    return Promise.all(Array.from({ length: count }, (_, i) => this.version(agentId, i + 1)))
  }

  /** The version active at `timestamp` (unix seconds), if any. */
  async versionAt(agentId: bigint, timestamp: number): Promise<AgentVersion | undefined> {
    const all = await this.versions(agentId)
    return all.find((v) => v.activeFrom !== 0 && v.activeFrom <= timestamp && (v.activeUntil === 0 || v.activeUntil > timestamp))
  }

  /**
   * The model digests an inference in a batch committed at `committedAt` may use: those of
   * the version active then, and of any version replaced less than its commit deadline
   * before (an honest agent may still be committing steps it took under it).
   */
  async modelDigestsAt(agentId: bigint, committedAt: number): Promise<Set<Hex>> {
    const all = await this.versions(agentId)
    const out = new Set<Hex>()
    for (const v of all) {
      if (v.activeFrom === 0 || v.activeFrom > committedAt) continue
      if (v.activeUntil !== 0 && v.activeUntil + v.policy.commitDeadline <= committedAt) continue
      for (const d of v.modelDigests) out.add(d.toLowerCase() as Hex)
    }
    return out
  }

  /** `AgentRegistry.evaluate` as an eth_call: the chain's own judgement of a wallet step. */
  async evaluateOnChain(step: WalletStep, committedAt: number): Promise<Breach> {
    const r = await this.client.publicClient.readContract({
      address: this.client.deployment.contracts.agentRegistry,
      abi: agentRegistryAbi,
      functionName: 'evaluate',
      args: [BigInt(step.agentId), step.policyVersion, getAddress(step.to), BigInt(step.value), step.data, BigInt(committedAt)],
    })
    return BREACHES[Number(r)] ?? 'None'
  }
}

/**
 * `AgentRegistry.evaluate` off chain: the rules of the version a wallet step cites, as of
 * the time its batch was committed — unknown or not yet active, stale (replaced for longer
 * than its commit deadline), then the spending rules (`evaluatePolicy`).
 */
export function evaluateWalletStep(version: AgentVersion, step: WalletStep, committedAt: number): Breach {
  if (version.activeFrom === 0 || version.activeFrom > committedAt) return 'UnknownPolicy'
  if (version.activeUntil !== 0 && version.activeUntil + version.policy.commitDeadline <= committedAt) return 'StalePolicy'
  return evaluatePolicy(version.policy, { to: getAddress(step.to), value: BigInt(step.value), data: step.data })
}
