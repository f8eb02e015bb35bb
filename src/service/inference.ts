import type { AgentDefinition } from '../agent/defineAgent.js'
import type { ChatInference, OnnxInference } from '../agent/runtime.js'
import { chatModelOptions } from '../agent/chatModelOptions.js'
import { createChatModel } from '../inference/openaiBackend.js'
import { openOnnxRunner } from '../inference/onnxRunner.js'
import { onnxRunnerKind } from '../inference/recordedOnnx.js'
import { startOnnxThread } from '../inference/onnxThread.js'
import { ServiceConfigError } from './errors.js'

/**
 * The inference clients a service gives its agents: a recording LangChain chat model for
 * chat agents (the local inference container unless the agent names another endpoint),
 * and an ONNX runner for ONNX agents (the moderation classifier, or any shipped model fed
 * with tensors).
 */
export function inferenceClients(o: {
  inferenceUrl?: string | undefined
  /** Runs each ONNX agent's model on a worker thread of its own (startOnnxThread). @defaultValue true */
  onnxThread?: boolean | undefined
}) {
  return {
    chat(agent: AgentDefinition): ChatInference | undefined {
      if (agent.model.kind !== 'chat') return undefined
      const baseURL = agent.model.baseURL ?? (o.inferenceUrl ? `${o.inferenceUrl.replace(/\/$/, '')}/v1` : undefined)
      if (!baseURL) {
        throw new ServiceConfigError(`Agent ${agent.name} needs a chat endpoint.`, {
          metaMessages: ['Start the inference container (`covenant inference serve`, or `covenant dev`) or give the agent a model.baseURL.'],
        })
      }
      return createChatModel(chatModelOptions(agent, baseURL))
    },
    async onnx(agent: AgentDefinition): Promise<OnnxInference | undefined> {
      if (agent.model.kind !== 'onnx') return undefined
      // the rule whole-action replay reads recorded outputs back by (src/inference/recordedOnnx.ts)
      const runner = onnxRunnerKind(agent.model.model)
      // the model on a thread of its own: the worker's main thread appends the trace and
      // serves the queue meanwhile (onnxThread.ts); same records as in this thread
      const spec = { runner, model: agent.model.model }
      return (o.onnxThread ?? true) ? startOnnxThread(spec) : openOnnxRunner(spec)
    },
  }
}
