// A remote-model agent on a chain (issue #13): the model is served by a separate
// OpenAI-compatible endpoint on its own port (the project's container, started as a "remote"
// with its own signing key, reached with an API key read from the environment). The agent is
// deployed through the service deploy path (manifest on DA, registration and bond on anvil)
// once with replay `none` and once with `attested` (the endpoint's key registered), hosted,
// and runs 50 honest actions each (a fifth of them paying a vendor, within policy) while three
// staked VerifierNodes follow the chain: no fault, no dispute, no slash, the bonds intact.
// The cheater: an operator that registers the honest endpoint's key but runs the model on an
// endpoint of its own — its receipts are signed by a key it never registered; a verifier
// finds it, the quorum judges InferenceFraud and the bond is slashed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getAddress, parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAgent, defineTool, type AgentDefinition } from '../../src/agent/index.js'
import { listDisputes } from '../../src/bonds/index.js'
import { startInferenceServer, type InferenceServer } from '../../src/inference/index.js'
import type { AgentHost } from '../../src/service/index.js'
import { localAttestationCheck, type VerifierEvent } from '../../src/verify/index.js'
import { ethAmountSchema } from '../../src/wallet/index.js'
import {
  actionIdFor,
  bondOf,
  deployOperator,
  Example,
  hostOperator,
  settledDispute,
  startVerifiers,
  verdicts,
  waitFor,
  type Operator,
} from '../../examples/agents/_shared/harness.js'

const ACTIONS = 50
const PAYING_EVERY = 5
const VENDOR = getAddress('0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed')
const API_KEY_ENV = 'COVENANT_TEST_REMOTE_API_KEY'
const API_KEY = 'sk-remote-test-0123456789abcdef'

const payInvoice = defineTool({
  name: 'pay_invoice',
  description: 'Pay an invoice in ETH to the address printed on it.',
  schema: z.object({
    invoiceId: z.string().min(1).max(64).describe('the invoice number, e.g. INV-2041'),
    to: z.string().regex(/^0x[0-9a-fA-F]{40}$/).describe('the address to pay, exactly as printed on the invoice'),
    amountEth: ethAmountSchema.describe('the amount in ETH, e.g. "0.25"'),
  }),
  effect: { kind: 'pay', maxValuePerTx: parseEther('0.01') },
  invoke: async ({ invoiceId, to, amountEth }, { wallet }) => {
    const tx = await wallet.pay({ to: getAddress(to), value: parseEther(amountEth) })
    return { invoiceId, paid: amountEth, hash: tx.hash }
  },
})

function remoteAgent(name: string, baseURL: string, replay: AgentDefinition['replay']): AgentDefinition {
  return defineAgent({
    name,
    instructions: 'You pay invoices. For each invoice, call pay_invoice with its id, the address printed on it and the amount in ETH.',
    model: { kind: 'chat', model: 'covenant-chat', baseURL, apiKeyEnv: API_KEY_ENV },
    tools: [payInvoice],
    policy: { maxValuePerTx: parseEther('0.01'), dailyBudget: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [VENDOR] },
    bond: { eth: parseEther('5') },
    replay,
  })
}

/** Task i: every PAYING_EVERY-th an invoice of 0.001 ETH from the allowlisted vendor, the others a note to file. */
function task(i: number): string {
  return i % PAYING_EVERY === 0
    ? `Invoice INV-${3000 + i} from Northwind Ltd: please pay 0.001 ETH to ${VENDOR} for GPU hours.`
    : `Summarize: the weekly report ${i} is ready.`
}

let ex: Example
let remote: InferenceServer
let rogueEndpoint: InferenceServer
let dir: string
const events: Array<{ who: number; e: VerifierEvent }> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-remote-model-'))
  process.env[API_KEY_ENV] = API_KEY
  // no inference container in the stack: the model is remote
  ex = await Example.start('remote-model', { dataDir: dir, inference: false })
  remote = await startInferenceServer({ port: 0 })
  rogueEndpoint = await startInferenceServer({ port: 0 })
  ex.defer(() => remote.close())
  ex.defer(() => rogueEndpoint.close())
}, 300_000)

afterAll(async () => {
  await ex?.close()
  delete process.env[API_KEY_ENV]
  rmSync(dir, { recursive: true, force: true })
})

async function runHonest(op: Operator, host: AgentHost) {
  let paid = 0
  const ids: string[] = []
  for (let i = 0; i < ACTIONS; i++) {
    const id = actionIdFor(op.agentId, `${op.label} ${i}`)
    ids.push(id)
    // an honest agent's tool may refuse the model's arguments: that is an error, never a fault
    const r = await host.run(task(i), id).catch(() => undefined)
    paid += r?.txHashes.length ?? 0
  }
  await host.flush()
  return { paid, ids }
}

describe(`a remote-model agent on anvil, watched by three VerifierNodes`, () => {
  let none: Operator
  let attested: Operator
  let rogue: Operator

  it(`replay none and attested: ${ACTIONS} honest actions each — no fault, no dispute, no slash; the cheater's unregistered key is slashed`, async () => {
    const noneAgent = remoteAgent('remote-none', remote.baseURL, { mode: 'none' })
    const attestedAgent = remoteAgent('remote-attested', remote.baseURL, { mode: 'attested', signers: [remote.address] } as AgentDefinition['replay'])
    // the rogue registers the honest endpoint's key, for an endpoint it runs itself
    const rogueAgent = remoteAgent('remote-rogue', rogueEndpoint.baseURL, { mode: 'attested', signers: [remote.address] } as AgentDefinition['replay'])
    // no code bundle: the agents' own logic is not replayed here (whole-action replay has its
    // suites); what is judged is each inference, by the mode its model was registered with
    const source = undefined
    none = await deployOperator(ex, { label: 'none', agent: noneAgent, source, ownerIndex: 1 })
    attested = await deployOperator(ex, { label: 'attested', agent: attestedAgent, source, ownerIndex: 2 })
    rogue = await deployOperator(ex, { label: 'rogue', agent: rogueAgent, source, ownerIndex: 3 })
    const bonds = { none: await bondOf(ex, none.agentId), attested: await bondOf(ex, attested.agentId), rogue: await bondOf(ex, rogue.agentId) }
    expect(bonds.none).toBe(parseEther('5'))

    const nodes = await startVerifiers(ex, [none, attested, rogue], { attestation: localAttestationCheck(), onEvent: (who, e) => events.push({ who, e }) })

    const [noneHost, attestedHost] = [await hostOperator(ex, none), await hostOperator(ex, attested)]
    const [noneRun, attestedRun] = await Promise.all([runHonest(none, noneHost), runHonest(attested, attestedHost)])
    expect(noneRun.paid).toBe(ACTIONS / PAYING_EVERY)
    expect(attestedRun.paid).toBe(ACTIONS / PAYING_EVERY)

    // the rogue: one invoice, every receipt signed by its own endpoint's key
    const rogueHost = await hostOperator(ex, rogue)
    const rogueAction = actionIdFor(rogue.agentId, 'rogue 0')
    await rogueHost.run(task(0), rogueAction)
    await rogueHost.flush()

    // the cheater is found, disputed and slashed by the quorum
    const fraud = await settledDispute(ex, rogue.agentId, 'InferenceFraud', 240_000)
    expect(fraud.status).toBe('Slashed')
    expect(await bondOf(ex, rogue.agentId)).toBeLessThan(bonds.rogue)

    // every committed batch of the honest agents was checked by every verifier, no fault in any
    const stepsOf = { none: noneHost.wal.head.nextIndex, attested: attestedHost.wal.head.nextIndex }
    expect(stepsOf.none).toBeGreaterThan(ACTIONS * 3)
    await waitFor(
      "every verifier to check both honest agents' committed steps",
      async () => {
        for (const who of nodes.keys()) {
          for (const op of [none, attested]) {
            const checked = events
              .filter((x) => x.who === who && x.e.type === 'batch' && x.e.agentId === op.agentId && x.e.status === 'ok')
              .reduce((n, x) => n + (x.e as { steps: number }).steps, 0)
            if (checked < stepsOf[op.label as 'none' | 'attested']) return undefined
          }
        }
        return true
      },
      { timeoutMs: 180_000 },
    )
    const honestIds = new Set([none.agentId, attested.agentId])
    const aboutHonest = events.filter(({ e }) => {
      if (e.type === 'fault' || e.type === 'challenge') return honestIds.has(e.fault.agentId)
      if (e.type === 'dispute') return honestIds.has(e.agentId)
      if (e.type === 'batch') return honestIds.has(e.agentId) && e.faults > 0
      return false
    })
    expect(aboutHonest).toEqual([])
    expect(nodes).toHaveLength(3)
    for (const op of [none, attested]) {
      expect((await listDisputes(ex.stack.client, { agentId: op.agentId })).length).toBe(0)
      expect(await bondOf(ex, op.agentId)).toBe(bonds[op.label as 'none' | 'attested'])
    }

    // covenant verify, with receipts checked against the registration: how each was judged
    const sample = [noneRun.ids[0]!, noneRun.ids[1]!, attestedRun.ids[0]!, attestedRun.ids[1]!, rogueAction]
    const reports = await verdicts(ex, [none, attested, rogue], sample, { attestation: localAttestationCheck() })
    const inferenceReasons = (id: string) => reports.get(id)!.steps.filter((s) => s.kind === 'inference')
    for (const id of sample.slice(0, 4)) {
      // no fault; `incomplete` only because the agents registered no code to replay their logic
      expect(reports.get(id)).toMatchObject({ verdict: 'incomplete', faults: [] })
    }
    for (const id of sample.slice(0, 2)) {
      for (const s of inferenceReasons(id)) expect(s).toMatchObject({ status: 'ok', reason: expect.stringMatching(/replay 'none'/) })
    }
    for (const id of sample.slice(2, 4)) {
      for (const s of inferenceReasons(id)) expect(s).toMatchObject({ status: 'ok', reason: expect.stringMatching(/^attestation valid/) })
    }
    expect(reports.get(rogueAction)!.verdict).toBe('faulty')
    expect(inferenceReasons(rogueAction)[0]!.reason).toMatch(new RegExp(`signed by ${rogueEndpoint.address}, not by a key the agent registered`, 'i'))
  }, 900_000)
})
