/**
 * The `fields` word of TraceLog's `BatchCommitted` event: the batch record's five small fields
 * in one word (an event pays for every byte it logs), as `TraceLog.packBatchFields` packs
 * them — firstIndex in bits 255-192, stepCount 191-160, committedAt 159-96, challengeWindow
 * 95-32, callsCovered 31-0.
 */
export type BatchFields = {
  firstIndex: bigint
  stepCount: number
  committedAt: bigint
  challengeWindow: bigint
  callsCovered: number
}

const U64 = (1n << 64n) - 1n
const U32 = (1n << 32n) - 1n

/** The record's small fields from a `BatchCommitted` event's `fields` word. */
export function unpackBatchFields(fields: bigint): BatchFields {
  return {
    firstIndex: (fields >> 192n) & U64,
    stepCount: Number((fields >> 160n) & U32),
    committedAt: (fields >> 96n) & U64,
    challengeWindow: (fields >> 32n) & U64,
    callsCovered: Number(fields & U32),
  }
}

/** `TraceLog.packBatchFields`: the word `unpackBatchFields` reads. */
export function packBatchFields(f: BatchFields): bigint {
  return (f.firstIndex << 192n) | (BigInt(f.stepCount) << 160n) | (f.committedAt << 96n) | (f.challengeWindow << 32n) | BigInt(f.callsCovered)
}
