import type { ChatDelta } from './chatAssembler.js'
import type { ChatEngine } from './chatEngine.js'
import { type ResponsesOutputItem, type ResponsesResponse, newResponseId, outputItemId, responsesEcho, toResponsesBody } from './responsesOutput.js'
import type { ResponsesRequest } from './responsesRequest.js'
import type { ChatCompletionRequest, Receipt } from './schemas.js'
import { type SseStartReturnType, type SseWriter, startSseStream } from './sseStream.js'

/**
 * A response streamed as the Responses API's server-sent events, written while the model
 * decodes: `response.created`, `response.in_progress`, then per output item
 * `response.output_item.added`, for a message `response.content_part.added`,
 * `response.output_text.delta`… `response.output_text.done`, `response.content_part.done`,
 * for a tool call `response.function_call_arguments.delta`… `.done`, then
 * `response.output_item.done`; last `response.completed` (or `response.incomplete` when
 * max_output_tokens cut the answer) with the whole response. Every event has its
 * `sequence_number`.
 *
 * The receipt covers the whole stream (requestHash over the Responses request, responseHash
 * over every event in order, outputHash over the final response's output), so it travels in
 * the last event (`covenant_receipt`).
 */
export type StreamResponseParameters = {
  engine: Pick<ChatEngine, 'model' | 'complete'>
  request: ResponsesRequest
  /** The chat completion request the model runs (planResponsesRequest). */
  chat: ChatCompletionRequest
  systemFingerprint: string
  sign?: ((events: ReadonlyArray<Record<string, unknown>>, response: ResponsesResponse) => Promise<Receipt>) | undefined
}

export type StreamResponseReturnType = SseStartReturnType

type Open =
  | { kind: 'msg'; index: number; id: string; text: string }
  | { kind: 'fc'; index: number; id: string; callId: string; name: string; args: string }

export async function streamResponse(p: StreamResponseParameters): Promise<StreamResponseReturnType> {
  const id = newResponseId()
  const createdAt = Math.floor(Date.now() / 1000)
  const events: Array<Record<string, unknown>> = []
  // the stream's writer, once startSseStream runs the decoding (every write happens inside it)
  let sse: SseWriter | undefined
  const write = (text: string) => sse?.write(text)
  const emit = (type: string, fields: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const event = { type, sequence_number: events.length, ...fields }
    events.push(event)
    write(`event: ${type}\ndata: ${JSON.stringify({ ...event, ...extra })}\n\n`)
  }
  const inProgress = (): Record<string, unknown> => ({
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    model: p.engine.model.name,
    output: [],
    ...responsesEcho(p.request),
    usage: null,
  })

  const items: ResponsesOutputItem[] = []
  const callItems = new Map<number, Open & { kind: 'fc' }>()
  let open: Open | undefined
  const messageItem = (o: Open & { kind: 'msg' }, status: 'in_progress' | 'completed' | 'incomplete') => ({
    type: 'message' as const,
    id: o.id,
    status,
    role: 'assistant' as const,
    content: status === 'in_progress' ? [] : [{ type: 'output_text' as const, text: o.text, annotations: [] as [], logprobs: [] as [] }],
  })
  const callItem = (o: Open & { kind: 'fc' }, status: 'in_progress' | 'completed') => ({ type: 'function_call' as const, id: o.id, call_id: o.callId, name: o.name, arguments: o.args, status })
  const closeOpen = (finish: 'completed' | 'incomplete' = 'completed') => {
    const o = open
    if (!o) return
    open = undefined
    if (o.kind === 'msg') {
      const part = { type: 'output_text', text: o.text, annotations: [], logprobs: [] }
      emit('response.output_text.done', { item_id: o.id, output_index: o.index, content_index: 0, text: o.text, logprobs: [] })
      emit('response.content_part.done', { item_id: o.id, output_index: o.index, content_index: 0, part })
      const item = messageItem(o, finish)
      items[o.index] = item as ResponsesOutputItem
      emit('response.output_item.done', { output_index: o.index, item })
    } else {
      emit('response.function_call_arguments.done', { item_id: o.id, output_index: o.index, name: o.name, arguments: o.args })
      const item = callItem(o, 'completed')
      items[o.index] = item
      emit('response.output_item.done', { output_index: o.index, item })
    }
  }
  const openMessage = (): Open & { kind: 'msg' } => {
    if (open?.kind === 'msg') return open
    closeOpen()
    const o = { kind: 'msg' as const, index: items.length, id: outputItemId(id, 'msg', items.length), text: '' }
    items.push(messageItem(o, 'in_progress') as ResponsesOutputItem)
    open = o
    emit('response.output_item.added', { output_index: o.index, item: messageItem(o, 'in_progress') })
    emit('response.content_part.added', { item_id: o.id, output_index: o.index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } })
    return o
  }

  const begin = () => {
    if (!sse?.begin()) return
    emit('response.created', { response: inProgress() })
    emit('response.in_progress', { response: inProgress() })
  }
  const onDelta = (delta: ChatDelta) => {
    sse?.checkCancelled()
    begin()
    if (delta.content !== undefined && delta.content !== '') {
      const o = openMessage()
      o.text += delta.content
      emit('response.output_text.delta', { item_id: o.id, output_index: o.index, content_index: 0, delta: delta.content, logprobs: [] })
    }
    for (const tc of delta.tool_calls ?? []) {
      let o = callItems.get(tc.index)
      if (!o) {
        closeOpen()
        o = { kind: 'fc', index: items.length, id: outputItemId(id, 'fc', items.length), callId: tc.id ?? '', name: tc.function.name ?? '', args: '' }
        callItems.set(tc.index, o)
        items.push(callItem(o, 'completed'))
        open = o
        emit('response.output_item.added', { output_index: o.index, item: callItem(o, 'in_progress') })
      }
      if (tc.function.arguments !== '') {
        o.args += tc.function.arguments
        emit('response.function_call_arguments.delta', { item_id: o.id, output_index: o.index, delta: tc.function.arguments })
      }
    }
  }

  return startSseStream(
    async (writer) => {
      sse = writer
      const { output } = await p.engine.complete(p.chat, { systemFingerprint: p.systemFingerprint, onDelta })
      begin()
      const finish = output.choices[0]!.finish_reason === 'length' ? 'incomplete' : 'completed'
      // an empty answer is still a message (with empty text), as in the non-streamed response
      if (items.length === 0) openMessage()
      closeOpen(finish)
      const final: ResponsesResponse = { ...toResponsesBody({ completion: output, request: p.request, id, createdAt }), output: items }
      const type = final.status === 'incomplete' ? 'response.incomplete' : 'response.completed'
      const last = { type, sequence_number: events.length, response: final }
      const extra: Record<string, unknown> = p.sign ? { covenant_receipt: await p.sign([...events, last], final) } : {}
      events.push(last)
      write(`event: ${type}\ndata: ${JSON.stringify({ ...last, ...extra })}\n\n`)
      writer.close()
    },
    (message) => emit('error', { code: 'server_error', message, param: null }),
  )
}
