import { hexToBytes, sha256, type Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'

const dataPublishedEvent = disputeGameAbi.find((e) => e.type === 'event' && e.name === 'DataPublished')!

/**
 * A blob someone published on chain to answer a DataWithheld challenge (DisputeGame's
 * `DataPublished` event), found by its sha256; undefined when none was published. The
 * bytes are checked against the hash, so a lying RPC answer is never returned.
 */
export async function getPublishedBlob(client: CovenantClient, blobSha256: Hex): Promise<Uint8Array | undefined> {
  const logs = await client.publicClient.getLogs({
    address: client.deployment.contracts.disputeGame,
    event: dataPublishedEvent,
    args: { blobSha256 },
    fromBlock: client.deployment.deployedAtBlock,
    toBlock: 'latest',
  })
  for (const log of logs) {
    const hex = (log.args as { blob?: Hex }).blob
    if (!hex) continue
    const blob = hexToBytes(hex)
    if (sha256(blob) === blobSha256.toLowerCase()) return blob
  }
  return undefined
}
