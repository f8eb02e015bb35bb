import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

/**
 * Errors of the verify room. Every class has a literal `name` so callers can narrow with
 * `err.name === 'ActionNotFoundError'`; messages say what to do next.
 */

/** An option or argument of the verifier is out of range. */
export class VerifierConfigError extends BaseError {
  override name = 'VerifierConfigError' as const
}

/** The verifier state file in the data dir cannot be read or belongs to another deployment. */
export class VerifierStateError extends UnrecoverableCovenantError {
  override name = 'VerifierStateError' as const
  constructor({ path, reason, cause }: { path: string; reason: string; cause?: unknown }) {
    super(`The verifier state file ${path} ${reason}.`, {
      metaMessages: [
        'Each data dir follows one deployment on one chain.',
        'Point --data-dir at another folder, or delete the file to follow the chain again from the deployment block.',
      ],
      cause,
    })
  }
}

/** Another verifier process holds the data dir. */
export class VerifierLockedError extends BaseError {
  override name = 'VerifierLockedError' as const
  constructor({ path, pid }: { path: string; pid: number | null }) {
    super(`The verifier data dir is in use (lock ${path}${pid === null ? '' : ` held by process ${pid}`}).`, {
      metaMessages: ['Stop the other verifier, or give this one its own --data-dir.'],
    })
  }
}

/** No committed batch of the agent holds a step of this action. */
export class ActionNotFoundError extends UnrecoverableCovenantError {
  override name = 'ActionNotFoundError' as const
  constructor({ actionId, agentId, batches }: { actionId: string; agentId: bigint; batches: number }) {
    super(`No committed step of agent ${agentId} belongs to action ${actionId}.`, {
      metaMessages: [
        `Searched ${batches} committed batch${batches === 1 ? '' : 'es'} of the agent.`,
        'The action may not be committed yet (the committer batches steps), or the id is mistyped.',
      ],
    })
  }
}

/** An action id is not `<agentId>-<12 hex>`. */
export class InvalidActionIdError extends UnrecoverableCovenantError {
  override name = 'InvalidActionIdError' as const
  constructor(actionId: unknown) {
    // quoted short: the id comes from outside (a URL, a CLI argument) and may be huge
    const shown = typeof actionId === 'string' ? JSON.stringify(actionId.length > 40 ? `${actionId.slice(0, 40)}…` : actionId) : `(a ${typeof actionId})`
    super(`${shown} is not an action id.`, {
      metaMessages: ['Action ids look like <agentId>-<12 lowercase hex digits>, the agent id a uint256 in decimal, e.g. 3-4f2a9c01b7de.'],
    })
  }
}

/** The manifest fetched for an agent does not hash to the manifestHash registered on chain. */
export class ManifestMismatchError extends UnrecoverableCovenantError {
  override name = 'ManifestMismatchError' as const
  constructor({ agentId, expected, actual, source }: { agentId: bigint; expected: string; actual: string; source: string }) {
    super(`The manifest from ${source} does not match agent ${agentId}'s registered manifestHash.`, {
      metaMessages: [`registered: ${expected}`, `fetched:    ${actual} (keccak256 of the bytes and of their canonical JSON)`],
    })
  }
}

/** A manifest source could not produce a manifest. */
export class ManifestUnavailableError extends BaseError {
  override name = 'ManifestUnavailableError' as const
}

/** A header source produced something that is not a signed batch header. */
export class HeaderSourceError extends BaseError {
  override name = 'HeaderSourceError' as const
}

/** The step a dispute or command points at does not exist, or is not of the kind needed. */
export class StepNotFoundError extends UnrecoverableCovenantError {
  override name = 'StepNotFoundError' as const
}

/** The requested dispute path cannot be taken against this action (e.g. no breach to prove). */
export class NothingToDisputeError extends UnrecoverableCovenantError {
  override name = 'NothingToDisputeError' as const
}

/** A replay could not be run at all (model not available, endpoint down, record malformed). */
export class ReplayUnavailableError extends BaseError {
  override name = 'ReplayUnavailableError' as const
  constructor(reason: string, options: { cause?: unknown; unrecoverable?: boolean } = {}) {
    super(`Cannot replay the inference: ${reason}.`, {
      metaMessages: ['This is not a verdict on the agent: the verifier could not check the step.'],
      cause: options.cause,
    })
    if (options.unrecoverable) Object.defineProperty(this, 'unrecoverable', { value: true })
  }
}

/** A job in the verify queue failed. */
export class JobFailedError extends BaseError {
  override name = 'JobFailedError' as const
  readonly jobId: string
  constructor({ jobId, reason, unrecoverable }: { jobId: string; reason: string; unrecoverable?: boolean }) {
    super(`Job ${jobId} failed: ${reason}`)
    this.jobId = jobId
    if (unrecoverable) Object.defineProperty(this, 'unrecoverable', { value: true })
  }
}

/** The queue was closed while a caller waited on a job. */
export class QueueClosedError extends BaseError {
  override name = 'QueueClosedError' as const
}
