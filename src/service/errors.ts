import { shortQuote } from '../agent/errors.js'
import { BaseError, RetryLaterCovenantError, UnrecoverableCovenantError } from '../errors/base.js'

export class AgentFileError extends BaseError {
  override name = 'AgentFileError' as const
}

export class AgentRecordError extends BaseError {
  override name = 'AgentRecordError' as const
}

export class DeployAgentError extends BaseError {
  override name = 'DeployAgentError' as const
}

/**
 * An agent file did something other than define its agent while it was loading: it called
 * `process.exit`, threw, or did not finish in time. Nothing was deployed or served.
 */
export class AgentFileLoadError extends BaseError {
  override name = 'AgentFileLoadError' as const
  readonly file: string
  /**
   * `exit` (called process.exit), `throw` (threw or rejected), `timeout` (still loading when
   * the time ran out), `hang` (its top-level await waits on nothing that can ever settle it).
   */
  readonly reason: 'exit' | 'throw' | 'timeout' | 'hang'
  /** The code it passed to process.exit (reason `exit`). */
  readonly exitCode: number | undefined
  /** The first line of what it threw (reason `throw`), e.g. `TypeError: x is not a function`. */
  readonly thrown: string | undefined
  constructor(
    p:
      | { file: string; reason: 'exit'; exitCode: number }
      | { file: string; reason: 'throw'; thrown: string }
      | { file: string; reason: 'timeout'; timeoutMs: number }
      | { file: string; reason: 'hang' },
  ) {
    const what =
      p.reason === 'exit'
        ? `called process.exit(${p.exitCode}) while loading; an agent file must only define and export its agent (nothing was done)`
        : p.reason === 'throw'
          ? `threw while loading: ${p.thrown} (run \`npx tsx ${p.file}\` to see where; nothing was done)`
          : p.reason === 'hang'
            ? 'never finishes loading: its top-level await waits on a promise nothing can settle (nothing was done)'
            : `did not finish loading within ${formatSeconds(p.timeoutMs)} (top-level code that waits or loops forever?); nothing was done — if it is only slow, pass --load-timeout <seconds>`
    super(`The agent file ${p.file} ${what}.`)
    this.file = p.file
    this.reason = p.reason
    this.exitCode = p.reason === 'exit' ? p.exitCode : undefined
    this.thrown = p.reason === 'throw' ? p.thrown : undefined
  }
}

/** An agent file does not type-check with its project's settings: nothing was deployed. */
export class AgentTypeError extends BaseError {
  override name = 'AgentTypeError' as const
  readonly file: string
  /** The compiler's error lines (the first ten). */
  readonly errors: readonly string[]
  constructor(p: { file: string; tsconfig: string; errors: readonly string[]; more: number }) {
    super(`The agent file ${p.file} does not type-check (${p.tsconfig}); nothing was done.`, {
      metaMessages: [...p.errors, ...(p.more > 0 ? [`…and ${p.more} more`] : []), '', 'Fix these, or pass --no-typecheck to deploy it as it is.'],
    })
    this.file = p.file
    this.errors = p.errors
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

/**
 * `deploy` checked the agent, its policy, the chain's bounds, the owner's balance and the
 * data dir before acting, and refuses: nothing was written to DA, the data dir or the chain.
 */
export class DeployRefusedError extends UnrecoverableCovenantError {
  override name = 'DeployRefusedError' as const
  readonly agent: string
  /** Every problem found, one line each. */
  readonly problems: readonly string[]
  constructor(p: { agent: string; problems: readonly string[]; hints?: readonly string[] | undefined }) {
    const [first] = p.problems
    super(
      p.problems.length === 1
        ? `Cannot deploy ${p.agent}: ${first} Nothing was written (DA, data dir, chain).`
        : `Cannot deploy ${p.agent}: ${p.problems.length} problems (below). Nothing was written (DA, data dir, chain).`,
      { metaMessages: [...(p.problems.length === 1 ? [] : p.problems.map((x) => `- ${x}`)), ...(p.hints ?? [])] },
    )
    this.agent = p.agent
    this.problems = p.problems
  }
}

/**
 * A deploy stopped part-way (DA, the chain or the disk failed). What was done is kept in a
 * progress file; the same deploy run again resumes from there and never registers a second
 * agent or bonds twice.
 */
export class DeployInterruptedError extends BaseError {
  override name = 'DeployInterruptedError' as const
  readonly agent: string
  /** The step that failed. */
  readonly step: string
  readonly done: readonly string[]
  readonly notDone: readonly string[]
  /** `<dataDir>/agents/<name>.deploy.json`, or undefined when nothing needed keeping yet. */
  readonly progressFile: string | undefined
  constructor(p: { agent: string; step: string; done: readonly string[]; notDone: readonly string[]; progressFile: string | undefined; cause: unknown }) {
    super(`Deploy of ${p.agent} stopped while it was to ${p.step}: ${firstLine(p.cause)}`, {
      metaMessages: [
        `Done: ${p.done.length ? p.done.join('; ') : 'nothing'}.`,
        `Not done: ${p.notDone.join('; ')}.`,
        p.progressFile
          ? `Fix the cause and run the same deploy again: it resumes from there (progress in ${p.progressFile}) and never registers a second agent.`
          : 'Fix the cause and run the same deploy again.',
      ],
      details: '', // the cause's first line is in the message; a viem error's 20 lines are not
      cause: p.cause,
    })
    this.agent = p.agent
    this.step = p.step
    this.done = p.done
    this.notDone = p.notDone
    this.progressFile = p.progressFile
  }
}

/** A path built from a name (an agent's record or keystores) would leave the data dir: refused, nothing touched. */
export class PathOutsideDataDirError extends UnrecoverableCovenantError {
  override name = 'PathOutsideDataDirError' as const
  readonly dataDir: string
  constructor(p: { dataDir: string; parts: readonly string[] }) {
    const shown = p.parts.map((x) => shortQuote(x)).join(', ')
    super(`A path made of ${shown} is not inside the data dir ${p.dataDir}.`, {
      metaMessages: ['Names that become file names must be one plain path component (no "..", "/" or absolute paths).'],
    })
    this.dataDir = p.dataDir
  }
}

/** A task the service refuses outright (bad input, unknown agent): never retried. */
export class TaskRejectedError extends UnrecoverableCovenantError {
  override name = 'TaskRejectedError' as const
}

export class ServiceConfigError extends BaseError {
  override name = 'ServiceConfigError' as const
}

/**
 * The action behind a task has already ended without a result — refused by the policy,
 * failed, or interrupted by a crash and closed by recovery. Its trace is closed (one output
 * step per action id), so it is never run again under the same id: retrying cannot help.
 */
export class ActionEndedError extends UnrecoverableCovenantError {
  override name = 'ActionEndedError' as const
  readonly actionId: string
  /** How the action's output step records its end: `failed` or `interrupted`. */
  readonly status: string
  /** The error the output step records (e.g. `ActionInterruptedError`, `PolicyViolationError`). */
  readonly recorded: { name: string; message: string }
  /** Transactions the action sent before it ended (settled by wallet recovery after a crash). */
  readonly txHashes: readonly `0x${string}`[]
  readonly stepIndices: readonly number[]
  constructor(p: {
    actionId: string
    status: string
    recorded: { name: string; message: string }
    txHashes: readonly `0x${string}`[]
    stepIndices: readonly number[]
    cause?: unknown
  }) {
    super(`Action ${p.actionId} already ended (${p.status}: ${p.recorded.name}); it is not run again.`, {
      metaMessages: [p.recorded.message, 'Send the task again under a new action id to run it anew.'],
      ...(p.cause === undefined ? {} : { cause: p.cause }),
    })
    this.actionId = p.actionId
    this.status = p.status
    this.recorded = p.recorded
    this.txHashes = p.txHashes
    this.stepIndices = p.stepIndices
  }
}

/**
 * The agent's trace is not being committed (DA or the chain unreachable) and its oldest
 * uncommitted step is older than the host allows (half the policy's commit deadline by
 * default). No trace, no action: the agent takes no new task — nothing is written, nothing
 * signed — until the backlog commits. A queue puts the task back and runs it later.
 */
export class CommitBacklogError extends RetryLaterCovenantError {
  override name = 'CommitBacklogError' as const
  readonly agentId: string
  /** Timestamp (ms) of the oldest step not yet committed. */
  readonly oldestUncommittedAt: number
  readonly lagMs: number
  readonly maxLagMs: number
  constructor(p: { agentId: string; oldestUncommittedAt: number; lagMs: number; maxLagMs: number; commitDeadline: number; lastCommitError?: unknown }) {
    const last = p.lastCommitError as { name?: unknown; shortMessage?: unknown; message?: unknown } | undefined
    const lastText = last ? `${String(last.name ?? 'Error')}: ${String(last.shortMessage ?? last.message ?? '').split('\n')[0]}` : undefined
    super(`Agent #${p.agentId} takes no new task: its trace has not been committed for ${Math.round(p.lagMs / 1000)} s (at most ${Math.round(p.maxLagMs / 1000)} s before acting).`, {
      metaMessages: [
        `Every on-chain action must be in a committed batch within the commit deadline (${p.commitDeadline} s), so the agent stops acting before it could miss it.`,
        'Check that the DA endpoint (--da) and the chain (--rpc) are reachable; the backlog commits and the agent resumes on its own.',
        ...(lastText ? [`Last commit error: ${lastText}`] : []),
      ],
      retryAfterMs: Math.min(5_000, Math.max(250, Math.floor(p.maxLagMs / 4))),
    })
    this.agentId = p.agentId
    this.oldestUncommittedAt = p.oldestUncommittedAt
    this.lagMs = p.lagMs
    this.maxLagMs = p.maxLagMs
  }
}

/** Another local stack (`covenant dev`, the demo) already runs on this data dir. */
export class DevStackRunningError extends BaseError {
  override name = 'DevStackRunningError' as const
  constructor(p: { dataDir: string; pid: number | null; rpcUrl?: string | undefined }) {
    super(`A local Covenant stack already runs on ${p.dataDir}${p.pid === null ? '' : ` (process ${p.pid})`}${p.rpcUrl ? `, chain at ${p.rpcUrl}` : ''}.`, {
      metaMessages: ['Use that one (the other commands find it through dev.json), stop it, or start this one with another --data-dir.'],
    })
  }
}

/**
 * An agent that acts on chain takes no new task while its commit pipeline is failing (the
 * committer's last attempt to put a blob on DA or commit it failed): an action now could
 * miss the commit deadline and be slashed as untraced. Nothing is written or signed; the
 * task runs once a commit succeeds again.
 */
export class CommitPipelineDownError extends RetryLaterCovenantError {
  override name = 'CommitPipelineDownError' as const
  readonly agentId: string
  readonly failingForMs: number
  constructor(p: { agentId: string; failingForMs: number; lastCommitError: unknown }) {
    const last = p.lastCommitError as { name?: unknown; shortMessage?: unknown; message?: unknown } | undefined
    const lastText = `${String(last?.name ?? 'Error')}: ${String(last?.shortMessage ?? last?.message ?? '').split('\n')[0]}`
    super(`Agent #${p.agentId} takes no new task: its commits have been failing for ${Math.round(p.failingForMs / 1000)} s.`, {
      metaMessages: [
        'An action now might not reach a committed batch within the commit deadline, and an uncovered account call is slashable.',
        'Check that the DA endpoint (--da) and the chain (--rpc) are reachable; the agent resumes on its own after the next successful commit.',
        `Last commit error: ${lastText}`,
      ],
      retryAfterMs: 2_000,
    })
    this.agentId = p.agentId
    this.failingForMs = p.failingForMs
  }
}

/**
 * An agent that acts on chain cannot reach its node, so it takes no new task: nothing is
 * written, nothing signed. A queue puts the task back and runs it when the node answers.
 */
export class ChainUnavailableError extends RetryLaterCovenantError {
  override name = 'ChainUnavailableError' as const
  readonly agentId: string
  readonly rpcUrl: string
  constructor(p: { agentId: string; rpcUrl: string; cause: unknown }) {
    super(`Agent #${p.agentId} takes no new task: cannot reach the chain at ${p.rpcUrl}.`, {
      metaMessages: ['Check that the node is running and the URL is right (--rpc); the task waits and runs when the node answers again.'],
      cause: p.cause,
      retryAfterMs: 2_000,
    })
    this.agentId = p.agentId
    this.rpcUrl = p.rpcUrl
  }
}

/**
 * Every agent given to a worker process was quarantined at start-up (its WAL is damaged,
 * its keystore does not open, its model does not load…): the process has nothing to host
 * or stand by for, so it stops — with a non-zero exit — instead of idling where no
 * supervisor would notice.
 */
export class NoAgentHostedError extends BaseError {
  override name = 'NoAgentHostedError' as const
  readonly quarantined: ReadonlyArray<{ agentId: string; name: string; error: Error }>
  constructor(quarantined: ReadonlyArray<{ agentId: string; name: string; error: Error }>) {
    const n = quarantined.length
    super(`No agent can be hosted: ${n === 1 ? 'the agent' : `all ${n} agents`} of this process failed to open, so it stops.`, {
      metaMessages: [
        ...quarantined.map((q) => `${q.name} (#${q.agentId}): ${firstLine(q.error)}`),
        'Fix what each error names, then start again: a damaged WAL is kept as it is (copy it, restore it from a backup or from the committed batches on DA; never delete it), a keystore needs the right COVENANT_PASSWORD.',
        'Agents that open can be served alone meanwhile: name them (`covenant serve <agent>…`).',
      ],
      ...(n === 1 ? { cause: quarantined[0]!.error } : {}),
    })
    this.quarantined = quarantined
  }
}

/** The service's HTTP port is taken: nothing was started, every lock is released. */
export class PortInUseError extends BaseError {
  override name = 'PortInUseError' as const
  readonly port: number
  readonly host: string
  constructor(p: { port: number; host: string; cause?: unknown }) {
    super(`Port ${p.port} is in use on ${p.host}: the service cannot listen there.`, {
      metaMessages: ['Pass --port 0 (any free port) or another port, or stop the process listening on it.'],
      details: 'EADDRINUSE',
      ...(p.cause === undefined ? {} : { cause: p.cause }),
    })
    this.port = p.port
    this.host = p.host
  }
}

/** `Name: first line of the message`, for one-line reports (logs, /health). */
export function firstLine(err: unknown): string {
  const e = err as { name?: unknown; shortMessage?: unknown; message?: unknown } | null | undefined
  const text = String(e?.shortMessage ?? e?.message ?? err).split('\n')[0] ?? ''
  return `${typeof e?.name === 'string' ? e.name : 'Error'}: ${text}`
}
