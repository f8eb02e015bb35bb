import type { Hex } from 'viem'
import type { BatchHeader, DisputeKind } from '../bonds/index.js'
import type { WalletStep } from '../trace/index.js'
import type { Breach } from '../wallet/policy.js'

/**
 * A fault the verifier found, with what it takes to act on it. The `type` is the
 * DisputeGame kind it leads to:
 *
 * | fault                                         | path (cheapest that suffices)                 |
 * |-----------------------------------------------|-----------------------------------------------|
 * | wallet step the registered policy forbids     | `provePolicyBreach`: Merkle proof, slashed at once |
 * | operator-signed header ≠ committed batch      | `proveEquivocation`: slashed at once          |
 * | inference that does not replay / bad record   | `openDispute(InferenceFraud)` + vote          |
 * | blob missing past the grace period            | `challengeData`: answered with the blob on chain, or slashed at the deadline (local commitments); + vote on other commitments |
 * | blob available but never a valid batch        | `openDispute(InvalidBatch)` + vote            |
 * | account call not declared covered by its deadline | `proveUntracedCall`: slashed at once, no vote |
 * | account call declared covered, step missing   | `openDispute(UntracedAction, txHash)` + vote  |
 * | wallet-key tx (no account) not covered         | `openDispute(UntracedAction, txHash)` + vote  |
 * | the agent's registered code, replayed on the   | `openDispute(TraceMismatch)` on the first     |
 * | action's recorded I/O, does not give its steps | differing step + vote                         |
 */
export type Fault =
  | {
      type: 'PolicyBreach'
      agentId: bigint
      sequence: bigint
      /** Position in the batch. */
      stepIndex: number
      step: WalletStep
      proof: Hex[]
      leaf: Hex
      breach: Breach
      reason: string
    }
  | {
      type: 'Equivocation'
      agentId: bigint
      sequence: bigint
      a: BatchHeader
      sigA: Hex
      b: BatchHeader
      /** Absent when `b` is the batch committed on chain. */
      sigB?: Hex | undefined
      reason: string
    }
  | {
      type: 'InferenceFraud'
      agentId: bigint
      sequence: bigint
      stepIndex: number
      reason: string
      detail?: unknown
      /** What the faulty action moved (wei): repaid to the owner first on a slash. */
      harm?: bigint | undefined
    }
  | {
      type: 'DataWithheld'
      agentId: bigint
      sequence: bigint
      /** The DA commitment the batch was committed with (hex): the challenge names it. */
      daCommitment: Hex
      reason: string
    }
  | { type: 'InvalidBatch'; agentId: bigint; sequence: bigint; reason: string }
  | {
      type: 'UntracedAction'
      agentId: bigint
      txHash: Hex
      reason: string
      /** What the untraced transaction moved (wei): repaid to the owner first on a slash. */
      harm?: bigint | undefined
    }
  | { type: 'UntracedCall'; agentId: bigint; callSequence: number; txHash: Hex; reason: string }
  | { type: 'SubjectiveClaim'; agentId: bigint; sequence: bigint; stepIndex: number; subject: Hex; reason: string }
  /**
   * Whole-action replay: the agent's registered code, re-run on the action's recorded input,
   * inference outputs and tool results, does not produce the committed step at
   * (sequence, stepIndex) — the first step of the action that differs.
   */
  | {
      type: 'TraceMismatch'
      agentId: bigint
      sequence: bigint
      stepIndex: number
      actionId: string
      reason: string
      /** What the action's committed wallet steps moved (wei): repaid to the owner first on a slash. */
      harm?: bigint | undefined
    }

export type FaultType = Fault['type'] & DisputeKind

/**
 * An AgentAccount call with no committed wallet step by its deadline: provable on chain
 * (UntracedCall) while TraceLog does not declare it covered, else the quorum decides
 * (UntracedAction on its transaction).
 */
export function untracedCallFault(p: { agentId: bigint; sequence: number; txHash: Hex; declaredCovered: number; reason: string; value?: bigint | undefined }): Fault {
  return p.declaredCovered <= p.sequence
    ? { type: 'UntracedCall', agentId: p.agentId, callSequence: p.sequence, txHash: p.txHash, reason: p.reason }
    : { type: 'UntracedAction', agentId: p.agentId, txHash: p.txHash, reason: `${p.reason}, though TraceLog declares it covered`, harm: p.value }
}

/** The DisputeGame kind a fault is recorded under. */
export function faultKind(f: Fault): DisputeKind {
  return f.type === 'UntracedCall' ? 'UntracedAction' : f.type
}

/** A short, stable description: "PolicyBreach agent 3 batch 0 step 2 (ValueCap)". */
export function describeFault(f: Fault): string {
  switch (f.type) {
    case 'PolicyBreach':
      return `PolicyBreach agent ${f.agentId} batch ${f.sequence} step ${f.stepIndex} (${f.breach})`
    case 'Equivocation':
      return `Equivocation agent ${f.agentId} batch ${f.sequence}`
    case 'InferenceFraud':
      return `InferenceFraud agent ${f.agentId} batch ${f.sequence} step ${f.stepIndex}`
    case 'DataWithheld':
      return `DataWithheld agent ${f.agentId} batch ${f.sequence}`
    case 'InvalidBatch':
      return `InvalidBatch agent ${f.agentId} batch ${f.sequence}`
    case 'UntracedAction':
      return `UntracedAction agent ${f.agentId} tx ${f.txHash}`
    case 'UntracedCall':
      return `UntracedCall agent ${f.agentId} account call ${f.callSequence} (tx ${f.txHash})`
    case 'SubjectiveClaim':
      return `SubjectiveClaim agent ${f.agentId} batch ${f.sequence} step ${f.stepIndex}`
    case 'TraceMismatch':
      return `TraceMismatch agent ${f.agentId} batch ${f.sequence} step ${f.stepIndex} (action ${f.actionId})`
  }
}
