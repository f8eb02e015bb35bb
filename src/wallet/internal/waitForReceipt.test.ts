import { describe, expect, test } from 'vitest'
import { NoReceiptYet, receiptPollDelay, waitForReceipt } from './waitForReceipt.js'

describe('receiptPollDelay', () => {
  test('asks twice more at once, then after 1, 2, 4, … ms, never longer than the polling interval', () => {
    expect(Array.from({ length: 12 }, (_, i) => receiptPollDelay(i, 100))).toEqual([0, 0, 1, 2, 4, 8, 16, 32, 64, 100, 100, 100])
    expect(Array.from({ length: 5 }, (_, i) => receiptPollDelay(i, 3))).toEqual([0, 0, 1, 2, 3])
    expect(receiptPollDelay(10_000, 250)).toBe(250)
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
