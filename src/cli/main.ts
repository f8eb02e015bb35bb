import { Command, CommanderError } from 'commander'
import { formatError, toJson } from './output.js'
import { commands } from './commands/index.js'

const program = new Command('covenant')
  .description('Economically accountable AI agents: bonded wallets, replayable inference, traces on DA, disputes on chain.')
  .version('0.1.0')
  .option('--json', 'print one JSON document on stdout (for scripts)')
  .showHelpAfterError()
  .exitOverride()

for (const register of commands) register(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version exit with code 0; usage errors were already printed by commander
    process.exitCode = err.exitCode
  } else {
    if (program.opts<{ json?: boolean }>().json) {
      const e = err as { name?: string; shortMessage?: string; message?: string }
      process.stdout.write(`${toJson({ error: { name: e.name, message: e.shortMessage ?? e.message } })}\n`)
    }
    process.stderr.write(`${formatError(err)}\n`)
    process.exitCode = 1
  }
}
