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
