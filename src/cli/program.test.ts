import { Command } from 'commander'
import { describe, expect, test } from 'vitest'
import { verbs } from './commands/index.js'
import { createProgram, verbOf } from './program.js'

describe('the verb table (what `covenant --help` lists without loading any command)', () => {
  test('each verb is registered by its module, with the same description', async () => {
    for (const [name, verb] of Object.entries(verbs)) {
      const program = new Command('covenant')
      ;(await verb.load()).register(program)
      const registered = program.commands.find((c) => c.name() === name)
      expect(registered, `${name}: its module registers no such command`).toBeDefined()
      expect(registered!.description(), name).toBe(verb.description)
    }
  })

  test('every command a module registers is in the table (none reachable only by loading everything)', async () => {
    const all = await createProgram()
    expect(all.commands.map((c) => c.name()).sort()).toEqual(Object.keys(verbs).sort())
  })

  test('the table is alphabetical', () => {
    expect(Object.keys(verbs)).toEqual([...Object.keys(verbs)].sort())
  })
})

describe('verbOf: the one module a command line needs', () => {
  test.each([
    [['--version'], undefined],
    [['--help'], undefined],
    [[], undefined],
    [['--json', 'bonds', '7'], 'bonds'],
    [['deploy', 'agent.ts', '--rpc', 'http://x'], 'deploy'],
    [['help', 'inference'], 'inference'],
    [['help'], undefined],
    [['nonsense'], 'nonsense'],
  ] as const)('%j → %s', (args, verb) => {
    expect(verbOf(args)).toBe(verb)
  })

  test('without a verb every command is listed; with one, only its module is registered', async () => {
    const listed = await createProgram({ verbs: [] })
    expect(listed.commands.map((c) => c.name())).toEqual(Object.keys(verbs))
    expect(listed.commands.every((c) => c.commands.length === 0 && c.options.length === 0)).toBe(true)

    const one = await createProgram({ verbs: ['bond'] })
    // bond.ts registers `bond` and `claim`
    expect(one.commands.map((c) => c.name()).sort()).toEqual(['bond', 'claim'])
    expect(one.commands.find((c) => c.name() === 'bond')!.commands.length).toBeGreaterThan(0)
  })
})
