import { keccak256, type Account, type Hex } from 'viem'
import type { CovenantDeployment } from '../deployment.js'

export type BatchHeader = {
  agentId: bigint
  sequence: bigint
  merkleRoot: Hex
  daCommitmentHash: Hex
  stepCount: number
}

/** EIP-712 typed data of a batch header in the TraceLog domain (what operators sign). */
export function batchHeaderTypedData(deployment: CovenantDeployment, header: BatchHeader) {
  return {
    domain: {
      name: 'Covenant TraceLog',
      version: '1',
      chainId: deployment.chainId,
      verifyingContract: deployment.contracts.traceLog,
    },
    types: {
      BatchHeader: [
        { name: 'agentId', type: 'uint256' },
        { name: 'sequence', type: 'uint64' },
        { name: 'merkleRoot', type: 'bytes32' },
        { name: 'daCommitmentHash', type: 'bytes32' },
        { name: 'stepCount', type: 'uint32' },
      ],
    },
    primaryType: 'BatchHeader',
    message: header,
  } as const
}

export function batchHeaderFor(p: { agentId: bigint; sequence: bigint; merkleRoot: Hex; daCommitment: Hex; stepCount: number }): BatchHeader {
  return {
    agentId: p.agentId,
    sequence: p.sequence,
    merkleRoot: p.merkleRoot,
    daCommitmentHash: keccak256(p.daCommitment),
    stepCount: p.stepCount,
  }
}

/** The operator's signature over a batch header: a receipt a user can hold it to. */
export async function signBatchHeader(account: Account, deployment: CovenantDeployment, header: BatchHeader): Promise<Hex> {
  if (!account.signTypedData) throw new Error('account cannot sign typed data')
  return account.signTypedData(batchHeaderTypedData(deployment, header))
}
