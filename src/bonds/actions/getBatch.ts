import { encodeAbiParameters, keccak256, zeroHash, type Hash, type Hex } from 'viem'
import { traceLogAbi } from '../generated/abis.js'
import type { CovenantClient } from '../client.js'
import { BatchRecordMismatchError } from '../errors.js'

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
}

/** The record's ABI type, from `TraceLog.recordHash(Batch)`: the contract's own, not a copy. */
const RECORD_TYPE = (
  traceLogAbi.find((f) => f.type === 'function' && f.name === 'recordHash') as Extract<(typeof traceLogAbi)[number], { type: 'function'; name: 'recordHash' }>
).inputs

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
export const batchCommittedEvent = traceLogAbi.find((e) => e.type === 'event' && e.name === 'BatchCommitted') as Extract<
  (typeof traceLogAbi)[number],
  { type: 'event'; name: 'BatchCommitted' }
>

/**
 * The batch committed at a sequence, or undefined when there is none yet. Read from its
 * `BatchCommitted` event and checked against the hash TraceLog keeps (`batchHash`): a node
 * whose logs disagree with its state gives {@link BatchRecordMismatchError}, never a record
 * the chain would refuse.
 */
export async function getBatch(client: CovenantClient, agentId: bigint, sequence: bigint): Promise<CommittedBatch | undefined> {
  const pc = client.publicClient
  const address = client.deployment.contracts.traceLog
  const stored = await pc.readContract({ address, abi: traceLogAbi, functionName: 'batchHash', args: [agentId, sequence] })
  if (stored === zeroHash) return undefined
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
      firstIndex: a.firstIndex,
      stepCount: Number(a.stepCount),
      committedAt: a.committedAt,
      challengeWindow: a.challengeWindow,
      callsCovered: Number(a.callsCovered),
    }
    if (batchRecordHash(record) !== stored) continue // a log from a dropped fork of the chain
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
    }
  }
  throw new BatchRecordMismatchError(agentId, sequence, logs.length)
}

/** The record of a committed batch, or {@link NO_BATCH_RECORD} when there is none (the chain then refuses with `UnknownBatch`). */
export async function getBatchRecord(client: CovenantClient, agentId: bigint, sequence: bigint): Promise<BatchRecord> {
  return (await getBatch(client, agentId, sequence))?.record ?? NO_BATCH_RECORD
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
