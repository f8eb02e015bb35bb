import { bytesToHex, hexToBytes, type Hex } from 'viem'
import { getPublishedBlob, type CovenantClient } from '../bonds/index.js'
import { isLocalCommitment, type Commitment, type DAClient } from '../da/index.js'

/**
 * A DA client that, when its DA layer cannot serve a local commitment's blob, looks for the
 * blob on chain: published there by whoever answered a DataWithheld challenge
 * (DisputeGame's `DataPublished`, checked against the commitment's sha256). So a blob that
 * was withheld from DA and then answered on chain is readable by every verifier, and the
 * batch is checked like any other.
 */
export function withPublishedBlobs<T extends Pick<DAClient, 'get'>>(client: CovenantClient, da: T): T {
  const get = async (commitment: Commitment | Hex): Promise<Uint8Array> => {
    try {
      return await da.get(commitment)
    } catch (err) {
      const bytes = typeof commitment === 'string' ? hexToBytes(commitment.startsWith('0x') ? (commitment as Hex) : `0x${commitment}`) : commitment
      if (!isLocalCommitment(bytes)) throw err
      const blob = await getPublishedBlob(client, bytesToHex(bytes.subarray(1))).catch(() => undefined)
      if (blob) return blob
      throw err
    }
  }
  return new Proxy(da, {
    get(target, prop, receiver) {
      if (prop === 'get') return get
      const v = Reflect.get(target, prop, receiver) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}
