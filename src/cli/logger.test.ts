import { afterEach, describe, expect, test } from 'vitest'
import { CommanderError } from 'commander'
import { cliLogger, logLevelOf } from './logger.js'
import { createProgram, verbOf } from './program.js'

const saved = process.env.COVENANT_LOG_LEVEL
afterEach(() => {
  if (saved === undefined) delete process.env.COVENANT_LOG_LEVEL
  else process.env.COVENANT_LOG_LEVEL = saved
})

describe('--log-level', () => {
  test('the flag wins over COVENANT_LOG_LEVEL, which wins over info', () => {
    delete process.env.COVENANT_LOG_LEVEL
    expect(logLevelOf({})).toBe('info')
    process.env.COVENANT_LOG_LEVEL = 'debug'
    expect(logLevelOf({})).toBe('debug')
    expect(logLevelOf({ logLevel: 'error' })).toBe('error')
  })

  test('a bad COVENANT_LOG_LEVEL is an EnvError that lists the levels', () => {
    process.env.COVENANT_LOG_LEVEL = 'loud'
    expect(() => logLevelOf({})).toThrow(expect.objectContaining({ name: 'EnvError', message: expect.stringMatching(/^COVENANT_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"\./) }))
  })

  test('the logger logs at the chosen level and above only', () => {
    const warn = cliLogger({ logLevel: 'warn' })
    expect(warn.level).toBe('warn')
    expect(warn.isLevelEnabled('error')).toBe(true)
    expect(warn.isLevelEnabled('info')).toBe(false)
    expect(cliLogger({ logLevel: 'silent' }).isLevelEnabled('fatal')).toBe(false)
    expect(cliLogger({ logLevel: 'warn' })).toBe(warn) // one logger per level, shared by the service and its agents
  })

  test('the program takes --log-level before the verb, and refuses a level that does not exist', async () => {
    expect(verbOf(['--log-level', 'warn', 'serve'])).toBe('serve')
    expect(verbOf(['--log-level=debug', 'worker', '--log-level', 'error'])).toBe('worker')
    const program = await createProgram({ verbs: [] })
    program.configureOutput({ writeErr: () => {}, writeOut: () => {} })
    await program.parseAsync(['node', 'covenant', '--log-level', 'warn'], { from: 'node' }).catch(() => {})
    expect(program.opts()['logLevel']).toBe('warn')
    const bad = await createProgram({ verbs: [] })
    let message = ''
    bad.configureOutput({ writeErr: (s) => (message += s), writeOut: () => {} })
    const err = await bad.parseAsync(['node', 'covenant', '--log-level', 'loud', '--version'], { from: 'node' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CommanderError)
    expect(message).toMatch(/option '--log-level <level>' argument 'loud' is invalid\. expected one of fatal, error, warn, info, debug, trace, silent/)
  })
})
