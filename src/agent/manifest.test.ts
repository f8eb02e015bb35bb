import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { keccak256 } from 'viem'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { canonicalize } from '../trace/canonical.js'
import { defineAgent } from './defineAgent.js'
import { defineTool } from './defineTool.js'
import { bundleAgentFile } from './bundle.js'
import { buildManifest, parseManifest } from './manifest.js'
import { endpointModelDigest } from '../inference/endpointDigest.js'

const alice = '0x00000000000000000000000000000000000a11ce'
const token = '0x000000000000000000000000000000000000d00d'
const digest = `0x${'ab'.repeat(32)}` as const

function agent(description = 'Pays an invoice.') {
  return defineAgent({
    name: 'treasury',
    instructions: 'Pay approved invoices only.',
    model: { kind: 'chat', model: 'covenant-chat', baseURL: 'http://127.0.0.1:8080/v1' },
    tools: [
      defineTool({
        name: 'payInvoice',
        description,
        schema: z.object({ to: z.string().describe('payee'), wei: z.string().describe('amount in wei') }),
        effect: { kind: 'pay', maxValuePerTx: 5n, recipients: [alice] },
        invoke: () => 'ok',
      }),
      defineTool({
        name: 'transfer',
        description: 'ERC-20 transfer.',
        schema: z.object({ amount: z.string().describe('units') }),
        effect: { kind: 'call', targets: [token], selectors: ['0xA9059CBB'] },
        invoke: () => 'ok',
      }),
    ],
    policy: { maxValuePerTx: 10n, dailyBudget: 100n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [alice, token], allowedSelectors: ['0xa9059cbb'] },
    bond: { eth: 10n ** 18n },
  })
}

describe('buildManifest', () => {
  test('is canonical JSON whose keccak256 is the manifest hash, with every part of the agent', () => {
    const built = buildManifest(agent(), { modelDigests: { 'covenant-chat': digest }, inferenceMeasurement: `0x${'11'.repeat(32)}` })
    expect(built.manifestHash).toBe(keccak256(built.bytes))
    expect(new TextDecoder().decode(built.bytes)).toBe(canonicalize(built.manifest))
    expect(built.manifest).toMatchObject({
      version: 3,
      name: 'treasury',
      codeHash: null,
      codeBundle: null,
      model: { kind: 'chat', name: 'covenant-chat', digest, baseURL: 'http://127.0.0.1:8080/v1' },
      inference: { measurement: `0x${'11'.repeat(32)}`, endpoints: ['http://127.0.0.1:8080/v1'] },
      policy: { maxValuePerTx: '10', dailyBudget: '100', allowedTargets: [alice, token], allowedSelectors: ['0xa9059cbb'] },
      bond: { eth: '1000000000000000000', token: '0' },
      models: [{ name: 'covenant-chat', digest, digestOf: 'model-bytes', endpoint: 'http://127.0.0.1:8080/v1', replay: 'exact', tolerance: null, receiptSigners: [], measurement: null }],
      replay: { mode: 'exact' },
    })
    expect(built.manifest.tools).toEqual([
      expect.objectContaining({ name: 'payInvoice', effect: { kind: 'pay', maxValuePerTx: '5', recipients: [alice] } }),
      expect.objectContaining({ name: 'transfer', effect: { kind: 'call', targets: [token], selectors: ['0xa9059cbb'], maxValue: '0' } }),
    ])
    expect(built.manifest.tools[0]!.parameters).toMatchObject({ properties: { to: { description: 'payee' } } })
    // deterministic, and sensitive to what the model is told
    expect(buildManifest(agent(), { modelDigests: { 'covenant-chat': digest }, inferenceMeasurement: `0x${'11'.repeat(32)}` }).manifestHash).toBe(built.manifestHash)
    expect(buildManifest(agent('Pays.'), { modelDigests: { 'covenant-chat': digest }, inferenceMeasurement: `0x${'11'.repeat(32)}` }).manifestHash).not.toBe(
      built.manifestHash,
    )
  })

  test('registers the code bundle: codeHash = keccak256(bundle bytes), with its DA commitment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covenant-manifest-'))
    try {
      const file = join(dir, 'agent.ts')
      await writeFile(file, 'export default 1\n')
      const bundle = await bundleAgentFile(file)
      const commitment = `0xc0${'12'.repeat(32)}` as const
      const { manifest } = buildManifest(agent(), { modelDigests: { 'covenant-chat': digest }, code: { bundle, commitment } })
      expect(manifest.codeHash).toBe(keccak256(bundle.bytes))
      expect(manifest.codeBundle).toEqual({ format: 'esm-bundle/v1', commitment, size: bundle.bytes.length })
      await expect(bundleAgentFile(join(dir, 'missing.ts'))).rejects.toThrow(/there is no agent file at/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('needs a digest for every model', () => {
    expect(() => buildManifest(agent())).toThrow(/no digest for model "covenant-chat"/)
  })
})

describe('remote models (manifest v3)', () => {
  const remote = (replay: never) =>
    defineAgent({
      name: 'remote',
      instructions: 'x',
      model: { kind: 'chat', model: 'gpt-4o-mini', baseURL: 'https://api.example.com/v1/', apiKey: 'sk-secret-never-in-manifest' },
      tools: [],
      policy: { maxValuePerTx: 1n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [], allowedSelectors: [] },
      bond: {},
      replay,
    })
  const signer = '0x00000000000000000000000000000000000B0B0B'

  test('none and attested register the endpoint and model name, never the key', () => {
    const none = buildManifest(remote({ mode: 'none' } as never))
    expect(none.manifest.models).toEqual([
      { name: 'gpt-4o-mini', digest: endpointModelDigest('https://api.example.com/v1', 'gpt-4o-mini'), digestOf: 'endpoint-and-name', endpoint: 'https://api.example.com/v1/', replay: 'none', tolerance: null, receiptSigners: [], measurement: null },
    ])
    const attested = buildManifest(remote({ mode: 'attested', signers: [signer], measurement: null } as never))
    expect(attested.manifest.models[0]).toMatchObject({ replay: 'attested', receiptSigners: [signer.toLowerCase()] })
    for (const b of [none, attested]) expect(new TextDecoder().decode(b.bytes)).not.toContain('sk-secret')
    const def = remote({ mode: 'none' } as never)
    expect(JSON.stringify({ ...def.model })).not.toContain('sk-secret')
    expect((def.model as { apiKey?: string }).apiKey).toBe('sk-secret-never-in-manifest')
    expect(parseManifest(attested.bytes).manifest).toEqual(attested.manifest)
  })

  test('exact needs a digest Covenant can run; attested needs a receipt key', () => {
    expect(() => buildManifest(remote({ mode: 'exact' } as never))).toThrow(/no digest for model "gpt-4o-mini"[\s\S]*mode: 'none'/)
    expect(() => remote({ mode: 'attested', signers: [], measurement: null } as never)).toThrow(/receipt key/)
  })

  test('a version 2 manifest still parses, read as one registered model', () => {
    const v3 = buildManifest(agent(), { modelDigests: { 'covenant-chat': digest } }).manifest
    const { models: _m, ...rest } = v3
    const v2 = canonicalize({ ...rest, version: 2 })
    const parsed = parseManifest(v2)
    expect(parsed.version).toBe(2)
    expect(parsed.manifestHash).toBe(keccak256(new TextEncoder().encode(v2)))
    expect(parsed.manifest.models).toEqual([expect.objectContaining({ digest, replay: 'exact', digestOf: 'model-bytes' })])
  })
})

describe('parseManifest', () => {
  const built = buildManifest(agent(), { modelDigests: { 'covenant-chat': digest } })
  const text = new TextDecoder().decode(built.bytes)

  test('round-trips bytes → manifest → the same hash', () => {
    const parsed = parseManifest(built.bytes)
    expect(parsed.manifest).toEqual(built.manifest)
    expect(parsed.manifestHash).toBe(built.manifestHash)
    expect(parseManifest(text).manifestHash).toBe(built.manifestHash)
  })

  test('rejects malformed input with a clear error', () => {
    const m = JSON.parse(text)
    const cases: [Uint8Array | string, RegExp][] = [
      ['', /not canonical JSON/],
      [JSON.stringify(m, null, 1), /not canonical JSON/],
      [canonicalize({ ...m, extra: 1 }), /does not match the manifest schema[\s\S]*extra/],
      [canonicalize({ ...m, version: 1 }), /version/],
      [canonicalize({ ...m, codeHash: `0x${'ab'.repeat(32)}` }), /a manifest whose codeHash is set must say where the bundle is on DA/],
      [canonicalize({ ...m, codeBundle: { format: 'esm-bundle/v1', commitment: '0xc0', size: 1 } }), /codeBundle/],
      [canonicalize({ ...m, policy: { ...m.policy, maxValuePerTx: '-1' } }), /policy.maxValuePerTx/],
      [canonicalize({ ...m, model: { ...m.model, digest: '0x12' } }), /model.digest/],
      [canonicalize({ ...m, replay: { mode: 'tolerance', tolerance: { maxAbsDiff: 0.1 } } }), /relies on default values/],
      [new Uint8Array([0xff, 0xfe]), /not canonical JSON/],
      ['x'.repeat((1 << 20) + 1), /more than 1048576/],
    ]
    for (const [input, message] of cases) {
      expect(() => parseManifest(input)).toThrow(message)
      try {
        parseManifest(input)
      } catch (e) {
        expect((e as Error).name).toBe('ManifestError')
      }
    }
  })

  test('1,000 random mutations of a valid manifest never crash: each parses to itself or throws ManifestError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: built.bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const bytes = Uint8Array.from(built.bytes)
        bytes[at] = byte
        try {
          const r = parseManifest(bytes)
          expect(r.manifestHash).toBe(keccak256(bytes))
        } catch (e) {
          expect((e as Error).name).toBe('ManifestError')
        }
      }),
      { numRuns: 1000 },
    )
  })
})
