/**
 * ERC-8004 on the dev chain, read by a client written against the standard's text alone:
 * viem and the function and event signatures of ERCS/erc-8004.md (below), not Covenant's
 * bindings. It reads a deployed Covenant agent's identity (owner, agentURI → registration
 * file → the manifest on DA, agentWallet → the AgentAccount), requests validations of the
 * agent's actions as any owner would, and reads the answers of a running Covenant verifier:
 * 100 for an honest action (soft, then final once no dispute can change it), and a dispute's
 * outcome as a final 0 naming the dispute. A rogue identity that names an honest agent's
 * action is never answered.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPublicClient,
  createWalletClient,
  getAddress,
  http,
  keccak256,
  parseAbi,
  parseEther,
  parseEventLogs,
  stringToBytes,
  toFunctionSelector,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem'
import { startTestChain, type TestChain } from '../fixtures/chain.js'
import { getAgent, getBond, getDispute, registerCovenantIdentity, registerVerifier } from '../../src/bonds/index.js'
import { increaseTime } from '../../src/bonds/devTime.js'
import { LocalDAStore } from '../../src/da/index.js'
import { defineAgent } from '../../src/agent/index.js'
import { deployAgent, DEV_FUNDING } from '../../src/service/deployAgent.js'
import { VerifierNode, type VerifierEvent } from '../../src/verify/index.js'
import { localReplayer } from '../../src/verify/replayers.js'
import { createTestAgent, ETH, moderationDigest, tempDir, TOY_MODEL_DIGEST, type TestAgent } from '../../src/verify/_testing.js'
import { recordVerifierEvents, type VerifierEventLog } from '../fixtures/verifierEvents.js'

// ------------------------------------------------------------------ the spec client's ABI
// Copied from the standard's text (Identity, Reputation and Validation registries).
const identityAbi = parseAbi([
  'function ownerOf(uint256 tokenId) view returns (address)',
  'function tokenURI(uint256 tokenId) view returns (string)',
  'function register(string agentURI) returns (uint256 agentId)',
  'function getMetadata(uint256 agentId, string metadataKey) view returns (bytes)',
  'function getAgentWallet(uint256 agentId) view returns (address)',
  'event Registered(uint256 indexed agentId, string agentURI, address indexed owner)',
])
const reputationAbi = parseAbi([
  'function getIdentityRegistry() view returns (address identityRegistry)',
  'function giveFeedback(uint256 agentId, int128 value, uint8 valueDecimals, string tag1, string tag2, string endpoint, string feedbackURI, bytes32 feedbackHash)',
  'function getSummary(uint256 agentId, address[] clientAddresses, string tag1, string tag2) view returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)',
])
const validationAbi = parseAbi([
  'function getIdentityRegistry() view returns (address identityRegistry)',
  'function validationRequest(address validatorAddress, uint256 agentId, string requestURI, bytes32 requestHash)',
  'function getValidationStatus(bytes32 requestHash) view returns (address validatorAddress, uint256 agentId, uint8 response, bytes32 responseHash, string tag, uint256 lastUpdate)',
  'function getSummary(uint256 agentId, address[] validatorAddresses, string tag) view returns (uint64 count, uint8 averageResponse)',
  'function getAgentValidations(uint256 agentId) view returns (bytes32[] requestHashes)',
  'event ValidationResponse(address indexed validatorAddress, uint256 indexed agentId, bytes32 indexed requestHash, uint8 response, string responseURI, bytes32 responseHash, string tag)',
])

// Accounts: 0 deployer, 1 agent owner, 2 operator, 5 the verifier (validator), 8 payee,
// 9 mallory, 12 a client giving feedback, 13+ agent signer keys.
let chain: TestChain
let node: VerifierNode
let spec: PublicClient
let registries: { identity: Address; reputation: Address; validation: Address }
const agents: TestAgent[] = []
const events: VerifierEvent[] = []
/** The node's events kept: its answer to a request can come before the request's receipt does. */
let log: VerifierEventLog
let nextWallet = 13

function specWallet(i: number) {
  return createWalletClient({ account: chain.account(i), chain: spec.chain, transport: http(chain.anvil.rpcUrl) })
}
const validator = () => chain.account(5).address

async function send(i: number, address: Address, abi: typeof identityAbi | typeof validationAbi | typeof reputationAbi, functionName: string, args: readonly unknown[]) {
  const { request } = await spec.simulateContract({ account: chain.account(i), address, abi, functionName, args } as never)
  const hash = await specWallet(i).writeContract(request as never)
  const receipt = await spec.waitForTransactionReceipt({ hash })
  expect(receipt.status).toBe('success')
  return receipt
}

/** What a client of the standard does: requestURI as Covenant documents it, requestHash = keccak256(requestURI). */
async function specRequest(from: number, agentId: bigint, actionId: string): Promise<Hex> {
  const requestURI = `covenant:action/${actionId}?validator=${validator().toLowerCase()}`
  const requestHash = keccak256(stringToBytes(requestURI))
  await send(from, registries.validation, validationAbi, 'validationRequest', [validator(), agentId, requestURI, requestHash])
  return requestHash
}

async function status(requestHash: Hex) {
  const [v, agentId, response, responseHash, tag, lastUpdate] = await spec.readContract({ address: registries.validation, abi: validationAbi, functionName: 'getValidationStatus', args: [requestHash] })
  return { validator: v, agentId, response, responseHash, tag, lastUpdate }
}

async function responses(requestHash: Hex) {
  const logs = await spec.getContractEvents({ address: registries.validation, abi: validationAbi, eventName: 'ValidationResponse', args: { requestHash }, fromBlock: 0n })
  return logs.map((l) => ({ response: l.args.response, tag: l.args.tag, responseURI: l.args.responseURI }))
}

function answered(requestHash: Hex, tag?: string) {
  return (e: VerifierEvent): e is Extract<VerifierEvent, { type: 'validation-response' }> =>
    e.type === 'validation-response' && e.requestHash === requestHash && (tag === undefined || e.tag === tag)
}

/** A Covenant test agent with its ERC-8004 identity (what `covenant deploy` gives every agent). */
async function agentWithIdentity(da: LocalDAStore): Promise<{ a: TestAgent; id: bigint }> {
  const a = await createTestAgent(chain, { roles: { owner: 1, operator: 2, wallet: nextWallet++, payee: 8 }, da, dir: await tempDir(), modelDigests: [await moderationDigest(), TOY_MODEL_DIGEST] })
  agents.push(a)
  const commitment = await da.put(stringToBytes(`manifest of agent ${a.agentId}`))
  const r = await registerCovenantIdentity(chain.as(1), {
    agentId: a.agentId,
    name: `test-${a.agentId}`,
    description: 'a test agent',
    manifestHash: `0x${'11'.repeat(32)}`,
    manifestCommitment: `0x${Buffer.from(commitment).toString('hex')}`,
  })
  return { a, id: r.erc8004AgentId }
}

let da: LocalDAStore
let root: string

beforeAll(async () => {
  chain = await startTestChain({}, { accounts: 20 })
  root = await tempDir()
  da = new LocalDAStore({ dir: join(root, 'da') })
  spec = createPublicClient({ chain: chain.reader.publicClient.chain, transport: http(chain.anvil.rpcUrl) }) as PublicClient
  const e = chain.deployment.erc8004
  if (!e) throw new Error('the dev deployment has no ERC-8004 registries')
  registries = { identity: getAddress(e.identityRegistry), reputation: getAddress(e.reputationRegistry), validation: getAddress(e.validationRegistry) }
  await registerVerifier(chain.as(5))
  node = new VerifierNode({
    client: chain.as(5),
    da,
    dataDir: join(root, 'verifier'),
    replayer: localReplayer(),
    pollIntervalMs: 100,
    withheldGraceSeconds: 30,
    onEvent: (ev) => events.push(ev),
  })
  await node.start()
  log = recordVerifierEvents(node)
})

afterAll(async () => {
  await node?.stop()
  await Promise.all(agents.map((a) => a.op.close()))
  await chain?.stop()
  await da?.close() // its open segment's file handle
})

describe('an ERC-8004 client reads a Covenant agent', () => {
  it('covenant deploy gives the agent its identity: the spec client reads owner, agentURI (→ the manifest on DA) and agentWallet (the AgentAccount)', async () => {
    const owner = chain.as(1)
    const agent = defineAgent({
      name: 'erc8004-deployed',
      instructions: 'Answer briefly.',
      model: { kind: 'chat', model: 'covenant-chat' },
      tools: [],
      policy: { maxValuePerTx: parseEther('0.1'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [] },
      bond: { eth: parseEther('1') },
    })
    const dataDir = join(root, 'deploy')
    const deployed = await deployAgent({ owner, da, dataDir, agent, password: 'pw', scrypt: { N: 1024 }, fund: DEV_FUNDING })
    expect(deployed.steps.find((s) => s.step === 'identity')?.status).toBe('done')
    const id = BigInt(deployed.record.erc8004AgentId ?? -1)
    const account = (await getAgent(chain.reader, BigInt(deployed.record.agentId))).account

    // --- from here on, only the standard
    expect(await spec.readContract({ address: registries.validation, abi: validationAbi, functionName: 'getIdentityRegistry' })).toBe(registries.identity)
    expect(await spec.readContract({ address: registries.reputation, abi: reputationAbi, functionName: 'getIdentityRegistry' })).toBe(registries.identity)
    expect(await spec.readContract({ address: registries.identity, abi: identityAbi, functionName: 'ownerOf', args: [id] })).toBe(owner.walletClient.account.address)
    expect(await spec.readContract({ address: registries.identity, abi: identityAbi, functionName: 'getAgentWallet', args: [id] })).toBe(account)
    expect(await spec.readContract({ address: registries.identity, abi: identityAbi, functionName: 'getMetadata', args: [id, 'agentWallet'] })).toBe(account.toLowerCase())
    const registered = await spec.getContractEvents({ address: registries.identity, abi: identityAbi, eventName: 'Registered', args: { agentId: id }, fromBlock: 0n })
    expect(registered.map((l) => l.args.owner)).toEqual([owner.walletClient.account.address])

    const agentURI = await spec.readContract({ address: registries.identity, abi: identityAbi, functionName: 'tokenURI', args: [id] })
    expect(agentURI.startsWith('data:application/json;base64,')).toBe(true)
    const file = JSON.parse(Buffer.from(agentURI.split(',')[1]!, 'base64').toString('utf8')) as {
      type: string
      name: string
      services: Array<{ name: string; endpoint: string; manifestHash?: string }>
      registrations: Array<{ agentId: number; agentRegistry: string }>
      supportedTrust: string[]
    }
    expect(file.type).toBe('https://eips.ethereum.org/EIPS/eip-8004#registration-v1')
    expect(file.name).toBe('erc8004-deployed')
    expect(file.registrations).toEqual([{ agentId: Number(id), agentRegistry: `eip155:${chain.deployment.chainId}:${registries.identity}` }])
    expect(file.supportedTrust).toEqual(['crypto-economic'])
    expect(file.services.find((s) => s.name === 'agentWallet')?.endpoint).toBe(`eip155:${chain.deployment.chainId}:${account}`)
    // the manifest: on DA under the commitment the URI names, hashing to what the chain registered
    const manifest = file.services.find((s) => s.name === 'covenant-manifest')
    expect(manifest?.endpoint).toBe(`covenant-da:${deployed.record.manifestCommitment.toLowerCase()}`)
    const bytes = await da.get(manifest!.endpoint.slice('covenant-da:'.length) as Hex)
    expect(keccak256(bytes)).toBe(deployed.record.manifestHash)
    expect(manifest?.manifestHash).toBe(deployed.record.manifestHash.toLowerCase())

    // deploying again changes nothing: no second identity
    expect((await deployAgent({ owner, da, dataDir, agent, password: 'pw', scrypt: { N: 1024 }, fund: DEV_FUNDING })).outcome).toBe('unchanged')
    const mine = await spec.getContractEvents({ address: registries.identity, abi: identityAbi, eventName: 'Registered', args: { owner: owner.walletClient.account.address }, fromBlock: 0n })
    expect(mine.filter((l) => l.args.agentId === id)).toHaveLength(1)

    // reputation, as the standard has it: a client rates the agent; its owner cannot
    await send(12, registries.reputation, reputationAbi, 'giveFeedback', [id, 87n, 0, 'starred', '', '', '', `0x${'00'.repeat(32)}`])
    await expect(
      spec.simulateContract({ account: chain.account(1), address: registries.reputation, abi: reputationAbi, functionName: 'giveFeedback', args: [id, 100n, 0, 'starred', '', '', '', `0x${'00'.repeat(32)}`] }),
    ).rejects.toThrow(toFunctionSelector('SelfFeedback(uint256,address)')) // the standard: "MUST NOT be the agent owner or an approved operator"
    expect(await spec.readContract({ address: registries.reputation, abi: reputationAbi, functionName: 'getSummary', args: [id, [chain.account(12).address], 'starred', ''] })).toEqual([1n, 87n, 0])
  })
})

describe('validation requests answered by a Covenant verifier, read by the spec client', () => {
  it('an honest action: 100 bond-backed:soft, then final once its batch leaves the challenge window; the agent is never slashed', async () => {
    const { a, id } = await agentWithIdentity(da)
    const bondBefore = (await getBond(chain.reader, a.agentId)).eth
    const actionId = `${a.agentId}-00000000000a`
    await a.op.append({ kind: 'input', actionId, timestamp: 1, task: { pay: 1 } })
    await a.op.classify(actionId, 'invoice 1: please pay for order #7')
    await a.op.pay(actionId, { to: chain.account(8).address, value: ETH('0.01') })
    await a.op.commit()

    const soft = node.waitFor(answered(keccak256(stringToBytes(`covenant:action/${actionId}?validator=${validator().toLowerCase()}`)), 'bond-backed:soft'), 60_000)
    const requestHash = await specRequest(1, id, actionId)
    const e = await soft
    expect(e.response).toBe(100)
    expect(await status(requestHash)).toMatchObject({ validator: validator(), agentId: id, response: 100, tag: 'bond-backed:soft' })

    const final = node.waitFor(answered(requestHash, 'bond-backed:final'), 60_000)
    await increaseTime(chain.reader.publicClient, 3_601)
    await final
    expect(await status(requestHash)).toMatchObject({ response: 100, tag: 'bond-backed:final' })
    expect(await responses(requestHash)).toEqual([
      { response: 100, tag: 'bond-backed:soft', responseURI: `covenant:action/${actionId}` },
      { response: 100, tag: 'bond-backed:final', responseURI: `covenant:action/${actionId}` },
    ])
    expect(await spec.readContract({ address: registries.validation, abi: validationAbi, functionName: 'getSummary', args: [id, [validator()], 'bond-backed:final'] })).toEqual([1n, 100])
    expect(await spec.readContract({ address: registries.validation, abi: validationAbi, functionName: 'getAgentValidations', args: [id] })).toEqual([requestHash])
    expect((await getBond(chain.reader, a.agentId)).eth).toBe(bondBefore)
  })

  it('a policy breach, proven on chain at once: a final 0 whose responseURI is the dispute that slashed the agent', async () => {
    const { a, id } = await agentWithIdentity(da)
    const actionId = `${a.agentId}-0000000000bb`
    const proven = node.waitFor((e) => e.type === 'challenge' && e.fault.agentId === a.agentId, 60_000)
    await a.op.pay(actionId, { to: chain.account(8).address, value: ETH('2'), send: false }) // over the 1 ETH cap
    await a.op.commit()
    const c = await proven
    if (c.type !== 'challenge' || c.result.status !== 'proven') throw new Error('expected a proof')

    const requestHash = await specRequest(1, id, actionId)
    await log.waitFor(answered(requestHash, 'bond-backed:final'), 60_000)
    const s = await status(requestHash)
    expect(s).toMatchObject({ response: 0, tag: 'bond-backed:final' })
    const [last] = (await responses(requestHash)).slice(-1)
    expect(last?.responseURI).toBe(`covenant:dispute/${c.result.disputeId}`)
    const d = await getDispute(chain.reader, c.result.disputeId)
    expect(d).toMatchObject({ agentId: a.agentId, kind: 'PolicyBreach', status: 'Slashed' })
    // never a passing answer on the way
    expect((await responses(requestHash)).every((r) => r.response === 0)).toBe(true)
  })

  it('a faked inference: the verifier quorum slashes, and the dispute outcome is the final 0', { timeout: 300_000 }, async () => {
    const { a, id } = await agentWithIdentity(da)
    const actionId = `${a.agentId}-0000000000cc`
    // asked before the action is even committed: the validator waits for it
    const requestHash = await specRequest(1, id, actionId)
    await a.op.append({ kind: 'input', actionId, timestamp: 1, task: 'moderate' })
    await a.op.classify(actionId, 'buy cheap followers now, limited offer!!!', { fake: true })
    await a.op.append({ kind: 'output', actionId, timestamp: 4, result: 'ok' })
    await a.op.commit()
    await log.waitFor(answered(requestHash, 'bond-backed:final'), 240_000)
    expect(await status(requestHash)).toMatchObject({ response: 0, tag: 'bond-backed:final' })
    const history = await responses(requestHash)
    expect(history.every((h) => h.response === 0)).toBe(true)
    const disputeId = BigInt(history.at(-1)?.responseURI?.replace('covenant:dispute/', '') ?? 0)
    expect(await getDispute(chain.reader, disputeId)).toMatchObject({ agentId: a.agentId, kind: 'InferenceFraud', status: 'Slashed' })
    // the quorum's vote, by the same verifier: the slash is what the final answer names
    expect(events.some((e) => e.type === 'vote' && e.disputeId === disputeId && e.agentAtFault)).toBe(true)
  })

  it("the cheater: a rogue identity naming an honest agent's action is never answered (nor is a request whose hash is not its URI's)", async () => {
    const { a, id } = await agentWithIdentity(da)
    const actionId = `${a.agentId}-0000000000dd`
    await a.op.append({ kind: 'input', actionId, timestamp: 1, task: 'x' }, { kind: 'output', actionId, timestamp: 2, result: 'y' })
    await a.op.commit()

    // mallory's own identity, through the standard
    const receipt = await send(9, registries.identity, identityAbi, 'register', ['https://rogue.example/agent.json'])
    const rogueId = parseEventLogs({ abi: identityAbi, logs: receipt.logs, eventName: 'Registered' })[0]!.args.agentId
    expect(await spec.readContract({ address: registries.identity, abi: identityAbi, functionName: 'ownerOf', args: [rogueId] })).toBe(chain.account(9).address)
    const refused = node.waitFor((e) => e.type === 'validation-refused', 60_000)
    const rogueHash = await specRequest(9, rogueId, actionId)
    const e = await refused
    if (e.type !== 'validation-refused') throw new Error('unreachable')
    expect(e.requestHash).toBe(rogueHash)
    expect(e.reason).toMatch(/agentWallet is not a Covenant AgentAccount/)

    // the honest owner, with a hash that is not keccak256 of the URI
    const badURI = `covenant:action/${actionId}?validator=${validator().toLowerCase()}`
    const badHash = keccak256(stringToBytes(`${badURI}#other`))
    const refusedBad = node.waitFor((x) => x.type === 'validation-refused' && x.requestHash === badHash, 60_000)
    await send(1, registries.validation, validationAbi, 'validationRequest', [validator(), id, badURI, badHash])
    await refusedBad

    await node.nextPasses(3)
    for (const h of [rogueHash, badHash]) {
      expect(await status(h)).toMatchObject({ response: 0, tag: '' })
      expect(await responses(h)).toEqual([])
    }
    expect(await spec.readContract({ address: registries.validation, abi: validationAbi, functionName: 'getSummary', args: [rogueId, [], ''] })).toEqual([0n, 0])
    expect(events.filter((x) => x.type === 'error')).toEqual([])
  })
})
