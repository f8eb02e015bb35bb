// Child process of runtime.crash.test.ts: a treasury agent (real covenant-chat model on the
// parent's inference container) that pays invoices through its wallet, one after another. With `killAt` set, the first wallet event of that kind for one of this
// process's own actions prints "at <event> <nonce>" and then blocks, so the parent can
// SIGKILL it exactly there. Prints "recovered <json>" after the wallet's startup recovery,
// "done <actionId> <hash>" per task and "finished" at the end.
import { writeSync } from 'node:fs'
import { getAddress, parseEther } from 'viem'
import { z } from 'zod'
import { chainFor } from '../bonds/client.js'
import { TraceWal } from '../trace/wal.js'
import { createAgentWallet, type AgentWalletListener } from '../wallet/agentWallet.js'
import { loadKeystore } from '../wallet/keystore.js'
import { memoryLogger } from '../wallet/_fixtures.js'
import { defineAgent } from './defineAgent.js'
import { defineTool } from './defineTool.js'
import { createAgentRuntime } from './runtime.js'

const [dir, rpcUrl, chainId, keystore, recipient, round, killAt, tasks, inferenceURL] = process.argv.slice(2) as [
  string, string, string, string, `0x${string}`, string, string, string, string,
]
const say = (line: string) => writeSync(1, `${line}\n`)

const policy = { maxValuePerTx: 10n ** 18n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [recipient] }
const payInvoice = defineTool({
  name: 'pay_invoice',
  description: 'Pay an invoice in ETH to the address printed on it.',
  schema: z.object({
    invoiceId: z.string().describe('the invoice number'),
    to: z.string().describe('the address printed on the invoice'),
    amountEth: z.string().describe('the amount in ETH'),
  }),
  effect: { kind: 'pay' },
  invoke: async ({ to, amountEth }, { wallet }) => ({ status: 'paid', txHash: (await wallet.pay({ to: getAddress(to), value: parseEther(amountEth) })).hash }),
})
// the real covenant-chat model behind the inference container the parent started
const agent = defineAgent({
  name: 'crashy-treasury',
  instructions: 'You are a treasury agent. Pay valid invoices with the pay_invoice tool.',
  model: { kind: 'chat', model: 'covenant-chat', baseURL: inferenceURL },
  tools: [payInvoice],
  policy,
  bond: {},
})

const block = (event: string) => async (e: { actionId: string; nonce: number; hash?: string }) => {
  if (event !== killAt || !e.actionId.startsWith(`r${round}-`)) return
  say(`at ${event} ${e.nonce}${e.hash ? ` ${e.hash}` : ''}`)
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
const runtime = createAgentRuntime({ agent, agentId: '5', policyVersion: 1, wal, wallet, logger: memoryLogger().logger })
const closed = await runtime.recover()
say(`closed ${JSON.stringify(closed.map((a) => a.actionId))}`)
for (let i = 0; i < Number(tasks); i++) {
  const invoice = `INV-${round}0${i}`
  const r = await runtime.run(`Invoice ${invoice} from Northwind Ltd: please pay 0.${round}${i + 1} ETH to ${recipient} for GPU hours.`, {
    actionId: `r${round}-${i}`,
  })
  say(`done ${r.actionId} ${r.txHashes.join(',')}`)
}
await wal.close()
say('finished')
process.exit(0)
