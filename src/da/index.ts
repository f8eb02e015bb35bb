// Data availability: where trace batches live. The embedded local store, a client for the
// eigenda-proxy REST API, failover across several, and a server that exposes a local store
// over the same API (`covenant da serve`).
export { MAX_BLOB_BYTES, MAX_BLOB_LENGTH, MAX_REQUEST_BODY_BYTES, encodedBlobLength, maxPayloadBytes } from './blobSize.js'
export type { DAClient, DAHealth } from './client.js'
export {
  EIGENDA_DA_LAYER,
  LOCAL_COMMITMENT_BYTES,
  LOCAL_COMMITMENT_VERSION,
  MAX_COMMITMENT_BYTES,
  OP_GENERIC_COMMITMENT_TYPE,
  OP_KECCAK_COMMITMENT_TYPE,
  commitmentMatches,
  commitmentToHex,
  fromGenericCommitment,
  isLocalCommitment,
  keccakCommitment,
  localCommitment,
  localCommitmentOf,
  matchesLocalCommitment,
  parseCommitment,
  toGenericCommitment,
} from './commitment.js'
export type { Commitment, CommitmentMode } from './commitment.js'
export { LocalDAStore } from './localStore.js'
export type { KeccakDAStore, LocalDAStoreOptions } from './localStore.js'
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
  InvalidDAOptionError,
  KeccakCommitmentMismatchError,
} from './errors.js'
