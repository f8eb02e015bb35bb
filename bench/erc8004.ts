// bench/erc8004: what the ERC-8004 registries cost, in gas, on a fresh anvil.
//
//   npx tsx bench/erc8004.ts [--json]
//
// Prints the deployment of the three registries, a Covenant agent's identity as
// `covenant deploy` makes it (register with the `covenant` metadata, setAgentURI with the
// on-chain registration file, setAgentWallet proven through the AgentAccount's ERC-1271),
// a validation request and a validator's responses, and a piece of feedback.
// Gas is deterministic for a given contract build.
import { parseEther, stringToBytes, toHex, type Hash } from 'viem'
import { startTestChain } from '../test/fixtures/chain.js'
import {
  deployErc8004,
  registerAgent,
  registerCovenantIdentity,
  reputationRegistryAbi,
  requestValidation,
  respondToValidation,
  VALIDATION_TAGS,
} from '../src/bonds/index.js'
import { flag } from './lib/args.js'

const json = flag('--json')
const chain = await startTestChain({}, { accounts: 6 })
const figures: Record<string, number> = {}
const pc = chain.reader.publicClient
const gasOf = async (hash: Hash) => Number((await pc.waitForTransactionReceipt({ hash })).gasUsed)

try {
  // the registries, deployed once more to measure them on their own
  const deployer = chain.as(0)
  const before = await pc.getBlockNumber()
  await deployErc8004({ publicClient: pc, walletClient: deployer.walletClient })
  for (let b = before + 1n; b <= (await pc.getBlockNumber()); b++) {
    const block = await pc.getBlock({ blockNumber: b, includeTransactions: true })
    for (const tx of block.transactions) {
      const r = await pc.getTransactionReceipt({ hash: tx.hash })
      const name = ['IdentityRegistry', 'ReputationRegistry', 'ValidationRegistry'][Number(b - before - 1n)] ?? 'other'
      figures[`deploy ${name}`] = Number(r.gasUsed)
    }
  }

  const owner = chain.as(1)
  const { agentId } = await registerAgent(owner, {
    operator: chain.account(2).address,
    wallet: chain.account(3).address,
    manifestHash: toHex('bench manifest', { size: 32 }),
    policy: { maxValuePerTx: parseEther('1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
  })
  const hashes: Hash[] = []
  const start = await pc.getBlockNumber()
  const r = await registerCovenantIdentity(owner, {
    agentId,
    name: 'treasury',
    description: 'Covenant agent treasury: bonded, every step committed to DA, faults disputable.',
    manifestHash: toHex('bench manifest', { size: 32 }),
    manifestCommitment: `0xc0${'ab'.repeat(32)}`,
  })
  for (let b = start + 1n; b <= (await pc.getBlockNumber()); b++) {
    for (const tx of (await pc.getBlock({ blockNumber: b, includeTransactions: true })).transactions) hashes.push(tx.hash)
  }
  const steps = ['register (with the covenant metadata)', `setAgentURI (registration file as a data: URI, ${r.agentURI.length} characters)`, 'setAgentWallet (EIP-712, the AgentAccount answers ERC-1271)']
  for (const [i, h] of hashes.entries()) figures[`identity: ${steps[i] ?? `tx ${i}`}`] = await gasOf(h)
  figures['identity: all three'] = Number(r.gasUsed)
  figures['agentURI characters'] = r.agentURI.length

  const validator = chain.as(4)
  const req = await requestValidation(owner, { agentId: r.erc8004AgentId, actionId: `${agentId}-000000000001`, validator: validator.walletClient.account.address })
  figures['validationRequest'] = Number(req.gasUsed)
  figures['validationResponse (first: soft 100)'] = Number((await respondToValidation(validator, { requestHash: req.requestHash, response: 100, responseURI: `covenant:action/${agentId}-000000000001`, tag: VALIDATION_TAGS.soft })).gasUsed)
  figures['validationResponse (update: final)'] = Number((await respondToValidation(validator, { requestHash: req.requestHash, response: 100, responseURI: `covenant:action/${agentId}-000000000001`, tag: VALIDATION_TAGS.final })).gasUsed)
  figures['validationResponse (final 0 naming a dispute)'] = Number((await respondToValidation(validator, { requestHash: req.requestHash, response: 0, responseURI: 'covenant:dispute/12', tag: VALIDATION_TAGS.final })).gasUsed)

  const client = chain.as(5)
  const { request } = await pc.simulateContract({
    account: client.walletClient.account,
    address: chain.deployment.erc8004!.reputationRegistry,
    abi: reputationRegistryAbi,
    functionName: 'giveFeedback',
    args: [r.erc8004AgentId, 87n, 0, 'starred', '', '', 'ipfs://feedback', toHex(stringToBytes('x'), { size: 32 })],
  })
  figures['giveFeedback (first from a client)'] = await gasOf(await client.walletClient.writeContract(request))
} finally {
  await chain.stop()
}

if (json) process.stdout.write(`${JSON.stringify({ erc8004: figures }, null, 2)}\n`)
else for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(72)} ${v.toLocaleString('en')}\n`)
