import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { compileFlatSchema, validateFlat } from './chatSchema.js'

describe('compileFlatSchema: what covenant-chat can guarantee', () => {
  test('a zod object (as LangChain and the openai SDK send it) compiles without issues', () => {
    const schema = z.toJSONSchema(
      z.object({ marketId: z.string().describe('the id'), outcome: z.enum(['yes', 'no']), confidence: z.number().min(0).max(1).optional(), final: z.boolean(), count: z.int().nullable() }),
    )
    const { spec, issues } = compileFlatSchema(schema)
    expect(issues).toEqual([])
    expect(spec.required).toEqual(['marketId', 'outcome', 'final', 'count'])
    expect(spec.properties.map((p) => [p.name, p.string, p.number, p.boolean, p.enum ?? null])).toEqual([
      ['marketId', true, 'none', false, null],
      ['outcome', true, 'none', false, ['yes', 'no']],
      ['confidence', false, 'number', false, null],
      ['final', false, 'none', true, null],
      ['count', false, 'integer', false, null],
    ])
  })

  test('nested objects, arrays, patterns and formats are issues, each with its path', () => {
    const { spec, issues } = compileFlatSchema({
      type: 'object',
      properties: { a: { type: 'object', properties: {} }, b: { type: 'array', items: { type: 'string' } }, c: { type: 'string', pattern: '^x' }, d: { type: 'null' } },
      required: ['a', 'zz'],
      $defs: {},
    })
    expect(issues.map((i) => i.path)).toEqual(['$defs', 'properties.a.properties', 'properties.a.type', 'properties.b.items', 'properties.b.type', 'properties.c.pattern', 'properties.d.type', 'required'])
    expect(spec.unwritable).toEqual(['a', 'b', 'd'])
    expect(issues.find((i) => i.path === 'properties.c.pattern')?.message).toMatchInlineSnapshot(
      `"'pattern' is not supported; covenant-chat can enforce type (string, number, integer, boolean), enum, const, minimum/maximum, minLength/maxLength"`,
    )
  })

  test('validateFlat checks required, unknown keys, types, enums and bounds', () => {
    const { spec } = compileFlatSchema({
      type: 'object',
      properties: { id: { type: 'string', maxLength: 4 }, n: { type: 'integer', minimum: 1 }, ok: { type: 'boolean' }, c: { enum: ['a', 2] } },
      required: ['id'],
      additionalProperties: false,
    })
    expect(validateFlat({ id: 'ab', n: 3, ok: true, c: 2 }, spec)).toEqual([])
    expect(validateFlat({ n: 0, x: 1, ok: 'yes', c: 'b' }, spec)).toEqual([
      'missing required property "id"',
      'property "n": 0 does not fit the schema',
      'unexpected property "x"',
      'property "ok": "yes" does not fit the schema',
      'property "c": "b" does not fit the schema',
    ])
    expect(validateFlat({ id: 'abcde' }, spec)).toEqual(['property "id": "abcde" does not fit the schema'])
    expect(validateFlat({ id: 'a', n: 1.5 }, spec)).toEqual(['property "n": 1.5 does not fit the schema'])
    expect(validateFlat([], spec)).toEqual(['not a JSON object'])
  })
})
