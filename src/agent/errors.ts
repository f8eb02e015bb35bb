import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of the agent room. Every class has a literal `name`. Errors a tool call produces
 * (bad arguments, an unknown tool, a result that is not JSON) become the tool step's error
 * outcome and the tool message the model sees; they never crash a run.
 */

/** A tool or agent definition is not valid. Thrown by defineTool / defineAgent, at startup. */
export class AgentDefinitionError extends UnrecoverableCovenantError {
  override name = 'AgentDefinitionError' as const
  constructor(what: string, problems: readonly string[]) {
    super(`Invalid ${what}.`, {
      metaMessages: problems.slice(0, 12).map((p) => `- ${p}`),
      docsPath: 'src/agent/README.md',
    })
  }
}

/** An agent name breaks the one rule for names (agentNameSchema): refused before anything is written. */
export class InvalidAgentNameError extends UnrecoverableCovenantError {
  override name = 'InvalidAgentNameError' as const
  constructor(name: unknown) {
    super(`Invalid agent name ${shortQuote(name)}.`, {
      metaMessages: [
        'An agent name is 1 to 64 letters, digits, "-" or "_", not starting with "-" (e.g. "treasury", "market_resolver-2").',
        'It names files in the data dir, so ".", "..", "/", spaces and other characters are refused.',
      ],
      docsPath: 'src/agent/README.md',
    })
  }
}

/** A value from outside, quoted for a message: at most `max` characters of it, so a message never echoes input at length. */
export function shortQuote(value: unknown, max = 40): string {
  if (typeof value !== 'string') return value === null ? 'null' : `(a ${typeof value})`
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)` : JSON.stringify(value)
}

/** The model called a tool with arguments its schema rejects (or that are not JSON). */
export class ToolArgumentsError extends BaseError {
  override name = 'ToolArgumentsError' as const
  readonly tool: string
  readonly issues: readonly string[]
  constructor(tool: string, issues: readonly string[]) {
    super(`Invalid arguments for tool "${tool}".`, {
      metaMessages: [...issues.slice(0, 12).map((i) => `- ${i}`), 'Call the tool again with arguments that match its schema.'],
      docsPath: 'src/agent/README.md',
    })
    this.tool = tool
    this.issues = issues
  }
}

/** The model called a tool the agent does not have. */
export class ToolNotFoundError extends BaseError {
  override name = 'ToolNotFoundError' as const
  constructor(tool: string, available: readonly string[]) {
    super(`The agent has no tool named "${tool}".`, {
      metaMessages: [`Available tools: ${available.length ? available.join(', ') : '(none)'}`],
      docsPath: 'src/agent/README.md',
    })
  }
}

/** A tool returned a value that cannot be recorded in the trace as JSON. */
export class ToolResultError extends BaseError {
  override name = 'ToolResultError' as const
  constructor(tool: string, reason: string) {
    super(`Tool "${tool}" returned a value that is not JSON: ${reason}.`, {
      metaMessages: ['Tools return JSON values: strings, finite numbers, booleans, null, arrays, plain objects (bigints become decimal strings).'],
      docsPath: 'src/agent/README.md',
    })
  }
}

/** The model kept calling tools past the round limit. */
export class AgentMaxRoundsError extends UnrecoverableCovenantError {
  override name = 'AgentMaxRoundsError' as const
  constructor(maxRounds: number) {
    super(`The model was still calling tools after ${maxRounds} rounds.`, {
      metaMessages: ['Raise `maxRounds` in createAgentRuntime, or make the instructions say when to answer.'],
      docsPath: 'src/agent/README.md#the-trace-of-one-action',
    })
  }
}

/** A model call produced no replay record: it could not be traced, so it must not be acted on. */
export class InferenceNotRecordedError extends UnrecoverableCovenantError {
  override name = 'InferenceNotRecordedError' as const
  constructor() {
    super('A model call produced no replay record.', {
      metaMessages: [
        'Every inference must become a trace step. Use a chat model from src/inference (createChatModel), whose',
        '`takeRecords()` returns one replay record per request.',
      ],
      docsPath: 'src/agent/README.md#the-trace-of-one-action',
    })
  }
}

/** The runtime was given parts that do not fit the agent (no wallet for a paying tool, another policy, ...). */
export class AgentConfigError extends UnrecoverableCovenantError {
  override name = 'AgentConfigError' as const
}

/** A manifest (object or bytes) is malformed. */
export class ManifestError extends UnrecoverableCovenantError {
  override name = 'ManifestError' as const
  readonly issues: readonly string[]
  constructor(reason: string, issues: readonly string[] = []) {
    super(`Invalid agent manifest: ${reason}.`, {
      metaMessages: issues.slice(0, 12).map((i) => `- ${i}`),
      docsPath: 'src/agent/README.md#the-manifest',
    })
    this.issues = issues
  }
}

/** An action that a crash interrupted; recovery closes it with this error in its output step. */
export class ActionInterruptedError extends BaseError {
  override name = 'ActionInterruptedError' as const
  constructor(actionId: string) {
    super(`Action ${actionId} was interrupted before it finished (the process stopped).`, {
      metaMessages: ['Its wallet transactions were settled by wallet recovery and are listed in the step before this one.'],
      docsPath: 'src/agent/README.md#the-trace-of-one-action',
    })
  }
}

/** An agent file could not be bundled, or bundle bytes are not the code a manifest registered. */
export class AgentBundleError extends UnrecoverableCovenantError {
  override name = 'AgentBundleError' as const
  constructor(reason: string, hints: readonly string[] = []) {
    super(`Agent code bundle: ${reason}.`, {
      metaMessages: hints.slice(0, 12),
      docsPath: 'src/agent/README.md#the-code-bundle',
    })
  }
}
