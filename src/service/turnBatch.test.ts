import { describe, expect, test } from 'vitest'
import { TurnBatch } from './turnBatch.js'

describe('TurnBatch', () => {
  function recorder(fail?: (items: number[]) => boolean) {
    const calls: string[] = []
    const batch = new TurnBatch<number, number>({
      maxBatch: 3,
      one: async (x) => {
        calls.push(`one ${x}`)
        if (fail?.([x])) throw new Error('down')
        return x * 10
      },
      many: async (xs) => {
        calls.push(`many ${xs.join(',')}`)
        if (fail?.(xs)) throw new Error('down')
        return xs.map((x) => x * 10)
      },
    })
    return { calls, batch }
  }

  test('items added in one turn go together, at most maxBatch a call, each answered with its own result', async () => {
    const { calls, batch } = recorder()
    const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((x) => batch.add(x)))
    expect(answers).toEqual([10, 20, 30, 40, 50, 60, 70])
    expect(calls).toEqual(['many 1,2,3', 'many 4,5,6', 'one 7'])
  })

  test('items added in later turns go in later calls', async () => {
    const { calls, batch } = recorder()
    expect(await batch.add(1)).toBe(10)
    expect(await Promise.all([batch.add(2), batch.add(3)])).toEqual([20, 30])
    expect(calls).toEqual(['one 1', 'many 2,3'])
  })

  test('a call that fails rejects its own items only', async () => {
    const { batch } = recorder((xs) => xs.includes(2))
    const settled = await Promise.allSettled([1, 2, 3, 4, 5].map((x) => batch.add(x)))
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled'])
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ message: 'down' })
  })
})
