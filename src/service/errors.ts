import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

export class AgentFileError extends BaseError {
  override name = 'AgentFileError' as const
}

export class AgentRecordError extends BaseError {
  override name = 'AgentRecordError' as const
}

export class DeployAgentError extends BaseError {
  override name = 'DeployAgentError' as const
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
