import { HumanMessage } from '@langchain/core/messages'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatModelOptions } from '../agent/chatModelOptions.js'
import { defineAgent } from '../agent/defineAgent.js'
import { buildManifest } from '../agent/manifest.js'
import { createModelStore } from '../inference/modelStore.js'
import { createChatModel } from '../inference/openaiBackend.js'
import { startInferenceServer, type InferenceServer } from '../inference/server.js'
import { precheckInference } from './inference.js'
import { replayRuleFor } from './manifest.js'
import { localAttestationCheck } from './replayers.js'
import { manifestReplaySchema } from './schemas.js'

// A remote OpenAI-compatible model, declared honestly: the project's container on a port
// stands in for the remote endpoint. Every inference is judged by what the manifest
// registered — never slashed under `none`, and under `attested` only a registered key counts.
// (On a chain, deployed and watched by running VerifierNodes: test/integration/remote-model.test.ts.)
const ACTIONS = 50
let server: InferenceServer
beforeAll(async () => {
  server = await startInferenceServer({ port: 0 })
})
afterAll(async () => {
  await server?.close()
})

const agentWith = (replay: never) =>
  defineAgent({
    name: 'remote-agent',
    instructions: 'Answer briefly.',
    model: { kind: 'chat', model: 'covenant-chat', baseURL: server.baseURL, apiKeyEnv: 'COVENANT_TEST_REMOTE_KEY' },
    tools: [],
    policy: { maxValuePerTx: 1n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [], allowedSelectors: [] },
    bond: {},
    replay,
  })

async function honestRecords(agent: ReturnType<typeof agentWith>) {
  process.env['COVENANT_TEST_REMOTE_KEY'] = 'sk-test-remote-key-0001'
  const m = createChatModel(chatModelOptions(agent, server.baseURL))
  for (let i = 0; i < ACTIONS; i++) await m.chat.invoke([new HumanMessage(`status of order ${i}?`)])
  return m.takeRecords()
}

describe(`a remote-model agent over ${ACTIONS} honest actions`, () => {
  it('replay none: every inference registered and unchecked, never a fault', async () => {
    const agent = agentWith({ mode: 'none' } as never)
    const { manifest } = buildManifest(agent)
    const replay = manifestReplaySchema.parse(JSON.parse(JSON.stringify(manifest)))
    const registered = new Set(manifest.models.map((m) => m.digest as Hex))
    const records = await honestRecords(agent)
    expect(records).toHaveLength(ACTIONS)
    for (const r of records) {
      expect(JSON.stringify(r)).not.toContain('sk-test-remote-key')
      const check = precheckInference(r, registered, replayRuleFor(replay, r.modelDigest as Hex))
      expect(check.status).toBe('unchecked')
    }
  }, 120_000)

  it('replay attested with the endpoint key registered: every receipt verifies; another key is a fault', async () => {
    const agent = agentWith({ mode: 'attested', signers: [server.address] } as never)
    const { manifest } = buildManifest(agent)
    const replay = manifestReplaySchema.parse(JSON.parse(JSON.stringify(manifest)))
    const registered = new Set(manifest.models.map((m) => m.digest as Hex))
    const records = await honestRecords(agent)
    const check = localAttestationCheck({ store: createModelStore({ root: mkdtempSync(join(tmpdir(), 'covenant-none-')) }) })
    for (const r of records) {
      const pre = precheckInference(r, registered, replayRuleFor(replay, r.modelDigest as Hex))
      expect(pre.status).toBe('attested')
      if (pre.status !== 'attested') continue
      expect(await check(r, { signers: pre.rule.signers })).toMatchObject({ valid: true })
    }
    expect((await check(records[0]!, { signers: ['0x000000000000000000000000000000000000dEaD'] })).valid).toBe(false)
  }, 120_000)
})
