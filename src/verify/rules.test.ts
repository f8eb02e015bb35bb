// Unit tests of the verifier's rules: manifests, inference prechecks, AgentRegistry.evaluate
// off chain, judges, header sources, the state file and the public exports.
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { getAddress, keccak256, toHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { batchHeaderTypedData, type AgentVersion, type CovenantDeployment } from '../bonds/index.js'
import { UnrecoverableCovenantError } from '../errors/base.js'
import { canonicalBytes, type WalletStep } from '../trace/index.js'
import { replayRecord } from '../trace/_fixtures.js'
import { evaluateWalletStep } from './agents.js'
import { isOperatorSigned, jsonlHeaderSource } from './headers.js'
import { attestedRecordProblem, precheckInference, registeredMeasurement, replayJobHandler, replayJobId, type ReplayJobData } from './inference.js'
import { promptJudge, ruleJudge } from './judge.js'
import { fileManifestSource, loadManifest, replayRuleFor } from './manifest.js'
import { VerifierStateStore } from './state.js'
import { withheldGrace } from './node.js'
import { refetchDelayMs } from './traceIndex.js'
import type { ManifestReplay, ReplayRule } from './schemas.js'
import type { ReplayRecord } from '../inference/schemas.js'
import * as verify from './index.js'
import { redisVerdictPool } from './verdictPool.js'
import { moderationJudge } from './moderationJudge.js'
import { httpHeaderSource } from './headers.js'
import { urlManifestSource } from './manifest.js'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signVerdict } from '../bonds/index.js'

const tmp = () => mkdtemp(join(tmpdir(), 'verify-rules-'))
const DIGEST = replayRecord.modelDigest as Hex

describe('manifests', () => {
  it('accepts bytes whose keccak256, or whose canonical JSON keccak256, is the registered hash', async () => {
    const dir = await tmp()
    const manifest = { name: 'x', replay: { mode: 'tolerance', tolerance: { maxAbsDiff: 0.001, argmax: true } } }
    const bytes = canonicalBytes(manifest)
    const hash = keccak256(bytes)
    await writeFile(join(dir, `${hash}.json`), bytes)
    const loaded = await loadManifest([fileManifestSource(dir)], { agentId: 1n, manifestHash: hash })
    expect(replayRuleFor(loaded?.replay, DIGEST)).toEqual({ mode: 'tolerance', tolerance: { maxAbsDiff: 0.001, argmax: true } })
    // pretty-printed bytes of the same manifest match through their canonical form
    await writeFile(join(dir, 'agent-2.json'), JSON.stringify(manifest, null, 2))
    expect(await loadManifest([fileManifestSource(dir)], { agentId: 2n, manifestHash: hash })).toBeDefined()
  })

  it('refuses a manifest that does not match, and is strict (exact) without one', async () => {
    const dir = await tmp()
    await writeFile(join(dir, 'agent-3.json'), '{"replay":"tolerance"}')
    await expect(loadManifest([fileManifestSource(dir)], { agentId: 3n, manifestHash: keccak256(toHex('other')) })).rejects.toMatchObject({
      name: 'ManifestMismatchError',
    })
    expect(await loadManifest([fileManifestSource(dir)], { agentId: 4n, manifestHash: keccak256(toHex('none')) })).toBeUndefined()
    expect(replayRuleFor(undefined, DIGEST)).toEqual({ mode: 'exact' })
  })

  it('takes a per-model rule over the agent-wide one', () => {
    const replay: ManifestReplay = { replay: 'exact', models: [{ digest: DIGEST, replay: 'attested' }] }
    expect(replayRuleFor(replay, DIGEST)).toEqual({ mode: 'attested' })
    expect(replayRuleFor(replay, `0x${'00'.repeat(32)}`)).toEqual({ mode: 'exact' })
  })
})

describe('inference prechecks', () => {
  const registered = new Set<Hex>([DIGEST])
  const cases: Array<[string, ReplayRecord, ReplayRule, RegExp]> = [
    ['an unregistered model', { ...replayRecord, modelDigest: `0x${'cd'.repeat(32)}` }, { mode: 'exact' }, /not among the agent's registered model digests/],
    ["replay 'none' for a registered model", { ...replayRecord, replay: 'none' }, { mode: 'exact' }, /claims no replay/],
    ['a weaker check than required', { ...replayRecord, replay: 'tolerance' }, { mode: 'exact' }, /offers 'tolerance' but the verifier \(no manifest tolerance\) requires 'exact'/],
    ['attested where the manifest wants tolerance', { ...replayRecord, replay: 'attested' }, { mode: 'tolerance' }, /offers 'attested'/],
  ]
  it.each(cases)('faults %s', (_what, record, rule, reason) => {
    const r = precheckInference(record, registered, rule)
    expect(r.status).toBe('fault')
    expect(r.status === 'fault' && r.reason).toMatch(reason)
  })

  it('replays under the manifest rule, and checks attested records by attestation', () => {
    expect(precheckInference(replayRecord, registered, { mode: 'tolerance', tolerance: { maxAbsDiff: 0.1 } })).toEqual({
      status: 'replay',
      rule: { mode: 'tolerance', tolerance: { maxAbsDiff: 0.1 } },
    })
    expect(precheckInference({ ...replayRecord, replay: 'attested' }, registered, { mode: 'attested' }).status).toBe('attested')
    expect(precheckInference(replayRecord, registered, { mode: 'attested' })).toEqual({ status: 'replay', rule: { mode: 'exact' } })
  })

  it('names replay jobs by agent, batch, step and leaf', () => {
    const job = { agentId: '3', sequence: '7', stepIndex: 2, leaf: `0x${'ab'.repeat(32)}` as Hex }
    expect(replayJobId(job)).toBe('replay-3-7-2-abababababababab')
  })

  it('reports a replay that cannot run at all as unverifiable, and lets transient errors retry', async () => {
    const data: ReplayJobData = { agentId: '1', sequence: '0', stepIndex: 0, index: 0, leaf: DIGEST, record: replayRecord, rule: { mode: 'exact' } }
    const missing = replayJobHandler(async () => {
      throw new UnrecoverableCovenantError('model not found')
    })
    expect(await missing({ id: 'j', name: 'replay', data, attempt: 1 })).toEqual({ status: 'unverifiable', reason: 'model not found' })
    const flaky = replayJobHandler(async () => {
      throw new Error('ECONNRESET')
    })
    await expect(flaky({ id: 'j', name: 'replay', data, attempt: 1 })).rejects.toThrow('ECONNRESET')
  })
})

describe('evaluateWalletStep mirrors AgentRegistry.evaluate', () => {
  const payee = getAddress(`0x${'0a'.repeat(20)}`)
  const version = (over: Partial<AgentVersion> = {}): AgentVersion => ({
    version: 1,
    manifestHash: `0x${'00'.repeat(32)}`,
    modelDigests: [],
    policy: { maxValuePerTx: 100n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [payee], allowedSelectors: ['0xa9059cbb'] },
    readyAt: 1000,
    activeFrom: 1000,
    activeUntil: 0,
    ...over,
  })
  const step = (over: Partial<WalletStep> = {}) =>
    ({ kind: 'wallet', to: payee.toLowerCase(), value: '100', data: '0x', policyVersion: 1, ...over }) as WalletStep

  it.each([
    ['within policy', version(), step(), 1500, 'None'],
    ['a version not yet active when committed', version(), step(), 999, 'UnknownPolicy'],
    ['a version that never became active', version({ activeFrom: 0 }), step(), 1500, 'UnknownPolicy'],
    ['a version replaced less than its deadline before', version({ activeUntil: 2000 }), step(), 2599, 'None'],
    ['a version replaced exactly its deadline before', version({ activeUntil: 2000 }), step(), 2600, 'StalePolicy'],
    ['one wei over the cap', version(), step({ value: '101' }), 1500, 'ValueCap'],
    ['a recipient off the list', version(), step({ to: `0x${'0b'.repeat(20)}` as Hex }), 1500, 'TargetNotAllowed'],
    ['calldata shorter than a selector', version(), step({ data: '0xa9059c' }), 1500, 'SelectorNotAllowed'],
    ['a selector off the list', version(), step({ data: '0x095ea7b3' }), 1500, 'SelectorNotAllowed'],
    ['an allowed selector', version(), step({ data: '0xa9059cbb00' }), 1500, 'None'],
  ] as const)('%s', (_what, v, s, committedAt, breach) => {
    expect(evaluateWalletStep(v, s, committedAt)).toBe(breach)
  })
})

describe('judges', () => {
  const input = { disputeId: 1n, agentId: 1n, sequence: 0n, stepIndex: 0, subject: `0x${'00'.repeat(32)}` as Hex }
  it('a rule judges or abstains', async () => {
    expect(await ruleJudge('always', () => true).judge(input)).toMatchObject({ agentAtFault: true })
    expect(await ruleJudge('never-sure', () => undefined).judge(input)).toMatchObject({ abstain: true })
  })

  it('a model judge labels the disputed step with the shipped moderation classifier', async () => {
    const judge = await moderationJudge({ minScore: 0 })
    const step = (result: string) => ({ kind: 'output', result }) as never
    expect(await judge.judge({ ...input, step: step('WIN a FREE iPhone!!! click here to claim your prize now') })).toMatchObject({ agentAtFault: true })
    expect(await judge.judge({ ...input, step: step('thanks, the meeting moved to 3pm tomorrow') })).toMatchObject({ agentAtFault: false })
    expect(await judge.judge(input)).toMatchObject({ abstain: true })
  })

  it('a person answers y/n at a prompt; without a terminal the prompt abstains', async () => {
    const stdin = new PassThrough()
    const out = new PassThrough()
    const asked = promptJudge({ input: stdin, output: out, requireTty: false }).judge({ ...input, claim: 'it was rude' })
    stdin.write('y\n')
    expect(await asked).toMatchObject({ agentAtFault: true, reason: 'a person answered yes' })
    expect(await promptJudge({ input: new PassThrough() }).judge(input)).toMatchObject({ abstain: true, reason: 'no terminal to ask' })
  })
})

describe('header sources', () => {
  it('reads a growing JSONL file line by line, reports bad lines, and checks operator signatures', async () => {
    const dir = await tmp()
    const file = join(dir, 'headers.jsonl')
    const operator = privateKeyToAccount(`0x${'11'.repeat(32)}`)
    const deployment = { chainId: 31337, contracts: { traceLog: getAddress(`0x${'12'.repeat(20)}`) } } as CovenantDeployment
    const header = { agentId: 1n, sequence: 0n, merkleRoot: `0x${'aa'.repeat(32)}` as Hex, daCommitmentHash: `0x${'bb'.repeat(32)}` as Hex, stepCount: 3 }
    const signature = await operator.signTypedData(batchHeaderTypedData(deployment, header))
    const line = JSON.stringify({ header, signature }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    const bad: string[] = []
    const source = jsonlHeaderSource(file, { onInvalid: (e) => bad.push(e.shortMessage) })
    expect(await source.poll()).toEqual([]) // no file yet
    await appendFile(file, `${line}\nnot json\n${line.slice(0, 20)}`)
    const got = await source.poll()
    expect(got).toHaveLength(1)
    expect(bad).toEqual([expect.stringMatching(/headers.jsonl:2: not JSON/)])
    expect(await source.poll()).toEqual([]) // the half line waits for its end
    await appendFile(file, `${line.slice(20)}\n`)
    expect(await source.poll()).toHaveLength(1)
    const h = got[0]!
    expect(await isOperatorSigned(deployment, h, operator.address)).toBe(true)
    expect(await isOperatorSigned(deployment, { ...h, header: { ...h.header, stepCount: 4 } }, operator.address)).toBe(false)
  })
})

describe('HTTP sources', () => {
  it('fetch a manifest by hash and signed headers (JSON array, deduplicated) over HTTP', async () => {
    const manifest = canonicalBytes({ name: 'remote', replay: { mode: 'exact' } })
    const hash = keccak256(manifest)
    const header = { header: { agentId: '1', sequence: '0', merkleRoot: `0x${'aa'.repeat(32)}`, daCommitmentHash: `0x${'bb'.repeat(32)}`, stepCount: 1 }, signature: '0x1234' }
    const server = createServer((req, res) => {
      if (req.url === `/manifests/${hash}`) return res.end(Buffer.from(manifest))
      if (req.url === '/headers') return res.end(JSON.stringify([header, header, { nonsense: true }]))
      res.statusCode = 404
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      expect(await loadManifest([urlManifestSource(`${base}/manifests`)], { agentId: 1n, manifestHash: hash })).toMatchObject({ replay: { replay: { mode: 'exact' } } })
      expect(await urlManifestSource(`${base}/manifests`).get({ agentId: 1n, manifestHash: keccak256('0x00') })).toBeUndefined()
      const bad: string[] = []
      const headers = httpHeaderSource(`${base}/headers`, { onInvalid: (e) => bad.push(e.shortMessage) })
      expect(await headers.poll()).toHaveLength(1)
      expect(await headers.poll()).toHaveLength(0)
      expect(bad[0]).toMatch(/not a signed batch header/)
    } finally {
      server.close()
    }
  })
})

describe('the state file', () => {
  const deployment = { chainId: 31337, traceLog: getAddress(`0x${'12'.repeat(20)}`), disputeGame: getAddress(`0x${'13'.repeat(20)}`) }
  it('round-trips, refuses another deployment or a damaged file, and locks the dir', async () => {
    const store = new VerifierStateStore(await tmp())
    await store.lock()
    const s = await store.load(deployment)
    s.cursor = { block: '12', hash: `0x${'ab'.repeat(32)}` }
    await store.save(s)
    expect((await store.load(deployment)).cursor).toEqual(s.cursor)
    await expect(store.load({ ...deployment, chainId: 1 })).rejects.toMatchObject({ name: 'VerifierStateError' })
    await expect(new VerifierStateStore(store.dir).lock()).rejects.toMatchObject({ name: 'VerifierLockedError' })
    await writeFile(store.path, '{"version":1,')
    await expect(store.load(deployment)).rejects.toThrow(/is not valid JSON/)
    await store.unlock()
    const next = new VerifierStateStore(store.dir)
    await next.lock()
    // released: a lock left to the garbage collector is a file handle Node warns about
    await next.unlock()
  })
})

describe('the Redis verdict pool', () => {
  it('keeps the first verdict of each verifier and drops entries whose signature does not match', async () => {
    const deployment = { chainId: 31337, contracts: { disputeGame: getAddress(`0x${'14'.repeat(20)}`) } } as CovenantDeployment
    const disputeId = BigInt(Date.now())
    const pool = redisVerdictPool(deployment, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { ttlSeconds: 60 })
    try {
      const [a, b] = [privateKeyToAccount(`0x${'21'.repeat(32)}`), privateKeyToAccount(`0x${'22'.repeat(32)}`)]
      await pool.publish(disputeId, await signVerdict(a, deployment, { disputeId, agentAtFault: true }))
      await pool.publish(disputeId, await signVerdict(a, deployment, { disputeId, agentAtFault: false })) // ignored: a already published
      const forged = await signVerdict(b, deployment, { disputeId, agentAtFault: true })
      await pool.publish(disputeId, { ...forged, agentAtFault: false }) // signature is for `true`
      const got = await pool.list(disputeId)
      expect(got).toEqual([expect.objectContaining({ verifier: a.address, agentAtFault: true })])
    } finally {
      await pool.close()
    }
  })
})

it('pins the public exports of src/verify', () => {
  expect(Object.keys(verify).sort()).toMatchInlineSnapshot(`
    [
      "ActionNotFoundError",
      "AgentBook",
      "HeaderSourceError",
      "InvalidActionIdError",
      "JobFailedError",
      "LogFollower",
      "ManifestMismatchError",
      "ManifestUnavailableError",
      "NothingToDisputeError",
      "QueueClosedError",
      "ReplaySandbox",
      "ReplayUnavailableError",
      "StepNotFoundError",
      "TraceIndex",
      "ValidationResponder",
      "VerifierConfigError",
      "VerifierLockedError",
      "VerifierNode",
      "VerifierStateError",
      "VerifierStateStore",
      "cachedManifest",
      "challenge",
      "challengeWindowOpen",
      "checkActionLogic",
      "checkBatchBlob",
      "checkBatchSteps",
      "checkDispute",
      "createJobQueue",
      "daManifestSource",
      "describeFault",
      "disputeAction",
      "disputeTarget",
      "disputesOnAction",
      "equivocationKey",
      "evaluateWalletStep",
      "fetchAndCheckBatch",
      "fileManifestSource",
      "findAction",
      "footprintOf",
      "getBatchEvents",
      "httpHeaderSource",
      "isOperatorSigned",
      "jsonlHeaderSource",
      "judgeText",
      "loadManifest",
      "localAttestationCheck",
      "localReplayer",
      "manifestCodeSchema",
      "manifestExpected",
      "manifestReplaySchema",
      "memoryVerdictPool",
      "modelJudge",
      "moderationJudge",
      "parseActionId",
      "precheckInference",
      "promptJudge",
      "redisVerdictPool",
      "replayAction",
      "replayJobHandler",
      "replayJobId",
      "replayRuleFor",
      "ruleJudge",
      "sameHeader",
      "sandboxLogicReplayer",
      "signedHeaderSchema",
      "startReplayWorker",
      "stepCoversTx",
      "targetKey",
      "toBatchEvent",
      "toBatchHeader",
      "toleranceSchema",
      "untracedCoverage",
      "urlManifestSource",
      "validationAnswer",
      "verifierStateSchema",
      "verifyAction",
    ]
  `)
})

describe('withheld-blob grace period', () => {
  it('never eats the challenge window: at most half of it (a 60 s window gets 30 s, not the default 60)', () => {
    expect(withheldGrace(60, 60)).toBe(30)
    expect(withheldGrace(60, 3_600)).toBe(60)
    expect(withheldGrace(10, 60)).toBe(10)
    expect(withheldGrace(60, undefined)).toBe(60)
  })
})

describe('re-fetching broken batches', () => {
  it('backs off exponentially, capped at 5 minutes', () => {
    expect([1, 2, 3, 4, 9, 10, 50].map(refetchDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 256_000, 300_000, 300_000])
  })
})

describe('attested records are bound to the agent\'s registered container', () => {
  const M = `0x${'aa'.repeat(32)}`
  const receipt = {
    version: 1 as const,
    scheme: 'eip712' as const,
    signer: getAddress(`0x${'11'.repeat(20)}`),
    measurement: M,
    modelDigest: replayRecord.modelDigest,
    requestHash: `0x${'00'.repeat(32)}`,
    responseHash: `0x${'00'.repeat(32)}`,
    outputHash: `0x${'00'.repeat(32)}`,
    issuedAt: 1,
    signature: `0x${'00'.repeat(65)}`,
  }
  const attested = (r: Partial<typeof receipt> | undefined) => ({ ...replayRecord, replay: 'attested' as const, ...(r ? { receipt: { ...receipt, ...r } } : {}) })
  it('needs a receipt from the registered measurement, for the named model', () => {
    expect(attestedRecordProblem(attested({}), M)).toBeUndefined()
    expect(attestedRecordProblem(attested(undefined), M)).toMatch(/no receipt/)
    expect(attestedRecordProblem(attested({}), null)).toMatch(/registered no receipt key or inference measurement/)
    // a receipt self-signed by a container the agent never registered attests nothing
    expect(attestedRecordProblem(attested({ measurement: `0x${'bb'.repeat(32)}` }), M)).toMatch(/not the one the agent registered/)
    expect(attestedRecordProblem(attested({ modelDigest: `0x${'cc'.repeat(32)}` }), M)).toMatch(/is for model/)
  })
  it('reads the measurement from a manifest', () => {
    expect(registeredMeasurement({ inference: { measurement: M } })).toBe(M)
    expect(registeredMeasurement({ inference: { measurement: null } })).toBeNull()
    expect(registeredMeasurement(undefined)).toBeNull()
  })
})
