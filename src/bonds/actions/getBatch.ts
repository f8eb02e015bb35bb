import { concat, encodeAbiParameters, getAbiItem, keccak256, zeroHash, type Hash, type Hex, type Log } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'
import { BatchRecordMismatchError } from '../errors.js'
import { unpackBatchFields } from './batchFields.js'

/**
 * A committed batch's record (the Solidity `Batch` struct), as DisputeGame and
 * `TraceLog.isFinal` take it. TraceLog keeps only `keccak256(abi.encode(record))`; the record
 * itself is in the batch's `BatchCommitted` event.
 */
export type BatchRecord = {
  merkleRoot: Hex
  daCommitmentHash: Hex
  firstIndex: bigint
  stepCount: number
  committedAt: bigint
  challengeWindow: bigint
  callsCovered: number
}

export type CommittedBatch = {
  agentId: bigint
  sequence: bigint
  merkleRoot: Hex
  /** The DA commitment itself (the event carries it; the record its keccak256). */
  daCommitment: Hex
  daCommitmentHash: Hex
  firstIndex: bigint
  stepCount: number
  committedAt: number
  challengeWindow: number
  callsCovered: number
  /** What the contracts take for this batch; its hash is the one TraceLog keeps. */
  record: BatchRecord
  blockNumber: bigint
  transactionHash: Hash
  /**
   * Whether TraceLog holds the record's hash in the batch's own slot: true for a batch
   * committed on its own, and for a bundled one once someone opened it (`openBatch`).
   * DisputeGame and `isFinal` need it; the dispute actions open a batch before they use it.
   */
  opened: boolean
  /** For a batch committed in a bundle (`commitBundle`): what `openBatch` takes. */
  bundle?: BundleProof | undefined
}

/** A bundle's leaves, from its `BundleCommitted` event, and the batch's place among them. */
export type BundleProof = { bundle: Hex; leaves: readonly Hex[]; index: number }

/** The record's ABI type, from `TraceLog.recordHash(Batch)`: the contract's own, not a copy. */
const RECORD_TYPE = getAbiItem({ abi: traceLogAbi, name: 'recordHash' }).inputs

/** `TraceLog.recordHash`: the hash the chain keeps for a batch record. */
export function batchRecordHash(r: BatchRecord): Hex {
  return keccak256(encodeAbiParameters(RECORD_TYPE, [r]))
}

/** The record to send for a batch that is not committed: the chain answers `UnknownBatch`. */
export const NO_BATCH_RECORD: BatchRecord = {
  merkleRoot: zeroHash,
  daCommitmentHash: zeroHash,
  firstIndex: 0n,
  stepCount: 0,
  committedAt: 0n,
  challengeWindow: 0n,
  callsCovered: 0,
}

/** TraceLog's `BatchCommitted` event, from the generated ABI (for getLogs and watches). */
export const batchCommittedEvent = getAbiItem({ abi: traceLogAbi, name: 'BatchCommitted' })

/** TraceLog's `BundleCommitted` event: a bundle's hash and its leaves. */
export const bundleCommittedEvent = getAbiItem({ abi: traceLogAbi, name: 'BundleCommitted' })

const LEAF_TYPE = getAbiItem({ abi: traceLogAbi, name: 'bundleLeaf' }).inputs

/** `TraceLog.bundleLeaf`: a batch's leaf in its bundle. */
export function bundleLeaf(agentId: bigint, sequence: bigint, recordHash: Hex): Hex {
  return keccak256(encodeAbiParameters(LEAF_TYPE, [agentId, sequence, recordHash]))
}

/** `keccak256(abi.encodePacked(leaves))`: the hash TraceLog keeps for a bundle. */
export function bundleHash(leaves: readonly Hex[]): Hex {
  return keccak256(concat(leaves as Hex[]))
}

/**
 * The bundle holding a batch: a `BundleCommitted` event of the batch's transaction whose
 * leaves hold the batch's leaf and whose hash TraceLog keeps. Undefined when there is none.
 */
async function bundleOf(client: CovenantClient, log: Log, leaf: Hex): Promise<BundleProof | undefined> {
  const pc = client.publicClient
  const address = client.deployment.contracts.traceLog
  if (!log.blockHash || !log.transactionHash) return undefined
  const bundles = await pc.getLogs({ address, event: bundleCommittedEvent, blockHash: log.blockHash, strict: true })
  for (const b of bundles) {
    if (b.transactionHash !== log.transactionHash) continue
    const leaves = b.args.leaves.map((l) => l.toLowerCase() as Hex)
    const index = leaves.indexOf(leaf)
    if (index < 0 || bundleHash(leaves) !== b.args.bundle.toLowerCase()) continue
    const kept = await pc.readContract({ address, abi: traceLogAbi, functionName: 'bundleCommitted', args: [b.args.bundle] })
    if (kept) return { bundle: b.args.bundle, leaves, index }
  }
  return undefined
}

/**
 * The batch committed at a sequence, or undefined when there is none yet. Read from its
 * `BatchCommitted` event and checked against the hash TraceLog keeps: the batch's own slot
 * (`batchHash`), or for a bundled batch not opened yet its bundle's (the `BundleCommitted`
 * event of the same transaction, whose leaves hash to a bundle TraceLog keeps). A node whose
 * logs disagree with its state gives {@link BatchRecordMismatchError}, never a record the
 * chain would refuse.
 */
export async function getBatch(client: CovenantClient, agentId: bigint, sequence: bigint): Promise<CommittedBatch | undefined> {
  const pc = client.publicClient
  const address = client.deployment.contracts.traceLog
  const stored = await pc.readContract({ address, abi: traceLogAbi, functionName: 'batchHash', args: [agentId, sequence] })
  // no slot: not committed, or bundled and not opened (sequences below nextSequence are committed)
  if (stored === zeroHash && sequence >= (await getNextSequence(client, agentId))) return undefined
  const logs = await pc.getLogs({
    address,
    event: batchCommittedEvent,
    args: { agentId, sequence },
    fromBlock: client.deployment.deployedAtBlock,
    toBlock: 'latest',
    strict: true,
  })
  for (const l of logs) {
    const a = l.args
    const record: BatchRecord = {
      merkleRoot: a.merkleRoot,
      daCommitmentHash: keccak256(a.daCommitment),
      ...unpackBatchFields(a.fields),
    }
    const hash = batchRecordHash(record)
    let bundle: BundleProof | undefined
    if (stored === zeroHash) {
      bundle = await bundleOf(client, l, bundleLeaf(agentId, sequence, hash))
      if (!bundle) continue
    } else if (hash !== stored) continue // a log from a dropped fork of the chain
    return {
      agentId,
      sequence,
      merkleRoot: record.merkleRoot,
      daCommitment: a.daCommitment.toLowerCase() as Hex,
      daCommitmentHash: record.daCommitmentHash,
      firstIndex: record.firstIndex,
      stepCount: record.stepCount,
      committedAt: Number(record.committedAt),
      challengeWindow: Number(record.challengeWindow),
      callsCovered: record.callsCovered,
      record,
      blockNumber: l.blockNumber,
      transactionHash: l.transactionHash,
      opened: stored !== zeroHash,
      bundle,
    }
  }
  throw new BatchRecordMismatchError(agentId, sequence, logs.length)
}

/** Next sequence the operator must commit. */
export async function getNextSequence(client: CovenantClient, agentId: bigint): Promise<bigint> {
  return client.publicClient.readContract({
    address: client.deployment.contracts.traceLog,
    abi: traceLogAbi,
    functionName: 'nextSequence',
    args: [agentId],
  })
}
