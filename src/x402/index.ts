// x402: agents pay for HTTP resources with EIP-3009 authorizations from their account, through
// the same path as every payment (policy → wallet step in the WAL → AgentAccount on chain).
// Sits on top of agent and wallet, like service.
export { createAccountPaymentSigner, type AccountPaymentSignerParameters } from './accountSigner.js'
export { recordedFetch, type RecordedExchange } from './recordedFetch.js'
export { createReplayableExactScheme, paymentNonce, type ReplayableExactSchemeParameters } from './replayableExactScheme.js'
export { startX402DevServer, type X402DevServer, type X402DevServerParameters } from './devServer.js'
export { X402PaymentRefusedError, X402ProtocolError } from './errors.js'
export { x402FetchTool, type FetchPaidResult, type X402FetchToolParameters } from './x402Tool.js'
