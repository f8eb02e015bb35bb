import { getAddress, type Address, type Hex } from 'viem'
import type { WalletStep } from '../../trace/schemas.js'

/** A wallet step as DisputeGame.provePolicyBreach takes it (Solidity `WalletStep`). */
export type WalletStepTuple = {
  agentId: bigint
  index: bigint
  prevHash: Hex
  chainId: bigint
  from: Address
  to: Address
  value: bigint
  data: Hex
  nonce: bigint
  policyVersion: number
}

/** Converts a trace wallet step to the tuple the contract decodes. */
export function walletStepTuple(step: WalletStep): WalletStepTuple {
  return {
    agentId: BigInt(step.agentId),
    index: BigInt(step.index),
    prevHash: step.prevHash,
    chainId: BigInt(step.chainId),
    from: getAddress(step.from),
    to: getAddress(step.to),
    value: BigInt(step.value),
    data: step.data,
    nonce: BigInt(step.nonce),
    policyVersion: step.policyVersion,
  }
}
