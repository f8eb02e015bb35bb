// The ONNX thread's side of onnxThread.ts, started by it in a worker thread (nothing else
// imports this module): it opens the runner its spec names, says `ready` (or why it could
// not open), and answers each request with the runner's output and replay record, or the
// error it threw, described so that the caller can rebuild it.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { openOnnxRunner, type OnnxRunner } from './onnxRunner.js'
import type { OnnxThreadReply, OnnxThreadRequest, OnnxThreadSpec, ThreadErrorInfo } from './onnxThread.js'

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
  let runner: OnnxRunner
  try {
    runner = await openOnnxRunner(spec)
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
