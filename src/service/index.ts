// Agents as verifiable services: the local stack, deploying agents, the HTTP API and its
// workers. Sits on top of every other room.
export { startLocalStack, onStack, type LocalStack, type StartLocalStackOptions, type InferenceServerHandle, type InferenceStarter } from './stack.js'
export { deployAgent, openAgentKey, DEV_FUNDING, DEPLOY_STEPS, type DeployAgentParameters, type DeployAgentReturnType, type DeployStep, type DeployStepStatus } from './deployAgent.js'
export { checkDeploy, type CheckedDeploy } from './deployChecks.js'
export { deployProgressSchema, type DeployProgress } from './deployProgress.js'
export { loadAgentFile, AGENT_FILE_LOAD_TIMEOUT_MS, type LoadAgentFileOptions } from './agentFile.js'
export { typecheckAgentFile, type TypecheckAgentFileReturnType } from './typecheckAgentFile.js'
export { probeAgentFile, type ProbeAgentFileParameters } from './probeAgentFile.js'
export { agentRecordSchema, listAgentRecords, readAgentRecord, saveAgentRecord, writeAgentRecord, type AgentRecord } from './agentRecord.js'
export { AgentHost, type ActionRecord, type AgentHostUnsafeOptions, type OpenAgentHostParameters } from './agentHost.js'
export { createServiceApp, taskRequestSchema, MAX_TASK_BYTES, type ServiceAppOptions } from './api.js'
export { startService, type Service, type StartServiceOptions } from './service.js'
export { startServiceWorker, taskQueue, type DeployedAgent, type QuarantinedAgent, type ServiceWorker, type StandingByAgent, type StartServiceWorkerOptions, type TaskJobData, type TaskJobResult } from './worker.js'
export { serviceHealth, type AgentHealth, type ServiceHealth } from './health.js'
export { createTaskStore, TASK_STATUSES, type TaskState, type TaskStatus, type TaskStore } from './taskStore.js'
export { inferenceClients } from './inference.js'
export { loadDeployedAgents } from './hostedAgents.js'
export { explorerHtml } from './explorer.js'
export { ActionEndedError, AgentFileError, AgentFileLoadError, AgentRecordError, AgentTypeError, ChainUnavailableError, CommitBacklogError, CommitPipelineDownError, DeployAgentError, DeployInterruptedError, DeployRefusedError, DevStackRunningError, NoAgentHostedError, PortInUseError, ServiceConfigError, TaskRejectedError } from './errors.js'
export {
  createServiceClient,
  ServiceApiError,
  ServiceResponseError,
  type ActionReport as ServiceActionReport,
  type AgentSummary,
  type DisputeView,
  type ServiceClient,
  type ServiceClientOptions,
  type TaskView,
  type TaskStreamEvent,
  type TaskEventsOptions,
} from './client.js'
export { stepEventSchema, progressEventSchema, STEP_EVENT_KINDS, MAX_STEP_SUMMARY, type StepEvent, type ProgressEvent } from './taskFeed.js'
export { stepEvent } from './stepSummary.js'
