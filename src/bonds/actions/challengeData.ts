import { bytesToHex, sha256, toHex, zeroHash, type Hash, type Hex } from 'viem'
import { disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { commitEvidence } from './evidence.js'
import { disputeKindIndex } from './disputeKinds.js'
import type { BatchRecord } from './getBatch.js'
import { openedBatchRecord } from './openBatch.js'

/** First byte of Covenant's local DA commitment (`0xc0 ‖ sha256(blob)`); DisputeGame.LOCAL_COMMITMENT_VERSION. */
const LOCAL_VERSION = 0xc0

/**
 * What a DataWithheld challenge on `daCommitment` is keyed on (DisputeGame.dataSubject): the
 * blob's sha256 when the chain can check a blob against the commitment (a local one), else
 * zero (the verifier quorum decides).
 */
export function dataSubject(daCommitment: Uint8Array): Hex {
  if (daCommitment.length === 33 && daCommitment[0] === LOCAL_VERSION) return bytesToHex(daCommitment.subarray(1))
  return zeroHash
}

/** Whether a DataWithheld dispute with this subject is settled by evidence (an answer or the deadline) rather than votes. */
export function decidedByEvidence(subject: Hex): boolean {
  return subject !== zeroHash
}

/** The local commitment a checkable DataWithheld subject names (its blob's sha256). */
export function commitmentOfSubject(subject: Hex): Uint8Array {
  const out = new Uint8Array(33)
  out[0] = LOCAL_VERSION
  out.set(Buffer.from(subject.slice(2), 'hex'), 1)
  return out
}

export type ChallengeDataParameters = {
  agentId: bigint
  sequence: bigint
  /** The DA commitment the batch was committed with (TraceLog checks its keccak256). */
  daCommitment: Uint8Array
  /** The batch's record (its BatchCommitted event); read and checked against the chain when absent. */
  record?: BatchRecord | undefined
}
export type ChallengeDataReturnType = {
  disputeId: bigint
  bond: bigint
  deadline: number
  /** sha256 of the blob when settled by evidence; zero when the quorum decides. */
  subject: Hex
  hash: Hash
  gasUsed: bigint
}

/**
 * Challenges a batch's blob as withheld (commit-reveal, challenger bond). On a local
 * commitment anyone may answer with the blob until the deadline; unanswered, the agent is
 * slashed at the deadline. On other commitments the verifier quorum votes.
 */
export async function challengeData(client: CovenantClient, p: ChallengeDataParameters): Promise<ChallengeDataReturnType> {
  const c = requireWallet(client, 'challengeData')
  const address = c.deployment.contracts.disputeGame
  const kind = disputeKindIndex('DataWithheld')
  const subject = dataSubject(p.daCommitment)
  const [key, bond, record] = await Promise.all([
    c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'targetKey', args: [kind, p.agentId, p.sequence, 0, subject] }),
    c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'bondFor', args: [kind] }),
    openedBatchRecord(c, p.agentId, p.sequence, p.record),
  ])
  const { salt, gasUsed: commitGas } = await commitEvidence(c, key)
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address,
    abi: disputeGameAbi,
    functionName: 'challengeData',
    args: [p.agentId, p.sequence, record, toHex(p.daCommitment), salt],
    value: bond,
  })
  const opened = eventsOf(disputeGameAbi, receipt).find((e) => e.eventName === 'DisputeOpened')
  if (opened?.eventName !== 'DisputeOpened') throw new Error('DisputeOpened event missing from receipt')
  return { disputeId: opened.args.disputeId, bond, deadline: Number(opened.args.deadline), subject, hash, gasUsed: commitGas + receipt.gasUsed }
}

export type AnswerDataWithheldReturnType = { hash: Hash; gasUsed: bigint }

/**
 * Answers a DataWithheld challenge by publishing the blob on chain (DisputeGame emits it in
 * `DataPublished`): the challenge fails and its bond is credited to the caller. The blob must
 * hash to the challenged commitment; checked here first, so a wrong blob costs no gas.
 */
export async function answerDataWithheld(client: CovenantClient, p: { disputeId: bigint; blob: Uint8Array; subject: Hex }): Promise<AnswerDataWithheldReturnType> {
  const c = requireWallet(client, 'answerDataWithheld')
  if (sha256(p.blob) !== p.subject.toLowerCase()) {
    throw new Error(`The blob's sha256 ${sha256(p.blob)} is not the challenged ${p.subject}: it cannot answer dispute ${p.disputeId}.`)
  }
  const { hash, receipt } = await writeAndWait(c, {
    contract: 'DisputeGame',
    address: c.deployment.contracts.disputeGame,
    abi: disputeGameAbi,
    functionName: 'answerDataWithheld',
    args: [p.disputeId, toHex(p.blob)],
  })
  return { hash, gasUsed: receipt.gasUsed }
}
