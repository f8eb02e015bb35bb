import type { Hex } from 'viem'
import type { Commitment } from './commitment.js'

export type DAHealth = {
  ok: boolean
  /** What was checked, or why it failed. */
  detail: string
}

/**
 * A data-availability layer: put a blob, get a commitment; give the commitment, get the
 * blob back, checked. Implementations: {@link LocalDAStore} (embedded default),
 * {@link EigenDAProxyClient} (any eigenda-proxy, or `covenant da serve`) and
 * {@link FailoverDAClient} (several of them in order).
 */
export interface DAClient {
  /** For messages: which store or server this is. */
  readonly name: string
  /** Stores `blob` (at most `MAX_BLOB_BYTES`, 16,252,897 bytes, by default) and returns its commitment. */
  put(blob: Uint8Array): Promise<Commitment>
  /** Returns the blob a commitment names; where the commitment allows, its hash is checked. */
  get(commitment: Commitment | Hex): Promise<Uint8Array>
  /** Whether the store can serve requests now. Never throws. */
  health(): Promise<DAHealth>
}
