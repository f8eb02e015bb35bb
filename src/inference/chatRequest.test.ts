import { describe, expect, test } from 'vitest'
import { paramPath, planChatRequest } from './chatRequest.js'

const base = { model: 'covenant-chat', messages: [{ role: 'user', content: 'hi' }] }
const pay = { type: 'function', function: { name: 'pay_invoice', parameters: { type: 'object', properties: { invoiceId: { type: 'string' } }, required: ['invoiceId'] } } }
const issue = (extra: Record<string, unknown>) => {
  const r = planChatRequest({ ...base, ...extra })
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(extra)}`)
  return r.issue
}
const plan = (extra: Record<string, unknown>) => {
  const r = planChatRequest({ ...base, ...extra })
  if (!r.ok) throw new Error(r.issue.message)
  return r.plan
}

describe('planChatRequest: every field honoured or refused', () => {
  test('refusals carry OpenAI’s param and code, and say what to send instead', () => {
    expect(issue({ foo: 1 })).toMatchInlineSnapshot(`
      {
        "code": "unknown_parameter",
        "message": "Unrecognized request argument supplied: foo",
        "param": "foo",
      }
    `)
    expect(issue({ temperature: 0.7 })).toMatchInlineSnapshot(`
      {
        "code": "unsupported_value",
        "message": "Unsupported value: 'temperature' must be 0 (or omitted): covenant-chat decodes greedily so that every answer replays exactly; got 0.7.",
        "param": "temperature",
      }
    `)
    expect(issue({ tools: [pay], tool_choice: { type: 'function', function: { name: 'send_eth' } } })).toMatchInlineSnapshot(`
      {
        "code": "invalid_value",
        "message": "Invalid value for 'tool_choice': function 'send_eth' is not in 'tools' (declared: pay_invoice).",
        "param": "tool_choice",
      }
    `)
    expect(issue({ response_format: { type: 'json_object' } })).toMatchObject({ param: 'response_format.type', code: 'unsupported_value', message: expect.stringMatching(/cannot write free-form JSON\. Send \{"type": "json_schema"\}/) })
    expect(issue({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { items: { type: 'array' } } } } } })).toMatchObject({
      param: 'response_format.json_schema.schema',
      message: expect.stringMatching(/properties\.items\.type: type "array" cannot be written/),
    })
  })

  test.each([
    [{ n: 2 }, 'n', 'unsupported_value'],
    [{ tool_choice: 'required' }, 'tool_choice', 'invalid_value'],
    [{ tool_choice: { type: 'function', function: { name: 'pay_invoice' } } }, 'tool_choice', 'invalid_value'],
    [{ tools: [pay, pay] }, 'tools[1].function.name', 'invalid_value'],
    [{ tools: [{ ...pay, function: { ...pay.function, strict: true, parameters: { type: 'object', properties: { a: { type: 'object' } } } } }] }, 'tools[0].function.parameters', 'invalid_value'],
    [{ tools: [pay], response_format: { type: 'json_schema', json_schema: { name: 'pay_invoice', schema: {} } } }, 'response_format.json_schema.name', 'invalid_value'],
    [{ top_logprobs: 2 }, 'top_logprobs', 'invalid_value'],
    [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs', null],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', null],
    [{ stop: '' }, 'stop', 'invalid_value'],
    [{ stream_options: { include_usage: true } }, 'stream_options', 'invalid_value'],
    [{ frequency_penalty: 0.5 }, 'frequency_penalty', 'unsupported_value'],
    [{ presence_penalty: -1 }, 'presence_penalty', 'unsupported_value'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias', 'unsupported_value'],
    [{ store: true }, 'store', 'unsupported_value'],
    [{ service_tier: 'flex' }, 'service_tier', 'unsupported_value'],
    [{ modalities: ['text', 'audio'] }, 'modalities', 'unsupported_value'],
    [{ audio: { voice: 'alloy', format: 'mp3' } }, 'audio', 'unsupported_parameter'],
    [{ reasoning_effort: 'low' }, 'reasoning_effort', 'unsupported_parameter'],
    [{ functions: [] }, 'functions', 'unsupported_parameter'],
    [{ prediction: { type: 'content', content: 'x' } }, 'prediction', 'unsupported_parameter'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type', 'unsupported_value'],
    [{ messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role', null],
  ] as const)('%j → 400 on %s', (extra, param, code) => {
    expect(issue(extra as Record<string, unknown>)).toMatchObject({ param, code })
  })

  test('honoured fields become the plan the decoder follows', () => {
    expect(plan({})).toMatchObject({ toolChoice: 'auto', structured: undefined, parallel: true, logprobs: undefined, stop: [], maxTokens: undefined, stream: false, includeUsage: false })
    expect(plan({ tools: [pay], tool_choice: 'none' }).toolChoice).toBe('none')
    expect(plan({ tools: [pay], tool_choice: { type: 'function', function: { name: 'pay_invoice' } }, parallel_tool_calls: false })).toMatchObject({ toolChoice: { name: 'pay_invoice' }, parallel: false })
    expect(plan({ logprobs: true, top_logprobs: 3, stop: 'END', max_completion_tokens: 9, max_tokens: 20, stream: true, stream_options: { include_usage: true } })).toMatchObject({
      logprobs: { top: 3 },
      stop: ['END'],
      maxTokens: 9,
      stream: true,
      includeUsage: true,
    })
    const s = plan({ response_format: { type: 'json_schema', json_schema: { name: 'r', strict: true, schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false } } } })
    expect(s.structured).toMatchObject({ name: 'r', spec: { required: ['ok'] } })
    // fields that cannot change the output are accepted: seed and top_p (greedy picks the top token
    // whatever they say), identifiers and cache hints, and the defaults of the refused knobs
    expect(() =>
      plan({ seed: 7, top_p: 0.1, temperature: 0, n: 1, user: 'u', safety_identifier: 's', metadata: { a: 'b' }, store: false, service_tier: 'auto', prompt_cache_key: 'k', frequency_penalty: 0, presence_penalty: 0, logit_bias: {}, modalities: ['text'], response_format: { type: 'text' } }),
    ).not.toThrow()
  })

  test('paramPath writes OpenAI’s notation', () => {
    expect(paramPath(['messages', 3, 'content', 0, 'type'])).toBe('messages[3].content[0].type')
    expect(paramPath(['tool_choice'])).toBe('tool_choice')
  })
})
