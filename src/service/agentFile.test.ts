import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { loadAgentFile } from './agentFile.js'
import { AgentFileLoadError } from './errors.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'covenant-agent-file-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, source: string): string {
  const path = join(dir, name)
  writeFileSync(path, source)
  return path
}

async function loadError(path: string, timeoutMs = 5_000): Promise<AgentFileLoadError> {
  const err = await loadAgentFile(path, { timeoutMs }).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AgentFileLoadError)
  const e = err as AgentFileLoadError
  expect(e.message.split('\n')).toHaveLength(1) // one line
  expect(e.message.length).toBeLessThan(400)
  return e
}

describe('loadAgentFile: what user code does while it loads is reported as such', () => {
  test('process.exit(0) on import: an exit, not a silent success (and this process lives on)', async () => {
    const e = await loadError(file('exits.ts', 'const n: number = 0\nprocess.exit(n)\nexport default {}\n'))
    expect(e.reason, e.message).toBe('exit')
    expect(e.exitCode).toBe(0)
    expect(e.message).toBe(`The agent file ${join(dir, 'exits.ts')} called process.exit(0) while loading; an agent file must only define and export its agent (nothing was done).`)
  })

  test('process.exit(3) from a timer the file started', async () => {
    const e = await loadError(file('exits-later.mjs', 'setTimeout(() => process.exit(3), 0)\nexport default {}\n'))
    expect(e).toMatchObject({ reason: 'exit', exitCode: 3 })
  })

  test('a throw: its first line, no stack', async () => {
    const e = await loadError(file('throws.ts', "throw new TypeError('the config is missing\\n    at somewhere (x.ts:1:1)')\n"))
    expect(e).toMatchObject({ reason: 'throw', thrown: 'TypeError: the config is missing' })
    expect(e.message).toMatch(/threw while loading: TypeError: the config is missing \(run `npx tsx .*throws\.ts` to see where; nothing was done\)\.$/)
  })

  test('a rejected promise nobody awaited, and a syntax error', async () => {
    expect(await loadError(file('rejects.mjs', "Promise.reject(new RangeError('later'))\nexport default {}\n"))).toMatchObject({ reason: 'throw', thrown: 'RangeError: later' })
    const e = await loadError(file('broken.ts', 'export default {{{\n'))
    expect(e.reason).toBe('throw')
  })

  test('an endless loop: stopped at the time limit', async () => {
    const started = Date.now()
    const e = await loadError(file('spins.mjs', 'while (true) {}\n'), 1_500)
    expect(e.reason).toBe('timeout')
    expect(e.message).toMatch(/did not finish loading within 1\.5 s \(top-level code that waits or loops forever\?\); nothing was done — if it is only slow, pass --load-timeout <seconds>\.$/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  test('a wait that never ends: a timer-held promise times out, an unsettleable await is seen at once', async () => {
    expect((await loadError(file('waits.mjs', 'await new Promise((r) => setTimeout(r, 60_000))\nexport default {}\n'), 1_000)).reason).toBe('timeout')
    const started = Date.now()
    expect((await loadError(file('stuck.mjs', 'await new Promise(() => {})\nexport default {}\n'), 20_000)).reason).toBe('hang')
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  test('a file that loads but exports no agent, a missing file, a directory: AgentFileError', async () => {
    await expect(loadAgentFile(file('empty.mjs', 'export const x = 1\n'))).rejects.toMatchObject({ name: 'AgentFileError', message: expect.stringMatching(/does not export an agent/) })
    await expect(loadAgentFile(join(dir, 'nope.ts'))).rejects.toMatchObject({ name: 'AgentFileError', message: expect.stringMatching(/^No agent file at /) })
    await expect(loadAgentFile(dir)).rejects.toMatchObject({ name: 'AgentFileError', message: expect.stringMatching(/is not a file\./) })
  })

  test('an example agent loads (TypeScript importing the framework)', async () => {
    const { agent } = await loadAgentFile(resolve('examples/agents/moderation/agent.ts'))
    expect(agent.name).toBe('moderation')
  })
})
