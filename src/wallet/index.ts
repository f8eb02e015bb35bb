// The agent wallet: an encrypted keystore, the spending policy the chain registered, and
// signing gated by the trace (no trace, no action), with an outbox that makes sending
// crash-safe. Imports only from src/trace (and src/errors); never from bonds, da or verify.
export {
  AgentWallet,
  createAgentWallet,
} from './agentWallet.js'
export type {
  SignedAuthorization,
  AgentWalletListener,
  AgentWalletUnsafeOptions,
  CreateAgentWalletParameters,
  RecoveryEntry,
  SendTransactionOptions,
  SentTransaction,
  TrackedTransaction,
  TransactionOutcome,
  WalletEventBase,
} from './agentWallet.js'
export { createWalletHandle } from './handles.js'
export type { CallHandle, CreateWalletHandleParameters, PayHandle, WalletHandleFor } from './handles.js'
export {
  DEFAULT_SCRYPT,
  MAX_SCRYPT,
  createKeystore,
  decryptKeystore,
  gethLayout,
  keystoreAddress,
  keystoreSchema,
  loadKeystore,
  parseKeystore,
  reencryptKeystore,
  saveKeystore,
} from './keystore.js'
export type {
  CreateKeystoreParameters,
  CreateKeystoreReturnType,
  Keystore,
  LoadKeystoreParameters,
  ReencryptKeystoreParameters,
  SaveKeystoreParameters,
  ScryptParams,
} from './keystore.js'
export { Outbox } from './outbox.js'
export { BREACHES, evaluatePolicy, policySchema, policyToContract } from './policy.js'
export type { Breach, Policy, PolicyCheck, PolicyInput } from './policy.js'
export {
  addressSchema,
  effectSchema,
  ethAmountSchema,
  outboxEntrySchema,
  selectorSchema,
  transactionRequestSchema,
  weiSchema,
} from './schemas.js'
export type { Effect, EffectInput, OutboxEntry, OutboxReceipt, TransactionRequest } from './schemas.js'
export {
  AccountTraceBehindError,
  AgentUnbondingError,
  AuthorizationFailedError,
  BondTooLowError,
  CapabilityExceededError,
  InvalidPrivateKeyError,
  InvalidTransactionError,
  KeystoreFileError,
  KeystoreFormatError,
  KeystorePasswordError,
  NonceConflictError,
  OutboxCorruptedError,
  PolicyViolationError,
  ReceiptTimeoutError,
  StalePolicyVersionError,
  TransactionPreparationError,
  UntracedTransactionError,
  WalletBroadcastError,
  WalletConfigError,
  WalletRpcAnswerError,
  WalletRpcError,
} from './errors.js'
export { agentAccountCallAbi, decodeAccountCall, encodeAccountCall, type AccountCall } from './accountCall.js'
export {
  MAX_AUTHORIZATION_LIFETIME,
  PERMIT_SELECTOR,
  TRANSFER_WITH_AUTHORIZATION_SELECTOR,
  authorizationDigest,
  decodeAuthorizationData,
  encodeAuthorizationData,
  permitAuthorizationSchema,
  transferAuthorizationSchema,
} from './authorization.js'
export type {
  AuthorizationCall,
  PermitAuthorization,
  PermitAuthorizationInput,
  TransferAuthorization,
  TransferAuthorizationInput,
} from './authorization.js'
export type { CapabilityRule, PolicyRule, RuleAttempt, RuleLimit } from './errors.js'
