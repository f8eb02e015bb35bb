import { getAddress, type Hex } from 'viem'
import type { RuntimeWallet } from '../../agent/runtime.js'
import type { Step } from '../../trace/index.js'
import type { SentTransaction, TrackedTransaction } from '../../wallet/agentWallet.js'
import type { Policy } from '../../wallet/policy.js'
import { transactionRequestSchema, type TransactionRequest } from '../../wallet/schemas.js'
import type { ReplayCursor } from './cursor.js'
import { aStep, RECOVER_TOOL } from './recordedAction.js'
import { recordedError, SENT_NOTE, withoutSentNote } from './recordedError.js'

type WalletStep = Step & { kind: 'wallet' }
type ToolStep = Step & { kind: 'tool' }

/**
 * The wallet of a replay. The agent's own code runs (its tool, the handle's capability
 * checks); each transaction it asks for becomes a wallet step that must be the committed
 * one at that position — same recipient, value and calldata — and the answer is the
 * committed outcome (hash and receipt from the tool step that follows), never a new
 * transaction. Nonce, account, chain and policy version are the wallet's business and are
 * taken from the committed step (the account also from the action's first wallet step, for
 * the tools that name it in a token authorization). Where the trace has no wallet step but the tool's
 * committed outcome is an error (the wallet refused: daily budget, unbonding…), that error
 * is what the code gets.
 */
export function createReplayWallet(p: { cursor: ReplayCursor; policy: Policy; policyVersion: number; address?: string | undefined }): RuntimeWallet {
  const { cursor } = p
  const byAction = new Map<string, number[]>()
  const hashes = new Map<number, { hash: Hex; nonce: number; actionId: string }>()

  async function sendTransaction(request: TransactionRequest, options: { actionId: string }): Promise<SentTransaction> {
    const recorded = cursor.peek()
    if (!recorded) throw cursor.end('the committed steps end before this transaction')
    const parsed = transactionRequestSchema.safeParse(request)
    if (recorded.kind !== 'wallet') {
      // the live wallet refused before writing a step: its refusal is the tool's committed error
      if (recorded.kind === 'tool' && recorded.outcome.status === 'error') throw refusal(recorded)
      const what = parsed.success ? ` (to ${parsed.data.to.toLowerCase()}, ${parsed.data.value} wei)` : ''
      throw cursor.mismatch(`the agent's code sends a transaction here${what}; the trace has ${aStep(recorded)}`)
    }
    if (!parsed.success) throw cursor.mismatch(`the agent's code asks for a transaction the wallet refuses (${parsed.error.issues[0]?.message ?? 'invalid'}); the trace has a wallet step`)
    const tx = parsed.data
    const position = cursor.position
    await cursor.appendNext({
      kind: 'wallet',
      actionId: options.actionId,
      timestamp: recorded.timestamp,
      chainId: recorded.chainId,
      from: recorded.from,
      to: tx.to.toLowerCase() as Hex,
      value: tx.value.toString(),
      data: tx.data,
      nonce: recorded.nonce,
      policyVersion: recorded.policyVersion,
    })
    const answer = committedAnswer(cursor, position, recorded)
    if (answer.kind === 'none') throw cursor.end('no outcome of this transaction is committed (the action was interrupted, or its next steps are not committed yet)')
    if (answer.kind === 'threw') throw recordedError({ name: answer.error.name, message: withoutSentNote(answer.error.message), shortMessage: failedOutputMessage(cursor, answer.error.name) })
    const list = byAction.get(options.actionId) ?? []
    list.push(recorded.index)
    byAction.set(options.actionId, list)
    hashes.set(recorded.index, { hash: answer.hash, nonce: recorded.nonce, actionId: options.actionId })
    return {
      hash: answer.hash,
      nonce: recorded.nonce,
      walletStepIndex: recorded.index,
      actionId: options.actionId,
      chainId: Number(recorded.chainId),
      from: getAddress(recorded.from),
      to: tx.to,
      value: tx.value,
      data: tx.data,
      receipt: answer.receipt,
    }
  }

  function refusal(step: ToolStep): Error {
    const error = step.outcome.status === 'error' ? step.outcome.error : { name: 'Error', message: '' }
    return recordedError({ name: error.name, message: withoutSentNote(error.message), shortMessage: failedOutputMessage(cursor, error.name) })
  }

  // the account the live wallet sent from (a tool may name it): any committed wallet step says
  const from = cursor.recorded.find((s) => s.kind === 'wallet')
  const wallet: RuntimeWallet = {
    // the paying account, as the action's wallet steps name it: tools that build token
    // authorizations put it in their calldata (`from`), which the wallet steps then bind
    address: p.address && /^0x[0-9a-fA-F]{40}$/.test(p.address) ? getAddress(p.address) : from?.kind === 'wallet' ? getAddress(from.from) : undefined,
    policyVersion: p.policyVersion,
    policy: p.policy,
    sendTransaction: sendTransaction as RuntimeWallet['sendTransaction'],
    walletStepIndices: (actionId: string) => [...(byAction.get(actionId) ?? [])],
    getTransaction: ({ walletStepIndex }: { walletStepIndex: number }): TrackedTransaction | undefined => {
      const t = hashes.get(walletStepIndex)
      return t && { walletStepIndex, nonce: t.nonce, actionId: t.actionId, state: 'mined', hash: t.hash, receipt: null, error: null }
    },
  }
  return Object.freeze(wallet)
}

type Answer =
  | { kind: 'sent'; hash: Hex; receipt: SentTransaction['receipt'] }
  | { kind: 'threw'; error: { name: string; message: string } }
  | { kind: 'none' }

/**
 * What the live wallet answered for the wallet step at `position`: the tool step after it
 * lists the transaction (hash, receipt) when the wallet returned it; a tool error that does
 * not list it means the wallet threw after writing the step.
 */
function committedAnswer(cursor: ReplayCursor, position: number, step: WalletStep): Answer {
  for (let i = position + 1; i < cursor.recorded.length; i++) {
    const s = cursor.at(i)
    if (!s || s.kind === 'output') return { kind: 'none' }
    if (s.kind !== 'tool') continue
    if (s.tool === RECOVER_TOOL) return { kind: 'none' }
    if (s.outcome.status === 'error') {
      const listed = s.outcome.error.message.includes(SENT_NOTE) ? s.outcome.error.message.slice(s.outcome.error.message.lastIndexOf(SENT_NOTE)) : ''
      const m = listed.match(new RegExp(`(0x[0-9a-fA-F]{64}) \\(nonce ${step.nonce}\\)`))
      // the tool had the transaction and threw afterwards: its receipt is not committed
      if (m) return { kind: 'sent', hash: m[1]!.toLowerCase() as Hex, receipt: { blockNumber: 0n, blockHash: `0x${'0'.repeat(64)}`, status: 'success', gasUsed: 0n } }
      return { kind: 'threw', error: s.outcome.error }
    }
    const list = (s.outcome.result as { transactions?: unknown } | null)?.transactions
    const entry = Array.isArray(list) ? (list as Record<string, unknown>[]).find((t) => t?.['walletStepIndex'] === step.index) : undefined
    if (!entry || typeof entry['hash'] !== 'string') return { kind: 'none' }
    return {
      kind: 'sent',
      hash: entry['hash'] as Hex,
      receipt: {
        blockNumber: bigintOf(entry['blockNumber']),
        blockHash: (typeof entry['blockHash'] === 'string' ? entry['blockHash'] : `0x${'0'.repeat(64)}`) as Hex,
        status: entry['status'] === 'reverted' ? 'reverted' : 'success',
        gasUsed: bigintOf(entry['gasUsed']),
      },
    }
  }
  return { kind: 'none' }
}

function bigintOf(v: unknown): bigint {
  try {
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? BigInt(v) : 0n
  } catch {
    return 0n
  }
}

/** The message of the action's failed output step, when it records the error `name`. */
export function failedOutputMessage(cursor: ReplayCursor, name: string): string | undefined {
  const out = cursor.recorded.find((s) => s.kind === 'output')
  const r = out?.kind === 'output' ? (out.result as { status?: unknown; error?: { name?: unknown; message?: unknown } } | null) : null
  return r?.status === 'failed' && r.error?.name === name && typeof r.error.message === 'string' ? r.error.message : undefined
}
