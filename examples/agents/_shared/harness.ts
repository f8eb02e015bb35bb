// What the three example runs share: the embedded local stack (anvil + contracts, the DA
// server, optionally the inference container), deploying an agent for an operator,
// hosting it in this process, three staked verifier nodes, and reading the figures back
// from the chain. Everything here is the framework's own API; nothing is mocked.
import { mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pino, { type Logger } from 'pino'
import { formatEther, keccak256, toHex, type Address, type Hex } from 'viem'
import type { AgentDefinition } from '../../../src/agent/index.js'
import { bondVaultAbi, getBond, isSettled, listDisputes, registerVerifier, withAccount, type CovenantWriteClient, type DisputeInfo } from '../../../src/bonds/index.js'
import { startInferenceServer } from '../../../src/inference/index.js'
import {
  AgentHost,
  deployAgent,
  DEV_FUNDING,
  inferenceClients,
  startLocalStack,
  type AgentHostUnsafeOptions,
  type AgentRecord,
  type LocalStack,
} from '../../../src/service/index.js'
import {
  daManifestSource,
  jsonlHeaderSource,
  localReplayer,
  verifyAction,
  VerifierNode,
  type ActionReport,
  type AttestationCheck,
  type Judge,
  type ManifestSource,
  type Replayer,
  type VerifierEvent,
} from '../../../src/verify/index.js'

/** The keystore password of the dev stack (public: dev chains only). */
export const DEV_PASSWORD = 'covenant-dev-only'

export type Say = (message: string) => void

export type ExampleOptions = {
  /** Where the chain's deployment, DA blobs, WALs and keystores go. @defaultValue `.covenant/examples/<name>` */
  dataDir?: string | undefined
  /** Progress lines, as the run goes. @defaultValue none */
  onProgress?: Say | undefined
  /** Aborts between phases (Ctrl-C in the CLI); everything started is stopped. */
  signal?: AbortSignal | undefined
}

/** One running example: the stack, and everything to stop at the end (in reverse order). */
export class Example {
  readonly name: string
  readonly dataDir: string
  readonly stack: LocalStack
  readonly say: Say
  readonly logger: Logger
  readonly signal: AbortSignal | undefined
  readonly #stops: Array<() => Promise<void>> = []
  readonly #announced = new Set<string>()

  private constructor(p: { name: string; dataDir: string; stack: LocalStack; say: Say; signal: AbortSignal | undefined }) {
    this.name = p.name
    this.dataDir = p.dataDir
    this.stack = p.stack
    this.say = p.say
    this.signal = p.signal
    // warnings (the UNSAFE ones of the dishonest operators among them) become progress lines
    this.logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as { level: number; msg?: string }
          p.say(`      ${entry.level >= 50 ? 'error' : 'warning'}: ${entry.msg ?? line.trim()}`)
        },
      },
    )
    this.#stops.push(() => p.stack.stop())
  }

  /** Starts anvil with the contracts, the DA server and (for chat agents) the inference container. */
  static async start(name: string, o: ExampleOptions & { inference: boolean }): Promise<Example> {
    const say = o.onProgress ?? (() => {})
    const dataDir = resolve(o.dataDir ?? join('.covenant', 'examples', name))
    // a fresh chain every run: the operators' keys, WALs and outboxes of the last run mean nothing on it
    rmSync(join(dataDir, 'operators'), { recursive: true, force: true })
    mkdirSync(dataDir, { recursive: true })
    o.signal?.throwIfAborted()
    const stack = await startLocalStack({
      dataDir,
      announce: false,
      onProgress: (m) => say(`      ${m.trim()}`),
      ...(o.inference
        ? {
            inference: async ({ port, host }) => {
              const s = await startInferenceServer({ port, host })
              return { url: s.url, close: () => s.close() }
            },
          }
        : {}),
    })
    return new Example({ name, dataDir, stack, say, signal: o.signal })
  }

  checkpoint(): void {
    this.signal?.throwIfAborted()
  }

  defer(stop: () => Promise<void>): void {
    this.#stops.push(stop)
  }

  /** Stops hosts, verifiers and the stack, newest first; never throws. */
  async close(): Promise<void> {
    for (const stop of this.#stops.splice(0).reverse()) await stop().catch(() => {})
  }

  /** A write client for one of anvil's funded dev accounts. */
  as(index: number): CovenantWriteClient {
    return withAccount(this.stack.client, this.stack.accounts[index]!)
  }

  address(index: number): Address {
    return this.stack.accounts[index]!.address
  }

  /** Once per dispute, whichever verifier reports it first. */
  announceOnce(key: string, message: string): void {
    if (this.#announced.has(key)) return
    this.#announced.add(key)
    this.say(message)
  }
}

/** An agent as one operator deployed it: its own data dir (keys, WAL, outbox), its own registration and bond. */
export type Operator = {
  label: string
  agent: AgentDefinition
  record: AgentRecord
  agentId: bigint
  dataDir: string
  ownerIndex: number
}

/** Registers the agent (manifest on DA, policy + model digest on chain), bonds it and funds its keys. */
export async function deployOperator(
  ex: Example,
  p: {
    label: string
    agent: AgentDefinition
    /** The agent file, bundled as its registered code; without it the agent registers no code (its logic is not replayed). */
    source: string | undefined
    ownerIndex: number
  },
): Promise<Operator> {
  ex.checkpoint()
  const dataDir = join(ex.dataDir, 'operators', p.label)
  const { record } = await deployAgent({
    owner: ex.as(p.ownerIndex),
    da: ex.stack.da,
    dataDir,
    agent: p.agent,
    source: p.source === undefined ? undefined : resolve(p.source),
    password: DEV_PASSWORD,
    scrypt: { N: 1024 }, // dev keystores: a cheap scrypt so the example starts fast
    fund: DEV_FUNDING,
    endpoints: ex.stack.inference ? [`${ex.stack.inference.url}/v1`] : undefined,
    onProgress: (m) => ex.say(`      ${p.label}: ${m}`),
  })
  return { label: p.label, agent: p.agent, record, agentId: BigInt(record.agentId), dataDir, ownerIndex: p.ownerIndex }
}

/**
 * Runs the operator's agent in this process (WAL, policy-gated wallet, runtime, committer).
 * `agent` may differ from the deployed definition: that is how a dishonest operator runs
 * other code than it registered.
 */
export async function hostOperator(
  ex: Example,
  op: Operator,
  o: { agent?: AgentDefinition | undefined; unsafe?: AgentHostUnsafeOptions | undefined } = {},
): Promise<AgentHost> {
  ex.checkpoint()
  const agent = o.agent ?? op.agent
  const clients = inferenceClients({ inferenceUrl: ex.stack.inference?.url })
  const host = await AgentHost.open({
    agent,
    record: op.record,
    deployment: ex.stack.deployment,
    rpcUrl: ex.stack.rpcUrl,
    da: ex.stack.da,
    dataDir: op.dataDir,
    password: DEV_PASSWORD,
    chat: clients.chat(agent),
    onnx: await clients.onnx(agent),
    commitIntervalMs: 500,
    logger: ex.logger,
    unsafe: o.unsafe,
  })
  ex.defer(() => host.close())
  return host
}

/** A deterministic action id (`<agentId>-<12 hex>`) for a task label, so reruns name the same actions. */
export function actionIdFor(agentId: bigint, label: string): string {
  return `${agentId}-${keccak256(toHex(label)).slice(2, 14)}`
}

/**
 * Three verifiers (anvil accounts 5, 6, 7, or `accounts`) stake and follow the chain: every
 * batch fetched from DA and checked, every wallet step against the registered policy, every
 * inference replayed on this machine; faults are challenged, quorum disputes voted on, decided
 * verdicts finalized after their escalation window, and a contested verdict's fork joined on
 * the side each node's own replay supports.
 */
export async function startVerifiers(
  ex: Example,
  operators: readonly Operator[],
  o: {
    judge?: Judge | undefined
    claims?: ((subject: Hex) => Promise<string | undefined>) | undefined
    /** @defaultValue [5, 6, 7] */
    accounts?: readonly number[] | undefined
    /** Checks attested inferences (receipts against the keys the manifest registers). @defaultValue none: attested steps are unverifiable */
    attestation?: AttestationCheck | undefined
    /** Every event of verifier `i` (0-based, in `accounts` order), besides the progress lines. */
    onEvent?: ((i: number, e: VerifierEvent) => void) | undefined
  } = {},
): Promise<VerifierNode[]> {
  ex.checkpoint()
  const manifests = manifestSources(ex, operators)
  const nodes: VerifierNode[] = []
  const accounts = o.accounts ?? [5, 6, 7]
  for (const [i, index] of accounts.entries()) {
    const client = ex.as(index)
    await registerVerifier(client)
    const node = new VerifierNode({
      client,
      da: ex.stack.da,
      dataDir: join(ex.dataDir, 'verifier', String(i)),
      replayer: replayer(),
      manifests,
      headers: operators.map((op) => jsonlHeaderSource(join(op.dataDir, 'wal', `agent-${op.agentId}.headers.jsonl`))),
      judge: o.judge,
      claims: o.claims,
      attestation: o.attestation,
      pollIntervalMs: 250,
      onEvent: (e) => {
        o.onEvent?.(i, e)
        reportVerifierEvent(ex, `verifier ${'ABCDEFGH'[i]}`, e)
      },
    })
    await node.start()
    ex.defer(() => node.stop())
    nodes.push(node)
  }
  const names = accounts.map((_, i) => 'ABCDEFGH'[i]).join(', ')
  ex.say(`      ${accounts.length === 1 ? `verifier ${names} staked` : `verifiers ${names} staked`} ${formatEther(ex.stack.deployment.params.verifierMinStake)} CVW${accounts.length === 1 ? ' and is' : ' each and are'} following the chain`)
  return nodes
}

function reportVerifierEvent(ex: Example, who: string, e: VerifierEvent): void {
  if (ex.signal?.aborted) return // shutting down: the chain may already be gone
  switch (e.type) {
    case 'fault':
      ex.announceOnce(`fault ${e.description}`, `      ${who}: FAULT — ${e.description}: ${e.fault.reason.replace(/^[A-Za-z]+: /, '')}`)
      break
    case 'challenge':
      if (e.result.status === 'skipped') break
      ex.say(`      ${who}: ${e.result.status === 'proven' ? `proved it on chain → dispute #${e.result.disputeId}, slashed ${formatEther(e.result.slashedEth)} ETH` : `opened dispute #${e.result.disputeId} (${e.result.kind}), posting a ${formatEther(e.result.bond)} ETH challenger bond`}`)
      break
    case 'dispute':
      ex.announceOnce(`dispute ${e.disputeId}`, `      dispute #${e.disputeId} (${e.kind}) opened against agent #${e.agentId} by ${e.challenger}`)
      break
    case 'vote':
      ex.say(`      ${who}: voted agentAtFault=${e.agentAtFault} on dispute #${e.disputeId} (${e.reason}) → ${e.status}`)
      break
    case 'abstain':
      ex.say(`      ${who}: abstained on dispute #${e.disputeId} (${e.reason})`)
      break
    case 'decided':
      ex.announceOnce(`decided ${e.disputeId}`, `      dispute #${e.disputeId}: decided agentAtFault=${e.agentAtFault}; contestable until the escalation window closes`)
      break
    case 'contested':
      ex.announceOnce(`contested ${e.disputeId}`, `      dispute #${e.disputeId}: CONTESTED — fork #${e.forkId} open for redemption`)
      break
    case 'redeemed':
      ex.say(`      ${who}: redeemed its ${formatEther(e.stake)} CVW stake into fork #${e.forkId} (${e.side === 'Stands' ? 'the verdict stands' : 'the verdict is overturned'})`)
      break
    case 'fork-resolved':
      ex.announceOnce(
        `fork ${e.forkId}`,
        `      fork #${e.forkId} resolved: ${e.canonical === 'Overturned' ? 'verdict OVERTURNED' : 'verdict stands'}; ${formatEther(e.slashedStake)} CVW of verifier stake slashed`,
      )
      break
    case 'resolved':
      ex.announceOnce(`resolved ${e.disputeId}`, `      dispute #${e.disputeId}: ${e.status}${e.slashedEth > 0n ? `, ${formatEther(e.slashedEth)} ETH slashed` : ''}`)
      break
    case 'error':
      ex.say(`      ${who}: error in ${e.where}: ${((e.error as { shortMessage?: string; message?: string })?.shortMessage ?? (e.error as Error)?.message ?? String(e.error)).split('\n')[0]}`)
      break
    default:
  }
}

/** Polls until `fn` returns a value. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, o: { timeoutMs?: number; signal?: AbortSignal | undefined } = {}): Promise<T> {
  const until = Date.now() + (o.timeoutMs ?? 120_000)
  for (;;) {
    o.signal?.throwIfAborted()
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** ETH credited in the BondVault (slash rewards, challenger bonds refunded or forfeited), claimable with `claim()`. */
export async function ethCredits(ex: Example, who: Address): Promise<bigint> {
  return ex.stack.client.publicClient.readContract({ address: ex.stack.deployment.contracts.bondVault, abi: bondVaultAbi, functionName: 'ethCredits', args: [who] })
}

export async function bondOf(ex: Example, agentId: bigint): Promise<bigint> {
  return (await getBond(ex.stack.client, agentId)).eth
}

/** A dispute as the summaries report it: amounts in wei (decimal strings) and the payout split. */
export type DisputeFigures = {
  disputeId: string
  kind: DisputeInfo['kind']
  status: DisputeInfo['status']
  agentId: string
  challenger: Address
  challengerBondWei: string
  slashedWei: string
  /** Paid first to the party the faulty call harmed (the agent's owner): the value it moved. */
  compensationWei: string
  /** The challenger's share of the rest of the slash. */
  challengerRewardWei: string
  redistributionWei: string
  burnedWei: string
  forStake: string
  againstStake: string
}

/** A dispute's figures; the split of a slash is read from the BondVault's own events. */
export async function disputeFigures(ex: Example, d: DisputeInfo): Promise<DisputeFigures> {
  const p = ex.stack.deployment.params
  const vault = ex.stack.deployment.contracts.bondVault
  const range = { fromBlock: ex.stack.deployment.deployedAtBlock, toBlock: 'latest' as const }
  const pc = ex.stack.client.publicClient
  const slashes = await pc.getContractEvents({ address: vault, abi: bondVaultAbi, eventName: 'Slashed', args: { agentId: d.agentId }, ...range })
  const slash = slashes.find((l) => l.args.eth === d.slashedEth && l.args.challenger === d.challenger)
  const compensated = slash
    ? (await pc.getContractEvents({ address: vault, abi: bondVaultAbi, eventName: 'Compensated', args: { agentId: d.agentId }, ...range })).find(
        (l) => l.transactionHash === slash.transactionHash,
      )
    : undefined
  const compensation = compensated?.args.eth ?? 0n
  const rest = d.slashedEth - compensation
  const reward = slash?.args.challengerEth ?? (rest * BigInt(p.challengerBps)) / 10_000n
  const redistribution = slash?.args.redistributedEth ?? (rest * BigInt(p.redistributionBps)) / 10_000n
  return {
    disputeId: d.disputeId.toString(),
    kind: d.kind,
    status: d.status,
    agentId: d.agentId.toString(),
    challenger: d.challenger,
    challengerBondWei: d.bond.toString(),
    slashedWei: d.slashedEth.toString(),
    compensationWei: compensation.toString(),
    challengerRewardWei: reward.toString(),
    redistributionWei: redistribution.toString(),
    burnedWei: (rest - reward - redistribution).toString(),
    forStake: d.forStake.toString(),
    againstStake: d.againstStake.toString(),
  }
}

/** Waits until the agent has a dispute of `kind` that is settled (paid out or expired), and returns it. */
export async function settledDispute(ex: Example, agentId: bigint, kind: DisputeInfo['kind'], timeoutMs = 120_000): Promise<DisputeInfo> {
  return waitFor(
    `a settled ${kind} dispute against agent #${agentId}`,
    async () => (await listDisputes(ex.stack.client, { agentId })).find((d) => d.kind === kind && isSettled(d.status)),
    { timeoutMs, signal: ex.signal },
  )
}

/** The deployed manifests, fetched from DA by the commitment each operator recorded. */
export function manifestSources(ex: Example, operators: readonly Operator[]): ManifestSource[] {
  return [daManifestSource(ex.stack.da, ({ agentId }) => operators.find((op) => op.agentId === agentId)?.record.manifestCommitment as Hex | undefined)]
}

/** `covenant verify` for each action: fetched from DA through the committed batches, every inference replayed. */
export async function verdicts(
  ex: Example,
  operators: readonly Operator[],
  actionIds: readonly string[],
  o: { attestation?: AttestationCheck | undefined } = {},
): Promise<Map<string, ActionReport>> {
  const manifests = manifestSources(ex, operators)
  const out = new Map<string, ActionReport>()
  for (const id of actionIds) {
    ex.checkpoint()
    out.set(id, await verifyAction({ client: ex.stack.client, da: ex.stack.da, replayer: replayer(), manifests, attestation: o.attestation }, id))
  }
  return out
}

/** Re-executes inference records on this machine (ONNX Runtime, the shipped models found by digest). */
let shared: Replayer | undefined
export function replayer(): Replayer {
  shared ??= localReplayer()
  return shared
}

export const eth = (wei: bigint | string): string => formatEther(BigInt(wei))
