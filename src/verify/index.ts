// Verify: the verifier node (EigenVerify role) — follow commitments, fetch, check,
// replay, challenge, vote — and the one-shot checks behind `covenant verify` and
// `covenant dispute`. Imports from trace, da, inference, wallet and bonds.
export { VerifierNode } from './node.js'
export type { VerifierEvent, VerifierNodeOptions } from './node.js'
export { createJobQueue } from './queue.js'
export type { JobCounts, JobHandler, JobQueue, JobQueueOptions, JobWorker, ProcessOptions, QueueJob, WorkerEvent } from './queue.js'
export { startReplayWorker } from './worker.js'
export { localAttestationCheck, localReplayer } from './replayers.js'
export { moderationJudge } from './moderationJudge.js'
export type { ReplayWorker, StartReplayWorkerOptions } from './worker.js'
export { memoryVerdictPool, redisVerdictPool } from './verdictPool.js'
export type { VerdictPool } from './verdictPool.js'
export { LogFollower } from './follower.js'
export type { FollowStep, LogFollowerOptions } from './follower.js'
export { VerifierStateStore } from './state.js'
export { AgentBook, evaluateWalletStep } from './agents.js'
export { checkBatchBlob, fetchAndCheckBatch, getBatchEvents, toBatchEvent } from './batches.js'
export type { BatchCheck, BatchEvent } from './batches.js'
export { TraceIndex, stepCoversTx } from './traceIndex.js'
export type { CommittedStep, CoveringStep } from './traceIndex.js'
export { checkBatchSteps, checkDispute, untracedCoverage } from './check.js'
export type { CheckContext, DisputeCheck, DisputeView, StepReport } from './check.js'
export { challenge, challengeWindowOpen, disputeTarget, equivocationKey, targetKey } from './challenge.js'
export type { ChallengeResult } from './challenge.js'
export { describeFault } from './faults.js'
export type { Fault } from './faults.js'
export { precheckInference, replayJobHandler, replayJobId } from './inference.js'
export type { AttestationCheck, InferenceCheck, Replayer, ReplayJobData, ReplayJobResult, ReplayOutcome } from './inference.js'
export { cachedManifest, daManifestSource, fileManifestSource, loadManifest, manifestExpected, replayRuleFor, urlManifestSource } from './manifest.js'
export type { LoadedManifest, ManifestSource } from './manifest.js'
export { httpHeaderSource, isOperatorSigned, jsonlHeaderSource, sameHeader, toBatchHeader } from './headers.js'
export type { HeaderSource, HeaderSourceOptions } from './headers.js'
export { judgeText, modelJudge, promptJudge, ruleJudge } from './judge.js'
export type { Classifier, Judge, JudgeInput, JudgeVerdict } from './judge.js'
export { findAction, parseActionId, verifyAction } from './action.js'
export type { ActionReport, FoundAction } from './action.js'
export { disputeAction } from './dispute.js'
export { checkActionLogic, sandboxLogicReplayer } from './logicCheck.js'
export type { LogicCheck, LogicReplayer, TraceMismatchFault } from './logicCheck.js'
export { replayAction } from './actionReplay/replayAction.js'
export type { ActionReplayResult, ReplayActionParameters } from './actionReplay/replayAction.js'
export { ReplaySandbox } from './actionReplay/sandbox.js'
export type { ReplaySandboxOptions, SandboxReplayJob } from './actionReplay/sandbox.js'
export { ValidationResponder } from './validationResponder.js'
export type { ValidationEvent, ValidationResponderOptions } from './validationResponder.js'
export { disputesOnAction, footprintOf, validationAnswer } from './validationAnswer.js'
export type { ActionFootprint, ValidationAnswer } from './validationAnswer.js'
export type { DisputeActionParameters, DisputeOutcome, DisputeReason } from './dispute.js'
export { signedHeaderSchema, manifestCodeSchema, manifestReplaySchema, toleranceSchema, verifierStateSchema } from './schemas.js'
export type { ManifestCode, ManifestReplay, ReplayRule, SignedHeader, Tolerance, VerifierState } from './schemas.js'
export {
  ActionNotFoundError,
  HeaderSourceError,
  InvalidActionIdError,
  JobFailedError,
  ManifestMismatchError,
  ManifestUnavailableError,
  NothingToDisputeError,
  QueueClosedError,
  ReplayUnavailableError,
  StepNotFoundError,
  VerifierConfigError,
  VerifierLockedError,
  VerifierStateError,
} from './errors.js'
