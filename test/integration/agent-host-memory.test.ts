import { afterAll, beforeAll, expect, test } from 'vitest'
import { AgentHost, type OpenAgentHostParameters } from '../../src/service/agentHost.js'
import type { LocalStack } from '../../src/service/stack.js'
import { startPayingHostStack, type PayingHostStack } from '../fixtures/payingHost.js'
import { PAYEE } from '../fixtures/serviceAgents.js'

// A host that runs for weeks must not keep every action it ran: finished actions are kept
// as the range of steps that hold them (a retried task is answered by reading them again),
// and the committer keeps only the wallet steps whose calls are not covered yet.
let fixture: PayingHostStack
let stack: LocalStack
let params: OpenAgentHostParameters

beforeAll(async () => {
  // commits only when the test flushes
  fixture = await startPayingHostStack('host-memory', { commitIntervalMs: 3_600_000 })
  ;({ stack, params } = fixture)
})

afterAll(async () => {
  await fixture?.stop()
})

const task = (i: number) => ({ memo: `invoice ${i}`, to: PAYEE, amountEth: '0.001' })

test('a finished action is answered again from its steps in the WAL, in this process and after a restart; covered calls leave the committer', async () => {
  let host = await AgentHost.open(params)
  const id = host.record.agentId
  const payments = () => stack.client.publicClient.getTransactionCount({ address: host.wallet!.signer })
  try {
    const results = []
    for (let i = 0; i < 4; i++) {
      results.push(await host.run(task(i), `${id}-00000000010${i}`))
      await host.flush()
    }
    expect(results.map((r) => r.txHashes.length)).toEqual([1, 1, 1, 1])
    // every step of the trace was seen by the committer, but it keeps only wallet steps whose
    // calls are not known covered: the last one (covered by the last commit, dropped at the next)
    expect(host.wal.head.nextIndex).toBeGreaterThan(16)
    expect(host.committer.memoryUse.callLeaves).toBeLessThanOrEqual(1)

    // a retried task: the same answer, nothing written or sent
    const head = host.wal.head.nextIndex
    const sent = await payments()
    for (const [i, r] of results.entries()) expect(await host.run(task(i), r.actionId)).toEqual(r)
    expect(host.wal.head.nextIndex).toBe(head)
    expect(await payments()).toBe(sent)

    // after a restart the finished actions are found in the WAL and answered the same way
    await host.close()
    host = await AgentHost.open(params)
    for (const [i, r] of results.entries()) expect(await host.run(task(i), r.actionId)).toEqual(r)
    expect(host.wal.head.nextIndex).toBe(head)
    expect(await payments()).toBe(sent)

    // a new payment after the restart is covered like the others
    const next = await host.run(task(9), `${id}-000000000109`)
    await host.flush()
    await host.run(task(10), `${id}-00000000010a`)
    await host.flush()
    expect(next.txHashes).toHaveLength(1)
    // a reopened committer found the wallet steps of the calls covered before the restart
    // (which it cannot tell from calls to come without reading each one back): it keeps
    // those, one a payment, and drops the new ones as before — not the trace's other steps
    expect(host.wal.head.nextIndex).toBeGreaterThan(28)
    expect(host.committer.memoryUse.callLeaves).toBeLessThanOrEqual(results.length + 1)
  } finally {
    await host.close()
  }
})
