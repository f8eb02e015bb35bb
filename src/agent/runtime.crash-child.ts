// Child process of runtime.crash.test.ts: an agent that pays through its wallet, one task
// after another. With `killAt` set, the first wallet event of that kind for one of this
// process's own actions prints "at <event> <nonce>" and then blocks, so the parent can
// SIGKILL it exactly there. Prints "recovered <json>" after the wallet's startup recovery,
// "done <actionId> <hash>" per task and "finished" at the end.
import { writeSync } from 'node:fs'
import { ToolMessage } from '@langchain/core/messages'
import { z } from 'zod'
import { chainFor } from '../bonds/client.js'
import { TraceWal } from '../trace/wal.js'
import { createAgentWallet, type AgentWalletListener } from '../wallet/agentWallet.js'
import { loadKeystore } from '../wallet/keystore.js'
import { memoryLogger } from '../wallet/_fixtures.js'
import { answer, scriptedChat, toolCall } from './_fixtures.js'
import { defineAgent } from './defineAgent.js'
import { defineTool } from './defineTool.js'
import { createAgentRuntime } from './runtime.js'

const [dir, rpcUrl, chainId, keystore, recipient, round, killAt, tasks] = process.argv.slice(2) as [
  string, string, string, string, `0x${string}`, string, string, string,
]
const say = (line: string) => writeSync(1, `${line}\n`)

const policy = { maxValuePerTx: 10n ** 18n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [recipient] }
const pay = defineTool({
  name: 'pay',
  description: 'Pays wei to an address.',
  schema: z.object({ to: z.string().describe('recipient'), amountWei: z.string().describe('amount in wei') }),
  effect: { kind: 'pay' },
  invoke: async ({ to, amountWei }, { wallet }) => (await wallet.pay({ to: to as `0x${string}`, value: BigInt(amountWei) })).hash,
})
const agent = defineAgent({ name: 'crashy', instructions: 'Pay when asked.', model: { kind: 'chat', model: 'covenant-chat' }, tools: [pay], policy, bond: {} })

const block = (event: string) => async (e: { actionId: string; nonce: number }) => {
  if (event !== killAt || !e.actionId.startsWith(`r${round}-`)) return
  say(`at ${event} ${e.nonce}`)
  await new Promise(() => {})
}
const on: Partial<AgentWalletListener> = { stepWritten: block('stepWritten'), signed: block('signed'), broadcast: block('broadcast') }

const wal = await TraceWal.open({ dir, agentId: '5' })
const wallet = await createAgentWallet({
  account: await loadKeystore(keystore, { password: 'test' }),
  chain: chainFor(rpcUrl, Number(chainId)),
  wal,
  policy,
  policyVersion: 1,
  pollingIntervalMs: 50,
  logger: memoryLogger().logger,
  on,
})
say(`recovered ${JSON.stringify(wallet.recovered.map((r) => ({ nonce: r.nonce, outcome: r.outcome, hash: r.hash, error: r.error?.name ?? null })))}`)
// the scripted model: pay as the task says, then answer
const chat = scriptedChat((messages) => {
  const last = messages.at(-1)
  if (last instanceof ToolMessage) return answer(`paid: ${last.text}`)
  const amount = /(\d+) wei/.exec(messages.at(-1)!.text)![1]!
  return toolCall('pay', { to: recipient, amountWei: amount })
})
const runtime = createAgentRuntime({ agent, agentId: '5', policyVersion: 1, wal, wallet, chat, logger: memoryLogger().logger })
const closed = await runtime.recover()
say(`closed ${JSON.stringify(closed.map((a) => a.actionId))}`)
for (let i = 0; i < Number(tasks); i++) {
  const r = await runtime.run(`pay ${1000 + Number(round) * 10 + i} wei`, { actionId: `r${round}-${i}` })
  say(`done ${r.actionId} ${r.txHashes.join(',')}`)
}
await wal.close()
say('finished')
process.exit(0)
