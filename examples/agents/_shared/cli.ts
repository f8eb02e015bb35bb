// The command line every example shares: `tsx examples/agents/<name>/run.ts [--json] [--data-dir DIR]`.
// Progress goes to stderr with --json (stdout stays one JSON object) and to stdout without.
import { parseArgs } from 'node:util'
import type { ExampleOptions } from './harness.js'

export type ExampleMain<S> = {
  name: string
  usage: string
  run: (o: ExampleOptions) => Promise<S>
  /** The figures, as the human-readable end of the run. */
  render: (summary: S) => string
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)
}

export async function runCli<S>(m: ExampleMain<S>, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let args: { json?: boolean | undefined; 'data-dir'?: string | undefined; help?: boolean | undefined }
  try {
    args = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${m.usage}\n`)
    process.exitCode = 2
    return
  }
  if (args.help) {
    process.stdout.write(`${m.usage}\n`)
    return
  }
  const out = args.json ? process.stderr : process.stdout
  const abort = new AbortController()
  let firstSignal = 0
  const onSignal = () => {
    // Ctrl-C reaches us twice at once under tsx (from the terminal and relayed by tsx): one press
    if (firstSignal > 0 && Date.now() - firstSignal > 1_000) process.exit(130)
    if (firstSignal > 0) return
    firstSignal = Date.now()
    out.write('\ninterrupted: stopping the example (Ctrl-C again to quit at once)…\n')
    abort.abort(new Error('interrupted'))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const summary = await m.run({ dataDir: args['data-dir'], onProgress: (line) => out.write(`${line}\n`), signal: abort.signal })
    if (args.json) process.stdout.write(`${toJson(summary)}\n`)
    else process.stdout.write(`\n${m.render(summary)}\n`)
  } catch (err) {
    if (abort.signal.aborted) {
      process.exitCode = 130
      return
    }
    process.stderr.write(`\n${m.name} example failed: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** `import.meta.url` is the script node was started with (not an import from a test). */
export function isMain(url: string): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  const path = new URL(url).pathname
  return path === entry || path.replace(/\.ts$/, '') === entry.replace(/\.ts$/, '')
}

/** A two-column table of figures. */
export function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')
}
