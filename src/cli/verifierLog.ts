import type { Logger } from 'pino'
import { formatEther } from 'viem'
import type { VerifierEvent } from '../verify/node.js'

// What `covenant verifier start` says about each event its node reports: a line a person
// reads (stderr), a JSON line (--json, stdout), and an operator log record (pino, stderr).

/** One JSON line per event (`--json`): bigints as decimal strings, errors as their message. */
export function jsonLine(e: VerifierEvent): string {
  const value =
    e.type === 'error'
      ? { type: e.type, where: e.where, error: { name: (e.error as Error)?.name, message: (e.error as { shortMessage?: string })?.shortMessage ?? String(e.error) } }
      : e
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
}

/** One line a person reads for each thing the node reports. */
export function describeEvent(e: VerifierEvent): string | undefined {
  switch (e.type) {
    case 'started':
      return `verifier ${e.verifier ?? '(watch only: no account)'} following from block ${e.fromBlock} (replay queue: ${e.queue})`
    case 'range':
      return e.batches > 0 ? `blocks ${e.from}–${e.to}: ${e.batches} batch${e.batches === 1 ? '' : 'es'}` : undefined
    case 'batch':
      return `agent #${e.agentId} batch ${e.sequence}: ${e.steps} steps, ${e.status}${e.faults ? `, ${e.faults} fault${e.faults === 1 ? '' : 's'}` : ''}${e.reason ? ` (${e.reason})` : ''}`
    case 'fault':
      return `FAULT ${e.description}: ${e.fault.reason}`
    case 'challenge': {
      const r = e.result
      if (r.status === 'proven') return `proved ${e.description} on chain: dispute #${r.disputeId}, slashed ${formatEther(r.slashedEth)} ETH (gas ${r.gasUsed})`
      if (r.status === 'opened') return `opened dispute #${r.disputeId} (${r.kind}) with a ${formatEther(r.bond)} ETH bond (gas ${r.gasUsed})`
      return `not challenged (${r.reason}${r.disputeId ? `, dispute #${r.disputeId}` : ''}): ${e.description}`
    }
    case 'dispute':
      return `dispute #${e.disputeId} opened: ${e.kind} against agent #${e.agentId} by ${e.challenger}`
    case 'vote':
      return `voted ${e.agentAtFault ? 'AT FAULT' : 'not at fault'} on dispute #${e.disputeId} (${e.reason}); dispute ${e.status}`
    case 'relay':
      return `submitted ${e.verifiers.length} gathered verdict${e.verifiers.length === 1 ? '' : 's'} on dispute #${e.disputeId}; dispute ${e.status}`
    case 'abstain':
      return `abstained on dispute #${e.disputeId}: ${e.reason}`
    case 'answered':
      return `answered DataWithheld dispute #${e.disputeId}: published the ${e.bytes}-byte blob on chain (gas ${e.gasUsed})`
    case 'resolved':
      return `dispute #${e.disputeId} ${e.status}${e.status === 'Slashed' ? `: ${formatEther(e.slashedEth)} ETH slashed` : ''}`
    case 'decided':
      return `dispute #${e.disputeId} decided ${e.agentAtFault ? 'AT FAULT' : 'not at fault'}; contestable until ${new Date(e.finalizesAt * 1000).toISOString()} (covenant fork contest ${e.disputeId})`
    case 'finalized':
      return `dispute #${e.disputeId}: escalation window over, finalized`
    case 'contested':
      return `dispute #${e.disputeId} CONTESTED: fork #${e.forkId} open for redemption until ${new Date(e.endsAt * 1000).toISOString()}`
    case 'redeemed':
      return `redeemed ${formatEther(e.stake)} CVW of stake into fork #${e.forkId}: ${e.side === 'Stands' ? 'the verdict stands' : 'the verdict is overturned'}`
    case 'fork-resolved':
      return `fork #${e.forkId} resolved: ${e.canonical === 'Overturned' ? 'verdict overturned' : 'verdict stands'}; dispute #${e.disputeId} settled ${e.agentAtFault ? 'at fault' : 'not at fault'}, ${formatEther(e.slashedStake)} CVW of verifier stake slashed`
    case 'reorg':
      return `reorg: block ${e.from.block} is gone; rewinding to ${e.to ? `block ${e.to.block}` : 'the deployment block'}`
    case 'warning':
      return `warning: ${e.message}`
    case 'error':
      return `error in ${e.where}: ${(e.error as { shortMessage?: string; message?: string })?.shortMessage ?? String(e.error)}`
    case 'validation-request':
      return `ERC-8004 validation request ${e.requestHash.slice(0, 10)}…: action ${e.actionId} of agent #${e.covenantAgentId} (ERC-8004 agent ${e.agentId})`
    case 'validation-refused':
      return `ERC-8004 validation request ${e.requestHash.slice(0, 10)}… refused: ${e.reason}`
    case 'validation-response':
      return `answered ERC-8004 validation ${e.requestHash.slice(0, 10)}…: ${e.response} (${e.tag}, ${e.responseURI}): ${e.reason} (gas ${e.gasUsed})`
  }
}


export type VerifierLogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * The level an operator sees a verifier event at. `error`: the node failed at something
 * (it goes on). `warn`: what an operator must know about — a fault found, money slashed
 * (by this node's proof, a resolved dispute, a fork), a contested verdict, a challenge not
 * sent, a refused validation, a reorg, a warning. `info`: the node's work — started,
 * disputes opened and answered, votes, verdicts, redemptions, validation answers.
 * `debug`: every block range and clean batch.
 */
export function verifierEventLevel(e: VerifierEvent): VerifierLogLevel {
  switch (e.type) {
    case 'error':
      return 'error'
    case 'fault':
    case 'warning':
    case 'reorg':
    case 'contested':
    case 'validation-refused':
      return 'warn'
    case 'challenge':
      return e.result.status === 'proven' || e.result.status === 'skipped' ? 'warn' : 'info'
    case 'resolved':
      return e.status === 'Slashed' ? 'warn' : 'info'
    case 'fork-resolved':
      return e.slashedStake > 0n ? 'warn' : 'info'
    case 'range':
      return 'debug'
    case 'batch':
      return e.status === 'ok' && e.faults === 0 ? 'debug' : 'warn'
    default:
      return 'info'
  }
}

/**
 * The event as log fields: bigints as decimal strings; an error as its name and short
 * message only (a library error's details can carry an RPC URL with its key or a request
 * body: never logged).
 */
export function verifierEventFields(e: VerifierEvent): Record<string, unknown> {
  const value =
    e.type === 'error'
      ? {
          event: e.type,
          where: e.where,
          error: {
            name: (e.error as { name?: unknown } | null)?.name ?? 'Error',
            message: shortMessage(e.error),
          },
        }
      : { ...e, event: e.type, type: undefined }
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>
}

function shortMessage(err: unknown): string {
  const e = err as { shortMessage?: unknown; message?: unknown } | null
  const text = typeof e?.shortMessage === 'string' ? e.shortMessage : typeof e?.message === 'string' ? e.message : String(err)
  return text.split('\n')[0] ?? ''
}

/** Logs one verifier event at its level (see {@link verifierEventLevel}), with the line a person reads as the message. */
export function logVerifierEvent(logger: Logger, e: VerifierEvent): void {
  const level = verifierEventLevel(e)
  if (!logger.isLevelEnabled(level)) return
  logger[level](verifierEventFields(e), describeEvent(e) ?? e.type)
}
