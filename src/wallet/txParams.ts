import type { Address } from 'viem'
import { z } from 'zod'
import { canonicalBytes, decodeCanonical } from '../trace/canonical.js'
import { addressSchema as lowerAddressSchema, uint256StringSchema } from '../trace/schemas.js'

/**
 * What a wallet step's signed transaction is a function of besides the step itself: the key
 * that signs it and the gas and fees it was prepared with. The wallet keeps them in the
 * step's WAL record, as its sidecar (src/trace/wal.ts): written by the same write and made
 * durable by the same fdatasync as the step, never part of the step, its leaf or the trace.
 *
 * With them the signed bytes can be made again after a crash: the rest of the transaction
 * (chain, nonce, recipient, value, calldata — in account mode the `execute` envelope built
 * from the step) is in the step, and signatures are RFC 6979 (deterministic; the wallet
 * checks its account's when it opens). So the `signed` record needs no durable write of its
 * own before the broadcast: recovery rebuilds exactly the transaction that may have reached
 * the node, and can only re-send those very bytes (see agentWallet.ts, outbox.ts).
 */
export const txParamsSchema = z.strictObject({
  version: z.literal(1),
  /** The signing key (lowercase): a rebuild with another key would be another transaction. */
  signer: lowerAddressSchema,
  gas: uint256StringSchema,
  maxFeePerGas: uint256StringSchema,
  maxPriorityFeePerGas: uint256StringSchema,
})

export type TxParams = { signer: Address; gas: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }

/** The sidecar bytes of `params` (canonical JSON: no byte below 0x20). */
export function encodeTxParams(p: TxParams): Uint8Array {
  return canonicalBytes({
    version: 1,
    signer: p.signer.toLowerCase(),
    gas: p.gas.toString(),
    maxFeePerGas: p.maxFeePerGas.toString(),
    maxPriorityFeePerGas: p.maxPriorityFeePerGas.toString(),
  })
}

/** Reads a wallet step's sidecar; throws an error naming what is wrong when it is not a valid one. */
export function decodeTxParams(bytes: Uint8Array): TxParams {
  const v = decodeCanonical(txParamsSchema, bytes, 'wallet step transaction parameters')
  return { signer: v.signer as Address, gas: BigInt(v.gas), maxFeePerGas: BigInt(v.maxFeePerGas), maxPriorityFeePerGas: BigInt(v.maxPriorityFeePerGas) }
}
