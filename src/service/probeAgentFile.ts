import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { tsxApiUrls } from '../threads/tsxApi.js'
import { AgentFileLoadError } from './errors.js'

export type ProbeAgentFileParameters = {
  /** Longest the file may take to load. */
  timeoutMs: number
  /**
   * How long the probe keeps watching after the import settled, for an exit or a throw the
   * file scheduled (a timer, a rejected promise). @defaultValue 150
   */
  settleMs?: number | undefined
}

/**
 * Imports an agent file in a worker thread and reports how that went: in a worker,
 * `process.exit` ends only the worker and an endless loop can be stopped, so an exit, a
 * throw or a hang in the file's top-level code is seen — and reported as an
 * {@link AgentFileLoadError} — before the file is imported into this process.
 */
export async function probeAgentFile(file: string, p: ProbeAgentFileParameters): Promise<void> {
  const worker = new Worker(WORKER_URL, {
    workerData: { url: pathToFileURL(file).href, tsx: tsxApiUrls(), settleMs: p.settleMs ?? 150 },
    // its output is dropped: the file is imported again here, and prints again here
    stdout: true,
    stderr: true,
  })
  worker.stdout.resume()
  worker.stderr.resume()
  let timer: NodeJS.Timeout | undefined
  try {
    const outcome = await new Promise<ProbeOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), p.timeoutMs)
      worker.on('message', (m: unknown) => resolve(parseMessage(m)))
      worker.on('error', (err: unknown) => resolve({ kind: 'throw', thrown: describeThrown(err) }))
      // Node ends a thread whose top-level await can never settle with code 13; any other end
      // without a message is an exit the patched process.exit did not see
      worker.on('exit', (code: number) => resolve(code === UNSETTLED_TOP_LEVEL_AWAIT ? { kind: 'hang' } : { kind: 'exit', code }))
    })
    switch (outcome.kind) {
      case 'ok':
        return
      case 'exit':
        throw new AgentFileLoadError({ file, reason: 'exit', exitCode: outcome.code })
      case 'throw':
        throw new AgentFileLoadError({ file, reason: 'throw', thrown: outcome.thrown })
      case 'timeout':
        throw new AgentFileLoadError({ file, reason: 'timeout', timeoutMs: p.timeoutMs })
      case 'hang':
        throw new AgentFileLoadError({ file, reason: 'hang' })
    }
  } finally {
    clearTimeout(timer)
    // stops a file that still runs (a timer, a loop): its job was only to load
    await worker.terminate()
  }
}

type ProbeOutcome = { kind: 'ok' } | { kind: 'exit'; code: number } | { kind: 'throw'; thrown: string } | { kind: 'timeout' } | { kind: 'hang' }

/** The exit code of a Node thread whose top-level await has nothing left that could settle it. */
const UNSETTLED_TOP_LEVEL_AWAIT = 13

function parseMessage(m: unknown): ProbeOutcome {
  const x = m as { kind?: unknown; code?: unknown; name?: unknown; message?: unknown } | null
  if (x?.kind === 'ok') return { kind: 'ok' }
  if (x?.kind === 'exit') return { kind: 'exit', code: typeof x.code === 'number' && Number.isInteger(x.code) ? x.code : 0 }
  return { kind: 'throw', thrown: describeThrown({ name: x?.name, message: x?.message }) }
}

/** `Name: first line of the message`, at most 200 characters. */
function describeThrown(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | null | undefined
  const hasMessage = typeof e === 'object' && e !== null && typeof e.message === 'string'
  const name = hasMessage && typeof e.name === 'string' && e.name ? e.name : hasMessage ? 'Error' : 'a thrown value'
  const text = (hasMessage ? String(e.message) : String(err)).split('\n')[0] ?? ''
  const line = `${name}: ${text}`
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

// The worker, as an ES module. It registers tsx, reports a call to process.exit before it
// ends the worker, imports the file, and says `ok` once the import and `settleMs` passed
// without an exit or an uncaught error (those end the worker and are seen by the parent).
const WORKER_SOURCE = `
import { parentPort, workerData } from 'node:worker_threads'
const post = (m) => { try { parentPort.postMessage(m) } catch {} }
const exit = process.exit.bind(process)
process.exit = (code) => {
  const n = Number(code ?? process.exitCode ?? 0)
  post({ kind: 'exit', code: Number.isInteger(n) ? n : 1 })
  exit(code)
}
for (const api of workerData.tsx) {
  try {
    const { register } = await import(api)
    register()
  } catch {}
}
let loaded = false
try {
  await import(workerData.url)
  loaded = true
} catch (e) {
  const isError = typeof e === 'object' && e !== null && typeof e.message === 'string'
  post({ kind: 'throw', name: isError ? e.name : undefined, message: isError ? e.message : String(e) })
}
if (loaded) setTimeout(() => post({ kind: 'ok' }), workerData.settleMs)
`
const WORKER_URL = new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`)
