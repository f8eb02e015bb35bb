import type { Address, Hex, LocalAccount } from 'viem'
import { assembleChatStream, chatOutputHash } from './chatOutput.js'
import { ReceiptHashMismatchError, ReceiptMalformedError, ReceiptSignatureError, ReceiptSignerMismatchError } from './errors.js'
import { type Hash, hashJson } from './hash.js'
import { receiptDigest } from './receiptSignature.js'
import { recoverDigestSigner } from './secp256k1.js'
import { responsesOutputHash } from './responsesOutput.js'
import { type Receipt, receiptSchema } from './schemas.js'
import { type EncodedTensor, hashEncodedTensors } from './tensor.js'

/**
 * Receipts: the container's EIP-712 signature over what it computed.
 *
 *   domain  { name: "Covenant Inference Receipt", version: "1" }
 *   Receipt { measurement, modelDigest, requestHash, responseHash, outputHash: bytes32; issuedAt: uint64 }
 *
 * requestHash  = sha256(canonical JSON of the request body)            (GET: of {method, path, query})
 * responseHash = sha256(canonical JSON of the response body without `covenant_receipt`)
 * outputHash   = the replay record's outputHash (see responseOutputHash)
 *
 * EIP-712 so that a contract (DisputeGame) can recover the signer on chain with the same
 * digest. The receipt travels in the body (`covenant_receipt`) and in the
 * `x-covenant-receipt` header (base64url JSON), which also covers non-JSON clients.
 */
export const RECEIPT_DOMAIN = { name: 'Covenant Inference Receipt', version: '1' } as const
export const RECEIPT_TYPES = {
  Receipt: [
    { name: 'measurement', type: 'bytes32' },
    { name: 'modelDigest', type: 'bytes32' },
    { name: 'requestHash', type: 'bytes32' },
    { name: 'responseHash', type: 'bytes32' },
    { name: 'outputHash', type: 'bytes32' },
    { name: 'issuedAt', type: 'uint64' },
  ],
} as const
export const RECEIPT_HEADER = 'x-covenant-receipt'
export const ZERO_HASH: Hash = `0x${'0'.repeat(64)}`

export type ReceiptFields = {
  measurement: Hash
  modelDigest: Hash
  requestHash: Hash
  responseHash: Hash
  outputHash: Hash
  issuedAt: number
}

/**
 * Signs a receipt: the EIP-712 digest, assembled directly (receiptDigest: the same bytes as
 * viem's hashTypedData over RECEIPT_DOMAIN / RECEIPT_TYPES, without its generic type
 * encoding), signed as a hash where the account can (`account.sign`, viem's local accounts;
 * noble's signing with G's precomputed table, deterministic RFC 6979 nonces). Accounts
 * without `sign` (e.g. a remote signer) get `signTypedData`, which gives the same signature.
 */
export async function signReceipt(account: LocalAccount, fields: ReceiptFields): Promise<Receipt> {
  const signature = account.sign
    ? await account.sign({ hash: receiptDigest(fields) })
    : await account.signTypedData({
        domain: RECEIPT_DOMAIN,
        types: RECEIPT_TYPES,
        primaryType: 'Receipt',
        message: { ...fields, issuedAt: BigInt(fields.issuedAt) },
      })
  return { version: 1, scheme: 'eip712', signer: account.address, ...fields, signature }
}

/** The response body without the receipt (what `responseHash` covers). */
export function stripReceipt(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body
  const { covenant_receipt: _r, ...rest } = body as Record<string, unknown>
  return rest
}

/**
 * The deterministic part of a response, as a replay record's outputHash: for a chat
 * completion the choices (chatOutputHash); for a tensor inference the output tensors; for a
 * Responses API response its status and output items without ids (responsesOutputHash);
 * for anything else the whole body without receipt.
 */
export function responseOutputHash(body: unknown): Hash {
  const b = stripReceipt(body) as Record<string, unknown> | null
  if (b && b['object'] === 'chat.completion') return chatOutputHash(b)
  if (b && b['object'] === 'inference' && Array.isArray(b['outputs'])) return hashEncodedTensors(b['outputs'] as EncodedTensor[])
  if (b && b['object'] === 'response') return responsesOutputHash(b)
  return hashJson(b)
}

export type VerifyReceiptParameters = {
  receipt: unknown
  /** The request body exactly as sent (parsed JSON), or the GET descriptor `{ method, path, query }`. */
  request: unknown
  /** The response body as received (a `covenant_receipt` field in it is ignored); for a stream, its chunks. */
  response: unknown
  /** The attested container key; when set, a receipt from any other key is rejected. */
  expectedSigner?: Address | undefined
  /** The attested measurement; when set, a receipt naming another is rejected. */
  expectedMeasurement?: Hash | undefined
}

/**
 * Checks a receipt against the exchange it claims to cover. Throws ReceiptMalformedError,
 * ReceiptHashMismatchError (request or response changed), ReceiptSignatureError (receipt
 * changed or forged) or ReceiptSignerMismatchError (not the attested key/build).
 */
export async function verifyReceipt(p: VerifyReceiptParameters): Promise<Receipt> {
  const parsed = receiptSchema.safeParse(p.receipt)
  if (!parsed.success) throw new ReceiptMalformedError(parsed.error.issues.map((i) => `${i.path.join('.') || 'receipt'}: ${i.message}`))
  const r = parsed.data
  const check = (field: 'requestHash' | 'responseHash' | 'outputHash', actual: Hash) => {
    if (r[field] !== actual) throw new ReceiptHashMismatchError({ field, expected: r[field], actual })
  }
  check('requestHash', hashJson(p.request))
  if (Array.isArray(p.response)) {
    // A stream: the chunks (chat) or events (responses) in order, each without its receipt.
    check('responseHash', hashJson(p.response.map(stripReceipt)))
    const last = p.response.at(-1) as { type?: unknown; response?: unknown } | undefined
    const responsesStream = typeof last?.type === 'string' && last.type.startsWith('response.')
    check('outputHash', responsesStream ? responsesOutputHash(last?.response) : chatOutputHash(assembleChatStream(p.response)))
  } else {
    check('responseHash', hashJson(stripReceipt(p.response)))
    check('outputHash', responseOutputHash(p.response))
  }
  // The signature is checked here, on the path of the call, not later: the record's replay
  // mode and a `receipts: 'require'` refusal depend on it, and both come before the agent acts
  // on the answer. Recovery goes through libsecp256k1 (secp256k1.ts): ~0.05 ms (native), ~0.21 (WebAssembly).
  let recovered: Address | undefined
  try {
    const digest = receiptDigest({
      measurement: r.measurement as Hex,
      modelDigest: r.modelDigest as Hex,
      requestHash: r.requestHash as Hex,
      responseHash: r.responseHash as Hex,
      outputHash: r.outputHash as Hex,
      issuedAt: r.issuedAt,
    })
    recovered = recoverDigestSigner(digest, r.signature as Hex)
  } catch {
    recovered = undefined
  }
  if (!recovered || recovered.toLowerCase() !== r.signer.toLowerCase()) {
    throw new ReceiptSignatureError({ claimed: r.signer, recovered })
  }
  if (p.expectedSigner && p.expectedSigner.toLowerCase() !== r.signer.toLowerCase()) {
    throw new ReceiptSignerMismatchError({ field: 'signer', expected: p.expectedSigner, actual: r.signer })
  }
  if (p.expectedMeasurement && p.expectedMeasurement !== r.measurement) {
    throw new ReceiptSignerMismatchError({ field: 'measurement', expected: p.expectedMeasurement, actual: r.measurement })
  }
  return r
}

export function encodeReceiptHeader(r: Receipt): string {
  return Buffer.from(JSON.stringify(r)).toString('base64url')
}

export function decodeReceiptHeader(value: string): unknown {
  try {
    return JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
  } catch {
    throw new ReceiptMalformedError([`${RECEIPT_HEADER} header is not base64url JSON`])
  }
}
