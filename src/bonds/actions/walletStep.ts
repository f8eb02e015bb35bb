import type { Address, Hex } from 'viem'

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
