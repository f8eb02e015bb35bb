import { afterEach, describe, expect, it, vi } from 'vitest'
import { runCli, table, toJson, type ExampleMain } from './cli.js'

function capture() {
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true))
  return { out, err }
}

const example = (run: ExampleMain<{ paidWei: bigint }>['run']): ExampleMain<{ paidWei: bigint }> => ({
  name: 'fake',
  usage: 'usage: fake [--json]',
  run,
  render: (s) => `paid ${s.paidWei} wei`,
})

describe('the examples’ command line', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    process.exitCode = undefined
  })

  it('--json: one JSON object on stdout (bigints as strings), progress on stderr', async () => {
    const { out, err } = capture()
    let dataDir: string | undefined
    await runCli(
      example(async (o) => {
        dataDir = o.dataDir
        o.onProgress?.('[1/1] working')
        return { paidWei: 10n ** 18n }
      }),
      ['--json', '--data-dir', '/tmp/x'],
    )
    expect(dataDir).toBe('/tmp/x')
    expect(JSON.parse(out.join(''))).toEqual({ paidWei: '1000000000000000000' })
    expect(err.join('')).toContain('[1/1] working')
    expect(process.exitCode).toBeUndefined()
  })

  it('without --json: progress and the rendered figures on stdout', async () => {
    const { out } = capture()
    await runCli(
      example(async (o) => {
        o.onProgress?.('[1/1] working')
        return { paidWei: 5n }
      }),
      [],
    )
    expect(out.join('')).toBe('[1/1] working\n\npaid 5 wei\n')
  })

  it('an unknown option prints the usage and exits 2 without running', async () => {
    const { err } = capture()
    const run = vi.fn()
    await runCli(example(run), ['--jsn'])
    expect(run).not.toHaveBeenCalled()
    expect(err.join('')).toContain('usage: fake [--json]')
    expect(process.exitCode).toBe(2)
  })

  it('a failed run exits 1 with the error', async () => {
    const { err } = capture()
    await runCli(
      example(async () => {
        throw new Error('anvil would not start')
      }),
      [],
    )
    expect(err.join('')).toContain('fake example failed: Error: anvil would not start')
    expect(process.exitCode).toBe(1)
  })

  it('formats figures', () => {
    expect(table([['bond', '10 → 5 ETH'], ['slashed', '5 ETH']])).toBe('  bond     10 → 5 ETH\n  slashed  5 ETH')
    expect(toJson({ a: 1n })).toBe('{\n  "a": "1"\n}')
  })
})
