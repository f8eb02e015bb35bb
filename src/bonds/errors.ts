import { BaseError, UnrecoverableCovenantError } from '../errors/base.js'

export class AnvilStartError extends BaseError {
  override name = 'AnvilStartError' as const
}

export class AnvilNotInstalledError extends BaseError {
  override name = 'AnvilNotInstalledError' as const
  constructor(platform: string, cause?: unknown) {
    super(`No anvil binary for ${platform}.`, {
      metaMessages: [
        'anvil ships in the npm package @foundry-rs/anvil (platform builds as optional dependencies).',
        'Run `npm install` again, or pass --rpc <url> to use another node.',
      ],
      cause,
    })
  }
}

/** A contract call reverted with one of the Covenant custom errors. */
export class ContractRevertError extends UnrecoverableCovenantError {
  override name = 'ContractRevertError' as const
  readonly errorName: string
  readonly args: readonly unknown[]
  constructor(contract: string, fn: string, errorName: string, args: readonly unknown[], hint?: string) {
    const shown = args.map((a) => (typeof a === 'bigint' ? a.toString() : String(a))).join(', ')
    super(`${contract}.${fn} reverted: ${errorName}(${shown})`, {
      metaMessages: hint ? [hint] : [],
    })
    this.errorName = errorName
    this.args = args
  }
}

export class DeploymentFileError extends BaseError {
  override name = 'DeploymentFileError' as const
}

export class RpcError extends BaseError {
  override name = 'RpcError' as const
  constructor(rpcUrl: string, cause: unknown) {
    super(`Cannot reach the chain at ${rpcUrl}.`, {
      metaMessages: ['Check that the node is running and the URL is right (--rpc).'],
      cause,
    })
  }
}

/** A successful transaction whose receipt lacks the event the contract always emits: the node's answer is incomplete. */
export class ReceiptEventMissingError extends BaseError {
  override name = 'ReceiptEventMissingError' as const
  constructor(call: string, event: string, hash: string) {
    super(`${call} ${hash} succeeded but its receipt has no ${event} event.`, {
      metaMessages: ['The node answered an incomplete receipt: read it again, or from another node (--rpc).'],
    })
  }
}

/**
 * Evidence that cannot be what the contract takes (a field out of its Solidity type, a
 * proof element that is not 32 bytes, two headers that are not an equivocation). Refused
 * before anything is read or sent: no commit transaction is spent on it.
 */
export class InvalidEvidenceError extends UnrecoverableCovenantError {
  override name = 'InvalidEvidenceError' as const
  constructor(what: string, reason: string) {
    super(`Invalid ${what}: ${reason}.`, { metaMessages: ['Nothing was sent.'] })
  }
}

/** An account holds fewer WorkToken (CVW) than an action locks: staking, or redeeming into a fork. */
export class InsufficientWorkTokenError extends UnrecoverableCovenantError {
  override name = 'InsufficientWorkTokenError' as const
  constructor(p: { account: string; needed: bigint; balance: bigint; purpose: string }) {
    super(`${p.account} holds ${p.balance} CVW wei but needs ${p.needed} to ${p.purpose}.`, {
      metaMessages: [
        'WorkToken is allocated at deployment (dev chains give every dev account some); get CVW from a holder first.',
        'Nothing was sent.',
      ],
    })
  }
}

/**
 * TraceLog holds a batch at this sequence, but none of the node's `BatchCommitted` logs for it
 * rebuilds the record whose hash the chain keeps: the node serves incomplete or stale logs
 * (pruned history, a reorg in progress).
 */
export class BatchRecordMismatchError extends UnrecoverableCovenantError {
  override name = 'BatchRecordMismatchError' as const
  constructor(agentId: bigint, sequence: bigint, logs: number) {
    super(`Agent ${agentId}, batch ${sequence}: none of the node's ${logs} BatchCommitted log(s) matches the record hash TraceLog keeps.`, {
      metaMessages: ['Use a node that keeps full logs since the deployment block (an archive node), or retry once the chain has settled.'],
    })
  }
}
