export { startAnvil, anvilBinary, ANVIL_MNEMONIC, type Anvil, type StartAnvilOptions } from './anvil.js'
export { deployCovenant, DeployError, type DeployCovenantParameters } from './deploy.js'
export {
  defaultProtocolParams,
  devProtocolParams,
  DEV_WORK_TOKEN_GRANT,
  deploymentSchema,
  parseDeployment,
  protocolParamsSchema,
  readDeployment,
  serializeDeployment,
  writeDeployment,
  type CovenantDeployment,
  type ProtocolParams,
  type ProtocolParamsInput,
} from './deployment.js'
export {
  chainFor,
  createCovenantClient,
  MissingAccountError,
  withAccount,
  type CovenantClient,
  type CovenantWalletClient,
  type CovenantWriteClient,
  type CreateCovenantClientParameters,
} from './client.js'
export {
  AnvilNotInstalledError,
  AnvilStartError,
  BatchRecordMismatchError,
  ContractRevertError,
  DeploymentFileError,
  InsufficientWorkTokenError,
  InvalidEvidenceError,
  ReceiptEventMissingError,
  RpcError,
} from './errors.js'
export * from './generated/abis.js'
export { registerAgent, type RegisterAgentParameters, type RegisterAgentReturnType } from './actions/registerAgent.js'
export { proposeUpdate, activateUpdate } from './actions/updateAgent.js'
export { getAgent, getAgentVersion, type AgentVersion, type GetAgentReturnType } from './actions/getAgent.js'
export { depositBond, type DepositBondParameters, type DepositBondReturnType } from './actions/depositBond.js'
export { getBond, type GetBondReturnType } from './actions/getBond.js'
export { requestWithdraw, withdrawBond, claimCredits } from './actions/withdrawBond.js'
export { commitBatch, coverCalls, type CommitBatchParameters, type CommitBatchReturnType } from './actions/commitBatch.js'
export { packBatchFields, unpackBatchFields, type BatchFields } from './actions/batchFields.js'
export { commitBundle, commitMany, type CommitBundleReturnType, type CommitManyReturnType } from './actions/commitMany.js'
export { openBatch, openedBatchRecord, type OpenBatchReturnType } from './actions/openBatch.js'
export {
  batchCommittedEvent,
  batchRecordHash,
  bundleCommittedEvent,
  bundleHash,
  bundleLeaf,
  getBatch,
  getNextSequence,
  NO_BATCH_RECORD,
  type BatchRecord,
  type BundleProof,
  type CommittedBatch,
} from './actions/getBatch.js'
export { batchHeaderFor, batchHeaderTypedData, signBatchHeader, type BatchHeader } from './actions/batchHeader.js'
export { commitEvidence } from './actions/evidence.js'
export { proveUntracedCall, type ProveUntracedCallParameters, type ProveUntracedCallReturnType } from './actions/proveUntracedCall.js'
export { getAccount, getAccountCall, getAccountCalls, type AccountCallEvent, type AgentAccountState } from './actions/getAccount.js'
export { provePolicyBreach, type ProvePolicyBreachParameters, type ProvePolicyBreachReturnType } from './actions/provePolicyBreach.js'
export { proveEquivocation, type ProveEquivocationParameters, type ProveEquivocationReturnType } from './actions/proveEquivocation.js'
export { openDispute, type OpenDisputeParameters, type OpenDisputeReturnType } from './actions/openDispute.js'
export {
  answerDataWithheld,
  challengeData,
  commitmentOfSubject,
  dataSubject,
  decidedByEvidence,
  type AnswerDataWithheldReturnType,
  type ChallengeDataParameters,
  type ChallengeDataReturnType,
} from './actions/challengeData.js'
export { getPublishedBlob } from './actions/publishedBlob.js'
export {
  finalizeDispute,
  resolveExpired,
  signVerdict,
  submitVerdicts,
  verdictTypedData,
  type SignedVerdict,
  type SubmitVerdictsReturnType,
  type Verdict,
} from './actions/verdicts.js'
export { getDispute, listDisputes, type DisputeInfo } from './actions/getDispute.js'
export { DisputeReader } from './actions/disputeReader.js'
export { registerVerifier, getVerifierStake, getWorkTokenBalance } from './actions/registerVerifier.js'
export { FORK_SIDES, forkSideIndex, type ForkSide, type ForkSideName } from './actions/forkSides.js'
export { getFork, listForks, forkOfDispute, getForkPosition, type ForkCredits, type ForkInfo, type ForkPosition } from './actions/getFork.js'
export { contestVerdict, type ContestVerdictReturnType } from './actions/contestVerdict.js'
export { redeemFork, reclaimFork, claimForkCredits, type RedeemForkParameters, type RedeemForkReturnType } from './actions/redeemFork.js'
export { resolveFork, type ResolveForkReturnType } from './actions/resolveFork.js'
export { proveFalseVerdict, proveDoubleVerdict, type ProveVerdictReturnType } from './actions/proveFalseVerdict.js'
export { requestExitVerifier, exitVerifier, verifierExitableAt } from './actions/exitVerifier.js'
export {
  DISPUTE_KINDS,
  DISPUTE_STATUSES,
  disputeKindIndex,
  isSettled,
  type DisputeKind,
  type DisputeStatus,
  type OpenableDisputeKind,
  type QuorumDisputeKind,
} from './actions/disputeKinds.js'
export { Committer, CommitConflictError, type BlobPutter, type CommittedBatchInfo, type CommitterHooks, type CommitterOptions } from './committer.js'
export { CommitBundler, type CommitBundlerOptions } from './bundler.js'
export { increaseTime, mine, chainTime } from './devTime.js'
export { walletStepTuple, type WalletStepTuple } from './actions/walletStep.js'
export * from './erc8004/index.js'
