import { randomBytes } from 'node:crypto'
import type { BaseChatModel } from '@langchain/core/language_models/chat_models'
import { type AIMessage, type BaseMessage, HumanMessage, SystemMessage, ToolMessage } from '@langchain/core/messages'
import pino, { type Logger } from 'pino'
import type { Address, Hex } from 'viem'
import { BaseError } from '../errors/base.js'
import { createChatModel } from '../inference/openaiBackend.js'
import { chatModelOptions } from './chatModelOptions.js'
import type { ReplayRecord } from '../inference/schemas.js'
import { canonicalize } from '../trace/canonical.js'
import type { JsonValue, Step, StepBody, ToolOutcome, ToolRead } from '../trace/schemas.js'
import type { AgentWallet, SentTransaction } from '../wallet/agentWallet.js'
import { CapabilityExceededError, PolicyViolationError } from '../wallet/errors.js'
import { createWalletHandle } from '../wallet/handles.js'
import { policySchema } from '../wallet/policy.js'
import type { AgentDefinition, OnnxModelSpec, ToolCallRequest } from './defineAgent.js'
import type { AgentTool, ToolContext } from './defineTool.js'
import {
  ActionInterruptedError,
  AgentConfigError,
  AgentMaxRoundsError,
  InferenceNotRecordedError,
  ToolArgumentsError,
  ToolNotFoundError,
  ToolResultError,
} from './errors.js'
import { toJsonValue } from './internal/json.js'

/**
 * A chat model whose every request is recorded: what src/inference's `createChatModel`
 * returns. `takeRecords()` hands over (and forgets) the replay records of the requests
 * made since the last call.
 */
export type ChatInference = {
  chat: BaseChatModel
  takeRecords(): ReplayRecord[]
}

/** An ONNX model runner from src/inference: every call returns its output and replay record. */
export type OnnxInference = {
  infer(input: unknown): Promise<{ output: unknown; record: ReplayRecord }>
  /** Ends what the runner holds (a model thread, see startOnnxThread); a service worker calls it when it stops. */
  close?: (() => Promise<void>) | undefined
}

/** Test and demo hooks that make the runtime lie. Never enable them in production. */
export type AgentRuntimeUnsafeOptions = {
  /**
   * UNSAFE — simulates a dishonest operator who lies about an inference: the record written
   * to the trace is what this returns (e.g. a changed output), while the agent acts on the
   * real one. Replay of the recorded input will not give the recorded output, which is what
   * a verifier proves. A loud warning is logged at creation and for every tampered record.
   */
  tamperInference?: ((record: ReplayRecord) => ReplayRecord) | undefined
}

/**
 * What the runtime needs of a trace log: the agent's `TraceWal`, or — when a verifier
 * replays an action — a log that compares each step with the committed one.
 */
export type RuntimeTraceLog = {
  readonly agentId: string
  appendNext(body: StepBody, options?: { durable?: boolean | undefined }): Promise<{ step: Step }>
  readAll(): Promise<{ steps: Step[] }>
}

/**
 * What the runtime needs of a wallet: the agent's `AgentWallet`, or — when a verifier
 * replays an action — one that answers each transaction with the committed one.
 */
export type RuntimeWallet = Pick<AgentWallet, 'policyVersion' | 'policy' | 'sendTransaction' | 'walletStepIndices' | 'getTransaction'> & {
  /** The address that pays (the agent account), shown to tools as `ToolContext.address`; tools that sign token authorizations name it as `from`. */
  readonly address?: Address | undefined
}

/**
 * Where the reads of the outside world that `pay` / `call` tools make (`ToolContext.read`)
 * are answered from in a verifier's replay: the committed tool step of the call. Returns the
 * recorded value, or throws the recorded error (or the replay's stop). Absent live: the reads
 * run and are recorded.
 */
export type RecordedToolReads = {
  read(p: { actionId: string; tool: string; index: number; label: string }): JsonValue
}

export type CreateAgentRuntimeParameters = {
  agent: AgentDefinition
  /** The agent id AgentRegistry assigned (decimal). */
  agentId: string | bigint
  /** The policy version registered on chain; must be the wallet's. */
  policyVersion: number
  /** The agent's trace WAL (the same one its wallet writes to). */
  wal: RuntimeTraceLog
  /** Required when a tool's effect is `pay` or `call`. */
  wallet?: RuntimeWallet | undefined
  /**
   * The recorded chat model of a `chat` agent. @defaultValue createChatModel (src/inference)
   * for `agent.model.baseURL`, or the local inference container at {@link DEFAULT_INFERENCE_URL}
   */
  chat?: ChatInference | undefined
  /** Required for `onnx` agents. */
  onnx?: OnnxInference | undefined
  /** Model calls per action before giving up. @defaultValue 8 */
  maxRounds?: number | undefined
  /** @defaultValue Date.now */
  now?: (() => number) | undefined
  /** In a verifier's replay only: the committed reads of the tools (see {@link RecordedToolReads}). */
  recordedReads?: RecordedToolReads | undefined
  /**
   * Whether the steps that wait for nothing of their own — an action's input step, a chat
   * round's last tool step — are written behind the model call that follows them, overlapping
   * it (the trace's order is the same either way). A verifier's replay, which checks each step
   * as the agent's code reaches it, writes them in line. @defaultValue true
   */
  stepsBehindModelCalls?: boolean | undefined
  /** @defaultValue a pino logger on stderr */
  logger?: Logger | undefined
  unsafe?: AgentRuntimeUnsafeOptions | undefined
}

export type RunOptions = {
  /** @defaultValue `<agentId>-<12 random hex digits>` */
  actionId?: string | undefined
  /**
   * A check the action's first step waits for (`AgentHost`: that the chain answers). The
   * action starts at once — its first model call goes out beside the check — but nothing is
   * written before the check passes; when it rejects, `run` rejects with its error and the
   * trace holds nothing of the action.
   */
  ready?: Promise<unknown> | undefined
}

export type RunResult = {
  actionId: string
  /** The model's final answer (chat) or the tool results (ONNX). */
  output: JsonValue
  /** Hashes of the transactions the action sent, in order. */
  txHashes: Hex[]
  /** WAL indices of every step of the action, in order. */
  stepIndices: number[]
}

/** An action a crash left open, and how recovery closed it. */
export type RecoveredAction = {
  actionId: string
  walletStepIndices: number[]
  transactions: JsonValue[]
  stepIndices: number[]
}

export type AgentRuntime = {
  readonly agentId: string
  readonly agent: AgentDefinition
  /**
   * Runs one task. Every inference, tool call and wallet transaction is a trace step, in
   * order: input → inference → (wallet …) tool … → output. A wallet refusal
   * ({@link PolicyViolationError}, {@link CapabilityExceededError}) ends the action: its
   * tool step and a failed output step are written, then the error is thrown. Other tool
   * errors (bad arguments, unknown tool, a throwing tool) are recorded and shown to the
   * model, which carries on.
   */
  run(task: unknown, options?: RunOptions): Promise<RunResult>
  /**
   * Closes actions a crash left open (an input step without an output step): records the
   * fate of their transactions (from the wallet, which settled them when it was opened) in
   * a `covenant.recover` tool step, then a failed output step. Runs once, automatically,
   * before the first `run`; calling it again is harmless.
   */
  recover(): Promise<RecoveredAction[]>
}

const RECOVER_TOOL = 'covenant.recover'

/** Where `covenant inference serve` listens by default. */
export const DEFAULT_INFERENCE_URL = 'http://127.0.0.1:8000/v1'

let defaultLogger: Logger | undefined
function runtimeLogger(): Logger {
  defaultLogger ??= pino({ name: 'covenant.agent' }, pino.destination(2))
  return defaultLogger
}

type ActionContext = {
  actionId: string
  stepIndices: number[]
  txHashes: Hex[]
  toolCalls: number
  /** The action's appends still under way behind a model call (see appendBehind); settled before its next step. */
  behind: Promise<void>
}
type ToolCallResult = { content: string; fatal: Error | null; outcome: ToolOutcome; step: StepBody }

/** Puts an agent to work on its WAL, wallet and model. */
export function createAgentRuntime(p: CreateAgentRuntimeParameters): AgentRuntime {
  const { agent, wal } = p
  const agentId = String(p.agentId)
  if (!/^(0|[1-9][0-9]{0,77})$/.test(agentId)) throw new AgentConfigError(`agentId ${JSON.stringify(agentId)} is not a decimal uint256.`)
  if (wal.agentId !== agentId) throw new AgentConfigError(`The WAL belongs to agent ${wal.agentId}, the runtime to agent ${agentId}.`)
  const needsWallet = agent.tools.filter((t) => t.effect.kind !== 'none')
  if (needsWallet.length > 0 && !p.wallet) {
    throw new AgentConfigError(`Tools ${needsWallet.map((t) => `"${t.name}"`).join(', ')} declare wallet effects, but no wallet was given.`)
  }
  if (p.wallet) {
    if (p.wallet.policyVersion !== p.policyVersion) {
      throw new AgentConfigError(`The wallet enforces policy version ${p.wallet.policyVersion}, the runtime was given ${p.policyVersion}.`)
    }
    if (canonicalize(policyJson(p.wallet.policy)) !== canonicalize(policyJson(agent.policy))) {
      throw new AgentConfigError("The wallet's policy is not the agent's policy.", {
        metaMessages: ['The wallet must enforce exactly the policy the agent defines (and the chain registered).'],
      })
    }
  }
  const chat: ChatInference | undefined =
    p.chat ?? (agent.model.kind === 'chat' ? createChatModel(chatModelOptions(agent, DEFAULT_INFERENCE_URL)) : undefined)
  if (agent.model.kind === 'onnx' && !p.onnx) throw new AgentConfigError(`Agent "${agent.name}" uses an ONNX model; pass onnx (from src/inference).`)
  const maxRounds = p.maxRounds ?? 8
  if (!Number.isInteger(maxRounds) || maxRounds < 1) throw new AgentConfigError('maxRounds must be an integer ≥ 1.')
  const now = p.now ?? Date.now
  const log = (p.logger ?? runtimeLogger()).child({ agent: agent.name, agentId })
  const tamper = p.unsafe?.tamperInference
  if (tamper) {
    log.warn(
      'UNSAFE RUNTIME: unsafe.tamperInference is enabled. Recorded inferences will not match what the model returned ' +
        '(dishonest-operator simulation for tests and demos). Replay exposes it and the bond can be slashed. Never use this in production.',
    )
  }
  const tools = new Map<string, AgentTool>(agent.tools.map((t) => [t.name, t]))
  const overlap = p.stepsBehindModelCalls ?? true
  let modelLock: Promise<unknown> = Promise.resolve()
  let ready: Promise<RecoveredAction[]> | undefined

  async function append(ctx: ActionContext, body: StepBody): Promise<number> {
    // Wallet steps are durable (the wallet syncs them before signing, which also syncs every
    // step written before); the output is synced before the result is returned. The steps
    // in between need no fsync of their own.
    const { step } = await wal.appendNext(body, { durable: body.kind === 'output' })
    ctx.stepIndices.push(step.index)
    return step.index
  }

  /**
   * Appends `body` after the work started just before this call has gone out: on the event
   * loop's check phase (setImmediate), once the model request that follows the step in the
   * code has been sent, so the step's encoding and write overlap the model's answer instead of
   * delaying its request. The step's place is unchanged: the action's next append waits for
   * it (`ctx.behind`, which also throws its error there), and nothing else of the action is
   * appended meanwhile. `gate` is awaited first (a failed gate writes nothing).
   */
  function appendBehind(ctx: ActionContext, body: StepBody, gate?: Promise<unknown>): Promise<void> {
    const prior = ctx.behind
    // a gate that fails before it is awaited must not be an unhandled rejection either
    gate?.catch(() => {})
    const run = (async () => {
      await prior
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (gate) await gate
      await append(ctx, body)
    })()
    // awaited at the action's next step; until then a failure must not be an unhandled rejection
    run.catch(() => {})
    ctx.behind = run
    return run
  }

  async function appendInference(ctx: ActionContext, record: ReplayRecord): Promise<void> {
    // the steps written behind the model call come first (and their failure ends the action)
    await ctx.behind
    let recorded = record
    if (tamper) {
      recorded = tamper(structuredClone(record))
      // a hook that lies about some records only (a bribed post) leaves the others alone: warn for the lies
      if (!sameJson(recorded, record)) {
        log.warn({ actionId: ctx.actionId }, 'UNSAFE RUNTIME: writing a tampered inference record to the trace')
      }
    }
    await append(ctx, { kind: 'inference', actionId: ctx.actionId, timestamp: now(), record: recorded })
  }

  /** Runs one model call and takes its records, without another run's call in between. */
  function callModel<T>(fn: () => Promise<T>): Promise<{ value: T; records: ReplayRecord[] }> {
    const run = modelLock.then(async () => {
      chat?.takeRecords() // records of calls outside any run do not belong to this action
      const value = await fn()
      return { value, records: chat ? chat.takeRecords() : [] }
    })
    modelLock = run.catch(() => {})
    return run
  }

  async function callTool(ctx: ActionContext, name: string, rawArgs: unknown, toolCallId: string, parseError?: string): Promise<ToolCallResult> {
    const tool = tools.get(name)
    const sent: SentTransaction[] = []
    const reads: ToolRead[] = []
    const callIndex = ctx.toolCalls++
    let args: Record<string, JsonValue> = argsJson(rawArgs)
    let outcome: ToolOutcome
    let fatal: Error | null = null
    let content: string
    try {
      if (!tool) throw new ToolNotFoundError(name, [...tools.keys()])
      if (parseError !== undefined) throw new ToolArgumentsError(name, [`the arguments are not valid JSON: ${parseError}`])
      const parsed = await tool.parseArgs(rawArgs)
      if (!parsed.ok) throw new ToolArgumentsError(name, parsed.issues)
      args = argsJson(parsed.value, rawArgs)
      const wallet =
        tool.effect.kind === 'none' || !p.wallet
          ? undefined
          : createWalletHandle(p.wallet, tool.effect, { actionId: ctx.actionId, tool: name, onSent: (tx) => void sent.push(tx) })
      const records = tool.effect.kind !== 'none'
      const read = async <T extends JsonValue>(label: string, fetch: () => T | Promise<T>): Promise<T> => {
        if (!records) return fetch()
        if (typeof label !== 'string' || label.length === 0 || label.length > 128) throw new ToolResultError(name, 'a read needs a label of 1 to 128 characters')
        if (reads.length >= 64) throw new ToolResultError(name, 'a tool call may read the outside world at most 64 times')
        const index = reads.length
        try {
          const value = p.recordedReads ? p.recordedReads.read({ actionId: ctx.actionId, tool: name, index, label }) : toJsonValue(await fetch())
          reads.push({ label, value })
          return value as T
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err))
          reads.push({ label, error: { name: e.name.slice(0, 256), message: e.message.slice(0, 65_536) } })
          throw e
        }
      }
      const toolCtx: ToolContext = Object.freeze({ actionId: ctx.actionId, agentId, toolCallId, callIndex, wallet, read, address: p.wallet?.address })
      const returned = await tool.run(parsed.value, toolCtx)
      let value: JsonValue
      try {
        value = toJsonValue(returned)
      } catch (err) {
        throw new ToolResultError(name, (err as Error).message)
      }
      const result = tool.effect.kind === 'none' ? value : { returned: value, transactions: sent.map(txJson) }
      outcome = reads.length ? { status: 'ok', result, reads } : { status: 'ok', result }
      content = typeof value === 'string' ? value : canonicalize(value)
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err))
      if (e instanceof PolicyViolationError || e instanceof CapabilityExceededError) fatal = e
      const txNote = sent.length ? `\nTransactions sent before the error: ${sent.map((t) => `${t.hash} (nonce ${t.nonce})`).join(', ')}` : ''
      const error = { name: e.name.slice(0, 256), message: `${e.message}${txNote}`.slice(0, 65_536) }
      outcome = reads.length ? { status: 'error', error, reads } : { status: 'error', error }
      content = `Error (${e.name}): ${e.message}`.slice(0, 8_000)
    }
    // the tool step follows the wallet steps its transactions wrote, with their hashes and receipts
    for (const index of p.wallet?.walletStepIndices(ctx.actionId) ?? []) {
      if (ctx.stepIndices.includes(index)) continue
      ctx.stepIndices.push(index)
      const hash = p.wallet?.getTransaction({ walletStepIndex: index })?.hash
      if (hash) ctx.txHashes.push(hash)
    }
    return { content, fatal, outcome, step: { kind: 'tool', actionId: ctx.actionId, timestamp: now(), tool: name, args, outcome } }
  }

  type InvokableModel = { invoke(messages: BaseMessage[]): Promise<AIMessage> }
  let boundModel: InvokableModel | undefined
  /**
   * The chat model with the agent's tools bound, made once: the tools never change, and
   * ChatOpenAI's bindTools builds a new model (and, at its first call, a new OpenAI client)
   * every time it is called.
   */
  function toolModel(chat: ChatInference): InvokableModel {
    if (boundModel) return boundModel
    const specs = agent.tools.map((t) => ({
      type: 'function' as const,
      function: { name: t.name, description: t.description, parameters: t.parameters as Record<string, unknown> },
    }))
    let model: InvokableModel = chat.chat as never
    if (specs.length > 0) {
      if (typeof chat.chat.bindTools !== 'function') throw new AgentConfigError('The chat model does not support tool calling (bindTools).')
      model = chat.chat.bindTools(specs) as never
    }
    boundModel = model
    return model
  }

  async function runChat(ctx: ActionContext, task: JsonValue): Promise<JsonValue> {
    if (!chat) throw new AgentConfigError(`Agent "${agent.name}" has no chat model.`)
    const model = toolModel(chat)
    const messages: BaseMessage[] = [new SystemMessage(agent.instructions), new HumanMessage(typeof task === 'string' ? task : canonicalize(task))]
    // the round's last tool step, written while the next model call is under way
    let last: StepBody | undefined
    for (let round = 0; round < maxRounds; round++) {
      if (last && !overlap) await append(ctx, last)
      const answer = callModel(() => model.invoke(messages))
      if (last && overlap) appendBehind(ctx, last)
      last = undefined
      const { value: ai, records } = await answer
      if (records.length === 0) throw new InferenceNotRecordedError()
      for (const record of records) await appendInference(ctx, record)
      messages.push(ai)
      const calls = ai.tool_calls ?? []
      const invalid = ai.invalid_tool_calls ?? []
      if (calls.length === 0 && invalid.length === 0) return messageText(ai)
      // the valid calls, then the unparsable ones (whose outcome is always an error)
      const requested: { id: string; name: string; args: unknown; parseError?: string | undefined }[] = [
        ...calls.map((c) => ({ id: c.id ?? '', name: c.name, args: c.args })),
        ...invalid.map((c) => ({ id: c.id ?? '', name: c.name ?? '(unnamed)', args: { arguments: c.args ?? null }, parseError: c.error ?? 'unparsable' })),
      ]
      const results: { id: string; r: ToolCallResult }[] = []
      for (const q of requested) results.push({ id: q.id, r: await toolStepped(ctx, results.at(-1)?.r.step, q.name, q.args, q.id, q.parseError) })
      for (const { id, r } of results) {
        messages.push(new ToolMessage({ tool_call_id: id, content: r.content, status: r.outcome.status === 'ok' ? 'success' : 'error' }))
      }
      last = results.at(-1)?.r.step
    }
    if (last) await append(ctx, last)
    throw new AgentMaxRoundsError(maxRounds)
  }

  /**
   * Calls a tool of a chat round. `previous`, the tool step of the call before it, is written first (each
   * tool step follows the wallet steps its own call wrote); this call's is left to the caller,
   * which writes it behind the next model call — unless the call is fatal, whose step is
   * written before the error is thrown.
   */
  async function toolStepped(
    ctx: ActionContext,
    previous: StepBody | undefined,
    name: string,
    rawArgs: unknown,
    toolCallId: string,
    parseError?: string,
  ): Promise<ToolCallResult> {
    if (previous) await append(ctx, previous)
    const r = await callTool(ctx, name, rawArgs, toolCallId, parseError)
    if (r.fatal) {
      await append(ctx, r.step)
      throw r.fatal
    }
    return r
  }

  async function runOnnx(ctx: ActionContext, task: JsonValue): Promise<JsonValue> {
    const spec = agent.model as OnnxModelSpec
    const onnx = p.onnx as OnnxInference
    const { output, record } = await onnx.infer(spec.input ? spec.input(task) : task)
    if (/^0x[0-9a-fA-F]{64}$/.test(spec.model) && record.modelDigest !== spec.model.toLowerCase()) {
      throw new AgentConfigError(`The ONNX backend ran model ${record.modelDigest}, the agent declares ${spec.model}.`)
    }
    await appendInference(ctx, record)
    const calls: ToolCallRequest[] = await spec.decide(output, task, record)
    const results: JsonValue[] = []
    for (const [i, call] of calls.entries()) {
      const r = await callTool(ctx, call.name, call.args, `decision-${i}`)
      await append(ctx, r.step)
      // the output lists what each call gave; its reads of the outside world stay in its tool step
      const { reads: _reads, ...outcome } = r.outcome
      results.push({ tool: call.name, outcome: outcome as JsonValue })
      if (r.fatal) throw r.fatal
    }
    return { toolResults: results }
  }

  async function recover(): Promise<RecoveredAction[]> {
    const { steps } = await wal.readAll()
    const open = new Map<string, { walletSteps: number[] }>()
    for (const step of steps) {
      if (step.kind === 'input') open.set(step.actionId, { walletSteps: [] })
      else if (step.kind === 'output') open.delete(step.actionId)
      else if (step.kind === 'wallet') open.get(step.actionId)?.walletSteps.push(step.index)
    }
    const recovered: RecoveredAction[] = []
    for (const [actionId, { walletSteps }] of open) {
      const ctx: ActionContext = { actionId, stepIndices: [], txHashes: [], toolCalls: 0, behind: Promise.resolve() }
      const transactions = walletSteps.map((walletStepIndex): JsonValue => {
        const t = p.wallet?.getTransaction({ walletStepIndex })
        if (!t) return { walletStepIndex, state: 'unknown' }
        return toJsonValue({ walletStepIndex, nonce: t.nonce, state: t.state, hash: t.hash, receipt: t.receipt, error: t.error })
      })
      if (walletSteps.length > 0) {
        await append(ctx, {
          kind: 'tool',
          actionId,
          timestamp: now(),
          tool: RECOVER_TOOL,
          args: { walletSteps },
          outcome: { status: 'ok', result: { transactions } },
        })
      }
      const error = new ActionInterruptedError(actionId)
      await append(ctx, {
        kind: 'output',
        actionId,
        timestamp: now(),
        result: { status: 'interrupted', error: { name: error.name, message: error.shortMessage } },
      })
      log.warn({ actionId, walletSteps }, 'closed an action a crash interrupted')
      recovered.push({ actionId, walletStepIndices: walletSteps, transactions, stepIndices: ctx.stepIndices })
    }
    return recovered
  }

  const runtime: AgentRuntime = {
    agentId,
    agent,
    recover() {
      const r = recover()
      ready ??= r
      return r
    },
    async run(taskInput, options = {}) {
      ready ??= recover()
      await ready
      const actionId = options.actionId ?? `${agentId}-${randomBytes(6).toString('hex')}`
      if (typeof actionId !== 'string' || actionId.length === 0 || actionId.length > 256) {
        throw new AgentConfigError('actionId must be a non-empty string of at most 256 characters.')
      }
      let task: JsonValue
      try {
        task = toJsonValue(taskInput)
      } catch (err) {
        throw new AgentConfigError(`The task is not JSON: ${(err as Error).message}.`)
      }
      const ctx: ActionContext = { actionId, stepIndices: [], txHashes: [], toolCalls: 0, behind: Promise.resolve() }
      const inputStep: StepBody = { kind: 'input', actionId, timestamp: now(), task }
      let input: Promise<void> = Promise.resolve()
      // written behind the first model call, once `ready` passes (see appendBehind); in line in a replay
      if (overlap) input = appendBehind(ctx, inputStep, options.ready)
      else {
        await options.ready
        await append(ctx, inputStep)
      }
      let output: JsonValue
      try {
        output = agent.model.kind === 'chat' ? await runChat(ctx, task) : await runOnnx(ctx, task)
        await ctx.behind
      } catch (err) {
        // an action whose input step is not written left nothing in the trace: no output step either
        const notStarted = await input.then(
          () => undefined,
          (inputErr: unknown) => inputErr,
        )
        if (notStarted !== undefined) throw notStarted
        await ctx.behind.catch(() => {})
        const e = err instanceof Error ? err : new Error(String(err))
        const message = e instanceof BaseError ? e.shortMessage : e.message
        await append(ctx, {
          kind: 'output',
          actionId,
          timestamp: now(),
          result: { status: 'failed', error: { name: e.name, message: message.slice(0, 65_536) } },
        }).catch((appendErr) => log.error({ actionId, err: (appendErr as Error).message }, 'could not record the failed output step'))
        throw err
      }
      await append(ctx, { kind: 'output', actionId, timestamp: now(), result: { status: 'ok', output } })
      return { actionId, output, txHashes: ctx.txHashes, stepIndices: ctx.stepIndices }
    },
  }
  return Object.freeze(runtime)
}

function policyJson(policy: unknown) {
  const p = policySchema.parse(policy)
  return toJsonValue({ ...p, allowedTargets: p.allowedTargets.map((a) => a.toLowerCase()) })
}

function argsJson(value: unknown, fallback?: unknown): Record<string, JsonValue> {
  try {
    const json = toJsonValue(value)
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) return json
    return { value: json }
  } catch {
    return fallback === undefined ? { unrecordable: true } : argsJson(fallback)
  }
}

function txJson(tx: SentTransaction): JsonValue {
  return toJsonValue({
    hash: tx.hash,
    nonce: tx.nonce,
    walletStepIndex: tx.walletStepIndex,
    to: tx.to.toLowerCase(),
    value: tx.value,
    data: tx.data,
    status: tx.receipt.status,
    blockNumber: tx.receipt.blockNumber,
    blockHash: tx.receipt.blockHash,
    gasUsed: tx.receipt.gasUsed,
  })
}

function messageText(ai: AIMessage): string {
  if (typeof ai.content === 'string') return ai.content
  return ai.content.map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : '')).join('')
}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalize(a) === canonicalize(b)
  } catch {
    return false // not even JSON: certainly tampered (and the WAL will refuse it)
  }
}
