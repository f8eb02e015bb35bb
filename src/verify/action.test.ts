import { describe, expect, test } from 'vitest'
import { parseActionId } from './action.js'

describe('parseActionId', () => {
  test('the agent id is a uint256 in decimal, checked before it reaches viem', () => {
    const max = 2n ** 256n - 1n
    expect(parseActionId('0-0123456789ab')).toEqual({ agentId: 0n })
    expect(parseActionId(`${max}-0123456789ab`)).toEqual({ agentId: max })
    for (const bad of [`${max + 1n}-0123456789ab`, `${'9'.repeat(78)}-0123456789ab`, `${'1'.repeat(79)}-0123456789ab`, '07-0123456789ab', '7-0123456789AB', '7-0123456789a', '-7-0123456789ab', '']) {
      expect(() => parseActionId(bad), bad).toThrow(expect.objectContaining({ name: 'InvalidActionIdError' }))
    }
  })

  test('the error quotes a long id short', () => {
    let message = ''
    try {
      parseActionId(`${'9'.repeat(5_000)}-0123456789ab`)
    } catch (e) {
      message = (e as Error).message
    }
    expect(message.length).toBeLessThan(300)
    expect(message.split('\n')[0]).toMatchInlineSnapshot(`""9999999999999999999999999999999999999999…" is not an action id."`)
  })
})
