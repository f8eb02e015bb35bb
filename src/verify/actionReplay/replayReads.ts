import type { RecordedToolReads } from '../../agent/runtime.js'
import type { JsonValue, Step } from '../../trace/index.js'
import type { ReplayCursor } from './cursor.js'
import { aStep } from './recordedAction.js'
import { recordedError, withoutSentNote } from './recordedError.js'
import { failedOutputMessage } from './replayWallet.js'

/**
 * The reads of the outside world that `pay` / `call` tools make (`ToolContext.read`: an
 * HTTP answer, a clock), in a replay: the tool's own code runs, and each read is answered
 * with what the live run recorded in the call's committed tool step — the next tool step
 * (the wallet steps the call caused come before it) — never read again. A read the trace
 * does not record (another label, one read too many) is the agent's code doing something
 * else than the trace: a mismatch. What the recorded reads say is the operator's claim, as
 * a `none` tool's result is; what the code then decides from them — the wallet steps — is
 * checked.
 */
export function createReplayReads(cursor: ReplayCursor): RecordedToolReads {
  return {
    read({ tool, index, label }): JsonValue {
      const step = committedToolStep(cursor)
      if (!step) {
        if (cursor.shape.kind === 'closed') throw cursor.mismatch(`the agent's code reads "${label}" in tool "${tool}" here; the trace has no tool step for this call`)
        // an action a crash (or the commit schedule) cut before the call's tool step: its reads are not committed
        throw cursor.unverifiable(`tool "${tool}" read the outside world ("${label}") and its tool step, which records what it read, is not committed: the steps from here cannot be replayed`)
      }
      if (step.tool !== tool) throw cursor.mismatch(`the agent's code reads "${label}" in tool "${tool}" here; the trace's next tool step is "${step.tool}"`)
      const reads = step.outcome.reads ?? []
      const r = reads[index]
      if (!r) throw cursor.mismatch(`the agent's code makes read ${index + 1} ("${label}") in tool "${tool}"; its committed tool step records ${reads.length} read${reads.length === 1 ? '' : 's'}`)
      if (r.label !== label) throw cursor.mismatch(`the agent's code reads "${label}" in tool "${tool}" (read ${index + 1}); the trace records a read of "${r.label}"`)
      if ('error' in r) throw recordedError({ name: r.error.name, message: withoutSentNote(r.error.message), shortMessage: failedOutputMessage(cursor, r.error.name) })
      return r.value
    },
  }
}

/** The committed tool step of the call now running: the first step from the cursor that is not a wallet step, if it is a tool step. */
function committedToolStep(cursor: ReplayCursor): (Step & { kind: 'tool' }) | undefined {
  for (let i = cursor.position; i < cursor.shape.checked; i++) {
    const s = cursor.at(i) as Step
    if (s.kind === 'wallet') continue
    if (s.kind === 'tool') return s
    throw cursor.mismatch(`the agent's code reads the outside world in a tool here; the trace has ${aStep(s)} before any tool step`)
  }
  return undefined
}
