// src/inference: backends (ONNX Runtime, OpenAI-compatible via @langchain/openai), the
// inference container (signed receipts, simulated attestation), replay, shipped models.
// Imports nothing from later rooms (trace, da, bonds, verify).

export type { InferenceBackend, InferenceResult } from './backend.js'
export { type ChatDelta, type TokenLogprob } from './chatAssembler.js'
export {
  CHAT_DECODING,
  type ChatDecoding,
  type ChatEngine,
  type ChatGeneration,
  type CompleteOptions,
  type CreateChatEngineParameters,
  argmax,
  chatEngineFor,
  createChatEngine,
} from './chatEngine.js'
export { type ChatPlan, type ChatRequestIssue, type ChatToolChoice, type PlanChatRequestReturnType, planChatRequest } from './chatRequest.js'
export { type FlatObjectSpec, type FlatProperty, type SchemaIssue, compileFlatSchema, validateFlat } from './chatSchema.js'
export { type ParsedOutput, assembleChatStream, chatOutputHash, parseModelOutput, toolCallId } from './chatOutput.js'
export { CHAT_PROMPT_V1, type PromptSpec, type PromptToken, promptFeatures, serializeChatRequest } from './chatPrompt.js'
export {
  SIMULATED_QUOTE_FORMAT,
  SIMULATED_QUOTE_NOTICE,
  type QuoteVerifier,
  type SimulatedQuote,
  type VerifiedQuote,
  type VerifyQuoteParameters,
  createSimulatedQuote,
  simulatedQuoteVerifier,
  verifyQuote,
} from './attestation.js'
export { type ContainerKey, ephemeralContainerKey, loadOrCreateContainerKey } from './containerKey.js'
export {
  ChatConstraintError,
  ContainerKeyError,
  EndpointError,
  type InferenceErrorType,
  InvalidChatRequestError,
  InvalidReplayRecordError,
  InvalidTensorError,
  ModelDigestMismatchError,
  ModelLoadError,
  ModelNotFoundError,
  OnnxThreadClosedError,
  OnnxThreadExitedError,
  OnnxThreadRemoteError,
  QuoteVerificationError,
  ReceiptHashMismatchError,
  ReceiptMalformedError,
  ReceiptMissingError,
  ReceiptSignatureError,
  ReceiptSignerMismatchError,
  ReplayNotPossibleError,
} from './errors.js'
export { MODERATION_FEATURIZER, type HashedNgramSpec, featurizeModeration, moderationFeatures } from './featurize.js'
export { type Hash, canonicalJson, hashJson, sha256Hex } from './hash.js'
export { type MeasurementInputs, computeMeasurement, serverBuildHash } from './measurement.js'
export {
  type CreateModelStoreParameters,
  type ModelStore,
  SHIPPED_MODELS_DIR,
  type StoredModel,
  createModelStore,
  shippedModelStore,
} from './modelStore.js'
export {
  type CreateModerationClassifierParameters,
  type ModerationClassifier,
  type ModerationLabel,
  type ModerationOutput,
  createModerationClassifier,
  moderationOutput,
} from './moderation.js'
export { type OnnxRunnerKind, type RecordedOnnxOutput, onnxRunnerKind, recordedOnnxOutput } from './recordedOnnx.js'
export { type OnnxThread, type OnnxThreadSpec, startOnnxThread } from './onnxThread.js'
export { type CreateOnnxBackendParameters, type OnnxBackend, type TensorMap, createOnnxBackend, releaseSessions, sharedOnnxBackend } from './onnxBackend.js'
export {
  type ChatModel,
  type CreateChatModelParameters,
  createChatModel,
  createOpenAICompatibleBackend,
  sanitizeUrl,
} from './openaiBackend.js'
export {
  RECEIPT_DOMAIN,
  RECEIPT_HEADER,
  RECEIPT_TYPES,
  type ReceiptFields,
  type VerifyReceiptParameters,
  ZERO_HASH,
  decodeReceiptHeader,
  encodeReceiptHeader,
  responseOutputHash,
  signReceipt,
  stripReceipt,
  verifyReceipt,
} from './receipt.js'
export { type ReceiptRegistration, type ReplayDiff, type ReplayOptions, type ReplayResult, type TensorDiff, replay } from './replay.js'
export { endpointModelDigest, normalizeBaseURL } from './endpointDigest.js'
export { chatRequestForModel } from './chatCanonical.js'
export { type PlanResponsesRequestReturnType, type ResponsesRequest, planResponsesRequest } from './responsesRequest.js'
export { type ResponsesOutputItem, type ResponsesResponse, responsesOutputHash, toResponsesBody } from './responsesOutput.js'
export {
  type ChatCompletionMessage,
  type ChatCompletionRequest,
  type ChatCompletionResponse,
  type ChatMessage,
  type ChatTool,
  type ChatToolCall,
  type InferRequest,
  type Receipt,
  type RecordFormat,
  type ReplayMode,
  type ReplayRecord,
  type TensorRequest,
  type TensorResponse,
  addressSchema,
  chatCompletionRequestSchema,
  encodedTensorSchema,
  hex32Schema,
  inferRequestSchema,
  receiptSchema,
  recordFormatSchema,
  replayModeSchema,
  replayRecordSchema,
  tensorRequestSchema,
  tensorResponseSchema,
} from './schemas.js'
export {
  type CreateInferenceAppParameters,
  type InferenceApp,
  type InferenceServer,
  type StartInferenceServerParameters,
  createInferenceApp,
  startInferenceServer,
} from './server.js'
export {
  DEFAULT_SETTINGS,
  type DeterministicSettings,
  RUNTIME_NAME,
  resolveSettings,
  runtimeVersion,
  sessionOptions,
  settingsFromRecord,
} from './settings.js'
export {
  DTYPES,
  type DType,
  type EncodedTensor,
  TENSOR_ENCODING,
  type TensorData,
  type TensorValue,
  decodeTensor,
  encodeTensor,
  hashEncodedTensors,
  hashTensors,
  tensorBytes,
  tensorFromBytes,
  tensorFromNumbers,
} from './tensor.js'
