import { tool as lcTool } from '@langchain/core/tools'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { defineTool } from './defineTool.js'
import { wrapLangChainTool } from './wrapLangChainTool.js'

const schema = z.object({ city: z.string().describe('the city to look up'), days: z.number().int().min(1).max(7).optional().describe('how many days') })

describe('defineTool', () => {
  test('validates arguments with its zod schema and shows the model a JSON schema with every description', async () => {
    const weather = defineTool({ name: 'weather', description: 'Forecast for a city.', schema, effect: { kind: 'none' }, invoke: ({ city }) => `sunny in ${city}` })
    expect(Object.isFrozen(weather)).toBe(true)
    expect(weather.effect).toEqual({ kind: 'none' })
    expect(weather.parameters).toMatchObject({
      type: 'object',
      properties: { city: { type: 'string', description: 'the city to look up' }, days: { type: 'integer', description: 'how many days' } },
      required: ['city'],
    })
    expect(await weather.parseArgs({ city: 'Oslo' })).toEqual({ ok: true, value: { city: 'Oslo' } })
    expect(await weather.parseArgs({ city: 3, days: 9 })).toEqual({
      ok: false,
      issues: ['city: Invalid input: expected string, received number', 'days: Too big: expected number to be <=7'],
    })
  })

  test('refuses undescribed fields, bad names, missing descriptions and invalid effects', () => {
    expect(() =>
      defineTool({ name: 'x', description: 'd', schema: z.object({ a: z.string() }), effect: { kind: 'none' }, invoke: () => 1 }),
    ).toThrowErrorMatchingInlineSnapshot(`
      [AgentDefinitionError: Invalid tool "x".

      - schema field "a" has no .describe() text for the model
      Docs: src/agent/README.md]
    `)
    expect(() => defineTool({ name: 'has space', description: '', schema, effect: { kind: 'none' }, invoke: () => 1 })).toThrow(/must match[\s\S]*description is required/)
    expect(() => defineTool({ name: 'p', description: 'd', schema, effect: { kind: 'pay', recipients: ['0x12'] } as never, invoke: () => 1 })).toThrow(
      /effect.recipients.0: expected a 0x-prefixed 20-byte address/,
    )
    expect(() => defineTool({ name: 'c', description: 'd', schema, effect: { kind: 'call', targets: [], selectors: [] } as never, invoke: () => 1 })).toThrow(
      /effect.targets/,
    )
    expect(() => defineTool({ name: 's', description: 'd', schema: z.string() as never, effect: { kind: 'none' }, invoke: () => 1 })).toThrow(/zod object/)
  })
})

describe('wrapLangChainTool', () => {
  test('wraps a zod LangChain tool, validating with its own schema', async () => {
    const lc = lcTool(async ({ city }: { city: string }) => `rain in ${city}`, { name: 'lc_weather', description: 'Forecast.', schema: z.object({ city: z.string().describe('city') }) })
    const t = wrapLangChainTool(lc)
    expect(t.effect).toEqual({ kind: 'none' })
    expect(t.parameters).toMatchObject({ properties: { city: { type: 'string' } } })
    expect(await t.parseArgs({ city: 1 })).toMatchObject({ ok: false })
    expect(await t.run({ city: 'Bergen' }, {} as never)).toBe('rain in Bergen')
  })

  test('wraps a JSON-schema LangChain tool and validates with the JSON schema', async () => {
    const lc = lcTool(async (a: Record<string, unknown>) => `got ${String(a.n)}`, {
      name: 'json_tool',
      description: 'Takes n.',
      schema: { type: 'object', properties: { n: { type: 'integer', description: 'a number' } }, required: ['n'] },
    })
    const t = wrapLangChainTool(lc, { effect: { kind: 'none' } })
    expect(await t.parseArgs({ n: 2 })).toEqual({ ok: true, value: { n: 2 } })
    const bad = await t.parseArgs({ n: 'two' })
    expect(bad.ok).toBe(false)
    expect(await t.run({ n: 2 }, {} as never)).toBe('got 2')
  })

  test('refuses things that are not LangChain tools', () => {
    expect(() => wrapLangChainTool({} as never)).toThrow(/Invalid LangChain tool/)
  })
})
