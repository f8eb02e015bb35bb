// ERC-8004 "Trustless Agents" (contracts/src/erc8004): deploy the registries, give a
// Covenant agent its identity, request and answer validations. See README.md here.
export { deployErc8004, TrustlessAgentsDeployError, type DeployErc8004Parameters } from './deploy.js'
export { erc8004DeploymentSchema, requireErc8004, type Erc8004Deployment } from './deployment.js'
export { TrustlessAgentsNotDeployedError, InvalidCovenantUriError, InvalidRegistrationFileError } from './errors.js'
export {
  actionURI,
  daURI,
  disputeURI,
  parseActionURI,
  parseDaURI,
  parseDisputeURI,
  parseValidationRequestURI,
  requestHashOf,
  validationRequestURI,
  VALIDATION_TAGS,
  type ValidationTag,
} from './uris.js'
export { readRegistrationDataURI, registrationDataURI, registrationFile, REGISTRATION_TYPE, type ParsedRegistrationFile, type RegistrationFile, type RegistrationFileParameters } from './registrationFile.js'
export {
  agentWalletTypedData,
  COVENANT_METADATA_KEY,
  covenantAgentOfWallet,
  decodeCovenantMetadata,
  encodeCovenantMetadata,
  findCovenantIdentity,
  getIdentity,
  registerIdentity,
  setAgentURI,
  setAgentWallet,
  type AgentIdentity,
  type RegisterIdentityParameters,
} from './identity.js'
export {
  IdentityOwnerError,
  registerCovenantIdentity,
  type RegisterCovenantIdentityParameters,
  type RegisterCovenantIdentityReturnType,
} from './registerCovenantIdentity.js'
export {
  getValidation,
  requestValidation,
  respondToValidation,
  type RequestValidationParameters,
  type RespondToValidationParameters,
  type ValidationView,
} from './validation.js'
