import { randomBytes } from 'node:crypto'
import { ChatOpenAI, type ChatOpenAIFields } from '@langchain/openai'
import type { Hex } from 'viem'
import { bufferedFetch } from '../http/bufferedFetch.js'
import { bufferedResponse } from '../http/bufferedResponse.js'
import { type QuoteVerifier, type VerifiedQuote, verifyQuote } from './attestation.js'
import type { InferenceBackend, InferenceResult } from './backend.js'
import { assembleChatStream, chatOutputHash } from './chatOutput.js'
import { EndpointError, ReceiptMissingError, ReceiptSignerMismatchError } from './errors.js'
import { endpointModelDigest } from './endpointDigest.js'
import { type Hash, hashJson } from './hash.js'
import { type ModelStore, shippedModelStore } from './modelStore.js'
import { RECEIPT_HEADER, ZERO_HASH, decodeReceiptHeader, verifyReceipt } from './receipt.js'
import type { Receipt, ReplayMode, ReplayRecord } from './schemas.js'

/**
 * OpenAI-compatible endpoints through LangChain's ChatOpenAI. A recording `fetch` passed
 * in `configuration` sees every HTTP exchange: it keeps the exact request body (model,
 * messages, tools, seed, temperature) and the full response (system_fingerprint,
 * covenant_receipt), verifies the receipt when there is one, and turns the exchange into
 * one ReplayRecord. Headers are never recorded (they carry the API key).
 *
 * What `replay` a record gets is a property of the endpoint, decided per response:
 * - `exact`: a receipt that verifies (against the container's attested key) for a model
 *   digest this machine has, so a verifier can re-run it bit for bit;
 * - `attested`: a verified receipt, but for a model this machine cannot run;
 * - `none`: no receipt (any other OpenAI-compatible API), unless `replay` says otherwise.
 */
export type CreateChatModelParameters = {
  /** e.g. `http://127.0.0.1:8000/v1` (the container) or any OpenAI-compatible URL. */
  baseURL: string
  model: string
  /**
   * Sent as a bearer token; never recorded or logged, and blanked out of any error body an
   * endpoint echoes it in. @defaultValue `OPENAI_API_KEY` from the environment, else 'covenant-local'
   */
  apiKey?: string | undefined
  /**
   * Overrides the derived replay mode for every record of this endpoint (state what you know,
   * as the agent manifest registers it). `none` and `attested` also name the model by
   * endpoint and name ({@link endpointModelDigest}), the digest the manifest registers for a
   * model Covenant cannot run.
   */
  replay?: ReplayMode | undefined
  /**
   * `require`: a response without a valid receipt fails. `verify`: receipts present are
   * verified (failing if invalid); missing ones give `replay: "none"`. `ignore`: never checked.
   * @defaultValue 'verify'
   */
  receipts?: 'require' | 'verify' | 'ignore' | undefined
  /**
   * Check receipts against GET /attestation (the attested key and measurement), fetched
   * with a fresh nonce when the first receipt arrives. `false` checks only that a receipt
   * is self-consistent. @defaultValue {} (simulated quotes accepted, and recorded as such)
   */
  attestation?:
    | false
    | { verifiers?: readonly QuoteVerifier[] | undefined; requireHardware?: boolean | undefined; expectedMeasurement?: Hash | undefined }
    | undefined
  /** Models this machine can replay (decides `exact`). @defaultValue the shipped models */
  store?: ModelStore | undefined
  /** @defaultValue 0 (greedy) */
  temperature?: number | undefined
  seed?: number | undefined
  /** Retries by LangChain; each attempt becomes its own record. @defaultValue 0 */
  maxRetries?: number | undefined
  /**
   * What reaches the endpoint. @defaultValue bufferedFetch (node:http with keep-alive sockets,
   * src/http/bufferedFetch.ts): the recorder reads each answer whole anyway, to check its
   * receipt and record it, and this costs less CPU per call than Node's global fetch
   */
  fetch?: typeof fetch | undefined
  /** Other ChatOpenAI fields. */
  chatOptions?: Partial<ChatOpenAIFields> | undefined
}

export type ChatModel = {
  chat: ChatOpenAI
  /** Hands over (and forgets) the records of the exchanges since the last call. */
  takeRecords(): ReplayRecord[]
  /** The endpoint's verified attestation, once fetched. */
  attestation(): Promise<VerifiedQuote | undefined>
  /** The recording fetch, for other OpenAI clients. */
  fetch: typeof fetch
}

/** The bearer token for an endpoint: the one given, else OPENAI_API_KEY, else the container's placeholder. */
function apiKeyOf(p: CreateChatModelParameters): string {
  return p.apiKey ?? process.env['OPENAI_API_KEY'] ?? 'covenant-local'
}

export function createChatModel(p: CreateChatModelParameters): ChatModel {
  const { fetch: recordingFetch, takeRecords, attestation } = createRecorder(p)
  const chat = new ChatOpenAI({
    model: p.model,
    apiKey: apiKeyOf(p),
    temperature: p.temperature ?? 0,
    maxRetries: p.maxRetries ?? 0,
    ...(p.seed !== undefined ? { modelKwargs: { seed: p.seed } } : {}),
    ...p.chatOptions,
    configuration: { ...p.chatOptions?.configuration, baseURL: p.baseURL, fetch: recordingFetch },
  })
  return { chat, takeRecords, attestation, fetch: recordingFetch }
}

/** The same recorder as a plain InferenceBackend: `run(body)` posts one chat completion request. */
export function createOpenAICompatibleBackend(p: CreateChatModelParameters): InferenceBackend<Record<string, unknown>, unknown> {
  const recorder = createRecorder(p)
  return {
    kind: 'openai-compatible',
    async run(body): Promise<InferenceResult<unknown>> {
      const res = await recorder.fetch(`${p.baseURL.replace(/\/$/, '')}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKeyOf(p)}` },
        body: JSON.stringify({ model: p.model, ...body }),
      })
      const text = await res.text()
      const record = recorder.takeRecords().at(-1)
      if (!res.ok || !record) throw new EndpointError({ url: sanitizeUrl(p.baseURL), status: res.status, detail: text.slice(0, 500) })
      return { output: JSON.parse(text) as unknown, record }
    },
  }
}

function createRecorder(p: CreateChatModelParameters) {
  const baseFetch = p.fetch ?? bufferedFetch
  const store = p.store ?? shippedModelStore()
  const receipts = p.receipts ?? 'verify'
  const records: ReplayRecord[] = []
  let attested: Promise<VerifiedQuote> | undefined

  const fetchAttestation = (): Promise<VerifiedQuote> => {
    const opts = p.attestation === false ? {} : (p.attestation ?? {})
    const nonce = `0x${randomBytes(32).toString('hex')}` as Hex
    const url = new URL('../attestation', `${p.baseURL.replace(/\/$/, '')}/`)
    url.searchParams.set('nonce', nonce)
    return baseFetch(url).then(async (res) => {
      const text = await res.text()
      if (!res.ok) throw new EndpointError({ url: sanitizeUrl(url.toString()), status: res.status, detail: text.slice(0, 500) })
      const body = JSON.parse(text) as { quote?: unknown }
      return verifyQuote(body.quote, { verifiers: opts.verifiers, nonce, requireHardware: opts.requireHardware, expectedMeasurement: opts.expectedMeasurement })
    })
  }

  const checkReceipt = async (receipt: unknown, request: unknown, response: unknown): Promise<{ receipt: Receipt; quote?: VerifiedQuote }> => {
    if (p.attestation === false) return { receipt: await verifyReceipt({ receipt, request, response }) }
    attested ??= fetchAttestation()
    let quote = await attested.catch((err: unknown) => {
      attested = undefined
      throw err
    })
    try {
      return { receipt: await verifyReceipt({ receipt, request, response, expectedSigner: quote.signer, expectedMeasurement: quote.measurement }), quote }
    } catch (err) {
      // An ephemeral key changes when the container restarts: re-attest once.
      if (!(err instanceof ReceiptSignerMismatchError)) throw err
      attested = fetchAttestation()
      quote = await attested
      return { receipt: await verifyReceipt({ receipt, request, response, expectedSigner: quote.signer, expectedMeasurement: quote.measurement }), quote }
    }
  }

  const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString()
    const bodyText = typeof init?.body === 'string' ? init.body : init?.body instanceof Uint8Array ? Buffer.from(init.body).toString('utf8') : undefined
    const startedAt = Date.now()
    const t0 = performance.now()
    const res = await baseFetch(input, init)
    let text = await res.text()
    const durationMs = performance.now() - t0
    // an endpoint may quote the key it refused ("Incorrect API key provided: sk-…"): it never reaches an error or a log
    const key = apiKeyOf(p)
    if (!res.ok && key.length >= 8 && text.includes(key)) text = text.replaceAll(key, '[redacted api key]')
    const streamed = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    // the answer is read whole: handed on as such (a streamed one keeps a body to iterate)
    const copy = streamed
      ? new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers })
      : bufferedResponse({ status: res.status, statusText: res.statusText, headers: res.headers, url: res.url || url, body: text })
    if (!new URL(url).pathname.endsWith('/chat/completions') || bodyText === undefined || !res.ok) return copy

    const request = JSON.parse(bodyText) as Record<string, unknown>
    const chunks = streamed ? parseSse(text) : undefined
    const response = chunks ?? (JSON.parse(text) as Record<string, unknown>)
    const assembled = chunks ? assembleChatStream(chunks) : response
    const inBody = chunks
      ? (chunks.at(-1) as Record<string, unknown> | undefined)?.['covenant_receipt']
      : (response as Record<string, unknown>)['covenant_receipt']
    const header = res.headers.get(RECEIPT_HEADER)
    const rawReceipt = inBody ?? (header ? decodeReceiptHeader(header) : undefined)

    let receipt: Receipt | undefined
    let quote: VerifiedQuote | undefined
    if (receipts !== 'ignore' && rawReceipt !== undefined) ({ receipt, quote } = await checkReceipt(rawReceipt, request, response))
    if (receipts === 'require' && !receipt) throw new ReceiptMissingError({ url: sanitizeUrl(url) })

    const first = chunks?.[0] as Record<string, unknown> | undefined
    const modelName = String((chunks ? first?.['model'] : (response as Record<string, unknown>)['model']) ?? request['model'] ?? '')
    const fingerprint = (chunks ? first : (response as Record<string, unknown>))?.['system_fingerprint']
    const known = receipt && receipt.modelDigest !== ZERO_HASH ? store.find(receipt.modelDigest) : undefined
    const derived: ReplayMode = receipt ? (known ? 'exact' : 'attested') : 'none'
    const endpointUrl = sanitizeUrl(url)
    // a model declared `none`/`attested` is registered by endpoint and name, whatever the receipt says it ran
    const byEndpoint = p.replay === 'none' || p.replay === 'attested' || !receipt || receipt.modelDigest === ZERO_HASH
    records.push({
      backend: 'openai-compatible',
      format: 'chat-completions-v1',
      modelDigest: byEndpoint || !receipt ? endpointModelDigest(p.baseURL, String(request['model'] ?? p.model)) : receipt.modelDigest,
      model: { name: modelName, digestOf: byEndpoint ? 'endpoint-and-name' : 'model-bytes' },
      runtime: {
        name: 'openai-compatible',
        version: typeof fingerprint === 'string' ? fingerprint : 'unknown',
        settings: {
          model: String(request['model'] ?? ''),
          temperature: typeof request['temperature'] === 'number' ? request['temperature'] : 'default',
          seed: typeof request['seed'] === 'number' ? request['seed'] : 'none',
          stream: streamed,
        },
      },
      replay: p.replay ?? derived,
      request,
      // the exact bytes sent: traces store records as canonical JSON (sorted keys), and the
      // prompt depends on the order of the tools' properties, so replay needs the original
      requestBody: bodyText,
      response: chunks ? { object: 'chat.completion.stream', chunks } : response,
      // a verified receipt's requestHash is hashJson(request), checked above: not hashed twice
      inputHash: receipt ? receipt.requestHash : hashJson(request),
      // a verified receipt of a (non-streamed) chat completion has checked its outputHash
      // against this very response (verifyReceipt: chatOutputHash of its choices): not hashed twice
      outputHash: receipt && !chunks && (response as Record<string, unknown>)['object'] === 'chat.completion' ? receipt.outputHash : chatOutputHash(assembled),
      timing: { startedAt, durationMs: Math.round(durationMs * 1000) / 1000 },
      endpoint: {
        url: endpointUrl,
        ...(receipt ? { signer: receipt.signer, measurement: receipt.measurement } : {}),
        quote: quote ? (quote.simulated ? 'simulated' : 'hardware') : 'none',
      },
      ...(receipt ? { receipt } : {}),
    })
    return copy
  }

  return {
    fetch: recordingFetch as typeof fetch,
    takeRecords: () => records.splice(0),
    attestation: async () => (attested ? attested.catch(() => undefined) : undefined),
  }
}

/** Origin and path only: no credentials, no query (which may carry keys). */
export function sanitizeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return '<invalid url>'
  }
}

function parseSse(text: string): unknown[] {
  const out: unknown[] = []
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n')
    if (data === '' || data === '[DONE]') continue
    out.push(JSON.parse(data))
  }
  return out
}
