import { describe, expect, test } from 'vitest'
import { NoReceiptYet, receiptPollDelay, waitForReceipt } from './waitForReceipt.js'

describe('receiptPollDelay', () => {
  test('within the first interval: twice more at once, then after 1, 2, 4, … ms', () => {
    // the elapsed time as each ask comes back, asks taking 1 ms
    let elapsed = 0
    const waits: number[] = []
    for (let attempt = 0; attempt < 9; attempt++) {
      elapsed += 1
      const wait = receiptPollDelay(attempt, elapsed, 100)
      waits.push(wait)
      elapsed += wait
    }
    expect(waits.slice(0, 8)).toEqual([0, 0, 1, 2, 4, 8, 16, 32])
    // 64 more would pass the first interval: the next ask is at 100 ms from the first
    expect(elapsed).toBe(100)
  })

  test('after the first interval: at whole intervals from the first ask, whatever the asks took', () => {
    expect(receiptPollDelay(9, 100, 100)).toBe(100)
    expect(receiptPollDelay(10, 203, 100)).toBe(97)
    expect(receiptPollDelay(11, 399.5, 100)).toBeCloseTo(0.5)
    expect(receiptPollDelay(40, 10_001, 250)).toBe(249)
    // a short interval ends the early asks sooner
    expect(receiptPollDelay(3, 2, 3)).toBe(1)
    expect(receiptPollDelay(4, 3, 3)).toBe(3)
  })
})

describe('waitForReceipt', () => {
  test('one ask when the node has the receipt', async () => {
    let asks = 0
    await expect(waitForReceipt({ get: async () => (++asks, 'r'), pollingIntervalMs: 100, timeoutMs: 1000 })).resolves.toBe('r')
    expect(asks).toBe(1)
  })

  test('asks again until the receipt is there, and a node error does not end the wait', async () => {
    const answers: (string | null | Error)[] = [null, new Error('node hiccup'), null, null, 'r']
    let asks = 0
    const got = await waitForReceipt({
      get: async () => {
        const a = answers[asks++]!
        if (a instanceof Error) throw a
        return a
      },
      pollingIntervalMs: 100,
      timeoutMs: 5000,
    })
    expect(got).toBe('r')
    expect(asks).toBe(5)
  })

  test('no receipt within the time: NoReceiptYet, with the last node error as its cause', async () => {
    let asks = 0
    const err = await waitForReceipt({
      get: async () => {
        asks++
        if (asks === 3) throw new Error('the node said no')
        return null
      },
      pollingIntervalMs: 5,
      timeoutMs: 60,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NoReceiptYet)
    expect((err as Error).cause).toMatchObject({ message: 'the node said no' })
    // asked through the whole time, at most once a polling interval after the first asks
    expect(asks).toBeGreaterThan(5)
    expect(asks).toBeLessThan(60)
  })
})
