// Test helper (not exported): runs an agent live on a temp WAL with a chain-free wallet that
// writes wallet steps exactly as AgentWallet does (policy check first, then the step, then
// a "mined" answer), and returns the steps of the action, for whole-action replay tests.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { getAddress, keccak256, toHex, type Address, type Hex } from 'viem'
import type { AgentDefinition } from '../../agent/defineAgent.js'
import { createAgentRuntime, type ChatInference, type OnnxInference, type RuntimeWallet } from '../../agent/runtime.js'
import { TraceWal, type Step } from '../../trace/index.js'
import type { SentTransaction } from '../../wallet/agentWallet.js'
import { PolicyViolationError } from '../../wallet/errors.js'
import { evaluatePolicy, type Policy } from '../../wallet/policy.js'
import { transactionRequestSchema } from '../../wallet/schemas.js'

export const ACCOUNT: Address = getAddress('0x00000000000000000000000000000000000acc01')

/** A wallet that writes wallet steps to the WAL like AgentWallet (no chain: every transaction "mines" at once). */
export function liveWallet(wal: TraceWal, policy: Policy, o: { chainId?: number; refuseAll?: boolean } = {}): RuntimeWallet {
  const byAction = new Map<string, number[]>()
  const hashes = new Map<number, Hex>()
  let nonce = 0
  const wallet: RuntimeWallet = {
    policyVersion: 1,
    policy,
    async sendTransaction(request, { actionId }): Promise<SentTransaction> {
      const tx = transactionRequestSchema.parse(request)
      const breach = evaluatePolicy(policy, tx)
      if (breach !== 'None' || o.refuseAll) {
        const rule = breach === 'None' ? 'DailyBudget' : breach
        throw new PolicyViolationError({ rule: rule as 'ValueCap', limit: policy.maxValuePerTx, attempted: tx.value })
      }
      const { step } = await wal.appendNext({
        kind: 'wallet',
        actionId,
        timestamp: Date.now(),
        chainId: String(o.chainId ?? 31337),
        from: ACCOUNT.toLowerCase() as Hex,
        to: tx.to.toLowerCase() as Hex,
        value: tx.value.toString(),
        data: tx.data,
        nonce: nonce++,
        policyVersion: 1,
      })
      const hash = keccak256(toHex(`tx ${step.index}`))
      byAction.set(actionId, [...(byAction.get(actionId) ?? []), step.index])
      hashes.set(step.index, hash)
      return {
        hash,
        nonce: (step as Step & { kind: 'wallet' }).nonce,
        walletStepIndex: step.index,
        actionId,
        chainId: o.chainId ?? 31337,
        from: ACCOUNT,
        to: tx.to,
        value: tx.value,
        data: tx.data,
        receipt: { blockNumber: BigInt(step.index + 10), blockHash: keccak256(toHex(`block ${step.index}`)), status: 'success', gasUsed: 21_000n },
      }
    },
    walletStepIndices: (actionId) => [...(byAction.get(actionId) ?? [])],
    getTransaction: ({ walletStepIndex }) => {
      const hash = hashes.get(walletStepIndex)
      return hash ? { walletStepIndex, nonce: 0, actionId: '', state: 'mined', hash, receipt: null, error: null } : undefined
    },
  }
  return wallet
}

export type LiveRun = { wal: TraceWal; run(task: unknown, actionId: string): Promise<Step[]> }

const opened: TraceWal[] = []
/** Closes every WAL `liveAgent` opened. */
export async function closeLiveAgents(): Promise<void> {
  for (const wal of opened.splice(0)) await wal.close()
}

/** An agent live on a fresh WAL; `run` returns the action's steps as committed. */
export async function liveAgent(
  agent: AgentDefinition,
  o: { agentId?: string; chat?: ChatInference; onnx?: OnnxInference; wallet?: (wal: TraceWal) => RuntimeWallet; tamperInference?: Parameters<typeof createAgentRuntime>[0]['unsafe'] } = {},
): Promise<LiveRun> {
  const agentId = o.agentId ?? '7'
  const wal = await TraceWal.open({ dir: await mkdtemp(join(tmpdir(), 'covenant-replay-')), agentId })
  opened.push(wal)
  const wallet = agent.tools.some((t) => t.effect.kind !== 'none') ? (o.wallet ?? ((w) => liveWallet(w, agent.policy)))(wal) : undefined
  const runtime = createAgentRuntime({ agent, agentId, policyVersion: 1, wal, wallet, chat: o.chat, onnx: o.onnx, logger: pino({ level: 'silent' }), unsafe: o.tamperInference })
  return {
    wal,
    async run(task, actionId) {
      await runtime.run(task, { actionId }).catch(() => undefined)
      const { steps } = await wal.readAll()
      return steps.filter((s) => s.actionId === actionId)
    },
  }
}
