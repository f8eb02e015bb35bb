// A verifier that cannot find the agent's manifest does not know which check each model was
// registered for, so it judges no inference by a default it made up: the step is unknown
// (`unverifiable`, retried), the action `incomplete`, a dispute waited on, never a fault.
// Only what the chain itself registers (the model digests) still decides.
import { keccak256, toHex, type Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { endpointModelDigest } from '../inference/endpointDigest.js'
import type { ReplayRecord } from '../inference/schemas.js'
import { canonicalBytes, type Step } from '../trace/index.js'
import { replayRecord } from '../trace/_fixtures.js'
import type { BatchEvent } from './batches.js'
import { checkBatchSteps, checkDispute, type CheckContext } from './check.js'
import type { ManifestSource } from './manifest.js'
import type { ReplayJobData } from './inference.js'

const REMOTE = endpointModelDigest('https://llm.example.com/v1', 'gpt-remote')
// an honest agent on a remote model registered `none`: its record names the endpoint and claims no replay
const record: ReplayRecord = { ...replayRecord, backend: 'openai-compatible', modelDigest: REMOTE, replay: 'none', model: { name: 'gpt-remote', digestOf: 'endpoint-and-name' } }
const manifest = { name: 'remote-agent', models: [{ digest: REMOTE, replay: 'none' }] }
const manifestBytes = canonicalBytes(manifest)
const manifestHash = keccak256(manifestBytes)
const ZERO: Hex = `0x${'00'.repeat(32)}`

const ev: BatchEvent = {
  agentId: 7n,
  sequence: 0n,
  merkleRoot: ZERO,
  daCommitment: '0x01',
  firstIndex: 0n,
  stepCount: 1,
  committedAt: 1_700_000_000,
  blockNumber: 1n,
  blockHash: ZERO,
  transactionHash: ZERO,
}
const step = { kind: 'inference', actionId: '7-a', index: 0, timestamp: 1, record, prevHash: ZERO, hash: ZERO } as unknown as Step
const leaf = keccak256(toHex('leaf'))

/** A manifest source that can be switched between "has it", "has nothing" and "fails". */
function switchableSource(): ManifestSource & { state: 'has' | 'missing' | 'down'; asked: number } {
  const s = {
    name: 'switchable',
    state: 'missing' as 'has' | 'missing' | 'down',
    asked: 0,
    async get() {
      s.asked++
      if (s.state === 'down') throw Object.assign(new Error('503'), { name: 'ManifestUnavailableError', shortMessage: 'the manifest host answered 503' })
      return s.state === 'has' ? manifestBytes : undefined
    },
  }
  return s
}

function context(p: { manifests: ManifestSource[]; registeredHash?: Hex; digests?: Hex[] }) {
  const replays: ReplayJobData[] = []
  const ctx = {
    client: {} as never,
    da: {} as never,
    agents: {
      modelDigestsAt: async () => new Set((p.digests ?? [REMOTE]).map((d) => d.toLowerCase() as Hex)),
      versionAt: async () => ({ manifestHash: p.registeredHash ?? manifestHash }),
    } as never,
    index: {
      movedByAction: async () => 0n,
      batch: async () => ({ ev, check: { status: 'ok', batch: { steps: [step] }, leaves: [leaf] } }),
    } as never,
    manifests: p.manifests,
    // a strict replayer: anything it is asked to replay "mismatches"
    replay: async (job: ReplayJobData) => {
      replays.push(job)
      return { status: 'mismatch' as const, expectedHash: 'claimed', actualHash: 'other' }
    },
    withheldGraceSeconds: 60,
  } satisfies CheckContext
  return { ctx, replays }
}

describe('a verifier that cannot find the manifest', () => {
  it('judges none of the inferences by a default (unknown, retried), and judges them by the registration once the manifest appears', async () => {
    const source = switchableSource()
    const { ctx, replays } = context({ manifests: [source] })
    const missing = await checkBatchSteps(ctx, ev, [step], [leaf])
    expect(missing.faults).toEqual([])
    expect(missing.reports[0]).toMatchObject({ status: 'unverifiable', retry: true })
    expect(missing.reports[0]!.reason).toMatch(/manifest is not available .* unknown/)
    expect(replays).toHaveLength(0)

    source.state = 'down'
    const down = await checkBatchSteps(ctx, ev, [step], [leaf])
    expect(down.faults).toEqual([])
    expect(down.reports[0]).toMatchObject({ status: 'unverifiable', retry: true })

    // the miss was not cached: the manifest that appears is found, and `none` is what it registers
    source.state = 'has'
    const found = await checkBatchSteps(ctx, ev, [step], [leaf])
    expect(found.faults).toEqual([])
    expect(found.reports[0]).toMatchObject({ status: 'ok' })
    expect(found.reports[0]!.reason).toMatch(/replay 'none'/)
    expect(source.asked).toBe(3)
    expect(replays).toHaveLength(0)
  })

  it('waits on a dispute over such an inference instead of voting or abstaining for good', async () => {
    const { ctx } = context({ manifests: [switchableSource()] })
    const d = await checkDispute(ctx, { disputeId: 1n, kind: 'InferenceFraud', agentId: 7n, sequence: 0n, stepIndex: 0, subject: ZERO, openedAt: 0, deadline: 0, harm: 0n })
    expect(d).toMatchObject({ decided: false, final: false })
  })

  it('still faults a model the agent never registered on chain', async () => {
    const other = endpointModelDigest('https://other.example.com/v1', 'gpt-remote')
    const { ctx } = context({ manifests: [switchableSource()], digests: [other] })
    const r = await checkBatchSteps(ctx, ev, [step], [leaf])
    expect(r.reports[0]).toMatchObject({ status: 'fault' })
    expect(r.faults).toHaveLength(1)
  })

  it('holds an agent that registered no manifest (zero hash) to the default, exact: a record claiming no replay is a fault', async () => {
    const { ctx } = context({ manifests: [switchableSource()], registeredHash: ZERO })
    const r = await checkBatchSteps(ctx, ev, [step], [leaf])
    expect(r.reports[0]).toMatchObject({ status: 'fault' })
    expect(r.reports[0]!.reason).toMatch(/claims no replay/)
  })
})
