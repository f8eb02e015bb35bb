import { expect, test } from 'vitest'
import * as wallet from './index.js'

test('public exports', () => {
  expect(Object.keys(wallet).sort()).toMatchInlineSnapshot(`
    [
      "AgentWallet",
      "BREACHES",
      "CapabilityExceededError",
      "DEFAULT_SCRYPT",
      "InvalidPrivateKeyError",
      "InvalidTransactionError",
      "KeystoreFileError",
      "KeystoreFormatError",
      "KeystorePasswordError",
      "MAX_SCRYPT",
      "NonceConflictError",
      "Outbox",
      "OutboxCorruptedError",
      "PolicyViolationError",
      "ReceiptTimeoutError",
      "TransactionPreparationError",
      "UntracedTransactionError",
      "WalletBroadcastError",
      "WalletConfigError",
      "WalletRpcAnswerError",
      "WalletRpcError",
      "addressSchema",
      "createAgentWallet",
      "createKeystore",
      "createWalletHandle",
      "decryptKeystore",
      "effectSchema",
      "evaluatePolicy",
      "keystoreAddress",
      "keystoreSchema",
      "loadKeystore",
      "outboxEntrySchema",
      "parseKeystore",
      "policySchema",
      "policyToContract",
      "saveKeystore",
      "selectorSchema",
      "transactionRequestSchema",
      "weiSchema",
    ]
  `)
})
