import { BaseError } from '../errors/base.js'

/**
 * Errors of the DA room. `DAUnavailableError` is the failover signal (eigenda-proxy's 503,
 * a refused connection, a timeout); the others say the request or the data is wrong and
 * trying another server with the same request would not help, except for reads, where
 * another store may still hold a good copy.
 */

export class BlobTooLargeError extends BaseError {
  override name = 'BlobTooLargeError' as const
  readonly size: number
  readonly maxBytes: number
  constructor({ size, maxBytes }: { size: number; maxBytes: number }) {
    super(`The blob is ${size} bytes; a DA blob holds at most ${maxBytes} bytes.`, {
      metaMessages: [
        'EigenDA limits the encoded blob (31 payload bytes in every 32, after a 32-byte header): 16 MiB holds 16,252,897 bytes.',
        'Split trace batches with splitIntoBatches(steps, maxBytes) from covenant/trace before putting them.',
      ],
      docsPath: 'src/da/README.md#limits',
    })
    this.size = size
    this.maxBytes = maxBytes
  }
}

export class InvalidCommitmentError extends BaseError {
  override name = 'InvalidCommitmentError' as const
  constructor({ reason }: { reason: string }) {
    super(`Invalid DA commitment: ${reason}.`, {
      metaMessages: [
        'A commitment is the exact bytes put() returned (as 0x-hex or bytes): a version byte then the certificate or hash.',
        'Local-store commitments are 33 bytes: 0xc0 followed by the SHA-256 of the blob (OP generic form: 0x01 0x00 before it).',
      ],
      docsPath: 'src/da/README.md#commitments',
    })
  }
}

export class BlobNotFoundError extends BaseError {
  override name = 'BlobNotFoundError' as const
  readonly commitment: string
  constructor({ commitment, where }: { commitment: string; where: string }) {
    super(`No blob for commitment ${abbreviate(commitment)} at ${where}.`, {
      metaMessages: [
        'Check that the commitment is the one put() returned and that you ask the store or proxy it was put on.',
        'A committed blob that no DA node can serve is withheld data: that is what a DataWithheld dispute is for.',
      ],
      docsPath: 'src/da/README.md#eigendaproxyclient',
    })
    this.commitment = commitment
  }
}

/** An OP keccak256 commitment put with a body it is not the keccak256 of. */
export class KeccakCommitmentMismatchError extends BaseError {
  override name = 'KeccakCommitmentMismatchError' as const
  constructor({ key, actual }: { key: string; actual: string }) {
    super(`key!=keccak(value): key=${key} keccak(value)=${actual}`, {
      metaMessages: ['An OP keccak256 commitment (POST /put/0x00<key>) must be the keccak256 of the body sent with it.'],
      docsPath: 'src/da/README.md#commitments',
    })
  }
}

/** A DA option or size argument out of range. */
export class InvalidDAOptionError extends BaseError {
  override name = 'InvalidDAOptionError' as const
  constructor({ option, reason }: { option: string; reason: string }) {
    super(`${option} ${reason}.`, { docsPath: 'src/da/README.md#limits' })
  }
}

/** The bytes a store or server returned do not hash to the commitment. */
export class BlobCorruptedError extends BaseError {
  override name = 'BlobCorruptedError' as const
  readonly commitment: string
  constructor({ commitment, where, reason }: { commitment: string; where: string; reason: string }) {
    super(`The blob for ${abbreviate(commitment)} from ${where} is corrupted: ${reason}.`, {
      metaMessages: [
        'The data was rejected, not used. Read it from another DA replica (FailoverDAClient does this),',
        'and for a local store, put() the blob again: it writes a fresh copy, read from then on.',
      ],
      docsPath: 'src/da/README.md#eigendaproxyclient',
    })
    this.commitment = commitment
  }
}

/** The DA server is down, overloaded or unreachable: retry later or fail over. */
export class DAUnavailableError extends BaseError {
  override name = 'DAUnavailableError' as const
  readonly endpoint: string
  readonly status: number | undefined
  readonly attempts: number
  constructor({ endpoint, status, attempts, reason, cause }: { endpoint: string; status?: number | undefined; attempts: number; reason: string; cause?: unknown }) {
    super(`DA at ${endpoint} is unavailable after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}.`, {
      metaMessages: [
        'eigenda-proxy answers 503 when EigenDA cannot take blobs right now: fail over to another DA client',
        '(FailoverDAClient) or retry later. Check the URL and that the server runs (`covenant da serve`).',
      ],
      docsPath: 'src/da/README.md#eigendaproxyclient',
      cause,
    })
    this.endpoint = endpoint
    this.status = status
    this.attempts = attempts
  }
}

/** The server answered, but not as an eigenda-proxy does (wrong status, content type or size). */
export class DAResponseError extends BaseError {
  override name = 'DAResponseError' as const
  readonly endpoint: string
  readonly status: number
  constructor({ endpoint, status, reason }: { endpoint: string; status: number; reason: string }) {
    super(`Unexpected answer from DA at ${endpoint} (HTTP ${status}): ${reason}.`, {
      metaMessages: ['Check that the URL points at an eigenda-proxy (or `covenant da serve`), not at another service.'],
      docsPath: 'src/da/README.md#eigendaproxyclient',
    })
    this.endpoint = endpoint
    this.status = status
  }
}

/** The server refused the request itself (HTTP 400 on put). */
export class DARequestRejectedError extends BaseError {
  override name = 'DARequestRejectedError' as const
  readonly endpoint: string
  readonly status: number
  constructor({ endpoint, status, message }: { endpoint: string; status: number; message: string }) {
    super(`DA at ${endpoint} rejected the request (HTTP ${status}): ${message}.`, {
      metaMessages: ['The request, not the server, is at fault: retrying it unchanged will fail again.'],
      docsPath: 'src/da/README.md#eigendaproxyclient',
    })
    this.endpoint = endpoint
    this.status = status
  }
}

/** Every client of a FailoverDAClient failed. */
export class AllDAClientsFailedError extends BaseError {
  override name = 'AllDAClientsFailedError' as const
  readonly errors: readonly unknown[]
  constructor({ operation, errors }: { operation: string; errors: readonly { client: string; error: unknown }[] }) {
    super(`DA ${operation} failed on all ${errors.length} clients.`, {
      metaMessages: errors.map(({ client, error }) => `- ${client}: ${error instanceof BaseError ? error.shortMessage : String(error)}`),
      docsPath: 'src/da/README.md#eigendaproxyclient',
    })
    this.errors = errors.map((e) => e.error)
  }
}

function abbreviate(hex: string): string {
  return hex.length > 26 ? `${hex.slice(0, 14)}…${hex.slice(-8)}` : hex
}

/** `startDAServer` could not listen. */
export class DAServerListenError extends BaseError {
  override name = 'DAServerListenError' as const
  constructor({ host, port, cause }: { host: string; port: number; cause: unknown }) {
    super(`Cannot serve DA on ${host}:${port}.`, {
      metaMessages: ['Is another server on that port? Pick another --port (0 picks a free one) or --host.'],
      docsPath: 'src/da/README.md#covenant-da-serve',
      cause,
    })
  }
}
