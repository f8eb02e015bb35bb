import type { Command } from 'commander'
import { formatEther, parseEther, toHex, type Hex } from 'viem'
import { createPublicClient, createWalletClient, http, type PublicClient } from 'viem'
import { printResult, progress, type GlobalOptions } from '../output.js'
import {
  chainFor,
  commitBatch,
  createCovenantClient,
  deployCovenant,
  depositBond,
  getBond,
  provePolicyBreach,
  registerAgent,
  startAnvil,
  walletStepTuple,
  withAccount,
} from '../../bonds/index.js'
import { TraceChain, genesisHead, merkleProof, merkleRoot, type WalletStep } from '../../trace/index.js'

type DemoOptions = GlobalOptions & { keep?: boolean }

/**
 * `covenant demo`: the on-chain half of the story on a fresh local chain — register an
 * agent, bond it, commit a trace batch holding a payment its policy forbids, prove the
 * breach and slash the bond, with balances before and after.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('run the Covenant story on embedded defaults (local anvil chain)')
    .option('--keep', 'keep the chain running until Ctrl-C')
    .action(async (_opts, cmd: Command) => {
      const options = cmd.optsWithGlobals<DemoOptions>()
      const summary = await runDemo(options)
      printResult(summary, options, (s) =>
        [
          '',
          `agent #${s.agentId}: bond ${s.bondBefore} ETH → ${s.bondAfter} ETH after a ${s.breach} breach`,
          `challenger credited ${s.challengerReward} ETH; slashed ${s.slashed} ETH in total`,
          `gas: commit ${s.gas.commit}, proof (commit + reveal) ${s.gas.proof}`,
        ].join('\n'),
      )
    })
}

export async function runDemo(options: DemoOptions) {
  progress('starting a local chain (anvil)…')
  const anvil = await startAnvil()
  try {
    const chain = chainFor(anvil.rpcUrl, anvil.chainId)
    const [deployer, owner, operator, wallet, challenger, payee, stranger] = anvil.accounts as [typeof anvil.accounts[0], ...typeof anvil.accounts]
    const deployment = await deployCovenant({
      publicClient: createPublicClient({ chain, transport: http(anvil.rpcUrl) }) as PublicClient,
      walletClient: createWalletClient({ chain, transport: http(anvil.rpcUrl), account: deployer }),
      onProgress: (m) => progress(`  ${m}`),
    })
    const reader = createCovenantClient({ rpcUrl: anvil.rpcUrl, deployment })
    progress(`chain ${anvil.rpcUrl} · contracts deployed`)

    const { agentId } = await registerAgent(withAccount(reader, owner!), {
      operator: operator!.address,
      wallet: wallet!.address,
      manifestHash: toHex('demo-agent-manifest', { size: 32 }),
      policy: {
        maxValuePerTx: parseEther('1'),
        challengeWindow: 3_600,
        commitDeadline: 600,
        allowedTargets: [payee!.address],
        allowedSelectors: [],
      },
    })
    progress(`registered agent #${agentId}: max 1 ETH per tx, may pay only ${payee!.address}`)
    await depositBond(withAccount(reader, owner!), { agentId, eth: parseEther('10') })
    const bondBefore = await getBond(reader, agentId)
    progress(`bonded ${formatEther(bondBefore.eth)} ETH`)

    const trace = new TraceChain(genesisHead(agentId.toString()))
    const leaves: Hex[] = []
    const steps = [
      { kind: 'input', actionId: 'demo-1', timestamp: Date.now(), task: 'pay the open invoices' },
      payStep(wallet!.address, payee!.address, parseEther('0.5'), 0),
      payStep(wallet!.address, stranger!.address, parseEther('0.8'), 1),
      { kind: 'output', actionId: 'demo-1', timestamp: Date.now(), result: 'paid 2 invoices' },
    ] as const
    const committed = steps.map((b) => {
      const r = trace.append(b as never)
      leaves.push(r.leaf)
      return r.step
    })
    const commit = await commitBatch(withAccount(reader, operator!), {
      agentId,
      sequence: 0n,
      merkleRoot: merkleRoot(leaves),
      daCommitment: toHex('local-demo-blob'),
      stepCount: committed.length,
    })
    progress(`operator committed batch 0 (${committed.length} steps, root ${merkleRoot(leaves).slice(0, 10)}…)`)
    progress('step 2 pays a recipient off the allowlist — a challenger proves it on chain…')
    const proof = await provePolicyBreach(withAccount(reader, challenger!), {
      step: walletStepTuple(committed[2] as WalletStep),
      sequence: 0n,
      proof: merkleProof(leaves, 2),
    })
    const bondAfter = await getBond(reader, agentId)
    const challengerReward = (proof.slashedEth * BigInt(deployment.params.challengerBps)) / 10_000n
    progress(`slashed ${formatEther(proof.slashedEth)} ETH (${proof.breach})`)
    if (options.keep) {
      progress(`chain stays up at ${anvil.rpcUrl}; Ctrl-C to stop`)
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
    }
    return {
      rpcUrl: anvil.rpcUrl,
      agentId,
      breach: proof.breach,
      bondBefore: formatEther(bondBefore.eth),
      bondAfter: formatEther(bondAfter.eth),
      slashed: formatEther(proof.slashedEth),
      challengerReward: formatEther(challengerReward),
      gas: { commit: commit.gasUsed, proof: proof.gasUsed },
    }
  } finally {
    await anvil.stop()
  }
}

function payStep(from: Hex, to: Hex, value: bigint, nonce: number) {
  return {
    kind: 'wallet',
    actionId: 'demo-1',
    timestamp: Date.now(),
    chainId: '31337',
    from: from.toLowerCase(),
    to: to.toLowerCase(),
    value: value.toString(),
    data: '0x',
    nonce,
    policyVersion: 1,
  }
}
