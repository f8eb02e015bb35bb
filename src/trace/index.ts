// Traces: steps, canonical bytes, the hash chain, leaves shared with the contracts, Merkle
// proofs, batch blobs and the write-ahead log. Upstream of wallet, da, bonds and verify:
// nothing here imports from them.
export {
  STEP_KINDS,
  addressSchema,
  batchSchema,
  bytes32Schema,
  hexBytesSchema,
  inferenceStepSchema,
  inputStepSchema,
  jsonValueSchema,
  outputStepSchema,
  safeUintSchema,
  stepSchema,
  toolOutcomeSchema,
  toolStepSchema,
  uint256StringSchema,
  walletStepSchema,
} from './schemas.js'
export type {
  Batch,
  InferenceStep,
  InputStep,
  JsonValue,
  OutputStep,
  Step,
  StepBody,
  StepKind,
  ToolOutcome,
  ToolStep,
  WalletStep,
} from './schemas.js'
export { MAX_JSON_DEPTH, canonicalBytes, canonicalize, decodeStep, encodeStep, parseCanonical } from './canonical.js'
export {
  STEP_TYPEHASH,
  WALLET_TX_TYPEHASH,
  ZERO_HASH,
  leafHash,
  stepLeaf,
  stepPayload,
  stepPayloadHash,
  walletPayloadHash,
} from './leaf.js'
export type { LeafParts, WalletTxFields } from './leaf.js'
export { TraceChain, genesisHead, linkStep, verifyChain } from './chain.js'
export type { ChainHead, VerifyChainOptions, VerifyChainReturnType } from './chain.js'
export {
  MAX_PROOF_LENGTH,
  buildMerkleTree,
  merkleProof,
  merkleRoot,
  processMerkleProof,
  verifyMerkleProof,
} from './merkle.js'
export type { MerkleTree } from './merkle.js'
export { MAX_BATCH_BYTES, batchRoot, decodeBatch, encodeBatch, splitIntoBatches } from './batch.js'
export type { DecodeBatchOptions, EncodeBatchOptions } from './batch.js'
export { ProcessLock } from './processLock.js'
export {
  MAX_WAL_RECORD_BYTES,
  TraceWal,
  committedCursorSchema,
  encodeWalRecord,
  initialCursor,
  readWalFile,
  scanWal,
  walPaths,
  writeFileAtomic,
} from './wal.js'
export type {
  BatchRef,
  CommittedCursor,
  TraceWalOptions,
  AppendOptions,
  WalAppendResult,
  WalPaths,
  WalReadResult,
  WalScan,
} from './wal.js'
export {
  BatchTooLargeError,
  CanonicalDecodingError,
  CanonicalEncodingError,
  InvalidStepError,
  MerkleInputError,
  TraceChainError,
  WalAppendError,
  WalCorruptedError,
  WalCursorError,
  WalLockedError,
} from './errors.js'
export type { WalTornTail } from './errors.js'
