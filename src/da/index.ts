// Data availability: where trace batches live. The embedded local store, a client for the
// eigenda-proxy REST API, failover across several, and a server that exposes a local store
// over the same API (`covenant da serve`).
export { MAX_BLOB_BYTES } from './client.js'
export type { DAClient, DAHealth } from './client.js'
export {
  LOCAL_COMMITMENT_BYTES,
  LOCAL_COMMITMENT_VERSION,
  MAX_COMMITMENT_BYTES,
  commitmentToHex,
  isLocalCommitment,
  localCommitment,
  matchesLocalCommitment,
  parseCommitment,
} from './commitment.js'
export type { Commitment } from './commitment.js'
export { LocalDAStore } from './localStore.js'
export type { LocalDAStoreOptions } from './localStore.js'
export { EigenDAProxyClient } from './eigendaProxyClient.js'
export type { EigenDAProxyClientOptions } from './eigendaProxyClient.js'
export { FailoverDAClient } from './failover.js'
export type { FailoverDAClientOptions } from './failover.js'
export { createDAApp, startDAServer } from './server.js'
export type { DAAppOptions, DAServer, StartDAServerOptions } from './server.js'
export {
  AllDAClientsFailedError,
  BlobCorruptedError,
  BlobNotFoundError,
  BlobTooLargeError,
  DARequestRejectedError,
  DAResponseError,
  DAServerListenError,
  DAUnavailableError,
  InvalidCommitmentError,
} from './errors.js'
