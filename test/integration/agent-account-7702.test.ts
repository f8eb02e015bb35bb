import { encodeFunctionData, getAddress, keccak256, parseEther, toBytes, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  agentAccountAbi,
  getAccount,
  getAgent,
  getBond,
  increaseTime,
  proveUntracedCall,
  registerAgent,
  depositBond,
  relay7702Abi,
} from '../../src/bonds/index.js'
import { testTokenAbi } from '../../src/bonds/generated/abis.js'
import { agentAccountCallAbi } from '../../src/wallet/accountCall.js'
import { TRANSFER_WITH_AUTHORIZATION_SELECTOR } from '../../src/wallet/authorization.js'
import { relay7702Bytecode } from '../../src/bonds/generated/bytecode.js'
import { startTestChain, type TestChain } from '../fixtures/chain.js'

// Issue 10, first attack: the agent's wallet key signs an EIP-7702 authorization and a
// relayer drains the wallet; no verifier looked, because they only scanned transactions
// whose `from` was the wallet. With the agent account, on a real anvil with real 7702
// transactions: the key holds only gas money; code at its address reaches the agent's funds
// only through AgentAccount.execute — under the policy — and every such call is an
// `Executed` event that a committed trace must cover, whoever sent the transaction.
const VENDOR = getAddress('0x000000000000000000000000000000000000beef')
const MALLORY = getAddress('0x000000000000000000000000000000000bad1dea')

let chain: TestChain
let agentId: bigint
let account: Address
let relay: Address
const signer = privateKeyToAccount(generatePrivateKey())

beforeAll(async () => {
  chain = await startTestChain()
  const owner = chain.as(1)
  ;({ agentId } = await registerAgent(owner, {
    operator: chain.account(2).address,
    wallet: signer.address,
    manifestHash: keccak256(toBytes('7702')),
    policy: { maxValuePerTx: parseEther('1'), dailyBudget: parseEther('3'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [VENDOR] },
  }))
  await depositBond(owner, { agentId, eth: parseEther('10') })
  account = (await getAgent(chain.reader, agentId)).account
  for (const [to, value] of [
    [account, parseEther('5')],
    [signer.address, parseEther('1')],
  ] as const) {
    await owner.publicClient.waitForTransactionReceipt({ hash: await owner.walletClient.sendTransaction({ to, value, account: owner.walletClient.account, chain: owner.walletClient.chain }) })
  }
  const deployer = chain.as(0).walletClient
  const hash = await deployer.deployContract({ abi: relay7702Abi, bytecode: relay7702Bytecode, account: deployer.account, chain: deployer.chain })
  relay = (await chain.reader.publicClient.waitForTransactionReceipt({ hash })).contractAddress!
})

afterAll(async () => {
  await chain?.stop()
})

/** The relayer (a stranger) sends a 7702 transaction carrying the signer's authorization. */
async function relayed(call: { to: Address; value: bigint; data: Hex }, authorize: boolean) {
  const relayer = chain.as(9).walletClient
  const authorizationList = authorize
    ? [await relayer.signAuthorization({ account: signer, contractAddress: relay })]
    : undefined
  const hash = await relayer.sendTransaction({
    account: relayer.account,
    chain: relayer.chain,
    to: signer.address,
    data: encodeFunctionData({ abi: relay7702Abi, functionName: 'forward', args: [call.to, call.value, call.data] }),
    gas: 500_000n,
    ...(authorizationList ? { authorizationList } : {}),
  })
  return chain.reader.publicClient.waitForTransactionReceipt({ hash })
}

const executeData = (to: Address, value: bigint) =>
  encodeFunctionData({ abi: agentAccountAbi, functionName: 'execute', args: [to, value, '0x', 1n << 40n, keccak256(toBytes('none')), 1, 0n] })

describe('an EIP-7702 authorization signed with the agent key', () => {
  it('puts code at the key, but the relayer cannot move the account\'s funds off the policy', async () => {
    const before = await chain.reader.publicClient.getBalance({ address: account })
    const drain = await relayed({ to: account, value: 0n, data: executeData(MALLORY, parseEther('5')) }, true)
    // the delegation took effect (0xef0100 ‖ relay), and the call reverted in the account
    expect((await chain.reader.publicClient.getCode({ address: signer.address }))?.toLowerCase()).toBe(`0xef0100${relay.slice(2).toLowerCase()}`)
    expect(drain.status).toBe('reverted')
    const offList = await relayed({ to: account, value: 0n, data: executeData(MALLORY, parseEther('0.5')) }, false)
    expect(offList.status).toBe('reverted')
    expect(await chain.reader.publicClient.getBalance({ address: MALLORY })).toBe(0n)
    expect(await chain.reader.publicClient.getBalance({ address: account })).toBe(before)
    expect((await getAccount(chain.reader, agentId)).callCount).toBe(0)
  })

  it("the key's own gas money is all it can take", async () => {
    const gasMoney = await chain.reader.publicClient.getBalance({ address: signer.address })
    const r = await relayed({ to: MALLORY, value: gasMoney, data: '0x' }, false)
    expect(r.status).toBe('success')
    expect(await chain.reader.publicClient.getBalance({ address: MALLORY })).toBe(gasMoney)
    expect(await chain.reader.publicClient.getBalance({ address: account })).toBe(parseEther('5'))
  })

  it('an on-policy call through the relay is recorded, whoever sent it, and proven untraced on chain', async () => {
    const r = await relayed({ to: account, value: 0n, data: executeData(VENDOR, parseEther('0.5')) }, false)
    expect(r.status).toBe('success')
    // the transaction is the relayer's, not the key's: the account's event is what counts
    expect(getAddress(r.from)).toBe(chain.account(9).address)
    const calls = await chain.reader.publicClient.getContractEvents({ address: account, abi: agentAccountAbi, eventName: 'Executed', fromBlock: r.blockNumber, toBlock: r.blockNumber })
    expect(calls.map((c) => c.args.sequence)).toEqual([0])
    const bond = (await getBond(chain.reader, agentId)).eth
    await increaseTime(chain.reader.publicClient, 601)
    const proof = await proveUntracedCall(chain.as(4), { agentId, callSequence: 0 })
    expect(proof.slashedEth).toBe(bond / 2n)
    expect((await getBond(chain.reader, agentId)).eth).toBe(bond / 2n)
  })
  it('an untraced token authorization through the relay is proven with its data, found by the call tracer, and the owner is repaid in bond tokens', async () => {
    // a second agent whose policy allows EIP-3009 authorizations of the bond token, bonded in it too
    const key = privateKeyToAccount(generatePrivateKey())
    const token = chain.deployment.contracts.bondToken
    const owner = chain.as(1)
    const { agentId: id } = await registerAgent(owner, {
      operator: chain.account(2).address,
      wallet: key.address,
      manifestHash: keccak256(toBytes('7702-authorization')),
      policy: { maxValuePerTx: parseEther('1'), dailyBudget: parseEther('3'), challengeWindow: 3_600, commitDeadline: 600, allowedTargets: [VENDOR, token], allowedSelectors: [TRANSFER_WITH_AUTHORIZATION_SELECTOR] },
    })
    await owner.publicClient.waitForTransactionReceipt({
      hash: await owner.walletClient.writeContract({ address: token, abi: testTokenAbi, functionName: 'mint', args: [owner.walletClient.account!.address, parseEther('20')], account: owner.walletClient.account!, chain: owner.walletClient.chain }),
    })
    await depositBond(owner, { agentId: id, eth: parseEther('10'), token: parseEther('20') })
    const acct = (await getAgent(chain.reader, id)).account
    // the relayer authorizes 6 tokens to the vendor as the key (its 7702 delegate forwards the call): no wallet step anywhere
    const now = (await chain.reader.publicClient.getBlock()).timestamp
    const a = { token, to: VENDOR, value: parseEther('6'), validAfter: 0n, validBefore: now + 300n, nonce: keccak256(toBytes('relayed')) }
    const place = { stepIndex: 1n << 40n, prevHash: keccak256(toBytes('none')), policyVersion: 1, nonce: 0n }
    const relayer = chain.as(9).walletClient
    const hash = await relayer.sendTransaction({
      account: relayer.account,
      chain: relayer.chain,
      to: key.address,
      data: encodeFunctionData({ abi: relay7702Abi, functionName: 'forward', args: [acct, 0n, encodeFunctionData({ abi: agentAccountCallAbi, functionName: 'authorizeTransfer', args: [a, place] })] }),
      gas: 500_000n,
      authorizationList: [await relayer.signAuthorization({ account: key, contractAddress: relay })],
    })
    const r = await chain.reader.publicClient.waitForTransactionReceipt({ hash })
    expect(r.status).toBe('success')
    expect(getAddress(r.to!)).toBe(key.address) // not the account: its arguments are not the transaction's input
    await increaseTime(chain.reader.publicClient, 601)
    const proof = await proveUntracedCall(chain.as(4), { agentId: id, callSequence: 0 })
    expect(proof.compensatedToken).toBe(parseEther('6'))
    expect((await getBond(chain.reader, id)).token).toBe(parseEther('20') - proof.slashedToken)
    expect(proof.slashedToken).toBe(parseEther('10'))
  })
})
