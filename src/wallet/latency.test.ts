// Prints where a transaction's time goes (no timing assertions): policy check + nonce +
// gas/fee preparation + WAL append (fdatasync) → signed + outbox (fsync) → broadcast → mined.
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { basePolicy, fundedAgentKey, openWallet, randomAddress, startWalletChain, type WalletChain } from './_fixtures.js'

let c: WalletChain
beforeAll(async () => {
  c = await startWalletChain()
})
afterAll(async () => {
  await c?.stop()
})

const N = 40
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!

test(`wallet latency over ${N} transactions on anvil (printed)`, async () => {
  const key = await fundedAgentKey(c)
  const alice = randomAddress()
  const marks = new Map<number, Record<string, number>>()
  const mark = (name: string) => (e: { nonce: number }) => {
    marks.set(e.nonce, { ...marks.get(e.nonce), [name]: performance.now() })
  }
  const { wal, wallet } = await openWallet(c, {
    dir: await c.tmpDir(),
    account: key.account,
    policy: basePolicy([alice]),
    on: { stepWritten: mark('step'), signed: mark('signed'), broadcast: mark('sent'), mined: mark('mined') },
  })
  const starts: number[] = []
  for (let i = 0; i < N; i++) {
    starts.push(performance.now())
    await wallet.sendTransaction({ to: alice, value: 1n }, { actionId: 'bench' })
  }
  const rows = [...marks.entries()].sort(([a], [b]) => a - b).map(([nonce, m]) => ({ start: starts[nonce]!, ...m }) as Record<string, number>)
  const span = (from: string, to: string) => rows.map((r) => r[to]! - r[from]!)
  const figures = {
    'request → wallet step durable (policy, nonce, gas/fees, balance, WAL fdatasync)': span('start', 'step'),
    'wallet step → signed + outbox fsync': span('step', 'signed'),
    'signed → broadcast accepted': span('signed', 'sent'),
    'broadcast → receipt (anvil automine, 50 ms polling)': span('sent', 'mined'),
    'wallet step → sent': span('step', 'sent'),
    'request → mined (total)': span('start', 'mined'),
  }
  const lines = Object.entries(figures).map(([k, v]) => `  ${k}: p50 ${pct(v, 50).toFixed(2)} ms, p99 ${pct(v, 99).toFixed(2)} ms`)
  console.info(`wallet latency, ${N} sequential transactions:\n${lines.join('\n')}`)
  expect(rows).toHaveLength(N)
  await wal.close()
})
