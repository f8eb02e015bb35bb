import type { AgentDefinition } from '../../agent/defineAgent.js'
import { DEFAULT_INFERENCE_URL, type ChatInference, type OnnxInference } from '../../agent/runtime.js'
import { createChatModel } from '../../inference/openaiBackend.js'
import { recordedOnnxOutput } from '../../inference/recordedOnnx.js'
import type { ReplayRecord } from '../../inference/schemas.js'
import { firstDifference, type ReplayCursor } from './cursor.js'
import { aStep, outputStatus } from './recordedAction.js'

/**
 * The chat model of a replay: the agent's own LangChain client (the one the runtime builds
 * for a chat agent), whose HTTP exchange is answered from the trace. The request the
 * agent's loop sends must be the committed inference's request (same messages, tool
 * results, tools); the answer is the committed response, parsed by LangChain exactly as it
 * was live. The inference itself — does the model give that response? — is the separate
 * inference check. A model call where the trace has the action's failed output is the
 * endpoint failing, as committed: the replay ends there.
 */
export function createReplayChat(p: { cursor: ReplayCursor; agent: AgentDefinition }): ChatInference {
  const { cursor } = p
  if (p.agent.model.kind !== 'chat') throw new Error('createReplayChat: not a chat agent')
  let taken: ReplayRecord[] = []
  const answer = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString()
    if (!new URL(url).pathname.endsWith('/chat/completions')) return new Response('replay: only chat completions are answered', { status: 404 })
    const recorded = cursor.peek()
    if (!recorded) throw cursor.end('the committed steps end before this model call')
    if (recorded.kind === 'output' && outputStatus(recorded) === 'failed') throw cursor.acceptRecordedFailure()
    if (recorded.kind !== 'inference') throw cursor.mismatch(`the agent's code asks the model here; the trace has ${aStep(recorded)}`)
    let request: unknown
    try {
      request = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined
    } catch {
      request = undefined
    }
    const d = firstDifference(request, recorded.record.request, 'request')
    if (d) throw cursor.mismatch(`the agent's code sends the model another request than the committed inference records (${d} differs)`)
    taken.push(recorded.record)
    const response = recorded.record.response as { object?: unknown; chunks?: unknown } | null
    if (response?.object === 'chat.completion.stream' && Array.isArray(response.chunks)) {
      const sse = `${response.chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')}data: [DONE]\n\n`
      return new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } })
    }
    return new Response(JSON.stringify(response), { status: 200, headers: { 'content-type': 'application/json' } })
  }
  const model = createChatModel({
    baseURL: p.agent.model.baseURL ?? DEFAULT_INFERENCE_URL,
    model: p.agent.model.model,
    receipts: 'ignore',
    attestation: false,
    fetch: answer as typeof fetch,
  })
  return {
    chat: model.chat,
    takeRecords() {
      model.takeRecords() // the client's own records of the replayed exchange: the committed ones count
      const out = taken
      taken = []
      return out
    },
  }
}

/**
 * The ONNX runner of a replay: the input the agent's code builds from its task must be the
 * committed inference's input; the output it gets is the committed output, decoded as the
 * live runner decoded it (src/inference/recordedOnnx.ts), for `decide` to act on.
 */
export function createReplayOnnx(p: { cursor: ReplayCursor; agent: AgentDefinition }): OnnxInference {
  const { cursor } = p
  return {
    async infer(input: unknown) {
      const recorded = cursor.peek()
      if (!recorded) throw cursor.end('the committed steps end before this model run')
      if (recorded.kind === 'output' && outputStatus(recorded) === 'failed') throw cursor.acceptRecordedFailure()
      if (recorded.kind !== 'inference') throw cursor.mismatch(`the agent's code runs its model here; the trace has ${aStep(recorded)}`)
      const r = recordedOnnxOutput({ modelName: p.agent.model.model, input, record: recorded.record })
      if (r.status === 'input-differs') throw cursor.mismatch(r.reason)
      if (r.status === 'unreadable') throw cursor.unverifiable(`cannot read the committed model output back: ${r.reason}`)
      return { output: r.output, record: recorded.record }
    },
  }
}
