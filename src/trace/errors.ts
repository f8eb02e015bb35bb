import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of the trace room. Every class has a literal `name` so callers can narrow with
 * `err.name === 'WalCorruptedError'`; messages say what to do next.
 */

/** A value cannot be written as canonical JSON (NaN, undefined, a function, a cycle, ...). */
export class CanonicalEncodingError extends BaseError {
  override name = 'CanonicalEncodingError' as const
  readonly path: string
  constructor({ path, reason }: { path: string; reason: string }) {
    super(`Cannot encode the value at ${path} canonically: ${reason}.`, {
      metaMessages: [
        'Trace steps hold JSON values only: strings, finite numbers, booleans, null, arrays and plain objects.',
        'Write bigints as decimal strings, bytes as 0x-hex strings and dates as milliseconds.',
      ],
      docsPath: 'src/trace/README.md#canonical-encoding',
    })
    this.path = path
  }
}

/** Bytes that should hold a canonical JSON document do not. */
export class CanonicalDecodingError extends BaseError {
  override name = 'CanonicalDecodingError' as const
  constructor({ reason, cause }: { reason: string; cause?: unknown }) {
    super(`Not a canonical trace document: ${reason}.`, {
      metaMessages: [
        'Trace documents are UTF-8 JSON with sorted keys and no whitespace, as written by canonicalBytes().',
        'Re-fetch the blob or step from its source; do not repair it by hand, its hash would change.',
      ],
      docsPath: 'src/trace/README.md#canonical-encoding',
      cause,
    })
  }
}

/** A trace step (or batch) failed schema validation. */
export class InvalidStepError extends BaseError {
  override name = 'InvalidStepError' as const
  readonly issues: readonly string[]
  constructor({ what, issues }: { what: string; issues: readonly string[] }) {
    super(`Invalid ${what}.`, {
      metaMessages: [...issues.slice(0, 8).map((i) => `- ${i}`), ...(issues.length > 8 ? [`- ... ${issues.length - 8} more`] : [])],
      docsPath: 'src/trace/README.md#trace-steps',
    })
    this.issues = issues
  }
}

/** The hash chain of an agent's steps is broken at `index`. */
export class TraceChainError extends BaseError {
  override name = 'TraceChainError' as const
  /** Index of the first step that breaks the chain. */
  readonly index: number
  constructor({ index, reason }: { index: number; reason: string }) {
    super(`Trace chain broken at step ${index}: ${reason}.`, {
      metaMessages: [
        'Steps must have gapless indices, one agentId, and each prevHash must be the leaf of the step before (zero for step 0).',
        'A trace that does not chain was altered or assembled from the wrong steps; fetch it again from the WAL or DA.',
      ],
      docsPath: 'src/trace/README.md#hash-chain',
    })
    this.index = index
  }
}

/** Merkle inputs are malformed (not 32-byte hashes, index out of range, no leaves). */
export class MerkleInputError extends BaseError {
  override name = 'MerkleInputError' as const
  constructor(reason: string) {
    super(`Invalid Merkle input: ${reason}.`, {
      metaMessages: ['Leaves, roots and proof nodes are 0x-prefixed 32-byte hex strings (lowercase or not).'],
      docsPath: 'src/trace/README.md#merkle-tree',
    })
  }
}

/** A batch is too large to be one blob, or a single step cannot fit in any batch. */
export class BatchTooLargeError extends BaseError {
  override name = 'BatchTooLargeError' as const
  readonly size: number
  readonly maxBytes: number
  constructor({ size, maxBytes, what }: { size: number; maxBytes: number; what: string }) {
    super(`${what} is ${size} bytes, more than the limit of ${maxBytes} bytes.`, {
      metaMessages: [
        'Split the steps with splitIntoBatches(steps, maxBytes); a single step larger than the limit must be made smaller',
        '(store large tool results or model outputs by hash and keep the hash in the step).',
      ],
      docsPath: 'src/trace/README.md#batches',
    })
    this.size = size
    this.maxBytes = maxBytes
  }
}

/** The WAL file holds a damaged record that is not the final one: data after it would be lost by cutting. */
export class WalCorruptedError extends UnrecoverableCovenantError {
  override name = 'WalCorruptedError' as const
  readonly path: string
  /** Byte offset of the damaged record in the file. */
  readonly offset: number
  constructor({ path, offset, reason }: { path: string; offset: number; reason: string }) {
    super(`The trace WAL ${path} is corrupted at byte ${offset}: ${reason}.`, {
      metaMessages: [
        'This is not a torn final write (those are cut off automatically): valid data follows the damaged record.',
        'Stop the agent, keep a copy of the file, and restore it from a backup or from the committed batches on DA.',
        'Do not delete the file: steps in it may not be committed yet.',
      ],
      docsPath: 'src/trace/README.md#write-ahead-log',
    })
    this.path = path
    this.offset = offset
  }
}

/** Another live process (or another handle in this one) holds the agent's WAL. */
export class WalLockedError extends BaseError {
  override name = 'WalLockedError' as const
  readonly path: string
  /** The pid the holder recorded in the lock file (null when unreadable). */
  readonly pid: number | null
  constructor({ path, pid }: { path: string; pid: number | null }) {
    super(`The trace WAL ${path} is locked by ${pid === null ? 'another process' : `process ${pid}`}.`, {
      metaMessages: [
        'Only one writer may append to an agent\'s WAL. Close the other handle (wal.close()) or stop that process.',
        'The lock is a kernel lock: it is released the moment its holder exits or is killed, so there is nothing stale to remove.',
      ],
      docsPath: 'src/trace/README.md#write-ahead-log',
    })
    this.path = path
    this.pid = pid
  }
}

/** An append was refused: the step does not extend the WAL's chain, or the WAL is closed or failed. */
export class WalAppendError extends BaseError {
  override name = 'WalAppendError' as const
  constructor({ path, reason, cause }: { path: string; reason: string; cause?: unknown }) {
    super(`Cannot append to the trace WAL ${path}: ${reason}.`, {
      metaMessages: [
        'Nothing was acknowledged: do not act on this step (no trace, no action).',
        'If a write failed, reopen the WAL with TraceWal.open(); it recovers the last complete record.',
      ],
      docsPath: 'src/trace/README.md#write-ahead-log',
      cause,
    })
  }
}

/** The committed-cursor file is unreadable or a cursor update would move backwards. */
export class WalCursorError extends BaseError {
  override name = 'WalCursorError' as const
  constructor({ path, reason, cause }: { path: string; reason: string; cause?: unknown }) {
    super(`Committed cursor ${path}: ${reason}.`, {
      metaMessages: [
        'The cursor only moves forward and never past the WAL head.',
        'If the file is damaged, rebuild it from the TraceLog contract (nextSequence, nextStepIndex) before committing again.',
      ],
      docsPath: 'src/trace/README.md#committed-cursor',
      cause,
    })
  }
}

/** A torn final WAL record that recovery cut off. A warning, not an error: nothing acknowledged was lost. */
export type WalTornTail = {
  name: 'WalTornTailWarning'
  path: string
  /** Byte offset where the torn record began; the file now ends here. */
  offset: number
  /** Bytes removed. */
  bytes: number
  reason: string
}
