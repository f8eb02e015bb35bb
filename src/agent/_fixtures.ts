// Test fixtures for src/agent (not exported from index.ts). UNIT TESTS ONLY: a scripted
// chat model that stands in for the inference container, so the tool loop can be tested
// turn by turn. Integration tests use the real container from src/inference.
import { BaseChatModel } from '@langchain/core/language_models/chat_models'
import { AIMessage, type BaseMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'
import { keccak256, toHex } from 'viem'
import type { ReplayRecord } from '../inference/schemas.js'
import { canonicalize } from '../trace/canonical.js'
import type { ChatInference, OnnxInference } from './runtime.js'

export type Script = (messages: BaseMessage[], round: number) => AIMessage

const DIGEST = `0x${'c0'.repeat(32)}` as const

/** A fake record shaped like the inference layer's (the content is what the script answered). */
export function fakeRecord(request: unknown, response: unknown): ReplayRecord {
  return {
    backend: 'openai-compatible',
    modelDigest: DIGEST,
    runtime: { name: 'scripted-fake', version: '0', settings: { temperature: 0 } },
    replay: 'none',
    request,
    response,
    inputHash: keccak256(toHex(canonicalize(request))),
    outputHash: keccak256(toHex(canonicalize(response))),
    timing: { startedAt: 0, durationMs: 0 },
  }
}

class ScriptedChatModel extends BaseChatModel {
  round = 0
  bound: unknown[] = []
  readonly records: ReplayRecord[] = []
  constructor(readonly script: Script) {
    super({})
  }
  _llmType() {
    return 'scripted'
  }
  override bindTools(tools: unknown[]) {
    this.bound = tools
    return this as never
  }
  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const message = this.script(messages, this.round++)
    const request = { messages: messages.map((m) => ({ role: m.getType(), content: m.text })), tools: this.bound.length }
    const response = { content: message.text, tool_calls: (message.tool_calls ?? []).map((c) => ({ name: c.name, args: c.args })) }
    this.records.push(fakeRecord(JSON.parse(canonicalize(request)), JSON.parse(canonicalize(response))))
    return { generations: [{ message, text: message.text }] }
  }
}

/** A ChatInference driven by a script: each model call returns `script(messages, round)`. */
export function scriptedChat(script: Script): ChatInference & { model: ScriptedChatModel } {
  const model = new ScriptedChatModel(script)
  return { chat: model, model, takeRecords: () => model.records.splice(0) }
}

export const toolCall = (name: string, args: Record<string, unknown>, id = `call_${name}`) =>
  new AIMessage({ content: '', tool_calls: [{ name, args, id, type: 'tool_call' }] })

export const answer = (text: string) => new AIMessage({ content: text })

/** A stand-in ONNX runner (unit tests only): output = f(input). */
export function fakeOnnx(f: (input: unknown) => unknown, digest: `0x${string}` = DIGEST): OnnxInference {
  return {
    async infer(input) {
      const output = f(input)
      return { output, record: { ...fakeRecord({ input }, { output }), backend: 'onnx', modelDigest: digest, replay: 'exact' } }
    },
  }
}
