import { Redis } from 'ioredis'
import { isAddressEqual, recoverTypedDataAddress, type Address, type Hex } from 'viem'
import { verdictTypedData, type CovenantDeployment, type SignedVerdict } from '../bonds/index.js'

/**
 * Where verifiers gather signed verdicts so that any one of them can submit them together
 * (one transaction settles the dispute at quorum, and a verifier with no gas money still
 * counts). Entries are checked against their signature on the way out; the first verdict
 * a verifier publishes for a dispute is the one kept.
 */
export interface VerdictPool {
  publish(disputeId: bigint, verdict: SignedVerdict): Promise<void>
  /** The verdicts gathered for a dispute whose signatures recover to their verifier. */
  list(disputeId: bigint): Promise<SignedVerdict[]>
  close(): Promise<void>
}

async function valid(deployment: CovenantDeployment, disputeId: bigint, v: SignedVerdict): Promise<boolean> {
  try {
    const signer = await recoverTypedDataAddress({
      ...verdictTypedData(deployment, { disputeId, agentAtFault: v.agentAtFault }),
      signature: v.signature,
    })
    return isAddressEqual(signer, v.verifier as Address)
  } catch {
    return false
  }
}

/** A pool shared by the verifier nodes of one process (tests, a node running several keys). */
export function memoryVerdictPool(deployment: CovenantDeployment): VerdictPool {
  const pools = new Map<bigint, Map<string, SignedVerdict>>()
  return {
    async publish(disputeId, v) {
      let p = pools.get(disputeId)
      if (!p) pools.set(disputeId, (p = new Map()))
      const key = v.verifier.toLowerCase()
      if (!p.has(key)) p.set(key, v)
    },
    async list(disputeId) {
      const out: SignedVerdict[] = []
      for (const v of pools.get(disputeId)?.values() ?? []) if (await valid(deployment, disputeId, v)) out.push(v)
      return out
    },
    async close() {},
  }
}

/**
 * A pool in Redis, shared by verifier nodes on any number of machines. `namespace` should
 * tell chains apart that share a chain id and addresses (two dev chains started from the
 * same mnemonic do): the node uses the hash of the deployment block.
 */
export function redisVerdictPool(
  deployment: CovenantDeployment,
  redisUrl: string,
  options: { ttlSeconds?: number | undefined; namespace?: string | undefined } = {},
): VerdictPool {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false })
  redis.on('error', () => {})
  const ns = options.namespace ? `${options.namespace}:` : ''
  const key = (disputeId: bigint) => `covenant:verdicts:${deployment.chainId}:${deployment.contracts.disputeGame.toLowerCase()}:${ns}${disputeId}`
  return {
    async publish(disputeId, v) {
      const k = key(disputeId)
      await redis.hsetnx(k, v.verifier.toLowerCase(), JSON.stringify({ agentAtFault: v.agentAtFault, signature: v.signature, verifier: v.verifier }))
      await redis.expire(k, options.ttlSeconds ?? 14 * 86_400)
    },
    async list(disputeId) {
      const entries = await redis.hgetall(key(disputeId))
      const out: SignedVerdict[] = []
      for (const text of Object.values(entries)) {
        let v: SignedVerdict
        try {
          const raw = JSON.parse(text) as { agentAtFault: unknown; signature: unknown; verifier: unknown }
          if (typeof raw.agentAtFault !== 'boolean' || typeof raw.signature !== 'string' || typeof raw.verifier !== 'string') continue
          v = { agentAtFault: raw.agentAtFault, signature: raw.signature as Hex, verifier: raw.verifier as Hex }
        } catch {
          continue
        }
        if (await valid(deployment, disputeId, v)) out.push(v)
      }
      return out
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect())
    },
  }
}
