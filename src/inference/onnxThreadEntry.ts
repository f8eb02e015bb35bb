// The ONNX thread's side of onnxThread.ts, started by it in a worker thread (nothing else
// imports this module): it opens the runner its spec names, says `ready` (or why it could
// not open), and answers each request with the runner's output and replay record, or the
// error it threw, described so that the caller can rebuild it.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import type { InferenceResult } from './backend.js'
import { createModerationClassifier } from './moderation.js'
import { createOnnxBackend, type TensorMap } from './onnxBackend.js'
import type { OnnxThreadReply, OnnxThreadRequest, OnnxThreadSpec, ThreadErrorInfo } from './onnxThread.js'

type Infer = (input: unknown) => Promise<InferenceResult<unknown>>

async function open(spec: OnnxThreadSpec): Promise<{ infer: Infer; modelDigest: string }> {
  if (spec.runner === 'moderation') {
    const c = await createModerationClassifier({ model: spec.model })
    return { infer: (input) => c.infer(input), modelDigest: c.backend.model.digest }
  }
  const backend = await createOnnxBackend({ model: spec.model })
  return { infer: (input) => backend.run(input as TensorMap), modelDigest: backend.model.digest }
}

function describe(err: unknown): ThreadErrorInfo {
  if (err instanceof Error) {
    const e = err as Error & { shortMessage?: unknown; metaMessages?: unknown; unrecoverable?: unknown }
    return {
      name: err.name,
      shortMessage: typeof e.shortMessage === 'string' ? e.shortMessage : (err.message.split('\n')[0] ?? ''),
      metaMessages: Array.isArray(e.metaMessages) ? e.metaMessages.map(String) : [],
      unrecoverable: e.unrecoverable === true,
    }
  }
  return { name: 'Error', shortMessage: String(err), metaMessages: [], unrecoverable: false }
}

async function serve(port: MessagePort, spec: OnnxThreadSpec): Promise<void> {
  const post = (m: OnnxThreadReply) => port.postMessage(m)
  let runner: Awaited<ReturnType<typeof open>>
  try {
    runner = await open(spec)
  } catch (err) {
    post({ kind: 'failed', error: describe(err) })
    return
  }
  port.on('message', (m: OnnxThreadRequest) => {
    runner.infer(m.input).then(
      ({ output, record }) => post({ kind: 'result', id: m.id, output, record }),
      (err: unknown) => post({ kind: 'error', id: m.id, error: describe(err) }),
    )
  })
  post({ kind: 'ready', modelDigest: runner.modelDigest })
}

if (parentPort) void serve(parentPort, (workerData as { spec: OnnxThreadSpec }).spec)
