import { keccak256, type Hex, type Log } from 'viem'
import { batchCommittedEvent, unpackBatchFields, type CovenantClient } from '../bonds/index.js'
import type { DAClient } from '../da/index.js'
import { decodeBatch, merkleRoot, verifyChain, type Batch, type ChainHead } from '../trace/index.js'

/** What a `TraceLog.BatchCommitted` event says, plus where it was emitted. */
export type BatchEvent = {
  agentId: bigint
  sequence: bigint
  merkleRoot: Hex
  daCommitment: Hex
  firstIndex: bigint
  stepCount: number
  committedAt: number
  /** Seconds the batch stays challengeable after committedAt (fixed at commit time); absent when rebuilt from saved state. */
  challengeWindow?: number | undefined
  /** The agent's account calls [0, callsCovered) are covered by this batch and the ones before; absent when rebuilt from saved state. */
  callsCovered?: number | undefined
  blockNumber: bigint
  blockHash: Hex
  transactionHash: Hex
}

export { batchCommittedEvent }

/** A `BatchCommitted` log, its args typed from the ABI. */
type BatchCommittedLog = Log<bigint, number, false, typeof batchCommittedEvent, true>

export function toBatchEvent(log: Log): BatchEvent {
  const l = log as BatchCommittedLog
  const f = unpackBatchFields(l.args.fields)
  return {
    agentId: l.args.agentId,
    sequence: l.args.sequence,
    merkleRoot: l.args.merkleRoot,
    daCommitment: l.args.daCommitment.toLowerCase() as Hex,
    firstIndex: f.firstIndex,
    stepCount: f.stepCount,
    committedAt: Number(f.committedAt),
    challengeWindow: Number(f.challengeWindow),
    callsCovered: f.callsCovered,
    blockNumber: l.blockNumber ?? 0n,
    blockHash: (l.blockHash ?? '0x') as Hex,
    transactionHash: (l.transactionHash ?? '0x') as Hex,
  }
}

/** Every BatchCommitted event of an agent (optionally one sequence), oldest first. */
export async function getBatchEvents(
  client: CovenantClient,
  agentId: bigint,
  options: { sequence?: bigint | undefined; toBlock?: bigint | undefined } = {},
): Promise<BatchEvent[]> {
  const logs = await client.publicClient.getLogs({
    address: client.deployment.contracts.traceLog,
    event: batchCommittedEvent,
    args: options.sequence === undefined ? { agentId } : { agentId, sequence: options.sequence },
    fromBlock: client.deployment.deployedAtBlock,
    toBlock: options.toBlock ?? 'latest',
    strict: true,
  })
  return logs.map((l) => toBatchEvent(l as unknown as Log)).sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0))
}

/**
 * The outcome of fetching and checking one committed batch:
 * - `ok`: the blob is on DA, decodes as a version-1 batch of this agent and sequence with
 *   the committed step count and first index, its chain is unbroken (and continues the
 *   previous batch when its head is known), and its Merkle root is the committed root;
 * - `unavailable`: the blob could not be fetched (not found, DA down, damaged in transit)
 *   — may be transient, so it is retried until a grace period ends;
 * - `invalid`: the committed data can never be a valid batch (a commitment that names no
 *   blob, a blob that is not a batch, a wrong root): the agent is at fault at once.
 */
export type BatchCheck =
  | { status: 'ok'; batch: Batch; leaves: Hex[]; head: ChainHead }
  | { status: 'unavailable'; reason: string }
  | { status: 'invalid'; reason: string }

const DEFINITIVE_DA_ERRORS = new Set(['InvalidCommitmentError', 'BlobTooLargeError'])

/** Fetches a committed batch from DA and checks it against the chain (see {@link BatchCheck}). */
export async function fetchAndCheckBatch(
  da: Pick<DAClient, 'get'>,
  ev: BatchEvent,
  previous?: ChainHead | undefined,
): Promise<BatchCheck> {
  let blob: Uint8Array
  try {
    blob = await da.get(ev.daCommitment)
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error'
    const msg = (err as { shortMessage?: string; message?: string }).shortMessage ?? (err as Error).message ?? String(err)
    if (DEFINITIVE_DA_ERRORS.has(name)) return { status: 'invalid', reason: `the DA commitment names no valid blob: ${msg}` }
    return { status: 'unavailable', reason: `${name}: ${msg}` }
  }
  return checkBatchBlob(blob, ev, previous)
}

/** Checks blob bytes against a BatchCommitted event (see {@link BatchCheck}). */
export function checkBatchBlob(blob: Uint8Array, ev: BatchEvent, previous?: ChainHead | undefined): BatchCheck {
  let batch: Batch
  try {
    batch = decodeBatch(blob)
  } catch (err) {
    return { status: 'invalid', reason: `the blob is not a valid trace batch: ${(err as { shortMessage?: string }).shortMessage ?? String(err)}` }
  }
  const agentId = ev.agentId.toString()
  if (batch.agentId !== agentId) return { status: 'invalid', reason: `the blob holds agent ${batch.agentId}'s steps, not agent ${agentId}'s` }
  if (BigInt(batch.sequence) !== ev.sequence) return { status: 'invalid', reason: `the blob says sequence ${batch.sequence}, the chain ${ev.sequence}` }
  if (batch.steps.length !== ev.stepCount) {
    return { status: 'invalid', reason: `the blob holds ${batch.steps.length} steps, the chain committed ${ev.stepCount}` }
  }
  const first = batch.steps[0]
  if (!first || BigInt(first.index) !== ev.firstIndex) {
    return { status: 'invalid', reason: `the blob starts at step ${first?.index}, the chain at ${ev.firstIndex}` }
  }
  let leaves: Hex[]
  let head: ChainHead
  try {
    const start = previous && previous.nextIndex === first.index ? previous : undefined
    // decodeBatch checked the chain inside the batch; this re-walks it for the leaves and,
    // with `start`, checks that it continues the agent's previous batch
    ;({ leaves, head } = verifyChain(batch.steps, { agentId: batch.agentId, start }))
  } catch (err) {
    return { status: 'invalid', reason: (err as { shortMessage?: string }).shortMessage ?? String(err) }
  }
  const root = merkleRoot(leaves)
  if (root !== ev.merkleRoot.toLowerCase()) return { status: 'invalid', reason: `the blob's Merkle root is ${root}, the committed root ${ev.merkleRoot}` }
  return { status: 'ok', batch, leaves, head }
}

/** keccak256 of the DA commitment: what TraceLog stores and batch headers carry. */
export function daCommitmentHash(daCommitment: Hex): Hex {
  return keccak256(daCommitment)
}
