import { keccak256, toHex, type Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { StepTable } from './stepTable.js'

const leafOf = (i: number): Hex => keccak256(toHex(i))

describe('StepTable', () => {
  it('keeps every offset and leaf as pushed, past many growths, and the wallet steps in order', () => {
    const t = new StepTable(16)
    const offsets: number[] = []
    for (let i = 0; i < 5_000; i++) {
      // offsets past 4 GiB too (a long-lived WAL)
      offsets.push(8 + i * 913 + (i > 4_000 ? 2 ** 33 : 0))
      t.push(offsets[i]!, leafOf(i), i % 7 === 3)
    }
    expect(t.length).toBe(5_000)
    for (const i of [0, 1, 15, 16, 17, 1023, 1024, 4_001, 4_999]) {
      expect(t.offset(i)).toBe(offsets[i])
      expect(t.leaf(i)).toBe(leafOf(i))
    }
    expect(t.leavesFrom(4_997)).toEqual([leafOf(4_997), leafOf(4_998), leafOf(4_999)])
    expect(t.leavesFrom(-3)).toHaveLength(5_000)
    const wallet = Array.from({ length: 5_000 }, (_, i) => i).filter((i) => i % 7 === 3)
    for (const from of [0, 3, 4, 10, 11, 4_990, 4_999, 5_000, 9_999]) {
      expect(t.walletStepsFrom(from)).toEqual(wallet.filter((i) => i >= from).map((index) => ({ index, leaf: leafOf(index) })))
    }
  })

  it('refuses an index it does not hold', () => {
    const t = StepTable.from([8, 100], [leafOf(0), leafOf(1)], [{ kind: 'input' }, { kind: 'wallet' }])
    expect(t.walletStepsFrom(0)).toEqual([{ index: 1, leaf: leafOf(1) }])
    for (const bad of [-1, 2, 1.5, Number.NaN]) {
      expect(() => t.leaf(bad)).toThrow(RangeError)
      expect(() => t.offset(bad)).toThrow(RangeError)
    }
    expect(StepTable.from([], [], []).length).toBe(0)
  })
})
