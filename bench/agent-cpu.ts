// bench/agent-cpu: CPU that Covenant's own bookkeeping costs per action, in one process.
//
//   npx tsx bench/agent-cpu.ts [--json] [--actions 200] [--rounds 5]
//
// Two kinds of action, each run --actions times per round, --rounds rounds interleaved
// (paying, moderation; paying, moderation; …), the first round dropped as warm-up:
//
//   paying      the agent-side work of a treasury action (examples/agents/treasury) that
//               is not the model, the HTTP exchange or the chain: the receipts of its two
//               chat completions checked (verifyReceipt, as the recording chat model does,
//               against the attested signer), its six steps written to the WAL as the
//               runtime and the wallet write them (input, inference, wallet — durable —,
//               tool, inference, output — durable —), and the committer's share of building
//               the batch (encode, Merkle root) for those steps. The two chat records and
//               their receipts are real: captured once, at start, from the local inference
//               container (in this process) answering the treasury's prompt.
//   moderation  a whole moderation action (examples/agents/moderation): createAgentRuntime
//               on the shipped ONNX classifier and a TraceWal — input, inference, tool,
//               output — plus the committer's share of building the batch.
//
// The committer's share: every 10 actions, the batch the Committer would put on DA
// (prepareBatch: the WAL's uncommitted steps → blob bytes and Merkle root) is built, and the
// cursor moved past it; DA and the chain are left out (they are other processes' CPU).
//
// CPU is process.cpuUsage() (user + system) over each round, per action; the figure given
// is the median over rounds with its min–max. fdatasync waits do not count as CPU. Numbers
// depend on the machine and its load; this prints them, it asserts nothing.
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { HumanMessage, SystemMessage, ToolMessage, type AIMessage, type BaseMessage } from '@langchain/core/messages'
import pino from 'pino'
import { type Hex } from 'viem'
import moderation from '../examples/agents/moderation/agent.js'
import treasury, { payInvoice, VENDORS } from '../examples/agents/treasury/agent.js'
import { createAgentRuntime } from '../src/agent/index.js'
import { prepareBatch } from '../src/bonds/committer.js'
import { createChatModel, createModerationClassifier, startInferenceServer, verifyReceipt } from '../src/inference/index.js'
import type { ReplayRecord } from '../src/inference/schemas.js'
import { TraceWal } from '../src/trace/index.js'
import { summarize } from './lib/stats.js'
import { flag, intOpt } from './lib/args.js'

const json = flag('--json')
const ACTIONS = intOpt('--actions', 200)
const ROUNDS = intOpt('--rounds', 5)
const COMMIT_EVERY = 10
const quiet = pino({ level: 'silent' })
const progress = (s: string) => {
  if (!json) process.stderr.write(`${s}\n`)
}

const root = await mkdtemp(join(tmpdir(), 'covenant-agent-cpu-'))
const server = await startInferenceServer({ port: 0, logger: quiet })
try {
  // ------------------------------------------------------------ real chat records, once
  progress('capturing the treasury exchange from the inference container…')
  const recorded = createChatModel({ baseURL: server.baseURL, model: 'covenant-chat' })
  const spec = { type: 'function' as const, function: { name: payInvoice.name, description: payInvoice.description, parameters: payInvoice.parameters as Record<string, unknown> } }
  const bound = recorded.chat.bindTools([spec])
  const task = `Invoice INV-2041 from Northwind Ltd: 0.001 ETH to ${VENDORS['Northwind Ltd']}.`
  const messages: BaseMessage[] = [new SystemMessage(treasury.instructions), new HumanMessage(task)]
  const first = (await bound.invoke(messages)) as AIMessage
  messages.push(first, new ToolMessage({ tool_call_id: first.tool_calls?.[0]?.id ?? 'call', content: '{"paid":"0.001"}', status: 'success' }))
  await bound.invoke(messages)
  const records: ReplayRecord[] = recorded.takeRecords()
  if (records.length !== 2 || records.some((r) => !r.receipt)) throw new Error('expected two receipted chat records')
  const signer = records[0]!.receipt!.signer as Hex
  const measurement = records[0]!.receipt!.measurement as Hex

  // ------------------------------------------------------------ the two agents
  let wals = 0
  const openWal = async () => TraceWal.open({ dir: join(root, `wal-${wals++}`), agentId: String(wals) })
  const payWal = await openWal()
  const modWal = await openWal()
  const classifier = await createModerationClassifier()
  const modRuntime = createAgentRuntime({ agent: moderation, agentId: modWal.agentId, policyVersion: 1, wal: modWal, onnx: classifier, logger: quiet })
  await modRuntime.recover()

  async function commitShare(wal: TraceWal): Promise<void> {
    const cursor = await wal.readCursor()
    const batch = await prepareBatch(wal, { nextIndex: cursor.nextIndex, sequence: cursor.nextSequence, maxSteps: 1024 })
    if (!batch) return
    const ref = { sequence: cursor.nextSequence, firstIndex: cursor.nextIndex, stepCount: batch.stepCount, root: batch.root, daCommitment: '0x01' as Hex }
    await wal.writeCursor({ ...cursor, nextIndex: ref.firstIndex + ref.stepCount, nextSequence: ref.sequence + 1, lastCommitted: ref, pending: null })
  }

  let nonce = 0
  async function payingAction(i: number): Promise<void> {
    const actionId = `pay-${i}`
    for (const r of records) {
      await verifyReceipt({ receipt: r.receipt, request: r.request, response: r.response, expectedSigner: signer, expectedMeasurement: measurement })
    }
    const now = Date.now()
    await payWal.appendNext({ kind: 'input', actionId, timestamp: now, task }, { durable: false })
    await payWal.appendNext({ kind: 'inference', actionId, timestamp: now, record: records[0]! }, { durable: false })
    await payWal.appendNext({
      kind: 'wallet',
      actionId,
      timestamp: now,
      chainId: '31337',
      from: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
      to: VENDORS['Northwind Ltd'].toLowerCase() as Hex,
      value: '1000000000000000',
      data: '0x',
      nonce: nonce++,
      policyVersion: 1,
    })
    await payWal.appendNext(
      {
        kind: 'tool',
        actionId,
        timestamp: now,
        tool: 'pay_invoice',
        args: { amountEth: '0.001', invoiceId: 'INV-2041', to: VENDORS['Northwind Ltd'] },
        outcome: { status: 'ok', result: { returned: { paid: '0.001' }, transactions: [{ hash: `0x${'ab'.repeat(32)}`, nonce, status: 'success' }] } },
      },
      { durable: false },
    )
    await payWal.appendNext({ kind: 'inference', actionId, timestamp: now, record: records[1]! }, { durable: false })
    await payWal.appendNext({ kind: 'output', actionId, timestamp: now, result: { status: 'ok', output: 'Paid INV-2041.' } })
    if ((i + 1) % COMMIT_EVERY === 0) await commitShare(payWal)
  }

  async function moderationAction(i: number): Promise<void> {
    await modRuntime.run({ postId: `p${i}`, text: i % 3 === 0 ? 'BUY CHEAP PILLS NOW!!! click here' : `a friendly note about the garden, number ${i}` }, { actionId: `mod-${i}` })
    if ((i + 1) % COMMIT_EVERY === 0) await commitShare(modWal)
  }

  // ------------------------------------------------------------ interleaved rounds
  const cpu: Record<'paying' | 'moderation', number[]> = { paying: [], moderation: [] }
  const wall: Record<'paying' | 'moderation', number[]> = { paying: [], moderation: [] }
  let n = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 === 0 ? (['paying', 'moderation'] as const) : (['moderation', 'paying'] as const)) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; i < ACTIONS; i++) await (kind === 'paying' ? payingAction(n++) : moderationAction(n++))
      const c = process.cpuUsage(c0)
      const ms = performance.now() - t0
      if (round === 0) continue // warm-up
      cpu[kind].push((c.user + c.system) / 1000 / ACTIONS)
      wall[kind].push(ms / ACTIONS)
    }
    progress(`round ${round + 1}/${ROUNDS}`)
  }

  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', loadavg: loadavg().map((x) => Number(x.toFixed(2))) },
    actionsPerRound: ACTIONS,
    rounds: ROUNDS - 1,
    paying: { cpuMsPerAction: summarize(cpu.paying, 2), wallMsPerAction: summarize(wall.paying, 2) },
    moderation: { cpuMsPerAction: summarize(cpu.moderation, 2), wallMsPerAction: summarize(wall.moderation, 2) },
  }
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else {
    const line = (k: 'paying' | 'moderation') => {
      const c = result[k].cpuMsPerAction
      const w = result[k].wallMsPerAction
      return `${k.padEnd(11)} CPU ${c.median} ms/action (${c.min}–${c.max})   wall ${w.median} ms/action (${w.min}–${w.max})`
    }
    process.stdout.write(`agent-process CPU per action (${ACTIONS} actions × ${ROUNDS - 1} rounds, ${result.machine.cpus} cores, load ${result.machine.loadavg.join(' ')})\n`)
    process.stdout.write(`${line('paying')}\n${line('moderation')}\n`)
  }
  await Promise.all([payWal.close(), modWal.close()])
} finally {
  await server.close()
  await rm(root, { recursive: true, force: true })
}
