// bench/gas: what every on-chain operation of Covenant costs, in gas, on a fresh anvil.
//
//   npx tsx bench/gas.ts [--json] [--steps-per-action 5]
//
// Prints:
//   - deployment of each contract (and the wiring calls);
//   - register (policies with 1, 3 and 16 allowed targets), verifier register;
//   - deposit ETH and token (first deposit and top-up), request-withdraw, withdraw, claim;
//   - commit: one TraceLog.commit per batch, whatever its size — batches of 1, 2, 4 … 1,024 and 4,096
//     real trace steps (real Merkle root, the local DA store's 33-byte commitment), gas per
//     step and gas per committed action (an action of --steps-per-action steps, default 5;
//     the treasury agent writes 6);
//   - commitMany: one operator's 1,024-step batches of 1, 2, 4 and 8 agents in one transaction;
//   - commitBundle: the same batches of 1 … 64 agents as one bundle (one slot for all), and
//     openBatch (what a challenger pays to write one bundled batch's slot before a dispute);
//   - policy-breach proof (commit + reveal) for a step in each of those batches: the proof
//     grows with log2 of the batch size, so 1 and 1,024 steps bracket it;
//   - equivocation proof, dispute open for each quorum kind, verdict submission (1 and 3
//     verdicts, slash and reject), resolveExpired;
//   - the fork backstop (bench/lib/forkGas.ts, on its own chain with an escalation window):
//     decided verdict, finalize, contest, redeem, resolve (the settlement), reclaim, claim.
// Gas is deterministic for a given contract build; only the first write to a storage slot
// costs more, so "first" figures (a new agent, the first slash ever) are shown apart.
import { cpus } from 'node:os'
import { bytesToHex, decodeFunctionData, hexToBytes, keccak256, parseEther, toHex, type Abi, type Address, type Hash, type Hex } from 'viem'
import { startTestChain, type TestChain } from '../test/fixtures/chain.js'
import {
  agentAccountAbi,
  agentRegistryAbi,
  batchHeaderFor,
  getAgent,
  proveUntracedCall,
  bondVaultAbi,
  claimCredits,
  commitBatch,
  commitEvidence,
  commitBundle,
  commitMany,
  depositBond,
  getBatch,
  openBatch,
  disputeGameAbi,
  forkManagerAbi,
  increaseTime,
  answerDataWithheld,
  challengeData,
  openDispute,
  proveEquivocation,
  provePolicyBreach,
  registerAgent,
  registerVerifier,
  requestWithdraw,
  resolveExpired,
  signBatchHeader,
  signVerdict,
  submitVerdicts,
  testTokenAbi,
  traceLogAbi,
  verifierRegistryAbi,
  walletStepTuple,
  workTokenAbi,
  withdrawBond,
  type BatchHeader,
  type OpenableDisputeKind,
} from '../src/bonds/index.js'
import { localCommitment } from '../src/da/index.js'
import { encodeBatch, genesisHead, merkleProof, merkleRoot, TraceChain, type Step, type StepBody, type WalletStep } from '../src/trace/index.js'
import { forkGas } from './lib/forkGas.js'
import { flag, intOpt } from './lib/args.js'

const json = flag('--json')
const STEPS_PER_ACTION = intOpt('--steps-per-action', 5)
const TREASURY_STEPS = 6 // input, inference, wallet, tool, inference, output (bench/overhead counts them)
const SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
const log = (s: string) => {
  if (!json) process.stdout.write(`${s}\n`)
}
const fmt = (n: bigint | number) => (typeof n === 'bigint' ? n : BigInt(Math.round(n))).toLocaleString('en-US')

let chain!: TestChain
const gasOf = async (hash: Hash) => (await chain.reader.publicClient.getTransactionReceipt({ hash })).gasUsed

// Accounts: 0 deployer (+ redistribution, verdict relayer), 1 agent owner, 2 operator,
// 3 agent wallet, 4 challenger, 5-7 verifiers, 8 allowed payee, 9 off-list recipient.
async function deploymentGas() {
  const pc = chain.reader.publicClient
  const names = new Map<string, { name: string; abi: Abi }>()
  const c = chain.deployment.contracts
  for (const [name, address, abi] of [
    ['WorkToken', c.workToken, workTokenAbi],
    ['VerifierRegistry', c.verifierRegistry, verifierRegistryAbi],
    ['ForkManager', c.forkManager, forkManagerAbi],
    ['AgentRegistry', c.agentRegistry, agentRegistryAbi],
    ['TraceLog', c.traceLog, traceLogAbi],
    ['TestToken (dev bond token)', c.bondToken, testTokenAbi],
    ['BondVault', c.bondVault, bondVaultAbi],
    ['DisputeGame', c.disputeGame, disputeGameAbi],
  ] as const) {
    names.set(address.toLowerCase(), { name, abi: abi as Abi })
  }
  const out: Record<string, string> = {}
  let total = 0n
  const latest = await pc.getBlockNumber()
  for (let n = 1n; n <= latest; n++) {
    const block = await pc.getBlock({ blockNumber: n, includeTransactions: true })
    for (const tx of block.transactions) {
      const r = await pc.getTransactionReceipt({ hash: tx.hash })
      let label: string
      if (r.contractAddress) label = `deploy ${names.get(r.contractAddress.toLowerCase())?.name ?? r.contractAddress}`
      else {
        const target = names.get((tx.to ?? '').toLowerCase())
        let fn = tx.input.slice(0, 10)
        try {
          if (target) fn = decodeFunctionData({ abi: target.abi, data: tx.input }).functionName
        } catch {
          // an unknown selector keeps its hex
        }
        label = `${target?.name ?? tx.to}.${fn}`
      }
      out[label] = r.gasUsed.toString()
      total += r.gasUsed
    }
  }
  out['total'] = total.toString()
  return out
}

const policy = (targets: Address[]) => ({
  maxValuePerTx: parseEther('1'),
  // the agent account acts only with a bond covering 2 days of it (commit deadline + window)
  dailyBudget: parseEther('1'),
  challengeWindow: 3_600,
  commitDeadline: 600,
  allowedTargets: targets,
  allowedSelectors: [],
})

/**
 * Gas of agent-account calls against a bare ETH transfer of the same value from the same
 * key: the first call of an account (new slots), later calls (the median of 8), the extra
 * gas per call, a commit that declares coverage, and the on-chain proof of an untraced call.
 */
async function accountGas(agentId: bigint, payee: Address): Promise<Record<string, string>> {
  const owner = chain.as(1)
  const signer = chain.as(3).walletClient
  const account = (await getAgent(chain.reader, agentId)).account
  await depositBond(owner, { agentId, eth: parseEther('10') })
  const gasOf = async (hash: Hash) => (await chain.reader.publicClient.waitForTransactionReceipt({ hash })).gasUsed
  await gasOf(await owner.walletClient.sendTransaction({ to: account, value: parseEther('10'), account: owner.walletClient.account, chain: owner.walletClient.chain }))
  const call = async (i: number) =>
    gasOf(
      await signer.writeContract({
        address: account,
        abi: agentAccountAbi,
        functionName: 'execute',
        args: [payee, parseEther('0.001'), '0x', BigInt(1_000 + i), keccak256(toHex(`prev ${i}`)), 1, BigInt(i)],
        account: signer.account,
        chain: signer.chain,
      }),
    )
  const bare = await gasOf(await signer.sendTransaction({ to: payee, value: parseEther('0.001'), account: signer.account, chain: signer.chain }))
  const first = await call(0)
  const later: bigint[] = []
  for (let i = 1; i <= 8; i++) later.push(await call(i))
  const median = [...later].sort((a, b) => Number(a - b))[4]!
  // coverage declared with a batch: commitCovering vs a plain commit of the same size
  const operator = chain.as(2)
  const root = keccak256(toHex('account batch'))
  const covering = await commitBatch(operator, { agentId, sequence: 0n, merkleRoot: root, daCommitment: toHex(new Uint8Array(33).fill(1)), stepCount: 4, callsCovered: 9 })
  // one more call, never covered: proven on chain past its deadline
  await call(9)
  await increaseTime(chain.reader.publicClient, 601)
  const proof = await proveUntracedCall(chain.as(4), { agentId, callSequence: 9 })
  return {
    'bare ETH transfer (same key, same value)': bare.toString(),
    'execute, first call of an account': first.toString(),
    'execute, later calls (median of 8)': median.toString(),
    'extra gas per call over the bare transfer': (median - bare).toString(),
    'commitCovering (first batch, 9 calls covered)': covering.gasUsed.toString(),
    'proveUntracedCall (commit + reveal, slash)': proof.gasUsed.toString(),
  }
}

function fakeAddresses(n: number): Address[] {
  return Array.from({ length: n }, (_, i) => `0x${(0xbe9c0000 + i).toString(16).padStart(40, '0')}` as Address)
}

async function main() {
  chain = await startTestChain()
  const owner = chain.as(1)
  const operator = chain.as(2)
  const challenger = chain.as(4)
  const wallet = chain.account(3).address
  const payee = chain.account(8).address
  const offList = chain.account(9).address
  const result: Record<string, unknown> = {}

  log(`bench/gas — fresh anvil, ${cpus().length} cores; gas does not depend on the machine`)
  result['deployment'] = await deploymentGas()
  log('\ndeployment')
  for (const [k, v] of Object.entries(result['deployment'] as Record<string, string>)) log(`  ${k.padEnd(44)} ${fmt(BigInt(v)).padStart(11)}`)

  // --- verifiers and registration
  const verifierGas: bigint[] = []
  for (const i of [5, 6, 7]) verifierGas.push(await gasOf((await registerVerifier(chain.as(i))).hash))
  const register: Record<string, string> = {}
  const reg = async (targets: Address[], label?: string) => {
    const r = await registerAgent(owner, {
      operator: chain.account(2).address,
      wallet,
      manifestHash: keccak256(toHex(`manifest-${targets.length}-${Math.random()}`)),
      modelDigests: [keccak256(toHex('covenant-chat'))],
      policy: policy(targets),
    })
    register[label ?? `${targets.length} allowed target${targets.length === 1 ? '' : 's'}`] = r.gasUsed.toString()
    return r.agentId
  }
  await reg([payee], 'the first agent ever (1 target)') // counters from zero: shown apart
  const withdrawer = await reg([payee])
  const agentId = await reg([payee, ...fakeAddresses(2)]) // the agent everything below runs on
  await reg([payee, ...fakeAddresses(15)])
  log('\nregistration (one model digest, no selectors)')
  for (const [k, v] of Object.entries(register)) log(`  register, ${k.padEnd(33)} ${fmt(BigInt(v)).padStart(11)}`)
  log(`  verifier register (stake 1 CVW; approve apart) ${fmt(verifierGas[1]!).padStart(8)}`)

  // --- bonds
  const deposit: Record<string, string> = {}
  const TOKEN = 10n ** 24n // large, so a dozen halvings never empty the bond (a zeroed slot changes gas)
  await owner.walletClient.writeContract({ address: chain.deployment.contracts.bondToken, abi: testTokenAbi, functionName: 'mint', args: [chain.account(1).address, 4n * TOKEN] })
  deposit['ETH, first deposit'] = (await depositBond(owner, { agentId, eth: parseEther('10') })).gasUsed.toString()
  deposit['ETH, top-up'] = (await depositBond(owner, { agentId, eth: parseEther('1') })).gasUsed.toString()
  const tok = await depositBond(owner, { agentId, token: TOKEN })
  deposit['token approve'] = (await gasOf(tok.hashes[0]!)).toString()
  deposit['token, first deposit (depositToken)'] = (await gasOf(tok.hashes[1]!)).toString()
  const tok2 = await depositBond(owner, { agentId, token: TOKEN })
  deposit['token, top-up (depositToken)'] = (await gasOf(tok2.hashes[1]!)).toString()
  await depositBond(owner, { agentId: withdrawer, eth: parseEther('1') })
  log('\nbond deposits')
  for (const [k, v] of Object.entries(deposit)) log(`  ${k.padEnd(44)} ${fmt(BigInt(v)).padStart(11)}`)

  // --- the agent account: one execute call per payment (issue 10's goal: <= 30k over a bare transfer)
  result['account'] = await accountGas(await reg([payee], '1 allowed target (account figures)'), payee)
  log('\nagent account (AgentAccount.execute, signed by the session key; a 0.001 ETH payment to an allowed target)')
  for (const [k, v] of Object.entries(result['account'] as Record<string, string>)) log(`  ${k.padEnd(44)} ${fmt(BigInt(v)).padStart(11)}`)

  // --- commits: real steps, real roots, the local DA commitment
  const trace = new TraceChain(genesisHead(agentId.toString()))
  let nonce = 0
  let sequence = 0n
  const filler = (i: number): StepBody => {
    const actionId = `a-${Math.floor(i / 4)}`
    const t = 1_700_000_000_000 + i
    switch (i % 4) {
      case 0:
        return { kind: 'input', actionId, timestamp: t, task: `Invoice INV-${i}: pay 0.001 ETH to ${payee}` }
      case 1:
        return { kind: 'tool', actionId, timestamp: t, tool: 'lookup', args: { invoice: `INV-${i}` }, outcome: { status: 'ok', result: { ok: true } } }
      case 2:
        return walletBody(actionId, t, payee, parseEther('0.001'))
      default:
        return { kind: 'output', actionId, timestamp: t, result: { status: 'ok', output: `Paid INV-${i}.` } }
    }
  }
  function walletBody(actionId: string, timestamp: number, to: Address, value: bigint): StepBody {
    return {
      kind: 'wallet',
      actionId,
      timestamp,
      chainId: String(chain.deployment.chainId),
      from: wallet.toLowerCase() as Hex,
      to: to.toLowerCase() as Hex,
      value: value.toString(),
      data: '0x',
      nonce: nonce++,
      policyVersion: 1,
    }
  }
  type Committed = { sequence: bigint; steps: Step[]; leaves: Hex[]; gas: bigint; header: BatchHeader; blob: Uint8Array; daCommitment: Hex }
  /** A batch of `n` steps whose last step pays off the allowlist (what the breach proofs prove). */
  async function commitOne(n: number, daCommitment?: Hex): Promise<Committed> {
    const steps: Step[] = []
    const leaves: Hex[] = []
    for (let i = 0; i < n; i++) {
      const body = i === n - 1 ? walletBody(`breach-${sequence}`, 1_700_000_000_000 + i, offList, parseEther('0.5')) : filler(i)
      const { step, leaf } = trace.append(body)
      steps.push(step)
      leaves.push(leaf)
    }
    const blob = encodeBatch({ version: 1, agentId: agentId.toString(), sequence: Number(sequence), steps })
    const commitment = daCommitment ?? bytesToHex(localCommitment(blob))
    const root = merkleRoot(leaves)
    // a new second, as between real commits (in the same second one storage write is skipped)
    await increaseTime(chain.reader.publicClient, 1)
    const r = await commitBatch(operator, { agentId, sequence, merkleRoot: root, daCommitment: commitment, stepCount: n })
    const header = batchHeaderFor({ agentId, sequence, merkleRoot: root, daCommitment: commitment, stepCount: n })
    return { sequence: sequence++, steps, leaves, gas: r.gasUsed, header, blob, daCommitment: commitment }
  }
  const first = await commitOne(2)
  const batches: Committed[] = []
  for (const n of SIZES) batches.push(await commitOne(n))
  const big = await commitOne(64, toHex(new Uint8Array(1024).fill(0xab)))
  const commitRows = batches.map((b) => {
    const n = b.steps.length
    return {
      steps: n,
      gas: b.gas.toString(),
      gasPerStep: Math.round(Number(b.gas) / n),
      [`gasPerAction_${STEPS_PER_ACTION}steps`]: Math.round((Number(b.gas) * STEPS_PER_ACTION) / n),
      gasPerAction_treasury6steps: Math.round((Number(b.gas) * TREASURY_STEPS) / n),
    }
  })
  result['commit'] = {
    daCommitmentBytes: 33,
    firstCommitOfAnAgent: first.gas.toString(),
    batches: commitRows,
    with1KiBDaCommitment_64steps: big.gas.toString(),
    stepsPerAction: STEPS_PER_ACTION,
    ethTransferForReference: '21000',
  }
  log('\ncommit (TraceLog.commit: one call per batch, 33-byte local DA commitment)')
  log(`  first commit of an agent (storage from zero)  ${fmt(first.gas).padStart(9)}`)
  log(`  ${'steps'.padStart(6)} ${'commit gas'.padStart(11)} ${'gas/step'.padStart(9)} ${`gas/action (${STEPS_PER_ACTION} steps)`.padStart(22)} ${'gas/action (treasury, 6)'.padStart(25)}`)
  for (const r of commitRows) {
    log(
      `  ${String(r.steps).padStart(6)} ${fmt(BigInt(r.gas)).padStart(11)} ${fmt(r.gasPerStep).padStart(9)} ${fmt(r[`gasPerAction_${STEPS_PER_ACTION}steps`] as number).padStart(22)} ${fmt(r.gasPerAction_treasury6steps).padStart(25)}`,
    )
  }
  log(`  a 1 KiB DA commitment instead of 33 bytes (64 steps): ${fmt(big.gas)} (the event carries the commitment)`)
  log('  for scale: the ETH transfer an action pays with costs 21,000')

  // --- commitMany: one operator's batches of several agents in one transaction (each agent
  // has committed before, as a running operator's agents have)
  const manyAgents: bigint[] = []
  for (let i = 0; i < 64; i++) {
    const r = await registerAgent(owner, {
      operator: chain.account(2).address,
      wallet,
      manifestHash: keccak256(toHex(`many-${i}`)),
      modelDigests: [keccak256(toHex('covenant-chat'))],
      policy: policy([payee]),
    })
    manyAgents.push(r.agentId)
  }
  const manyBatch = (id: bigint, seq: bigint) => ({
    agentId: id,
    sequence: seq,
    merkleRoot: keccak256(toHex(`many-${id}-${seq}`)),
    daCommitment: bytesToHex(localCommitment(new TextEncoder().encode(`many-${id}-${seq}`))),
    stepCount: 1024,
  })
  await increaseTime(chain.reader.publicClient, 1)
  await commitMany(operator, manyAgents.map((id) => manyBatch(id, 0n))) // first commits: storage from zero
  const manyNext = new Map(manyAgents.map((id) => [id, 1n]))
  const manyRows: Record<string, string> = {}
  const nextOf = (ids: bigint[]) => ids.map((id) => {
    const seq = manyNext.get(id)!
    manyNext.set(id, seq + 1n)
    return manyBatch(id, seq)
  })
  for (const n of [1, 2, 4, 8]) {
    await increaseTime(chain.reader.publicClient, 1)
    const r = await commitMany(operator, nextOf(manyAgents.slice(0, n)))
    manyRows[`${n} agents`] = r.gasUsed.toString()
  }
  result['commitMany'] = manyRows
  const bundleRows: Record<string, string> = {}
  const BUNDLE_SIZES = [1, 2, 4, 8, 16, 32, 64]
  let bundleOpen: { agents: number; leaves: number; gas: string } | undefined
  for (const n of BUNDLE_SIZES) {
    await increaseTime(chain.reader.publicClient, 1)
    const list = nextOf(manyAgents.slice(0, n))
    const r = await commitBundle(operator, list)
    bundleRows[`${n} agents`] = r.gasUsed.toString()
    if (n === 8) {
      // what a challenger pays to open one of them (its record into its own slot)
      const b = await getBatch(chain.reader, list[3]!.agentId, list[3]!.sequence)
      const o = await openBatch(challenger, b!)
      bundleOpen = { agents: n, leaves: r.leaves.length, gas: o!.gasUsed.toString() }
    }
  }
  result["commitBundle"] = { ...bundleRows, openBatch: bundleOpen }
  const perAction = (gas: string, n: number) => (Number(gas) / n) * STEPS_PER_ACTION / 1024
  const table = (title: string, rows: Record<string, string>) => {
    log(`\n${title}`)
    log(`  ${'agents'.padStart(6)} ${'gas'.padStart(11)} ${'gas/batch'.padStart(10)} ${`gas/action (${STEPS_PER_ACTION} steps)`.padStart(22)}`)
    for (const [k, v] of Object.entries(rows)) {
      const n = Number(k.split(' ')[0])
      log(`  ${String(n).padStart(6)} ${fmt(BigInt(v)).padStart(11)} ${fmt(Number(v) / n).padStart(10)} ${fmt(perAction(v, n)).padStart(22)}`)
    }
  }
  table('commitMany (one operator, one 1,024-step batch for each of n agents in one transaction)', manyRows)
  table('commitBundle (the same, as one bundle: one slot for all n batches)', bundleRows)
  log(`  openBatch (one batch of the ${bundleOpen!.agents}-batch bundle, by a challenger before a dispute): ${fmt(BigInt(bundleOpen!.gas))}`)

  // --- policy-breach proofs (commit + reveal), one per batch size; claim between them so
  // every proof finds the challenger's credit at zero, as a new challenger would
  const claims: bigint[] = []
  const claim = async () => claims.push(await gasOf((await claimCredits(challenger)).hash))
  const prove = async (b: Committed) => {
    const i = b.steps.length - 1
    const proof = merkleProof(b.leaves, i)
    const r = await provePolicyBreach(challenger, { step: walletStepTuple(b.steps[i] as WalletStep), sequence: b.sequence, proof })
    if (r.breach !== 'TargetNotAllowed') throw new Error(`expected TargetNotAllowed, got ${r.breach}`)
    await claim()
    return { steps: b.steps.length, proofLength: proof.length, gas: r.gasUsed.toString() }
  }
  const firstProof = await prove(first)
  const proofs = []
  for (const b of batches) proofs.push(await prove(b))
  const evidenceOnly = (await commitEvidence(chain.as(9), keccak256(toHex('evidence')))).gasUsed
  result['policyBreach'] = { firstSlashEver: firstProof.gas, commitEvidenceAlone: evidenceOnly.toString(), bySize: proofs }
  log('\npolicy-breach proof (commitEvidence + provePolicyBreach; slash and payouts in the same transaction)')
  log(`  first slash ever (payout counters from zero)  ${fmt(BigInt(firstProof.gas)).padStart(9)}`)
  log(`  commitEvidence alone (the commit half)        ${fmt(evidenceOnly).padStart(9)}`)
  log(`  ${'steps'.padStart(6)} ${'proof length'.padStart(13)} ${'gas'.padStart(10)}`)
  for (const p of proofs) log(`  ${String(p.steps).padStart(6)} ${String(p.proofLength).padStart(13)} ${fmt(BigInt(p.gas)).padStart(10)}`)

  // --- equivocation: a second header signed for a committed sequence; and two signed headers
  const opAccount = chain.account(2)
  const other = (h: BatchHeader, tag: string): BatchHeader => ({ ...h, merkleRoot: keccak256(toHex(tag)) })
  const b1 = batches[0]!
  const forged = other(b1.header, 'other-1')
  const eq1 = await proveEquivocation(challenger, { a: forged, sigA: await signBatchHeader(opAccount, chain.deployment, forged), b: b1.header })
  await claim()
  const b2 = batches[1]!
  const x = other(b2.header, 'x')
  const y = other(b2.header, 'y')
  const eq2 = await proveEquivocation(challenger, {
    a: x,
    sigA: await signBatchHeader(opAccount, chain.deployment, x),
    b: y,
    sigB: await signBatchHeader(opAccount, chain.deployment, y),
  })
  await claim()
  result['equivocation'] = { againstTheCommittedBatch: eq1.gasUsed.toString(), twoSignedHeaders: eq2.gasUsed.toString() }
  log('\nequivocation proof (commit + reveal; slash in the same transaction)')
  log(`  a signed header vs the committed batch        ${fmt(eq1.gasUsed).padStart(9)}`)
  log(`  two signed headers (neither committed)        ${fmt(eq2.gasUsed).padStart(9)}`)

  // --- quorum disputes
  const untraced = await chain.as(3).walletClient.sendTransaction({ to: payee, value: 1n })
  const targets: Record<OpenableDisputeKind, { sequence?: bigint; stepIndex?: number; subject?: Hex }> = {
    InferenceFraud: { sequence: batches[2]!.sequence, stepIndex: 0 },
    InvalidBatch: { sequence: batches[3]!.sequence },
    UntracedAction: { subject: untraced },
    SubjectiveClaim: { sequence: batches[4]!.sequence, stepIndex: 0, subject: keccak256(toHex('the market resolved wrongly')) },
    // whole-action replay: the first step the agent's registered code does not produce
    TraceMismatch: { sequence: batches[2]!.sequence, stepIndex: 0 },
  }
  const opened: Record<string, bigint> = {}
  const disputeGas: Record<string, string> = {}
  for (const [kind, t] of Object.entries(targets) as [OpenableDisputeKind, (typeof targets)[OpenableDisputeKind]][]) {
    const r = await openDispute(challenger, { kind, agentId, ...t })
    opened[kind] = r.disputeId
    disputeGas[kind] = r.gasUsed.toString()
  }
  result['openDispute'] = disputeGas
  log('\ndispute open (commitEvidence + openDispute with the challenger bond)')
  for (const [k, v] of Object.entries(disputeGas)) log(`  ${k.padEnd(44)} ${fmt(BigInt(v)).padStart(9)}`)

  // --- verdicts (quorum 66.67% of equal stakes: all three needed)
  const sign = (i: number, disputeId: bigint, agentAtFault: boolean) => signVerdict(chain.account(i), chain.deployment, { disputeId, agentAtFault })
  const relayer = chain.as(0)
  const inf = opened['InferenceFraud']!
  const v1 = await submitVerdicts(relayer, { disputeId: inf, verdicts: [await sign(5, inf, true)] })
  const v2 = await submitVerdicts(relayer, { disputeId: inf, verdicts: [await sign(6, inf, true)] })
  const v3 = await submitVerdicts(relayer, { disputeId: inf, verdicts: [await sign(7, inf, true)] })
  if (v3.status !== 'Slashed') throw new Error(`expected Slashed, got ${v3.status}`)
  const dw = opened['InvalidBatch']!
  const v3slash = await submitVerdicts(relayer, { disputeId: dw, verdicts: await Promise.all([5, 6, 7].map((i) => sign(i, dw, true))) })
  if (v3slash.status !== 'Slashed') throw new Error(`expected Slashed, got ${v3slash.status}`)
  const sc = opened['SubjectiveClaim']!
  const v3reject = await submitVerdicts(relayer, { disputeId: sc, verdicts: await Promise.all([5, 6, 7].map((i) => sign(i, sc, false))) })
  if (v3reject.status !== 'Rejected') throw new Error(`expected Rejected, got ${v3reject.status}`)
  await claim()
  const verdicts = {
    '1 verdict, no quorum yet': v1.gasUsed.toString(),
    '1 verdict, still no quorum (2 of 3)': v2.gasUsed.toString(),
    '1 verdict that reaches quorum (slash + payouts)': v3.gasUsed.toString(),
    '3 verdicts in one call, slash': v3slash.gasUsed.toString(),
    '3 verdicts in one call, reject (bond to owner)': v3reject.gasUsed.toString(),
  }
  result['submitVerdicts'] = verdicts
  log('\nverdict submission (EIP-712 votes relayed in one transaction)')
  for (const [k, v] of Object.entries(verdicts)) log(`  ${k.padEnd(48)} ${fmt(BigInt(v)).padStart(9)}`)

  // --- DataWithheld settled by evidence (local commitments): one answered with the blob, one not
  const answered = batches[5]!
  const silent = batches[6]!
  const dwAnswered = await challengeData(challenger, { agentId, sequence: answered.sequence, daCommitment: hexToBytes(answered.daCommitment) })
  const dwSilent = await challengeData(challenger, { agentId, sequence: silent.sequence, daCommitment: hexToBytes(silent.daCommitment) })
  const answer = await answerDataWithheld(relayer, { disputeId: dwAnswered.disputeId, blob: answered.blob, subject: dwAnswered.subject })

  // --- expiry: nobody voted on the untraced-action dispute; nobody answered the second DataWithheld
  await increaseTime(chain.reader.publicClient, chain.deployment.params.disputePeriod + 1)
  const ex = await resolveExpired(challenger, { disputeId: opened['UntracedAction']! })
  const exDw = await resolveExpired(challenger, { disputeId: dwSilent.disputeId })
  await claim()
  result['dataWithheld'] = {
    'challengeData (commit + reveal, bond)': dwAnswered.gasUsed.toString(),
    [`answerDataWithheld (blob of ${answered.steps.length} steps, ${answered.blob.length} B)`]: answer.gasUsed.toString(),
    'resolveExpired, unanswered (slash)': exDw.gasUsed.toString(),
  }
  log('\nDataWithheld settled by evidence (local commitment; no vote)')
  for (const [k, v] of Object.entries(result['dataWithheld'] as Record<string, string>)) log(`  ${k.padEnd(48)} ${fmt(BigInt(v)).padStart(9)}`)

  // --- withdrawal on the agent that never committed
  const req = await gasOf((await requestWithdraw(owner, { agentId: withdrawer, eth: parseEther('1') })).hash)
  await increaseTime(chain.reader.publicClient, chain.deployment.params.unbondingDelay + 1)
  const wd = await gasOf((await withdrawBond(owner, { agentId: withdrawer })).hash)
  const claimMedian = [...claims].sort((a, b) => Number(a - b))[Math.floor(claims.length / 2)]!
  result['other'] = {
    resolveExpired: ex.gasUsed.toString(),
    requestWithdraw: req.toString(),
    withdraw: wd.toString(),
    'claim (ETH + token credits, median)': claimMedian.toString(),
    'claim (ETH credits only)': claims.at(-1)!.toString(),
    verifierRegister: verifierGas[1]!.toString(),
  }
  log('\nother')
  for (const [k, v] of Object.entries(result['other'] as Record<string, string>)) log(`  ${k.padEnd(44)} ${fmt(BigInt(v)).padStart(9)}`)
  result['register'] = register
  result['deposit'] = deposit

  // --- the fork backstop, on its own chain (verdicts there wait out an escalation window)
  result['fork'] = await forkGas()
  log('\nfork backstop (escalation window on: contest, fork, redeem, settlement)')
  for (const [k, v] of Object.entries(result['fork'] as Record<string, string>)) log(`  ${k.padEnd(70)} ${fmt(BigInt(v)).padStart(9)}`)

  const row = (n: number) => commitRows.find((r) => r.steps === n)!
  result['headline'] = {
    stepsPerAction: STEPS_PER_ACTION,
    gasPerCommittedAction: {
      batch1: row(1)[`gasPerAction_${STEPS_PER_ACTION}steps`],
      batch64: row(64)[`gasPerAction_${STEPS_PER_ACTION}steps`],
      batch1024: row(1024)[`gasPerAction_${STEPS_PER_ACTION}steps`],
      batch4096: row(4096)[`gasPerAction_${STEPS_PER_ACTION}steps`],
      // one operator's agents' 1,024-step batches committed as one bundle
      bundled1024: Object.fromEntries(BUNDLE_SIZES.map((n) => [`agents${n}`, Math.round(perAction(bundleRows[`${n} agents`]!, n))])),
    },
    commitGas: row(64).gas,
    policyBreachProof: { steps1: proofs[0]!.gas, steps1024: proofs.find((p) => p.steps === 1024)!.gas, steps4096: proofs.find((p) => p.steps === 4096)!.gas },
  }
  return result
}

try {
  const result = await main()
  if (json) process.stdout.write(`${JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: cpus().length }, ...result }, null, 2)}\n`)
} finally {
  await chain?.stop()
}
