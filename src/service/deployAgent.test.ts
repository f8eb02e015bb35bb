import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { defineAgent } from '../agent/defineAgent.js'
import type { DAClient } from '../da/client.js'
import { agentKeyDir, agentRecordFile, readAgentRecord } from './agentRecord.js'
import { pathInDataDir } from './dataDir.js'
import { deployAgent } from './deployAgent.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const freshDataDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'covenant-deploy-name-'))
  dirs.push(d)
  return d
}

// Any property read on the owner (the chain) fails the test: a refused name touches nothing.
const untouchable = new Proxy({}, { get: (_t, key) => (key === 'then' ? undefined : expectUntouched(String(key))) })
function expectUntouched(what: string): never {
  throw new Error(`deploy touched the chain (${what}) for a refused name`)
}

/** A DA client that only counts what reaches it. */
function countingDA() {
  let puts = 0
  const da = {
    name: 'counting',
    put: async () => {
      puts++
      return new Uint8Array(33)
    },
    get: async () => new Uint8Array(),
    health: async () => ({ ok: true }),
  } as unknown as DAClient
  return { da, puts: () => puts }
}

const good = defineAgent({
  name: 'fine',
  instructions: 'x',
  model: { kind: 'chat', model: 'covenant-chat' },
  tools: [],
  policy: { maxValuePerTx: 1n, challengeWindow: 3600, commitDeadline: 600, allowedTargets: [] },
  bond: {},
})

describe('deployAgent: agent names', () => {
  // What a module could export without defineAgent (loadAgentFile only checks the shape).
  test.each(['..', '../x', 'a b', 'x/y', 'n'.repeat(65), '.', '', '-x', '/etc/passwd', 'a\u0000b'])('%j is refused before anything is written: no file, no DA put, no chain call', async (name) => {
    const dataDir = freshDataDir()
    const { da, puts } = countingDA()
    const err = await deployAgent({ owner: untouchable as never, da, dataDir, agent: { ...good, name }, password: 'pw' }).catch((e: unknown) => e)
    expect((err as Error).name).toBe('InvalidAgentNameError')
    expect((err as Error).message).toMatch(/^Invalid agent name .{0,80}\.\n\nAn agent name is 1 to 64 letters, digits, "-" or "_", not starting with "-"/)
    expect((err as Error).message.length).toBeLessThan(400)
    expect(puts()).toBe(0)
    expect(readdirSync(dataDir)).toEqual([])
  })

  test('the record and key paths of a name are refused outside the one rule, and proven inside the data dir', () => {
    const dataDir = freshDataDir()
    expect(agentRecordFile(dataDir, 'treasury')).toBe(join(dataDir, 'agents', 'treasury.json'))
    expect(agentKeyDir(dataDir, 'treasury')).toBe(join(dataDir, 'agents', 'treasury'))
    for (const name of ['..', '../x', 'a b', 'x/y', 'n'.repeat(65)]) {
      expect(() => agentRecordFile(dataDir, name)).toThrow(expect.objectContaining({ name: 'InvalidAgentNameError' }))
      expect(() => agentKeyDir(dataDir, name)).toThrow(expect.objectContaining({ name: 'InvalidAgentNameError' }))
      expect(() => readAgentRecord(dataDir, name)).toThrow(expect.objectContaining({ name: 'InvalidAgentNameError' }))
    }
    expect(readdirSync(dataDir)).toEqual([])
  })

  test('pathInDataDir: only paths strictly inside the data dir', () => {
    const dataDir = freshDataDir()
    expect(pathInDataDir(dataDir, 'agents', 'a.json')).toBe(join(dataDir, 'agents', 'a.json'))
    expect(pathInDataDir(dataDir, 'agents', '..', 'wal')).toBe(join(dataDir, 'wal'))
    for (const parts of [['..'], ['agents', '..', '..', 'x'], ['/etc/passwd'], ['.'], [''], ['agents', '..']]) {
      expect(() => pathInDataDir(dataDir, ...parts), JSON.stringify(parts)).toThrow(expect.objectContaining({ name: 'PathOutsideDataDirError' }))
    }
    // a sibling that shares the prefix is outside too
    expect(() => pathInDataDir(dataDir, `../${dataDir.split('/').pop()}-evil/x`)).toThrow(expect.objectContaining({ name: 'PathOutsideDataDirError' }))
  })
})
