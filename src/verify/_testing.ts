// Test helpers for the verify suites (not exported from the package): agents whose
// operators cheat in exactly one way, built directly from the trace WAL, the committer
// and plain viem transactions.
import { appendFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keccak256, parseEther, toHex, type Address, type Hex } from 'viem'
import type { TestChain } from '../../test/fixtures/chain.js'
import {
  agentAccountAbi,
  bondVaultAbi,
  depositBond,
  getAgent,
  getBond,
  registerAgent,
  signBatchHeader,
  batchHeaderFor,
  commitBatch,
  coverCalls,
  type CovenantClient,
} from '../bonds/index.js'
import { Committer } from '../bonds/committer.js'
import type { DAClient } from '../da/index.js'
import { localCommitment, LocalDAStore } from '../da/index.js'
import { canonicalBytes, encodeBatch, batchRoot, TraceWal, type StepBody, type Step } from '../trace/index.js'
import type { ReplayRecord } from '../inference/schemas.js'
import type { Replayer } from './inference.js'
import { createHash } from 'node:crypto'
import { createModerationClassifier, type ModerationClassifier } from '../inference/moderation.js'
import { fakeTensorOutput } from './replayers.js'
import pino from 'pino'
import { writeFile } from 'node:fs/promises'
import { buildManifest, createAgentRuntime, type AgentDefinition, type AgentRuntime } from '../agent/index.js'

export const ETH = (n: string) => parseEther(n)

export async function tempDir(prefix = 'covenant-verify-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

// ---------------------------------------------------------------------------------------
// a toy deterministic "model" until every suite uses src/inference's replay

/** sha256 of canonical JSON, as src/inference hashes records. */
export function sha256Json(value: unknown): Hex {
  return `0x${createHash('sha256').update(canonicalBytes(value)).digest('hex')}`
}

export const TOY_MODEL_DIGEST: Hex = `0x${createHash('sha256').update('covenant toy model v1').digest('hex')}`

/** The toy model: the sum and the max of the inputs. */
export function toyInfer(inputs: number[]): { sum: number; max: number } {
  return { sum: inputs.reduce((a, b) => a + b, 0), max: Math.max(...inputs) }
}

export function toyRecord(inputs: number[], options: { output?: unknown; replay?: ReplayRecord['replay'] | undefined; digest?: Hex | undefined } = {}): ReplayRecord {
  const request = { model: 'toy', inputs }
  const response = options.output ?? toyInfer(inputs)
  return {
    backend: 'onnx',
    modelDigest: options.digest ?? TOY_MODEL_DIGEST,
    runtime: { name: 'toy', version: '1', settings: {} },
    replay: options.replay ?? 'exact',
    request,
    response,
    inputHash: sha256Json(request),
    outputHash: sha256Json(response),
    timing: { startedAt: 0, durationMs: 1 },
  } as ReplayRecord
}

/** Replays toy records (exact): recomputes the response from the request. */
export const toyReplayer: Replayer = async (record) => {
  const req = record.request as { inputs: number[] }
  const actual = sha256Json(toyInfer(req.inputs))
  return { match: actual === record.outputHash && sha256Json(record.response) === record.outputHash, expectedHash: record.outputHash, actualHash: actual }
}

// ---------------------------------------------------------------------------------------
// the real shipped moderation model (src/inference)

let moderation: Promise<ModerationClassifier> | undefined
export function moderationClassifier(): Promise<ModerationClassifier> {
  moderation ??= createModerationClassifier()
  return moderation
}

/** The digest of the shipped moderation model, to register. */
export async function moderationDigest(): Promise<Hex> {
  return (await moderationClassifier()).backend.model.digest as Hex
}

// ---------------------------------------------------------------------------------------
// agents and their operators

export type TestAgentRoles = { owner: number; operator: number; wallet: number; payee: number }

export type TestAgent = {
  agentId: bigint
  roles: TestAgentRoles
  op: TestOperator
}

/**
 * A manifest that registers every model `exact`, written to `dir/<hash>.json` (a file
 * manifest source's layout); returns its hash. A verifier that cannot find an agent's
 * manifest judges none of its inferences, so a test agent whose inferences are to be judged
 * needs one the verifiers can read.
 */
export async function writeExactManifest(dir: string): Promise<Hex> {
  const bytes = canonicalBytes({ name: 'verify-test-agent', replay: 'exact' })
  const hash = keccak256(bytes)
  await writeFile(join(dir, `${hash}.json`), bytes)
  return hash
}

/** Registers an agent (max 1 ETH per tx to `payee` only, window 1 h, commit deadline 10 min), bonds 10 ETH. */
export async function createTestAgent(
  chain: TestChain,
  p: {
    roles: TestAgentRoles
    da: DAClient
    dir?: string | undefined
    modelDigests?: Hex[] | undefined
    manifestHash?: Hex | undefined
    /** Without `manifestHash`: register an all-exact manifest written to this directory (writeExactManifest). */
    manifestDir?: string | undefined
    bond?: bigint | undefined
  },
): Promise<TestAgent> {
  const owner = chain.as(p.roles.owner)
  const { agentId } = await registerAgent(owner, {
    operator: chain.account(p.roles.operator).address,
    wallet: chain.account(p.roles.wallet).address,
    manifestHash: p.manifestHash ?? (p.manifestDir ? await writeExactManifest(p.manifestDir) : toHex('verify-test-agent', { size: 32 })),
    modelDigests: p.modelDigests ?? [TOY_MODEL_DIGEST],
    policy: {
      maxValuePerTx: ETH('1'),
      // the 10 ETH bond covers two days of it (what a commit deadline + window can touch)
      dailyBudget: ETH('3'),
      challengeWindow: 3_600,
      commitDeadline: 600,
      allowedTargets: [chain.account(p.roles.payee).address],
      allowedSelectors: [],
    },
  })
  await depositBond(owner, { agentId, eth: p.bond ?? ETH('10') })
  // the agent's funds live in its account; the wallet key (the signer) pays only gas
  const account = (await getAgent(chain.reader, agentId)).account
  const fund = await owner.walletClient.sendTransaction({ to: account, value: ETH('50'), account: owner.walletClient.account, chain: owner.walletClient.chain })
  await owner.publicClient.waitForTransactionReceipt({ hash: fund })
  const op = await TestOperator.open(chain, { agentId, account, roles: p.roles, da: p.da, dir: p.dir ?? (await tempDir()) })
  return { agentId, roles: p.roles, op }
}

/** An operator that writes steps to its WAL and commits them; each cheat is one method. */
export class TestOperator {
  readonly chain: TestChain
  readonly agentId: bigint
  readonly roles: TestAgentRoles
  readonly wal: TraceWal
  readonly committer: Committer
  readonly da: DAClient
  readonly headersFile: string
  /** The agent's AgentAccount: where its funds are, and what every wallet step is `from`. */
  readonly account: Address
  #nonce: number | undefined

  private constructor(chain: TestChain, agentId: bigint, account: Address, roles: TestAgentRoles, wal: TraceWal, da: DAClient, headersFile: string) {
    this.chain = chain
    this.agentId = agentId
    this.account = account
    this.roles = roles
    this.wal = wal
    this.da = da
    this.headersFile = headersFile
    this.committer = new Committer({ wal, da, client: chain.as(roles.operator), agentId, headersFile, account })
  }

  static async open(chain: TestChain, p: { agentId: bigint; account: Address; roles: TestAgentRoles; da: DAClient; dir: string }): Promise<TestOperator> {
    const wal = await TraceWal.open({ dir: join(p.dir, 'wal'), agentId: p.agentId.toString() })
    const headersFile = join(p.dir, `headers-${p.agentId}.jsonl`)
    await appendFile(headersFile, '')
    return new TestOperator(chain, p.agentId, p.account, p.roles, wal, p.da, headersFile)
  }

  /** The signer key (the account's signer; it sends the execute calls and pays their gas). */
  get walletAddress(): Address {
    return this.chain.account(this.roles.wallet).address
  }

  async append(...bodies: StepBody[]): Promise<Step[]> {
    const out: Step[] = []
    for (const b of bodies) out.push((await this.wal.appendNext(b)).step)
    return out
  }

  async commit() {
    return this.committer.flush()
  }

  /** The signer's next transaction nonce (what a wallet step records as `nonce`). */
  async nextNonce(): Promise<number> {
    this.#nonce ??= await this.chain.reader.publicClient.getTransactionCount({ address: this.walletAddress, blockTag: 'pending' })
    return this.#nonce++
  }

  walletStep(actionId: string, p: { to: Address; value: bigint; data?: Hex | undefined; nonce: number; policyVersion?: number }): StepBody {
    return {
      kind: 'wallet',
      actionId,
      timestamp: 1_700_000_000_000 + p.nonce,
      chainId: this.chain.deployment.chainId.toString(),
      from: this.account.toLowerCase() as Hex,
      to: p.to.toLowerCase() as Hex,
      value: p.value.toString(),
      data: (p.data ?? '0x').toLowerCase() as Hex,
      nonce: p.nonce,
      policyVersion: p.policyVersion ?? 1,
    }
  }

  /**
   * The signer's AgentAccount.execute call for a wallet step (no receipt wait). Its gas is
   * fixed, so a call the account refuses is still sent (and reverts on chain).
   */
  async send(p: { to: Address; value: bigint; data?: Hex | undefined; nonce: number; stepIndex: number; prevHash: Hex; policyVersion?: number }): Promise<Hex> {
    const w = this.chain.as(this.roles.wallet).walletClient
    return w.writeContract({
      address: this.account,
      abi: agentAccountAbi,
      functionName: 'execute',
      args: [p.to, p.value, p.data ?? '0x', BigInt(p.stepIndex), p.prevHash, p.policyVersion ?? 1, BigInt(p.nonce)],
      nonce: p.nonce,
      gas: 400_000n,
      account: w.account,
      chain: w.chain,
    })
  }

  /**
   * One action: input, the payment's wallet step (traced before it is sent), output.
   * `send: false` records it without sending the transaction.
   */
  async pay(actionId: string, p: { to: Address; value: bigint; send?: boolean | undefined }): Promise<{ nonce: number; txHash?: Hex }> {
    const nonce = await this.nextNonce()
    const [, step] = await this.append({ kind: 'input', actionId, timestamp: 1, task: `pay ${p.value} to ${p.to}` }, this.walletStep(actionId, { ...p, nonce }))
    const txHash = p.send === false ? undefined : await this.send({ ...p, nonce, stepIndex: step!.index, prevHash: step!.prevHash as Hex })
    await this.append({ kind: 'output', actionId, timestamp: 2, result: 'paid' })
    return { nonce, ...(txHash ? { txHash } : {}) }
  }

  /** CHEAT: an account call with no trace step at all (a step index and prevHash no WAL holds). */
  async sendUntraced(p: { to: Address; value: bigint }): Promise<Hex> {
    const nonce = await this.nextNonce()
    const hash = await this.send({ ...p, nonce, stepIndex: 2 ** 40, prevHash: keccak256(toHex(`untraced ${nonce}`)) })
    await this.chain.reader.publicClient.waitForTransactionReceipt({ hash })
    return hash
  }

  /**
   * CHEAT: one action whose payment leaves no wallet step in the trace (the step was dropped
   * before commit): input, the account call made around the WAL, a tool step that records its
   * transaction, output.
   */
  async payDroppingTheWalletStep(actionId: string, p: { to: Address; value: bigint }): Promise<Hex> {
    await this.append({ kind: 'input', actionId, timestamp: 1, task: `pay ${p.value} to ${p.to}` })
    const hash = await this.sendUntraced(p)
    await this.append(
      { kind: 'tool', actionId, timestamp: 2, tool: 'pay', args: { to: p.to, value: p.value.toString() }, outcome: { status: 'ok', result: { transactions: [{ hash }] } } },
      { kind: 'output', actionId, timestamp: 3, result: 'paid' },
    )
    return hash
  }

  /** CHEAT: declares every account call covered (TraceLog.cover), whether its step is committed or not. */
  async coverEverything(): Promise<void> {
    const callCount = await this.chain.reader.publicClient.readContract({ address: this.account, abi: agentAccountAbi, functionName: 'callCount' })
    await coverCalls(this.chain.as(this.roles.operator), { agentId: this.agentId, callsCovered: callCount })
  }

  /** An inference step; `fake` replaces the claimed output (CHEAT). */
  async infer(actionId: string, inputs: number[], options: { fake?: unknown; replay?: ReplayRecord['replay']; digest?: Hex } = {}): Promise<Step> {
    const record = toyRecord(inputs, { output: options.fake, replay: options.replay, digest: options.digest })
    const [step] = await this.append({ kind: 'inference', actionId, timestamp: 3, record } as StepBody)
    return step as Step
  }

  /** An inference step with the real moderation model; `fake` records a changed output (CHEAT). */
  async classify(actionId: string, text: string, options: { fake?: boolean } = {}): Promise<Step> {
    const { record } = await (await moderationClassifier()).classify(text)
    const recorded = options.fake ? fakeTensorOutput(record as ReplayRecord, 5) : record
    const [step] = await this.append({ kind: 'inference', actionId, timestamp: 3, record: recorded } as StepBody)
    return step as Step
  }

  /**
   * The real agent runtime (src/agent) writing to this operator's WAL, with the shipped
   * moderation model. `tamper` enables the runtime's UNSAFE tamperInference hook: the
   * trace records a changed output while the agent acts on the real one.
   */
  async runtime(agent: AgentDefinition, options: { tamper?: boolean } = {}): Promise<AgentRuntime> {
    const classifier = await moderationClassifier()
    return createAgentRuntime({
      agent,
      agentId: this.agentId,
      policyVersion: 1,
      wal: this.wal,
      onnx: { infer: (input) => classifier.infer(input) as never },
      logger: pino({ level: 'silent' }),
      ...(options.tamper ? { unsafe: { tamperInference: (r: ReplayRecord) => fakeTensorOutput(r, 5) } } : {}),
    })
  }

  /** CHEAT: commits the pending WAL steps but never puts the blob on DA (it keeps it: `blob`). */
  async commitWithheld(): Promise<{ sequence: bigint; blob: Uint8Array }> {
    let kept: Uint8Array = new Uint8Array()
    const withholding: DAClient = {
      name: 'withholding',
      put: async (blob) => {
        kept = blob
        return localCommitment(blob)
      },
      get: (c) => this.da.get(c),
      health: () => this.da.health(),
    }
    const c = new Committer({ wal: this.wal, da: withholding, client: this.chain.as(this.roles.operator), agentId: this.agentId })
    const [b] = await c.flush()
    return { sequence: BigInt(b?.sequence ?? 0), blob: kept }
  }

  /**
   * CHEAT: signs a header for the next sequence over one batch (hands it out as a receipt,
   * into the headers file) and then commits a different batch for that sequence.
   */
  async equivocate(): Promise<{ sequence: bigint }> {
    const cursor = await this.wal.readCursor()
    const { steps } = await this.wal.readAll()
    const pending = steps.slice(cursor.nextIndex)
    if (pending.length < 2) throw new Error('equivocate needs at least two pending steps')
    const account = this.chain.account(this.roles.operator)
    const sequence = BigInt(cursor.nextSequence)
    // the receipt: a batch of all pending steps
    const full = { version: 1 as const, agentId: this.agentId.toString(), sequence: cursor.nextSequence, steps: pending }
    const fullCommitment = toHex(await this.da.put(encodeBatch(full)))
    const header = batchHeaderFor({ agentId: this.agentId, sequence, merkleRoot: batchRoot(full), daCommitment: fullCommitment, stepCount: pending.length })
    const signature = await signBatchHeader(account, this.chain.deployment, header)
    await appendFile(this.headersFile, `${JSON.stringify({ header, signature }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`)
    // what gets committed: only the first step
    const short = { ...full, steps: pending.slice(0, 1) }
    const shortCommitment = toHex(await this.da.put(encodeBatch(short)))
    await commitBatch(this.chain.as(this.roles.operator), {
      agentId: this.agentId,
      sequence,
      merkleRoot: batchRoot(short),
      daCommitment: shortCommitment,
      stepCount: 1,
    })
    return { sequence }
  }

  /**
   * CHEAT: commits the pending WAL steps' batch, on DA, under a Merkle root that is not the
   * batch's: the blob is available, but it can never be a valid batch (InvalidBatch).
   */
  async commitWrongRoot(): Promise<{ sequence: bigint }> {
    const cursor = await this.wal.readCursor()
    const { steps } = await this.wal.readAll()
    const pending = steps.slice(cursor.nextIndex)
    if (pending.length === 0) throw new Error('commitWrongRoot needs a pending step')
    const sequence = BigInt(cursor.nextSequence)
    const batch = { version: 1 as const, agentId: this.agentId.toString(), sequence: cursor.nextSequence, steps: pending }
    const daCommitment = toHex(await this.da.put(encodeBatch(batch)))
    await commitBatch(this.chain.as(this.roles.operator), {
      agentId: this.agentId,
      sequence,
      merkleRoot: keccak256(toHex('not the root of these steps')),
      daCommitment,
      stepCount: pending.length,
    })
    return { sequence }
  }

  async close(): Promise<void> {
    await this.committer.stop()
    await this.wal.close()
  }
}

/** The agent's manifest (src/agent) with the shipped model's digest, written to `dir/<hash>.json` for a file manifest source. */
export async function writeManifest(agent: AgentDefinition, dir: string): Promise<{ manifestHash: Hex; file: string }> {
  const built = buildManifest(agent, { modelDigests: { moderation: await moderationDigest() } })
  const file = join(dir, `${built.manifestHash}.json`)
  await writeFile(file, built.bytes)
  return { manifestHash: built.manifestHash, file }
}

// ---------------------------------------------------------------------------------------
// balances

export type Ledger = {
  bondEth: bigint
  credits: Record<string, bigint>
  burnedEth: bigint
}

/** The agent's bond, the vault credits of the given accounts and the burned total. */
export async function ledger(client: CovenantClient, agentId: bigint, accounts: readonly Address[]): Promise<Ledger> {
  const vault = client.deployment.contracts.bondVault
  const pc = client.publicClient
  const credits: Record<string, bigint> = {}
  for (const a of accounts) credits[a] = await pc.readContract({ address: vault, abi: bondVaultAbi, functionName: 'ethCredits', args: [a] })
  const burnedEth = await pc.readContract({ address: vault, abi: bondVaultAbi, functionName: 'burnedEth' })
  return { bondEth: (await getBond(client, agentId)).eth, credits, burnedEth }
}

/** How a slash of `slashed` wei splits (challenger, redistribution, burn), as BondVault computes it. */
export function slashSplit(client: CovenantClient, slashed: bigint) {
  const p = client.deployment.params
  const challenger = (slashed * BigInt(p.challengerBps)) / 10_000n
  const redistribution = (slashed * BigInt(p.redistributionBps)) / 10_000n
  return { challenger, redistribution, burned: slashed - challenger - redistribution }
}

export { keccak256, LocalDAStore }
