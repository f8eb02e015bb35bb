import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of src/inference. Each has a literal `name` so callers can narrow with
 * `err.name === '...'`. Messages never contain key material, request headers or API keys.
 */

export type InferenceErrorType =
  | ModelNotFoundError
  | ModelDigestMismatchError
  | ModelLoadError
  | InvalidTensorError
  | InvalidChatRequestError
  | ChatConstraintError
  | InvalidReplayRecordError
  | ReplayNotPossibleError
  | ReceiptMissingError
  | ReceiptMalformedError
  | ReceiptHashMismatchError
  | ReceiptSignatureError
  | ReceiptSignerMismatchError
  | QuoteVerificationError
  | ContainerKeyError
  | EndpointError
  | OnnxThreadExitedError
  | OnnxThreadClosedError
  | OnnxThreadRemoteError

/** No shipped or registered model has this digest or name. */
export class ModelNotFoundError extends UnrecoverableCovenantError {
  override name = 'ModelNotFoundError' as const
  readonly model: string
  constructor({ model, known }: { model: string; known: readonly string[] }) {
    super(`no model "${model}" in the model store`, {
      metaMessages: [
        known.length > 0 ? `Known models: ${known.join(', ')}` : 'The model store is empty.',
        'Rebuild the shipped models (models/README.md) or point the store at the directory holding the model file.',
      ],
    })
    this.model = model
  }
}

/** A model file's bytes do not hash to the digest the store, record or manifest names: it was swapped or corrupted. */
export class ModelDigestMismatchError extends UnrecoverableCovenantError {
  override name = 'ModelDigestMismatchError' as const
  readonly expected: string
  readonly actual: string
  constructor({ path, expected, actual }: { path: string; expected: string; actual: string }) {
    super(`model file ${path} does not have the expected digest`, {
      metaMessages: [
        `Expected: ${expected}`,
        `Actual:   ${actual}`,
        'The file was replaced or corrupted after it was registered. Restore the original bytes (git checkout models/) — a replay never runs on a different model.',
      ],
    })
    this.expected = expected
    this.actual = actual
  }
}

/** ONNX Runtime could not load or run a model. */
export class ModelLoadError extends BaseError {
  override name = 'ModelLoadError' as const
  constructor({ model, cause }: { model: string; cause: unknown }) {
    super(`ONNX Runtime could not load model "${model}"`, {
      metaMessages: ['Check that the file is a valid ONNX model (rebuild it with its build.py).'],
      cause,
    })
  }
}

/** A tensor given to a backend (or found in a record) is malformed. */
export class InvalidTensorError extends BaseError {
  override name = 'InvalidTensorError' as const
  constructor(reason: string, { hint }: { hint?: string | undefined } = {}) {
    super(`invalid tensor: ${reason}`, { metaMessages: hint ? [hint] : [] })
  }
}

/** A chat completion request the container cannot serve. */
export class InvalidChatRequestError extends BaseError {
  override name = 'InvalidChatRequestError' as const
  readonly issues: readonly string[]
  /** The request field at fault, as OpenAI names it (`tool_choice`, `messages[0].role`), when one is. */
  readonly param: string | null
  /** OpenAI's error code (`unsupported_value`, `unknown_parameter`, …), when one applies. */
  readonly code: string | null
  constructor(issues: readonly string[], { param = null, code = null }: { param?: string | null; code?: string | null } = {}) {
    super('invalid chat completion request', { metaMessages: issues.map((i) => `- ${i}`) })
    this.issues = issues
    this.param = param
    this.code = code
  }
}

/**
 * What the request asks of the output cannot be produced from this prompt: a forced tool
 * whose name or required arguments the model has no way to write (covenant-chat writes
 * names and values by copying prompt tokens). The message names what is missing.
 */
export class ChatConstraintError extends BaseError {
  override name = 'ChatConstraintError' as const
  readonly param: string | null
  constructor(reason: string, param: string | null) {
    super(reason, {
      metaMessages: ['covenant-chat copies names and values from the prompt: the tool list is cut at 96 tokens, each message at 96, the system prompt at 32.'],
    })
    this.param = param
  }
}

/** A replay record does not have the shape its backend writes. */
export class InvalidReplayRecordError extends UnrecoverableCovenantError {
  override name = 'InvalidReplayRecordError' as const
  constructor(reason: string, issues: readonly string[] = []) {
    super(`invalid replay record: ${reason}`, {
      metaMessages: [...issues.map((i) => `- ${i}`), 'Records must come from src/inference backends unchanged.'],
    })
  }
}

/** The record says it cannot be re-executed (`replay: "none"`), or nothing here can re-execute it. */
export class ReplayNotPossibleError extends UnrecoverableCovenantError {
  override name = 'ReplayNotPossibleError' as const
  constructor(reason: string, hint: string) {
    super(`cannot replay this record: ${reason}`, { metaMessages: [hint] })
  }
}

/** A response that must carry a receipt carries none. */
export class ReceiptMissingError extends BaseError {
  override name = 'ReceiptMissingError' as const
  constructor({ url }: { url: string }) {
    super(`the response from ${url} has no covenant receipt`, {
      metaMessages: [
        'The endpoint is configured to require receipts. Point baseURL at a Covenant inference container,',
        'or set receipts: "verify" (records of unsigned responses get replay: "none").',
      ],
    })
  }
}

/** A receipt is not well formed. */
export class ReceiptMalformedError extends BaseError {
  override name = 'ReceiptMalformedError' as const
  constructor(issues: readonly string[]) {
    super('malformed covenant receipt', { metaMessages: issues.map((i) => `- ${i}`) })
  }
}

/** The receipt's request, response or output hash is not the hash of what was actually exchanged. */
export class ReceiptHashMismatchError extends BaseError {
  override name = 'ReceiptHashMismatchError' as const
  readonly field: 'requestHash' | 'responseHash' | 'outputHash'
  constructor({ field, expected, actual }: { field: 'requestHash' | 'responseHash' | 'outputHash'; expected: string; actual: string }) {
    const what = field === 'requestHash' ? 'request' : 'response'
    super(`receipt ${field} does not match the ${what}: the ${what} or the receipt was changed after signing`, {
      metaMessages: [`Receipt says: ${expected}`, `Recomputed:   ${actual}`, 'Do not use this response; fetch it again from the container.'],
    })
    this.field = field
  }
}

/** The receipt's signature does not recover to the key it names. */
export class ReceiptSignatureError extends BaseError {
  override name = 'ReceiptSignatureError' as const
  constructor({ claimed, recovered }: { claimed: string; recovered?: string | undefined }) {
    super('receipt signature is not valid for its signer', {
      metaMessages: [
        `Receipt names signer ${claimed}`,
        recovered ? `The signature recovers to ${recovered}` : 'The signature could not be recovered.',
        'The receipt was forged or altered; do not use this response.',
      ],
    })
  }
}

/** The receipt was signed by a valid key, but not the one the container's attestation names. */
export class ReceiptSignerMismatchError extends BaseError {
  override name = 'ReceiptSignerMismatchError' as const
  constructor({ expected, actual, field }: { expected: string; actual: string; field: 'signer' | 'measurement' }) {
    super(`receipt ${field} is not the attested one`, {
      metaMessages: [
        `Attested: ${expected}`,
        `Receipt:  ${actual}`,
        'Another key or build answered. Re-fetch GET /attestation if the container restarted (ephemeral keys change per start).',
      ],
    })
  }
}

/** A TEE quote (real or simulated) did not verify. */
export class QuoteVerificationError extends BaseError {
  override name = 'QuoteVerificationError' as const
  constructor(reason: string, hint?: string) {
    super(`attestation quote rejected: ${reason}`, { metaMessages: hint ? [hint] : [] })
  }
}

/** The container key could not be created, loaded or decrypted. Never includes key bytes. */
export class ContainerKeyError extends BaseError {
  override name = 'ContainerKeyError' as const
  constructor(reason: string, hint: string) {
    super(`container key: ${reason}`, { metaMessages: [hint] })
  }
}

/** An OpenAI-compatible endpoint answered with an error or something that is not a chat completion. */
export class EndpointError extends BaseError {
  override name = 'EndpointError' as const
  readonly status: number
  constructor({ url, status, detail }: { url: string; status: number; detail: string }) {
    super(`endpoint ${url} answered ${status}`, { details: detail, metaMessages: ['Check baseURL, the model name and the request.'] })
    this.status = status
  }
}

/** The ONNX thread (`startOnnxThread`) could not start, or ended while inferences were under way. */
export class OnnxThreadExitedError extends BaseError {
  override name = 'OnnxThreadExitedError' as const
  constructor({ model, pending, cause }: { model: string; pending: number; cause?: unknown }) {
    super(
      pending > 0
        ? `the ONNX thread running model "${model}" ended with ${pending} inference${pending === 1 ? '' : 's'} under way`
        : `the ONNX thread for model "${model}" could not start`,
      {
        metaMessages: [
          pending > 0
            ? 'Those inferences did not finish and wrote nothing; the next call starts a new thread (a retried task runs again).'
            : 'Check that onnxruntime-node loads in a worker thread here (the Details line says what failed).',
        ],
        cause,
      },
    )
  }
}

/** An inference asked of an ONNX thread after its `close()`. */
export class OnnxThreadClosedError extends BaseError {
  override name = 'OnnxThreadClosedError' as const
  constructor(model: string) {
    super(`the ONNX thread for model "${model}" is closed`, { metaMessages: ['Start another one with startOnnxThread().'] })
  }
}

/**
 * An error thrown inside the ONNX thread, carried back to the caller: its `name`, short
 * message, hints and whether it is unrecoverable are the original's (an InvalidTensorError is
 * rebuilt as one; see onnxThread.ts).
 */
export class OnnxThreadRemoteError extends BaseError {
  override name: string
  override readonly unrecoverable: boolean
  constructor({ name, shortMessage, metaMessages, unrecoverable }: { name: string; shortMessage: string; metaMessages: readonly string[]; unrecoverable: boolean }) {
    super(shortMessage, { metaMessages })
    this.name = name
    this.unrecoverable = unrecoverable
  }
}
