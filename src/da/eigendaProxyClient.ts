import type { Hex } from 'viem'
import { MAX_BLOB_BYTES, MAX_BLOB_LENGTH } from './blobSize.js'
import type { DAClient, DAHealth } from './client.js'
import {
  COMMITMENT_MODES,
  type Commitment,
  type CommitmentMode,
  MAX_COMMITMENT_BYTES,
  commitmentMatches,
  commitmentToHex,
  keccakCommitment,
  parseCommitment,
} from './commitment.js'
import {
  BlobCorruptedError,
  BlobNotFoundError,
  BlobTooLargeError,
  DARequestRejectedError,
  DAResponseError,
  DAUnavailableError,
  InvalidCommitmentError,
} from './errors.js'

export type EigenDAProxyClientOptions = {
  /** Base URL of the proxy, e.g. `http://127.0.0.1:3100`. */
  url: string
  /**
   * Per-attempt limit for put. EigenDA confirms a blob in minutes; the proxy's own
   * confirmation timeout is 15 minutes.
   * @defaultValue 900_000
   */
  putTimeoutMs?: number | undefined
  /** Per-attempt limit for get and health. @defaultValue 60_000 */
  getTimeoutMs?: number | undefined
  /** Retries after the first attempt for retryable failures (503, 429, 5xx, network). @defaultValue 3 */
  retries?: number | undefined
  /** First backoff delay, doubled on each retry (with jitter), at most 10 s. @defaultValue 250 */
  backoffMs?: number | undefined
  /**
   * Largest blob put sends (checked before sending). For a proxy started with another
   * `--eigenda.max-blob-length`, pass `maxPayloadBytes(thatLength)`.
   * @defaultValue {@link MAX_BLOB_BYTES} (16,252,897: what a 16 MiB EigenDA blob holds)
   */
  maxBlobBytes?: number | undefined
  /**
   * Which commitments to ask for: `standard` (`version ‖ cert`, what Covenant commits on
   * chain), `optimism_generic` (`0x01 0x00 version ‖ cert`, OP alt-DA's generic form) or
   * `optimism_keccak256` (`0x00 ‖ keccak256(blob)`; the proxy keeps such blobs in S3, not on
   * EigenDA). A commitment is read back with a client of the mode that wrote it.
   * @defaultValue 'standard'
   */
  commitmentMode?: CommitmentMode | undefined
  /** For tests and custom agents. @defaultValue globalThis.fetch */
  fetch?: typeof fetch | undefined
}

// Go's net/http sniffs a Content-Type when the proxy writes raw bytes without one: binary
// gives application/octet-stream, text-looking bytes (a JSON batch) text/plain.
const ACCEPTED_TYPES = ['application/octet-stream', 'text/plain']
const MAX_ERROR_BODY = 1024
/** eigenda-proxy's oversize answers are 400s: an encoded blob over max-blob-length, a body over 32 MiB (MaxBytesReader). */
const OVERSIZE = /encoded blob is larger than max blob size|request body too large/

class Retryable {
  constructor(
    readonly reason: string,
    readonly status: number | undefined,
    readonly cause?: unknown,
  ) {}
}

/**
 * A DAClient that speaks the eigenda-proxy REST API, in standard commitment mode unless
 * told otherwise:
 *
 *   standard            POST /put?commitment_mode=standard    body: the blob → 200 commitment bytes
 *                       GET  /get/0x<commitment>?commitment_mode=standard     → 200 the blob
 *   optimism_generic    POST /put                             body: the blob → 200 commitment bytes
 *                       GET  /get/0x<commitment>                              → 200 the blob
 *   optimism_keccak256  POST /put/0x00<keccak256(blob)>       body: the blob → 200
 *                       GET  /get/0x00<keccak256(blob)>                       → 200 the blob
 *   GET /health → 200
 *
 * 503 (the proxy's failover signal), 429, other 5xx, timeouts and network errors are retried
 * with exponential backoff and then reported as {@link DAUnavailableError}; 404 is
 * {@link BlobNotFoundError}; the proxy's oversize answer (400 "encoded blob is larger than
 * max blob size", or "request body too large") and an older server's 413 are
 * {@link BlobTooLargeError}; another 400 is a rejected request. Every answer is checked
 * before use — status, content type, size (read with a limit, never buffered unbounded),
 * redirects refused — so a hostile server can make a call fail but not crash or mislead it;
 * a commitment that hashes the blob (local `0xc0 ‖ sha256` in either form, keccak256) is
 * checked against it.
 */
export class EigenDAProxyClient implements DAClient {
  readonly name: string
  readonly url: string
  readonly #options: {
    putTimeoutMs: number
    getTimeoutMs: number
    retries: number
    backoffMs: number
    maxBlobBytes: number
    commitmentMode: CommitmentMode
    fetch: typeof fetch
  }

  constructor(options: EigenDAProxyClientOptions) {
    let url: URL
    try {
      url = new URL(options.url)
    } catch {
      throw new DARequestRejectedError({ endpoint: String(options.url), status: 0, message: 'the URL is not valid' })
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new DARequestRejectedError({ endpoint: options.url, status: 0, message: 'only http: and https: URLs are supported' })
    }
    this.url = url.toString().replace(/\/+$/, '')
    this.name = `eigenda-proxy ${this.url}`
    this.#options = {
      putTimeoutMs: options.putTimeoutMs ?? 900_000,
      getTimeoutMs: options.getTimeoutMs ?? 60_000,
      retries: options.retries ?? 3,
      backoffMs: options.backoffMs ?? 250,
      maxBlobBytes: options.maxBlobBytes ?? MAX_BLOB_BYTES,
      commitmentMode: options.commitmentMode ?? 'standard',
      fetch: options.fetch ?? globalThis.fetch,
    }
    if (!COMMITMENT_MODES.includes(this.#options.commitmentMode)) {
      throw new DARequestRejectedError({ endpoint: this.url, status: 0, message: `commitmentMode must be one of ${COMMITMENT_MODES.join(', ')}` })
    }
    for (const key of ['putTimeoutMs', 'getTimeoutMs', 'backoffMs', 'retries', 'maxBlobBytes'] as const) {
      const v = this.#options[key]
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new DARequestRejectedError({ endpoint: this.url, status: 0, message: `${key} must be a non-negative integer` })
      }
    }
  }

  async put(blob: Uint8Array): Promise<Commitment> {
    if (blob.length > this.#options.maxBlobBytes) throw new BlobTooLargeError({ size: blob.length, maxBytes: this.#options.maxBlobBytes })
    const mode = this.#options.commitmentMode
    const keccak = mode === 'optimism_keccak256' ? keccakCommitment(blob) : undefined
    const endpoint = keccak ? `${this.url}/put/${commitmentToHex(keccak)}` : `${this.url}/put${mode === 'standard' ? '?commitment_mode=standard' : ''}`
    return this.#withRetries(endpoint, async () => {
      const res = await this.#fetch(endpoint, this.#options.putTimeoutMs, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: blob as Uint8Array<ArrayBuffer>,
      })
      if (res.status === 200) {
        if (keccak) {
          // the proxy answers an empty body: the client already knows the commitment
          await res.body?.cancel().catch(() => {})
          return keccak
        }
        checkContentType(res, endpoint)
        const body = await readLimited(res, MAX_COMMITMENT_BYTES, endpoint, 'commitment')
        let commitment: Commitment
        try {
          commitment = parseCommitment(body, mode)
        } catch (err) {
          throw new DAResponseError({ endpoint, status: 200, reason: `the commitment it returned is invalid (${(err as InvalidCommitmentError).shortMessage})` })
        }
        if (commitmentMatches(commitment, mode, blob) === false) {
          throw new DAResponseError({ endpoint, status: 200, reason: 'it returned a local commitment that is not the SHA-256 of the blob sent' })
        }
        return commitment
      }
      const message = await errorText(res)
      if (res.status === 413 || (res.status === 400 && OVERSIZE.test(message))) {
        throw new BlobTooLargeError({ size: blob.length, maxBytes: this.#options.maxBlobBytes })
      }
      if (res.status === 400) throw new DARequestRejectedError({ endpoint, status: 400, message })
      throw this.#unexpected(endpoint, res.status, message)
    })
  }

  async get(input: Commitment | Hex): Promise<Uint8Array> {
    const mode = this.#options.commitmentMode
    const commitment = parseCommitment(input, mode)
    const hex = commitmentToHex(commitment)
    const endpoint = `${this.url}/get/${hex}${mode === 'standard' ? '?commitment_mode=standard' : ''}`
    return this.#withRetries(endpoint, async () => {
      const res = await this.#fetch(endpoint, this.#options.getTimeoutMs, { method: 'GET' })
      if (res.status === 200) {
        checkContentType(res, endpoint)
        const blob = await readLimited(res, this.#maxReadBytes, endpoint, 'blob')
        if (commitmentMatches(commitment, mode, blob) === false) {
          const hash = mode === 'optimism_keccak256' ? 'keccak256' : 'SHA-256'
          throw new BlobCorruptedError({ commitment: hex, where: endpoint, reason: `its ${hash} does not match the commitment` })
        }
        return blob
      }
      const message = await errorText(res)
      if (res.status === 404) throw new BlobNotFoundError({ commitment: hex, where: this.url })
      if (res.status === 400) throw new InvalidCommitmentError({ reason: `the proxy rejected it: ${message}` })
      // Newer proxies answer 418 for a certificate that fails verification.
      if (res.status === 418) throw new InvalidCommitmentError({ reason: `the proxy says its certificate is invalid: ${message}` })
      throw this.#unexpected(endpoint, res.status, message)
    })
  }

  /** Reads take what puts took, and at least 16 MiB: blobs put before the limit moved from the payload to the encoded blob. */
  get #maxReadBytes(): number {
    return Math.max(this.#options.maxBlobBytes, MAX_BLOB_LENGTH)
  }

  async health(): Promise<DAHealth> {
    const endpoint = `${this.url}/health`
    try {
      const res = await this.#fetch(endpoint, Math.min(this.#options.getTimeoutMs, 10_000), { method: 'GET' })
      await res.body?.cancel().catch(() => {})
      return res.status === 200 ? { ok: true, detail: `${endpoint} answered 200` } : { ok: false, detail: `${endpoint} answered ${res.status}` }
    } catch (err) {
      return { ok: false, detail: `${endpoint}: ${err instanceof Retryable ? err.reason : String(err)}` }
    }
  }

  #unexpected(endpoint: string, status: number, message: string): Error | Retryable {
    if (status === 503 || status === 429 || (status >= 500 && status <= 599)) return new Retryable(`HTTP ${status}: ${message}`, status)
    return new DAResponseError({ endpoint, status, reason: message ? `"${message}"` : 'unexpected status' })
  }

  async #fetch(endpoint: string, timeoutMs: number, init: RequestInit): Promise<Response> {
    try {
      return await this.#options.fetch(endpoint, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      throw new Retryable(networkReason(err, timeoutMs), undefined, err)
    }
  }

  async #withRetries<T>(endpoint: string, attempt: () => Promise<T>): Promise<T> {
    const { retries, backoffMs } = this.#options
    let last: Retryable | undefined
    for (let i = 0; i <= retries; i++) {
      if (i > 0) await sleep(Math.min(10_000, backoffMs * 2 ** (i - 1)) * (0.5 + Math.random() / 2))
      try {
        return await attempt()
      } catch (err) {
        if (!(err instanceof Retryable)) throw err
        last = err
      }
    }
    throw new DAUnavailableError({ endpoint, status: last?.status, attempts: retries + 1, reason: last?.reason ?? 'no answer', cause: last?.cause })
  }
}

function checkContentType(res: Response, endpoint: string): void {
  const type = res.headers.get('content-type')
  if (type === null) return
  const base = type.split(';')[0]?.trim().toLowerCase() ?? ''
  if (!ACCEPTED_TYPES.includes(base)) {
    void res.body?.cancel().catch(() => {})
    throw new DAResponseError({ endpoint, status: res.status, reason: `content type ${JSON.stringify(type.slice(0, 100))} is not application/octet-stream` })
  }
}

/** The body, at most `max` bytes; more is a DAResponseError, a broken stream is retryable. */
async function readLimited(res: Response, max: number, endpoint: string, what: string): Promise<Uint8Array> {
  const declared = res.headers.get('content-length')
  if (declared !== null && Number(declared) > max) {
    void res.body?.cancel().catch(() => {})
    throw new DAResponseError({ endpoint, status: res.status, reason: `the ${what} is ${declared} bytes, more than ${max}` })
  }
  if (!res.body) return new Uint8Array(0)
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.length
      if (total > max) {
        await reader.cancel().catch(() => {})
        throw new DAResponseError({ endpoint, status: res.status, reason: `the ${what} is more than ${max} bytes` })
      }
      chunks.push(value)
    }
  } catch (err) {
    if (err instanceof DAResponseError) throw err
    throw new Retryable(`the ${what} could not be read: ${networkReason(err, 0)}`, res.status, err)
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** A short, printable excerpt of an error body (servers may send anything). */
async function errorText(res: Response): Promise<string> {
  try {
    const bytes = await readLimited(res, 64 * 1024, '', 'error body')
    return new TextDecoder()
      .decode(bytes.subarray(0, MAX_ERROR_BODY))
      .replace(/[^\x20-\x7e]+/g, ' ')
      .trim()
      .slice(0, 300)
  } catch {
    return ''
  }
}

function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`
  const code = e?.cause?.code ?? e?.cause?.message
  return code ? `${e?.message ?? 'network error'} (${code})` : (e?.message ?? String(err))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
