import type { ClientEvmSigner } from '@x402/evm'
import { getAddress, isAddressEqual, type Address, type Hex } from 'viem'
import { z } from 'zod'
import type { SentTransaction } from '../wallet/agentWallet.js'
import { encodeAuthorizationData, type TransferAuthorization } from '../wallet/authorization.js'
import type { CallHandle } from '../wallet/handles.js'
import { X402PaymentRefusedError, X402ProtocolError } from './errors.js'

export type AccountPaymentSignerParameters = {
  /** The tool's `call` handle (effect: the token, the `transferWithAuthorization` selector). */
  handle: CallHandle
  /** The only token this signer pays in. */
  token: Address
  /** The chain the token lives on. */
  chainId: number
  /** The largest amount of one payment, in the token's smallest unit. */
  maxAmount: bigint
  /** The only recipients it pays (the agent's policy must allow them too); absent = whoever the policy allows. */
  payTo?: readonly Address[] | undefined
  /** Called with each authorization's transaction as soon as it is sent (before its receipt is checked). */
  onSent?: ((tx: SentTransaction, authorization: TransferAuthorization) => void) | undefined
  /** Called with the transaction that authorized each payment. */
  onAuthorized?: ((tx: SentTransaction, authorization: TransferAuthorization) => void) | undefined
}

const transferMessage = z.object({
  from: z.string(),
  to: z.string(),
  value: z.union([z.bigint(), z.string(), z.number()]).transform((v) => BigInt(v)),
  validAfter: z.union([z.bigint(), z.string(), z.number()]).transform((v) => BigInt(v)),
  validBefore: z.union([z.bigint(), z.string(), z.number()]).transform((v) => BigInt(v)),
  nonce: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
})

/**
 * The x402 client's signer for an agent account: `address` is the account, and
 * `signTypedData` makes no signature with any key — it checks the EIP-3009 authorization the
 * x402 client built against this signer's limits (token, chain, recipient, amount; refused
 * with {@link X402PaymentRefusedError}, nothing written), then has the wallet authorize it
 * through the account (policy → wallet step in the WAL → `AgentAccount.authorizeTransfer`),
 * and returns empty signature bytes: the token asks the account (ERC-1271), which accepts the
 * digest it approved. Anything but an EIP-3009 `TransferWithAuthorization` is refused.
 */
export function createAccountPaymentSigner(p: AccountPaymentSignerParameters): ClientEvmSigner {
  const account = p.handle.account
  if (!account) throw new X402PaymentRefusedError('the wallet does not name the paying account (x402 payments need the agent account)')
  const payTo = p.payTo?.map((a) => getAddress(a))
  return {
    address: account,
    async signTypedData(typed) {
      if (typed.primaryType !== 'TransferWithAuthorization') {
        throw new X402PaymentRefusedError(`only EIP-3009 TransferWithAuthorization payments are supported, not ${String(typed.primaryType)} (ask the server for assetTransferMethod "eip3009")`)
      }
      const domain = typed.domain as { chainId?: unknown; verifyingContract?: unknown }
      if (typeof domain.verifyingContract !== 'string' || !isAddressEqual(domain.verifyingContract as Address, p.token)) {
        throw new X402PaymentRefusedError(`the payment is in token ${String(domain.verifyingContract)}; this tool pays only in ${p.token}`)
      }
      if (Number(domain.chainId) !== p.chainId) throw new X402PaymentRefusedError(`the payment is on chain ${String(domain.chainId)}; this tool pays on chain ${p.chainId}`)
      const parsed = transferMessage.safeParse(typed.message)
      if (!parsed.success) throw new X402ProtocolError(`the authorization to sign is malformed (${parsed.error.issues[0]?.message ?? 'invalid'})`)
      const m = parsed.data
      if (!isAddressEqual(m.from as Address, account)) throw new X402PaymentRefusedError(`the authorization pays from ${m.from}, not the agent account ${account}`)
      const to = getAddress(m.to)
      if (payTo && !payTo.includes(to)) throw new X402PaymentRefusedError(`recipient ${to} is not one of this tool's payees [${payTo.join(', ')}]`)
      if (m.value > p.maxAmount) throw new X402PaymentRefusedError(`the resource asks ${m.value}, more than this tool's maxAmount ${p.maxAmount}`)
      const authorization: TransferAuthorization = {
        token: getAddress(p.token),
        to,
        value: m.value,
        validAfter: m.validAfter,
        validBefore: m.validBefore,
        nonce: m.nonce.toLowerCase() as Hex,
      }
      const sent = await p.handle.call({ to: authorization.token, data: encodeAuthorizationData(account, { kind: 'transfer', authorization }) })
      p.onSent?.(sent, authorization)
      if (sent.receipt.status !== 'success') throw new X402ProtocolError(`the account's authorization ${sent.hash} reverted`)
      p.onAuthorized?.(sent, authorization)
      return '0x'
    },
  }
}
