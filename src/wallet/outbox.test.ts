import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, test } from 'vitest'
import { canonicalBytes } from '../trace/canonical.js'
import { Outbox, parseEntry } from './outbox.js'
import type { OutboxEntry } from './schemas.js'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tmp() {
  const d = await mkdtemp(join(tmpdir(), 'covenant-outbox-'))
  dirs.push(d)
  return d
}

const FROM = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
const entry = (nonce: number, over: Partial<OutboxEntry> = {}): OutboxEntry => ({
  version: 1,
  chainId: '31337',
  from: FROM,
  nonce,
  walletStepIndex: 10 + nonce,
  walletStepLeaf: `0x${'ab'.repeat(32)}`,
  actionId: 'a',
  state: 'signed',
  raw: '0x02f86c',
  hash: `0x${'cd'.repeat(32)}`,
  receipt: null,
  error: null,
  updatedAt: 1,
  ...over,
})

describe('Outbox', () => {
  test('creates entries exclusively, moves their state, never changes their transaction, and reads them back', async () => {
    const dir = await tmp()
    const outbox = await Outbox.open({ dir, chainId: 31337, from: FROM })
    await outbox.create(entry(0))
    await outbox.create(entry(0)) // the same transaction again: fine
    await expect(outbox.create(entry(0, { hash: `0x${'ee'.repeat(32)}` }))).rejects.toMatchObject({ name: 'OutboxCorruptedError' })
    await expect(outbox.update(entry(0, { raw: '0x02ff', state: 'signed' }))).rejects.toThrow(/would change the signed transaction/)
    await expect(outbox.update(entry(0, { state: 'mined' }))).rejects.toThrow(/receipt belongs to mined entries only/)
    const receipt = { blockNumber: '5', blockHash: `0x${'11'.repeat(32)}`, status: 'success', gasUsed: '21000' } as const
    await outbox.update(entry(0, { state: 'mined', receipt }))
    await outbox.create(entry(1, { state: 'abandoned', raw: null, hash: null, error: 'nonce taken' }))
    await writeFile(join(outbox.dir, `${'2'.padStart(20, '0')}.json.tmp-1-abc`), 'half a write')
    const again = await Outbox.open({ dir, chainId: 31337, from: FROM })
    expect(again.entries().map((e) => [e.nonce, e.state])).toEqual([
      [0, 'mined'],
      [1, 'abandoned'],
    ])
    expect(await readdir(again.dir)).toHaveLength(2) // the torn temp file is gone
  })

  test('markMined: mined in memory at once, on disk after flush; only a signed entry can become mined', async () => {
    const dir = await tmp()
    const outbox = await Outbox.open({ dir, chainId: 31337, from: FROM })
    await outbox.create(entry(0))
    await outbox.create(entry(1, { state: 'abandoned', raw: null, hash: null, error: 'nonce taken' }))
    const receipt = { blockNumber: '5', blockHash: `0x${'11'.repeat(32)}`, status: 'success', gasUsed: '21000' } as const
    outbox.markMined(0, receipt, 2)
    expect(outbox.get(0)).toMatchObject({ state: 'mined', receipt, updatedAt: 2 })
    expect(() => outbox.markMined(1, receipt, 2)).toThrow(/an entry in state abandoned cannot become mined/)
    expect(() => outbox.markMined(7, receipt, 2)).toThrow(/never created/)
    await outbox.flush()
    expect(parseEntry(await readFile(outbox.pathOf(0)), 'x')).toMatchObject({ state: 'signed' }) // the entry file is never rewritten for it
    const again = await Outbox.open({ dir, chainId: 31337, from: FROM })
    expect(again.get(0)).toEqual(outbox.get(0))
    // an update of the same entry waits for the background write: it is never overwritten by it
    outbox.markMined(0, receipt, 3) // already mined: nothing to write
    await outbox.update({ ...outbox.get(0)!, updatedAt: 4 })
    await outbox.flush()
    expect((await Outbox.open({ dir, chainId: 31337, from: FROM })).get(0)).toMatchObject({ state: 'mined', updatedAt: 4 })
  })

  test('a mined hint counts only when it names exactly its entry\'s transaction: torn or forged hints are deleted and the entry stays signed; one without an entry waits for the wallet', async () => {
    const dir = await tmp()
    const outbox = await Outbox.open({ dir, chainId: 31337, from: FROM })
    for (const n of [0, 1, 2]) await outbox.create(entry(n))
    const receipt = { blockNumber: '5', blockHash: `0x${'11'.repeat(32)}`, status: 'success', gasUsed: '21000' } as const
    const mined = (n: number, over: Partial<OutboxEntry> = {}) => canonicalBytes({ ...entry(n), state: 'mined', receipt, ...over })
    await writeFile(outbox.minedPathOf(0), mined(0).subarray(0, 40)) // torn by a crash
    await writeFile(outbox.minedPathOf(1), mined(1, { hash: `0x${'ee'.repeat(32)}`, raw: '0x02ff' })) // another transaction
    await writeFile(outbox.minedPathOf(7), mined(7)) // no entry file: a transaction held in memory only
    await writeFile(outbox.minedPathOf(8), mined(8)) // no entry file either
    await writeFile(outbox.minedPathOf(9), mined(9).subarray(0, 30)) // no entry file, and torn
    await writeFile(outbox.minedPathOf(2), mined(2)) // the real thing
    const again = await Outbox.open({ dir, chainId: 31337, from: FROM })
    expect(again.entries().map((e) => [e.nonce, e.state])).toEqual([
      [0, 'signed'],
      [1, 'signed'],
      [2, 'mined'],
    ])
    const name = (n: number, ext: string) => `${String(n).padStart(20, '0')}.${ext}`
    expect((await readdir(again.dir)).sort()).toEqual([name(0, 'json'), name(1, 'json'), name(2, 'json'), name(2, 'mined'), name(7, 'mined'), name(8, 'mined')].sort())
    // the wallet approves the hint that names its wallet step; the other is deleted
    const seen: number[] = []
    await again.adoptOrphanHints((hint) => {
      seen.push(hint.nonce)
      return hint.nonce === 7
    })
    expect(seen.sort()).toEqual([7, 8])
    expect(again.get(7)).toMatchObject({ state: 'mined', receipt })
    expect(again.get(8)).toBeUndefined()
    expect((await readdir(again.dir)).sort()).toEqual([name(0, 'json'), name(1, 'json'), name(2, 'json'), name(2, 'mined'), name(7, 'mined')].sort())
  })

  test('hold keeps a signed entry in memory only, and never lets another transaction take its nonce', async () => {
    const dir = await tmp()
    const outbox = await Outbox.open({ dir, chainId: 31337, from: FROM })
    outbox.hold(entry(4))
    expect(outbox.get(4)).toMatchObject({ state: 'signed', nonce: 4 })
    expect(await readdir(outbox.dir)).toEqual([])
    outbox.hold(entry(4)) // the same transaction again: nothing changes
    expect(() => outbox.hold(entry(4, { hash: `0x${'ee'.repeat(32)}`, raw: '0x02ff' }))).toThrow(/already exists with another transaction/)
    expect(() => outbox.hold(entry(5, { state: 'abandoned', error: 'x' }))).toThrow(/only a signed entry is held in memory/)
    // its later states are written as for any entry
    outbox.markMined(4, { blockNumber: '5', blockHash: `0x${'11'.repeat(32)}`, status: 'success', gasUsed: '21000' }, 2)
    await outbox.flush()
    expect(await readdir(outbox.dir)).toEqual([outbox.minedPathOf(4).split('/').at(-1)])
  })

  test('refuses files that are not its own entries', async () => {
    const dir = await tmp()
    const outbox = await Outbox.open({ dir, chainId: 31337, from: FROM })
    await writeFile(outbox.pathOf(3), canonicalBytes(entry(4)))
    await expect(Outbox.open({ dir, chainId: 31337, from: FROM })).rejects.toThrow(/holds nonce 4/)
    await writeFile(outbox.pathOf(3), canonicalBytes(entry(3, { chainId: '1' })))
    await expect(Outbox.open({ dir, chainId: 31337, from: FROM })).rejects.toThrow(/belongs to .* on chain 1/)
    await writeFile(outbox.pathOf(3), JSON.stringify(entry(3), null, 2))
    await expect(Outbox.open({ dir, chainId: 31337, from: FROM })).rejects.toThrow(/not canonical JSON/)
    await writeFile(outbox.pathOf(3), canonicalBytes(entry(3)))
    await writeFile(join(outbox.dir, 'notes.txt'), 'x')
    await expect(Outbox.open({ dir, chainId: 31337, from: FROM })).rejects.toThrow(/unexpected file/)
  })

  test('1,000 mutated entries: each parses to a valid entry or is an OutboxCorruptedError, never a crash', () => {
    const good = canonicalBytes(entry(7))
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, byte, cut) => {
        const bytes = cut ? good.slice(0, at) : Uint8Array.from(good)
        if (!cut) bytes[at] = byte
        try {
          expect(parseEntry(bytes, 'x').version).toBe(1)
        } catch (e) {
          expect((e as Error).name).toBe('OutboxCorruptedError')
        }
      }),
      { numRuns: 1000 },
    )
  })
})
