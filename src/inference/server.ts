import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { boundedBody } from '../http/readBody.js'
import type { Logger } from 'pino'
import type { Address, Hex } from 'viem'
import { createSimulatedQuote } from './attestation.js'
import { type ChatEngine, createChatEngine } from './chatEngine.js'
import { type ChatCompleter, chatEngineForModel } from './chatEngines.js'
import { chatOutputHash } from './chatOutput.js'
import { planChatRequest } from './chatRequest.js'
import { streamChatCompletion } from './chatStream.js'
import { newResponseId, responsesOutputHash, toResponsesBody } from './responsesOutput.js'
import { planResponsesRequest, responsesParam } from './responsesRequest.js'
import { streamResponse } from './responsesStream.js'
import { type ContainerKey, ephemeralContainerKey } from './containerKey.js'
import { BaseError } from '../errors/base.js'
import { ChatConstraintError, InvalidChatRequestError, InvalidTensorError } from './errors.js'
import { type Hash, hashJson, sha256Hex } from './hash.js'
import { jsonTextDepth } from './jsonDepth.js'
import { type MeasurementInputs, computeMeasurement, serverBuildHash } from './measurement.js'
import { type ModelStore, type StoredModel, shippedModelStore } from './modelStore.js'
import { type ModerationClassifier, createModerationClassifier, moderationOutput } from './moderation.js'
import { type OnnxBackend, createOnnxBackend } from './onnxBackend.js'
import { RECEIPT_HEADER, ZERO_HASH, encodeReceiptHeader, responseOutputHash, signReceipt, stripReceipt } from './receipt.js'
import { type Receipt, inferRequestSchema } from './schemas.js'
import { type DeterministicSettings, RUNTIME_NAME, resolveSettings, runtimeVersion, settingsRecord } from './settings.js'
import { type DType, type EncodedTensor, type TensorValue, decodeTensor, encodeTensor, hashTensors, tensorFromNumbers } from './tensor.js'

/**
 * The inference container: an OpenAI-compatible HTTP server for the shipped ONNX models.
 *
 *   POST /v1/chat/completions   chat models (covenant-chat): every OpenAI field honoured or refused
 *                               (chatRequest.ts), constrained greedy decoding, SSE per decoded piece
 *   POST /v1/responses          a subset of the Responses API, read as the chat completion it is
 *                               (responsesRequest.ts); SSE with the Responses event types
 *   POST /v1/infer              tensor models: { model, text } or { model, inputs: [tensor…] }
 *   GET  /v1/models             served models and their digests
 *   GET  /attestation[?nonce=]  key, measurement, SimulatedQuote (simulated: true)
 *
 * Every response — errors included — carries a receipt signed by the container key
 * (`covenant_receipt` in JSON bodies and the `x-covenant-receipt` header; a stream's in its
 * last chunk, since it covers every chunk).
 */
export type CreateInferenceAppParameters = {
  /** @defaultValue the shipped models */
  store?: ModelStore | undefined
  /** @defaultValue a fresh ephemeral key */
  key?: ContainerKey | undefined
  settings?: Partial<DeterministicSettings> | undefined
  /** Sign responses. Only the benchmark turns this off, to measure what signing costs. @defaultValue true */
  receipts?: boolean | undefined
  /** Largest request body in bytes. @defaultValue 1 MiB */
  maxBodyBytes?: number | undefined
  logger?: Logger | undefined
}

export type InferenceApp = {
  app: Hono
  address: Address
  measurement: Hash
  measurementInputs: MeasurementInputs
  models: ReadonlyArray<{ model: StoredModel; kind: 'chat' | 'tensor' }>
}

/**
 * Levels of nesting a request body may have. A request becomes part of a replay record in a
 * trace step, and steps allow MAX_JSON_DEPTH (64, src/trace) in all; 48 leaves room for the
 * step and the record around it. Checked on the text, before parsing.
 */
export const MAX_REQUEST_DEPTH = 48
/** Longest error message: what is wrong, never the input echoed at length. */
const MAX_ERROR_MESSAGE = 300

type Served = { model: StoredModel; kind: 'chat'; engine: ChatEngine | ChatCompleter } | { model: StoredModel; kind: 'tensor'; backend: OnnxBackend; classifier?: ModerationClassifier }

export async function createInferenceApp(p: CreateInferenceAppParameters = {}): Promise<InferenceApp> {
  const store = p.store ?? shippedModelStore()
  const key = p.key ?? ephemeralContainerKey()
  const settings = resolveSettings(p.settings)
  const receipts = p.receipts ?? true
  const log = p.logger

  const served: Served[] = []
  for (const model of store.list()) {
    const prompt = (model.meta?.['prompt'] as { kind?: string } | undefined)?.kind
    if (model.kind === 'causal-lm') {
      served.push({ model, kind: 'chat', engine: await chatEngineForModel(store, model, settings) })
    } else if (prompt === 'covenant-chat-v1') {
      served.push({ model, kind: 'chat', engine: await createChatEngine({ store, model, settings }) })
    } else {
      const backend = await createOnnxBackend({ model, store, settings })
      const hasFeaturizer = (model.meta?.['featurizer'] as { kind?: string } | undefined)?.kind === 'hashed-ngrams-v1'
      const classifier = hasFeaturizer ? await createModerationClassifier({ store, model: model.name, settings }) : undefined
      served.push({ model, kind: 'tensor', backend, ...(classifier ? { classifier } : {}) })
    }
  }
  const measurementInputs: MeasurementInputs = {
    kind: 'covenant-inference-container/v1',
    serverBuild: serverBuildHash(),
    node: process.version,
    models: served.map((s) => ({ name: s.model.name, digest: s.model.digest })).sort((a, b) => (a.name < b.name ? -1 : 1)),
    runtime: { name: RUNTIME_NAME, version: runtimeVersion() },
    settings: settingsRecord(settings),
  }
  const measurement = computeMeasurement(measurementInputs)
  const fingerprint = `fp_${measurement.slice(2, 14)}`
  const find = (name: string) => served.find((s) => s.model.name === name || s.model.digest === name.toLowerCase())

  /** Signs and sends a JSON body; `request` is what requestHash covers. */
  const send = async (c: Context, status: number, body: Record<string, unknown>, request: unknown, modelDigest: Hash = ZERO_HASH) => {
    if (!receipts) return c.json(body, status as 200)
    const receipt: Receipt = await signReceipt(key.account, {
      measurement,
      modelDigest,
      requestHash: hashJson(request),
      responseHash: hashJson(body),
      outputHash: responseOutputHash(body),
      issuedAt: Math.floor(Date.now() / 1000),
    })
    c.header(RECEIPT_HEADER, encodeReceiptHeader(receipt))
    return c.json({ ...body, covenant_receipt: receipt }, status as 200)
  }
  const getDescriptor = (c: Context) => ({ method: c.req.method, path: c.req.path, query: c.req.query() })
  const fail = (c: Context, status: number, type: string, message: string, request: unknown, code: string | null = null, param: string | null = null) =>
    send(c, status, { error: { message: clip(message, MAX_ERROR_MESSAGE), type, param, code } }, request)

  /**
   * Parses a JSON body, answering 400 itself when it is not JSON or nests deeper than
   * MAX_REQUEST_DEPTH (checked on the text: no parser, validator or hash recurses into it).
   * The body's size was bounded already (bodyLimit: 413).
   */
  const readJson = async (c: Context): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> => {
    const raw = await c.req.text()
    if (jsonTextDepth(raw, MAX_REQUEST_DEPTH) > MAX_REQUEST_DEPTH) {
      return { ok: false, response: await fail(c, 400, 'invalid_request_error', `the request body nests arrays and objects deeper than ${MAX_REQUEST_DEPTH} levels`, { rawSha256: sha256Hex(raw) }) }
    }
    try {
      return { ok: true, body: JSON.parse(raw) as unknown }
    } catch {
      return { ok: false, response: await fail(c, 400, 'invalid_request_error', 'the request body is not valid JSON', { rawSha256: sha256Hex(raw) }) }
    }
  }

  const app = new Hono()
  app.use('*', async (c, next) => {
    const t0 = performance.now()
    await next()
    log?.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'request')
  })
  app.use(
    '/v1/*',
    // an oversize body — chunked too — gets a 413 the client can read, and the connection
    // survives for its next request (the rest of the body is drained)
    boundedBody(p.maxBodyBytes ?? 1 << 20, (c) =>
      fail(c, 413, 'invalid_request_error', `request body larger than ${p.maxBodyBytes ?? 1 << 20} bytes`, getDescriptor(c)),
    ),
  )

  app.post('/v1/chat/completions', async (c) => {
    const read = await readJson(c)
    if (!read.ok) return read.response
    const raw = read.body
    // every field honoured or refused (chatRequest.ts; a causal LM's own gate), before any model runs
    const named = typeof raw === 'object' && raw !== null ? (raw as { model?: unknown }).model : undefined
    const addressed = typeof named === 'string' ? find(named) : undefined
    const planned = addressed?.kind === 'chat' && 'gate' in addressed.engine && addressed.engine.gate ? addressed.engine.gate(raw) : planChatRequest(raw)
    if (!planned.ok) return fail(c, 400, 'invalid_request_error', planned.issue.message, raw, planned.issue.code, planned.issue.param)
    const { request, plan } = planned
    const target = find(request.model)
    if (!target || target.kind !== 'chat') {
      const chats = served.filter((s) => s.kind === 'chat').map((s) => s.model.name)
      return fail(c, 404, 'invalid_request_error', `model ${quote(request.model)} is not a chat model served here; use one of: ${chats.join(', ')}`, raw, 'model_not_found', 'model')
    }
    const refused = (err: unknown) => {
      if (err instanceof ChatConstraintError) return fail(c, 400, 'invalid_request_error', err.shortMessage, raw, 'unsatisfiable_constraint', err.param)
      if (err instanceof InvalidChatRequestError) return fail(c, 400, 'invalid_request_error', err.issues.join('; '), raw, err.code, err.param)
      throw err
    }
    const modelDigest = target.model.digest
    if (plan.stream) {
      const streamed = await streamChatCompletion({
        engine: target.engine,
        raw,
        plan,
        systemFingerprint: fingerprint,
        ...(receipts
          ? {
              sign: (chunks, completion) =>
                signReceipt(key.account, {
                  measurement,
                  modelDigest,
                  requestHash: hashJson(raw),
                  responseHash: hashJson(chunks.map((ch) => stripReceipt(ch))),
                  outputHash: chatOutputHash(completion),
                  issuedAt: Math.floor(Date.now() / 1000),
                }),
            }
          : {}),
      })
      return streamed.ok ? streamed.response : refused(streamed.error)
    }
    try {
      const { output } = await target.engine.complete(raw, { systemFingerprint: fingerprint })
      return await send(c, 200, output as unknown as Record<string, unknown>, raw, modelDigest)
    } catch (err) {
      return refused(err)
    }
  })

  app.post('/v1/responses', async (c) => {
    const read = await readJson(c)
    if (!read.ok) return read.response
    const raw = read.body
    // the Responses request is read as the chat completion the model runs; every field honoured or refused
    const planned = planResponsesRequest(raw)
    if (!planned.ok) return fail(c, 400, 'invalid_request_error', planned.issue.message, raw, planned.issue.code, planned.issue.param)
    const { request, chat } = planned
    const target = find(request.model)
    if (!target || target.kind !== 'chat') {
      const chats = served.filter((s) => s.kind === 'chat').map((s) => s.model.name)
      return fail(c, 404, 'invalid_request_error', `model ${quote(request.model)} is not a chat model served here; use one of: ${chats.join(', ')}`, raw, 'model_not_found', 'model')
    }
    const refused = (err: unknown) => {
      if (err instanceof ChatConstraintError) return fail(c, 400, 'invalid_request_error', err.shortMessage, raw, 'unsatisfiable_constraint', responsesParam(err.param))
      if (err instanceof InvalidChatRequestError) return fail(c, 400, 'invalid_request_error', err.issues.join('; '), raw, err.code, responsesParam(err.param))
      throw err
    }
    const modelDigest = target.model.digest
    // requestHash covers the Responses request as sent; the chat request the model reads is a
    // pure function of its canonical JSON, so the hash pins the prompt
    if (request.stream === true) {
      const streamed = await streamResponse({
        engine: target.engine,
        request,
        chat,
        systemFingerprint: fingerprint,
        ...(receipts
          ? {
              sign: (events, response) =>
                signReceipt(key.account, {
                  measurement,
                  modelDigest,
                  requestHash: hashJson(raw),
                  responseHash: hashJson(events.map((e) => stripReceipt(e))),
                  outputHash: responsesOutputHash(response),
                  issuedAt: Math.floor(Date.now() / 1000),
                }),
            }
          : {}),
      })
      return streamed.ok ? streamed.response : refused(streamed.error)
    }
    try {
      const id = newResponseId()
      const { output } = await target.engine.complete(chat, { systemFingerprint: fingerprint })
      const body = toResponsesBody({ completion: output, request, id, createdAt: output.created })
      return await send(c, 200, body, raw, modelDigest)
    } catch (err) {
      return refused(err)
    }
  })

  app.post('/v1/infer', async (c) => {
    const read = await readJson(c)
    if (!read.ok) return read.response
    const raw = read.body
    const parsed = inferRequestSchema.safeParse(raw)
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
      return fail(c, 400, 'invalid_request_error', `invalid inference request (send { model, text } or { model, inputs: [{ name, dtype, shape, data }] }): ${issues.join('; ')}`, raw)
    }
    const req = parsed.data
    const target = find(req.model)
    if (!target || target.kind !== 'tensor') {
      const names = served.filter((s) => s.kind === 'tensor').map((s) => s.model.name)
      return fail(c, 404, 'invalid_request_error', `model ${quote(req.model)} is not a tensor model served here; use one of: ${names.join(', ')}`, raw, 'model_not_found')
    }
    try {
      let outputs: Record<string, TensorValue>
      let inputHash: Hash
      let result: Record<string, unknown> | undefined
      if ('text' in req) {
        if (!target.classifier) {
          return fail(c, 400, 'invalid_request_error', `model "${target.model.name}" has no text featurizer; send inputs (tensors) instead`, raw)
        }
        const r = await target.classifier.classify(req.text)
        outputs = { logits: { dtype: 'float32', shape: [1, r.output.logits.length], data: Float32Array.from(r.output.logits) } }
        inputHash = r.record.inputHash as Hash
        const out = moderationOutput(target.classifier.labels, outputs['logits']!.data as Float32Array)
        result = { label: out.label, scores: out.scores }
      } else {
        const feeds: Record<string, TensorValue> = {}
        for (const t of req.inputs) {
          // two tensors under one name: the model would see only the last, the receipt covers both
          if (Object.hasOwn(feeds, t.name)) return fail(c, 400, 'invalid_request_error', `inputs name ${quote(t.name)} more than once`, raw)
          feeds[t.name] = toTensor(t)
        }
        const r = await target.backend.run(feeds)
        outputs = r.output
        inputHash = r.record.inputHash as Hash
      }
      const encoded: EncodedTensor[] = Object.keys(outputs)
        .sort()
        .map((n) => encodeTensor(n, outputs[n]!))
      const body: Record<string, unknown> = {
        object: 'inference',
        model: target.model.name,
        modelDigest: target.model.digest,
        outputs: encoded,
        ...(result ? { result } : {}),
        covenant: { inputHash, outputHash: hashTensors(outputs), runtime: { name: RUNTIME_NAME, version: runtimeVersion(), settings: settingsRecord(settings) }, replay: 'exact' },
      }
      return send(c, 200, body, raw, target.model.digest)
    } catch (err) {
      if (err instanceof InvalidTensorError) return fail(c, 400, 'invalid_request_error', err.message.replace(/\n+/g, ' '), raw)
      throw err
    }
  })

  app.get('/v1/models', (c) =>
    send(
      c,
      200,
      {
        object: 'list',
        data: served.map((s) => ({
          id: s.model.name,
          object: 'model',
          created: 0,
          owned_by: 'covenant',
          digest: s.model.digest,
          kind: s.kind,
          size_bytes: s.model.sizeBytes,
        })),
      },
      getDescriptor(c),
    ),
  )

  app.get('/attestation', async (c) => {
    const nonce = c.req.query('nonce')
    if (nonce !== undefined && !/^0x[0-9a-fA-F]{0,128}$/.test(nonce)) {
      return fail(c, 400, 'invalid_request_error', 'nonce must be 0x followed by at most 128 hex digits', getDescriptor(c))
    }
    const quote = await createSimulatedQuote(key.account, measurementInputs, { nonce: nonce as Hex | undefined })
    return send(
      c,
      200,
      {
        simulated: true,
        notice: quote.notice,
        address: key.account.address,
        publicKey: key.account.publicKey,
        keySource: key.source,
        measurement,
        measurementInputs,
        quote,
      },
      getDescriptor(c),
    )
  })

  app.notFound((c) => fail(c, 404, 'invalid_request_error', `no route ${c.req.method} ${clip(c.req.path, 60)}; see GET /v1/models, POST /v1/chat/completions, POST /v1/responses, POST /v1/infer, GET /attestation`, getDescriptor(c)))
  app.onError((err, c) => {
    const status = err instanceof BaseError ? 400 : 500
    log?.error({ err: err instanceof BaseError ? err.shortMessage : String(err) }, 'request failed')
    const message = err instanceof BaseError ? err.shortMessage : 'internal error'
    return fail(c, status, status === 400 ? 'invalid_request_error' : 'server_error', message, getDescriptor(c))
  })

  return { app, address: key.account.address, measurement, measurementInputs, models: served.map((s) => ({ model: s.model, kind: s.kind })) }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`
}

/** Input quoted for a message: at most 40 characters of it. */
function quote(s: string): string {
  return JSON.stringify(clip(s, 40))
}

function toTensor(t: { name: string; dtype: DType; shape: number[]; data: string | number[]; layout?: EncodedTensor['layout'] }): TensorValue {
  if (typeof t.data === 'string') return decodeTensor(t as EncodedTensor)
  if (t.layout === 'sparse-v1') throw new InvalidTensorError(`tensor "${t.name}" is sparse-v1 but its data is a number array`, { hint: 'Send sparse-v1 data as base64, or numbers without a layout.' })
  return tensorFromNumbers(t.dtype, t.shape, t.data)
}

export type StartInferenceServerParameters = CreateInferenceAppParameters & {
  /** @defaultValue 8000; 0 picks a free port */
  port?: number | undefined
  /** @defaultValue 127.0.0.1 */
  host?: string | undefined
}

export type InferenceServer = InferenceApp & {
  /** Base URL for OpenAI clients, e.g. `http://127.0.0.1:8000/v1`. */
  baseURL: string
  /** The server's root URL (GET /attestation lives here). */
  url: string
  host: string
  port: number
  close(): Promise<void>
}

/** Starts the container and resolves once it listens. */
export async function startInferenceServer(p: StartInferenceServerParameters = {}): Promise<InferenceServer> {
  const inference = await createInferenceApp(p)
  const host = p.host ?? '127.0.0.1'
  const wanted = p.port ?? 8000
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: inference.app.fetch, port: wanted, hostname: host }, () => resolve(s))
    s.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  return {
    ...inference,
    url,
    baseURL: `${url}/v1`,
    host,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}
