import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { packageRoot } from '../packageRoot.js'
import { tsxApiUrls } from '../threads/tsxApi.js'
import type { InferenceResult } from './backend.js'
import { InvalidTensorError, OnnxThreadClosedError, OnnxThreadExitedError, OnnxThreadRemoteError } from './errors.js'
import type { OnnxRunnerSpec } from './onnxRunner.js'
import type { ReplayRecord } from './schemas.js'

/** Which runner the thread opens (openOnnxRunner's spec). */
export type OnnxThreadSpec = OnnxRunnerSpec

/** An ONNX runner whose model runs on a thread of its own (see {@link startOnnxThread}). */
export type OnnxThread = {
  /** The digest of the model the thread runs. */
  readonly modelDigest: string
  /** Runs the model on the thread: the same output and record as the runner in this thread gives. */
  infer(input: unknown): Promise<InferenceResult<unknown>>
  /** Lets the inferences under way finish, then ends the thread; later calls are refused. */
  close(): Promise<void>
}

/** What this thread sends to the ONNX thread. */
export type OnnxThreadRequest = { id: number; input: unknown }
/** An error thrown in the ONNX thread, as it travels back. */
export type ThreadErrorInfo = { name: string; shortMessage: string; metaMessages: string[]; unrecoverable: boolean }
/** What the ONNX thread answers. */
export type OnnxThreadReply =
  | { kind: 'ready'; modelDigest: string }
  | { kind: 'failed'; error: ThreadErrorInfo }
  | { kind: 'result'; id: number; output: unknown; record: ReplayRecord }
  | { kind: 'error'; id: number; error: ThreadErrorInfo }

/**
 * Runs an ONNX agent's model on a worker thread of its own: the runner the service would make
 * in this thread (`createModerationClassifier` or `createOnnxBackend`, featurizing, the run,
 * and the record's encoding and hashing) opened in the thread, each `infer` one message there
 * and back. A service worker's main thread, which also appends the trace, updates tasks and
 * talks to Redis, is then free while the model runs: on 2 cores the moderation service's
 * main thread was the bottleneck, ONNX Runtime's `run` being synchronous on the thread that
 * calls it.
 *
 * Replay is unchanged: the thread runs the same onnxruntime-node build with the same pinned
 * settings, so its outputs and records are the ones the runner in this thread gives, bit for
 * bit (onnxThread.test.ts compares them). Errors come back with their name, message and hints
 * (an InvalidTensorError as one). If the thread ends while inferences are under way (an
 * uncaught error there), those reject with {@link OnnxThreadExitedError} and the next call
 * starts a new thread. An idle thread does not keep the process alive.
 *
 * Resolves once the model is loaded; a model that does not load rejects here, with the
 * error the runner threw.
 */
export async function startOnnxThread(spec: OnnxThreadSpec): Promise<OnnxThread> {
  const t = new ThreadRunner(spec)
  await t.start()
  return t
}

type Pending = { resolve: (r: InferenceResult<unknown>) => void; reject: (err: unknown) => void; settled: Promise<unknown> }

class ThreadRunner implements OnnxThread {
  readonly #spec: OnnxThreadSpec
  #worker: Worker | undefined
  #starting: Promise<Worker> | undefined
  #digest = ''
  #nextId = 1
  readonly #pending = new Map<number, Pending>()
  #closed = false

  constructor(spec: OnnxThreadSpec) {
    this.#spec = spec
  }

  get modelDigest(): string {
    return this.#digest
  }

  async start(): Promise<void> {
    await this.#ensure()
  }

  infer(input: unknown): Promise<InferenceResult<unknown>> {
    if (this.#closed) return Promise.reject(new OnnxThreadClosedError(this.#spec.model))
    const w = this.#worker
    return w ? this.#send(w, input) : this.#ensure().then((started) => this.#send(started, input))
  }

  #send(w: Worker, input: unknown): Promise<InferenceResult<unknown>> {
    const id = this.#nextId++
    let resolve!: Pending['resolve']
    let reject!: Pending['reject']
    const answer = new Promise<InferenceResult<unknown>>((res, rej) => {
      resolve = res
      reject = rej
    })
    try {
      w.postMessage({ id, input } satisfies OnnxThreadRequest)
    } catch (err) {
      // a value structured clone cannot copy (a function, a class instance with private state)
      return Promise.reject(new InvalidTensorError('the model input cannot be sent to the ONNX thread', { hint: err instanceof Error ? err.message : String(err) }))
    }
    this.#pending.set(id, { resolve, reject, settled: answer.catch(() => {}) })
    if (this.#pending.size === 1) w.ref()
    return answer
  }

  #ensure(): Promise<Worker> {
    if (this.#worker) return Promise.resolve(this.#worker)
    this.#starting ??= this.#spawn().finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  #spawn(): Promise<Worker> {
    const { url, tsx } = threadEntry()
    const w = new Worker(BOOT_URL, { workerData: { entry: url, tsx, spec: this.#spec } })
    return new Promise<Worker>((resolve, reject) => {
      // listeners removed one by one: a Worker's removeAllListeners() also drops those Node
      // relies on to deliver its messages
      const onError = (err: unknown) => failed(new OnnxThreadExitedError({ model: this.#spec.model, pending: 0, cause: err }))
      const onExit = (code: number) => failed(new OnnxThreadExitedError({ model: this.#spec.model, pending: 0, cause: new Error(`the thread exited with code ${code}`) }))
      const onMessage = (m: OnnxThreadReply) => {
        if (m.kind !== 'ready') return failed(m.kind === 'failed' ? rebuildError(m.error) : new Error(`unexpected first message ${m.kind}`))
        stopListening()
        this.#digest = m.modelDigest
        this.#attach(w)
        resolve(w)
      }
      const stopListening = () => {
        w.off('error', onError)
        w.off('exit', onExit)
        w.off('message', onMessage)
      }
      const failed = (cause: unknown) => {
        stopListening()
        void w.terminate()
        reject(cause)
      }
      w.on('error', onError)
      w.on('exit', onExit)
      w.on('message', onMessage)
    })
  }

  #attach(w: Worker): void {
    this.#worker = w
    if (this.#pending.size === 0) w.unref()
    w.on('message', (m: OnnxThreadReply) => {
      if (m.kind !== 'result' && m.kind !== 'error') return
      const p = this.#pending.get(m.id)
      if (!p) return
      this.#pending.delete(m.id)
      if (this.#pending.size === 0) w.unref()
      if (m.kind === 'result') p.resolve({ output: m.output, record: m.record })
      else p.reject(rebuildError(m.error))
    })
    const died = (cause: unknown) => {
      if (this.#worker !== w) return
      this.#worker = undefined
      const pending = [...this.#pending.values()]
      this.#pending.clear()
      const err = new OnnxThreadExitedError({ model: this.#spec.model, pending: pending.length, cause })
      for (const p of pending) p.reject(err)
    }
    w.on('error', died)
    w.on('exit', (code) => died(new Error(`the thread exited with code ${code}`)))
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#starting?.catch(() => {})
    await Promise.all([...this.#pending.values()].map((p) => p.settled))
    const w = this.#worker
    this.#worker = undefined
    await w?.terminate()
  }
}

/** Rebuilds an error the thread threw: an InvalidTensorError as one, any other with its name and hints. */
function rebuildError(e: ThreadErrorInfo): Error {
  if (e.name === 'InvalidTensorError') return new InvalidTensorError(e.shortMessage.replace(/^invalid tensor: /, ''), { hint: e.metaMessages[0] })
  return new OnnxThreadRemoteError(e)
}

/**
 * The thread's module: beside this one (`.ts` under tsx or vitest, with tsx registered in the
 * thread; `.js` once built); from a bundle of this code (the CommonJS build, a test's child
 * bundle), the repository's source through tsx where there is one, else the package's ES build.
 */
function threadEntry(): { url: string; tsx: string[] } {
  const here = import.meta.url
  const ts = here.endsWith('.ts')
  const sibling = new URL(`./onnxThreadEntry.${ts ? 'ts' : 'js'}`, here)
  if (existsSync(fileURLToPath(sibling))) return { url: sibling.href, tsx: ts ? tsxApiUrls() : [] }
  const source = join(packageRoot(), 'src', 'inference', 'onnxThreadEntry.ts')
  const tsx = tsxApiUrls()
  if (tsx.length > 0 && existsSync(source)) return { url: pathToFileURL(source).href, tsx }
  return { url: pathToFileURL(join(packageRoot(), 'dist', 'src', 'inference', 'onnxThreadEntry.js')).href, tsx: [] }
}

// The thread's first module: registers tsx when the entry is TypeScript, then imports it.
const BOOT_SOURCE = `
import { workerData } from 'node:worker_threads'
for (const api of workerData.tsx) {
  const { register } = await import(api)
  register()
}
await import(workerData.entry)
`
const BOOT_URL = new URL(`data:text/javascript,${encodeURIComponent(BOOT_SOURCE)}`)
