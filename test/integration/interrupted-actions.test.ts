import { parseEther, type Hex } from 'viem'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { AgentHost, type OpenAgentHostParameters } from '../../src/service/agentHost.js'
import type { LocalStack } from '../../src/service/stack.js'
import { daManifestSource } from '../../src/verify/manifest.js'
import { verifyAction } from '../../src/verify/action.js'
import { startPayingHostStack, type PayingHostStack } from '../fixtures/payingHost.js'
import { PAYEE } from '../fixtures/serviceAgents.js'

// Issue 17: tasks ended `failed` with ActionInterruptedError though nothing was signed for
// them (unpaid invoices the user had to resubmit). An action a crash interrupted before it
// signed anything now runs again under its id; one that signed stays closed (it is never
// run twice).
let fixture: PayingHostStack
let stack: LocalStack
let params: OpenAgentHostParameters

beforeAll(async () => {
  // the fixture file's agent, registered with its code bundle: verifiers replay its logic
  fixture = await startPayingHostStack('interrupted', { commitIntervalMs: 200 })
  ;({ stack, params } = fixture)
})

afterAll(async () => {
  await fixture?.stop()
})

const task = (i: number) => ({ memo: `invoice ${i}`, to: PAYEE, amountEth: '0.001' })

test('an action interrupted before it signed runs again under its id; one that signed stays closed', async () => {
  let host = await AgentHost.open(params)
  const id = host.record.agentId
  const unsigned = `${id}-00000000000a`
  const signed = `${id}-00000000000b`
  // a crash mid-action, before any wallet step: what the WAL holds is its input
  await host.wal.appendNext({ kind: 'input', actionId: unsigned, timestamp: Date.now(), task: task(1) })
  // a crash after the wallet step was written (the transaction authorised, sent on recovery)
  await host.wal.appendNext({ kind: 'input', actionId: signed, timestamp: Date.now(), task: task(2) })
  await host.wal.appendNext({
    kind: 'wallet',
    actionId: signed,
    timestamp: Date.now(),
    chainId: String(stack.anvil.chainId),
    from: host.wallet!.address.toLowerCase() as `0x${string}`,
    to: PAYEE.toLowerCase() as `0x${string}`,
    value: parseEther('0.001').toString(),
    data: '0x',
    // the signer's next nonce: recovery finds it authorised and sends it
    nonce: await stack.client.publicClient.getTransactionCount({ address: host.wallet!.signer, blockTag: 'pending' }),
    policyVersion: host.wallet!.policyVersion,
  })
  await host.close({ flush: false })

  // restart: recovery closes both as interrupted
  host = await AgentHost.open(params)
  try {
    const r = await host.run(task(1), unsigned)
    expect(r.txHashes).toHaveLength(1) // paid this time
    const steps = (await host.action(unsigned)).steps.map((s) => (s.kind === 'output' ? `output:${(s.result as { status: string }).status}` : s.kind))
    // the closed attempt, then the new run, under one id
    expect(steps.slice(0, 3)).toEqual(['input', 'output:interrupted', 'input'])
    expect(steps.at(-1)).toBe('output:ok')
    // the signed one is never run again
    expect(await host.run(task(2), signed).catch((e: unknown) => e)).toMatchObject({ name: 'ActionEndedError' })
    // and after another restart, the finished re-run answers from the WAL
    await host.close()
    host = await AgentHost.open(params)
    expect((await host.run(task(1), unsigned)).txHashes).toEqual(r.txHashes)
    // a verifier replays the re-run attempt by attempt through the agent's registered code:
    // the honest agent is not disputed for running it again
    await host.flush()
    const manifests = [daManifestSource(stack.da, { [host.record.agentId]: host.record.manifestCommitment as Hex })]
    const report = await verifyAction({ client: stack.client, da: stack.da, manifests }, unsigned)
    expect(report.logic, JSON.stringify(report.logic)).toMatchObject({ status: 'ok' })
    expect(report.faults).toEqual([])
  } finally {
    await host.close()
  }
})
