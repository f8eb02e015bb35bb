import { Command, CommanderError } from 'commander'
import { errorMessage, formatError, toJson } from './output.js'
import { commands } from './commands/index.js'

/** The `covenant` program: every command registered, usage errors thrown (not exited). */
export function createProgram(): Command {
  const program = new Command('covenant')
    .description('Economically accountable AI agents: bonded wallets, replayable inference, traces on DA, disputes on chain.')
    .version('0.1.0')
    .option('--json', 'print one JSON document on stdout (for scripts)')
    .showHelpAfterError()
    .exitOverride()
  for (const register of commands) register(program)
  return program
}

/**
 * Runs one command line (`argv` as in process.argv: node, script, args…) and returns the
 * exit code. Usage errors were printed by commander; any other error is printed as
 * `Name: message` on stderr (and as a JSON document on stdout with --json) — never a stack.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram()
  try {
    await program.parseAsync([...argv])
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    // help and version exit with code 0; usage errors were already printed by commander
    if (err instanceof CommanderError) return err.exitCode
    if (program.opts<{ json?: boolean }>().json) {
      const e = err as { name?: string }
      process.stdout.write(`${toJson({ error: { name: e.name, message: errorMessage(err) } })}\n`)
    }
    process.stderr.write(`${formatError(err)}\n`)
    return 1
  }
}
