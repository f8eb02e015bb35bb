import { runCli } from './program.js'

const code = await runCli(process.argv)
process.exitCode = code
// The command is over once runCli returns (the serving commands return only after a signal
// and their drain). A handle left open — a timer an agent file started, a socket nobody
// closed — must not keep the process alive: it exits with the command's code soon after.
setTimeout(() => process.exit(code), 1_000).unref()
