import type { Hex } from 'viem'
import type { DAClient, DAHealth } from './client.js'
import { type Commitment, commitmentToHex, parseCommitment } from './commitment.js'
import { AllDAClientsFailedError, BlobNotFoundError, DAResponseError, DAUnavailableError } from './errors.js'
import { BaseError } from '../errors/base.js'

export type FailoverDAClientOptions = {
  /** Called each time a client fails and the next one is tried. */
  onFailover?: ((event: { operation: 'put' | 'get'; client: string; error: unknown }) => void) | undefined
}

/**
 * Several DA clients in order of preference. `put` goes to the first that is available: it
 * moves on only for {@link DAUnavailableError} (eigenda-proxy's 503 failover signal, a
 * timeout, a refused connection) or a server that answers nonsense ({@link DAResponseError});
 * a blob that is too large or a rejected request fails at once, as it would everywhere.
 * `get` tries every client until one returns a blob that checks out — another replica may
 * hold a good copy of what one lacks or has damaged. If none has it, a BlobNotFoundError
 * from all of them stays a BlobNotFoundError (the data is missing, not the servers down).
 */
export class FailoverDAClient implements DAClient {
  readonly name: string
  readonly clients: readonly DAClient[]
  readonly #onFailover: FailoverDAClientOptions['onFailover']

  constructor(clients: readonly DAClient[], options: FailoverDAClientOptions = {}) {
    if (clients.length === 0) throw new AllDAClientsFailedError({ operation: 'setup', errors: [] })
    this.clients = [...clients]
    this.name = `failover(${clients.map((c) => c.name).join(', ')})`
    this.#onFailover = options.onFailover
  }

  async put(blob: Uint8Array): Promise<Commitment> {
    const errors: { client: string; error: unknown }[] = []
    for (const client of this.clients) {
      try {
        return await client.put(blob)
      } catch (error) {
        if (!(error instanceof DAUnavailableError || error instanceof DAResponseError)) throw error
        errors.push({ client: client.name, error })
        this.#onFailover?.({ operation: 'put', client: client.name, error })
      }
    }
    throw new AllDAClientsFailedError({ operation: 'put', errors })
  }

  async get(input: Commitment | Hex): Promise<Uint8Array> {
    const commitment = parseCommitment(input)
    const errors: { client: string; error: unknown }[] = []
    for (const client of this.clients) {
      try {
        return await client.get(commitment)
      } catch (error) {
        if (!(error instanceof BaseError)) throw error
        errors.push({ client: client.name, error })
        this.#onFailover?.({ operation: 'get', client: client.name, error })
      }
    }
    if (errors.every((e) => e.error instanceof BlobNotFoundError)) {
      throw new BlobNotFoundError({ commitment: commitmentToHex(commitment), where: this.name })
    }
    throw new AllDAClientsFailedError({ operation: 'get', errors })
  }

  async health(): Promise<DAHealth> {
    const all = await Promise.all(this.clients.map(async (c) => ({ name: c.name, ...(await c.health()) })))
    const up = all.filter((h) => h.ok).length
    return { ok: up > 0, detail: `${up}/${all.length} up: ${all.map((h) => `${h.name} ${h.ok ? 'ok' : h.detail}`).join('; ')}` }
  }
}
