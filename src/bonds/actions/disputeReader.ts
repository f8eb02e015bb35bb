import type { CovenantClient } from '../client.js'
import { disputeGameAbi } from '../generated/abis.js'
import { isSettled } from './disputeKinds.js'
import { getDispute, type DisputeInfo } from './getDispute.js'

/**
 * Lists disputes for a long-running reader (the service API, the explorer) without reading
 * every dispute on every call: a settled dispute (slashed, rejected, expired) never changes,
 * so it is read once and kept; only open, decided and contested ones and new ids are read
 * again. Keyed by the DisputeGame address, so a reader that follows a fork's child game does
 * not mix the two games' disputes.
 */
export class DisputeReader {
  readonly #client: CovenantClient
  readonly #settled = new Map<string, DisputeInfo>()

  constructor(client: CovenantClient) {
    this.#client = client
  }

  /** Every dispute (or one agent's), oldest first; the same answer {@link listDisputes} gives. */
  async list(filter: { agentId?: bigint | undefined } = {}): Promise<DisputeInfo[]> {
    const game = this.#client.deployment.contracts.disputeGame
    const count = await this.#client.publicClient.readContract({ address: game, abi: disputeGameAbi, functionName: 'disputeCount' })
    const all = await Promise.all(
      Array.from({ length: Number(count) }, async (_, i) => {
        const key = `${game}:${i + 1}`
        const known = this.#settled.get(key)
        if (known) return known
        const d = await getDispute(this.#client, BigInt(i + 1))
        if (isSettled(d.status)) this.#settled.set(key, d)
        return d
      }),
    )
    return filter.agentId === undefined ? all : all.filter((d) => d.agentId === filter.agentId)
  }

  /** How many settled disputes are kept (for tests and `/health`). */
  get cached(): number {
    return this.#settled.size
  }
}
