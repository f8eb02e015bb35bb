import { Command, CommanderError } from 'commander'
import { packageVersion } from '../packageRoot.js'
import { type CommandModule, verbs as VERBS } from './commands/index.js'
import { configFileOf, isModuleConfig } from './configFile.js'
import { LOG_LEVELS, parseLogLevel } from './logLevel.js'
import { toJson } from './output.js'

export type CreateProgramParameters = {
  /**
   * The verbs whose modules are loaded and registered in full; every other verb is listed
   * (name and description, for `--help` and the unknown-command hint) without being loaded.
   * @defaultValue 'all'
   */
  verbs?: 'all' | readonly string[] | undefined
}

/** The `covenant` program: the chosen commands registered, usage errors thrown (not exited). */
export async function createProgram(p: CreateProgramParameters = {}): Promise<Command> {
  const program = new Command('covenant')
    .description('Economically accountable AI agents: bonded wallets, replayable inference, traces on DA, disputes on chain.')
    .version(packageVersion())
    .option('--json', 'print one JSON document on stdout (for scripts)')
    .option('--config <file>', 'the project config to read: JSON, or a .ts/.mts/.js module exporting defineConfig({...}) (default: COVENANT_CONFIG, else ./covenant.config.{ts,mts,js,mjs,json} when one exists)')
    .option('--log-level <level>', `operator logs on stderr (pino JSON lines) of serve, worker, deploy and verifier start: ${LOG_LEVELS.join(', ')} (default: COVENANT_LOG_LEVEL, else info)`, parseLogLevel)
    .showHelpAfterError()
    .exitOverride()
  const chosen = p.verbs === 'all' || p.verbs === undefined ? Object.keys(VERBS) : p.verbs.filter((v) => Object.hasOwn(VERBS, v))
  if (chosen.length === 0) {
    for (const [name, verb] of Object.entries(VERBS)) program.command(name).description(verb.description)
    return program
  }
  // two verbs may share a module (bond and claim): register each module once
  const modules = new Set<CommandModule>()
  for (const name of chosen) modules.add(await VERBS[name]!.load())
  for (const m of modules) m.register(program)
  // a covenant.config.ts is a module: loaded (through tsx) before the command runs, so the
  // commands read it synchronously like the JSON one; --version and --help never load it
  program.hook('preAction', async (_program, action) => {
    if (action.name() === 'init') return // it writes a project; whatever config is here is not its input
    const options = action.optsWithGlobals<{ config?: string | undefined }>()
    const file = configFileOf(options)
    if (file === undefined || !isModuleConfig(file)) return // JSON is read when a command asks
    const { loadConfig } = await import('./config.js')
    await loadConfig(options)
  })
  return program
}

/** Options of the program itself that take a value (the value is not the verb). */
const GLOBAL_WITH_VALUE = new Set(['--config', '--log-level'])

/**
 * The verb a command line runs (`args` without node and the script): the first word that is
 * not an option or a global option's value, or the word after `help`. Undefined for
 * `--version`, `--help` or nothing.
 */
export function verbOf(args: readonly string[]): string | undefined {
  const words: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (GLOBAL_WITH_VALUE.has(a)) i++
    else if (!a.startsWith('-')) words.push(a)
  }
  return words[0] === 'help' ? words[1] : words[0]
}

/**
 * Runs one command line (`argv` as in process.argv: node, script, args…) and returns the
 * exit code. Only the module of the verb being run is loaded. Usage errors were printed by
 * commander; any other error is printed as `Name: message` on stderr (and as a JSON
 * document on stdout with --json) — never a stack.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const verb = verbOf(argv.slice(2))
  let program: Command | undefined
  try {
    program = await createProgram({ verbs: verb === undefined ? [] : [verb] })
    await program.parseAsync([...argv])
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    // help and version exit with code 0; usage errors were already printed by commander
    if (err instanceof CommanderError) return err.exitCode
    // the error path alone needs viem (to read its errors): loaded only here
    const { errorMessage, formatError } = await import('./formatError.js')
    if (program ? program.opts<{ json?: boolean }>().json : argv.includes('--json')) {
      const e = err as { name?: string }
      process.stdout.write(`${toJson({ error: { name: e.name, message: errorMessage(err) } })}\n`)
    }
    process.stderr.write(`${formatError(err)}\n`)
    return 1
  }
}
