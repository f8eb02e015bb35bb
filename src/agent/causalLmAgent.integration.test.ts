// Integration: a tool-calling agent on a real causal language model — the shipped tiny
// Qwen2-layout LM (models/tiny-qwen2) served by the inference container in-process — with
// a real anvil chain, WAL and wallet. The agent calls its tool and answers; every inference
// step replays exactly, and a tampered one does not.
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { replay, startInferenceServer, type InferenceServer } from '../inference/index.js'
import type { Step } from '../trace/schemas.js'
import { basePolicy, fundedAgentKey, memoryLogger, openWallet, startWalletChain, type WalletChain } from '../wallet/_fixtures.js'
import { createAgentRuntime, defineAgent, defineTool } from './index.js'

let c: WalletChain
let server: InferenceServer
beforeAll(async () => {
  ;[c, server] = await Promise.all([startWalletChain(), startInferenceServer({ port: 0 })])
})
afterAll(async () => {
  await Promise.all([c?.stop(), server?.close()])
})

const forecasts: Record<string, { forecast: string; temp_c: number }> = { Paris: { forecast: 'rainy', temp_c: 14 }, Oslo: { forecast: 'snowy', temp_c: -3 } }
const calls: string[] = []

function weatherAgent() {
  const getWeather = defineTool({
    name: 'get_weather',
    description: 'Current weather in a city',
    schema: z.object({ city: z.string().describe('the city') }),
    effect: { kind: 'none' },
    invoke: async ({ city }) => {
      calls.push(city)
      return { city, ...(forecasts[city] ?? { forecast: 'sunny', temp_c: 20 }) }
    },
  })
  return defineAgent({
    name: 'weather',
    instructions: 'You help with weather and prices.',
    model: { kind: 'chat', model: 'tiny-qwen2', baseURL: server.baseURL },
    tools: [getWeather],
    policy: basePolicy([], { maxValuePerTx: 0n }),
    bond: { eth: parseEther('1') },
  })
}

const kinds = (steps: Step[]) => steps.map((s) => (s.kind === 'tool' ? `tool:${s.tool}` : s.kind))

describe('a tool-calling agent on the tiny Qwen2 causal LM', () => {
  test('calls get_weather, answers from its result, and every inference replays exactly', { timeout: 120_000 }, async () => {
    expect(server.models.find((m) => m.model.name === 'tiny-qwen2')?.kind).toBe('chat')
    const { wal } = await openWallet(c, { dir: await c.tmpDir(), agentId: '31', account: (await fundedAgentKey(c, '1')).account, policy: basePolicy([], { maxValuePerTx: 0n }) })
    const runtime = createAgentRuntime({ agent: weatherAgent(), agentId: 31n, policyVersion: 1, wal, logger: memoryLogger().logger })
    const r = await runtime.run("What's the weather in Paris?")
    expect(calls).toEqual(['Paris'])
    expect(typeof r.output).toBe('string')
    expect(String(r.output)).toContain('rainy')
    const { steps } = await wal.readAll()
    expect(kinds(steps)).toEqual(['input', 'inference', 'tool:get_weather', 'inference', 'output'])
    const inferences = steps.filter((s) => s.kind === 'inference')
    for (const s of inferences) {
      if (s.kind !== 'inference') continue
      expect([s.record.backend, s.record.replay, s.record.modelDigest]).toEqual(['openai-compatible', 'exact', server.models.find((m) => m.model.name === 'tiny-qwen2')!.model.digest])
      expect((await replay(s.record)).match).toBe(true)
    }

    // a dishonest operator rewrites the model's answer in the record: replay re-executes and disagrees
    const liar = createAgentRuntime({
      agent: weatherAgent(),
      agentId: 31n,
      policyVersion: 1,
      wal,
      logger: memoryLogger().logger,
      unsafe: {
        tamperInference: (record) => {
          const response = structuredClone(record.response) as { choices: Array<{ message: { content: string | null } }> }
          response.choices[0]!.message.content = 'It is sunny and 30°C everywhere.'
          return { ...record, response }
        },
      },
    })
    await liar.run("What's the weather in Oslo?").catch(() => undefined)
    const lied = (await wal.readAll()).steps.filter((s) => s.kind === 'inference').at(-1)!
    expect(lied.kind === 'inference' && (await replay(lied.record)).match).toBe(false)
    await wal.close()
  })
})
