import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { createWalletClient, getAddress, http, keccak256, parseEther, toBytes, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeDeployment } from '../../src/bonds/deployment.js'
import { depositBond, getAgent, getBond, getDispute, increaseTime, proveUntracedCall, registerAgent } from '../../src/bonds/index.js'
import { Committer } from '../../src/bonds/committer.js'
import { agentAccountAbi, bondVaultAbi, testTokenAbi, traceLogAbi } from '../../src/bonds/generated/abis.js'
import { TraceWal } from '../../src/trace/wal.js'
import { createAgentWallet, type AgentWallet } from '../../src/wallet/agentWallet.js'
import { agentAccountCallAbi } from '../../src/wallet/accountCall.js'
import { PERMIT_SELECTOR, TRANSFER_WITH_AUTHORIZATION_SELECTOR, authorizationDigest, encodeAuthorizationData } from '../../src/wallet/authorization.js'
import { createWalletHandle, type CallHandle } from '../../src/wallet/handles.js'
import type { PolicyInput } from '../../src/wallet/policy.js'
import { startX402DevServer, x402FetchTool, type X402DevServer } from '../../src/x402/index.js'
import { startTestChain, type TestChain } from '../fixtures/chain.js'

// Signatures that move money (issue 16), against a real anvil: an EIP-3009 transfer or an
// EIP-2612 permit from the agent's account exists only as a numbered account call whose
// wallet step was written first; x402 payments go the same way; one made around the WAL is
// proven untraced on chain and slashed, and an honest one never is.
const SHOP = getAddress('0x0000000000000000000000000000000000005409')
const MALLORY = getAddress('0x000000000000000000000000000000000bad1dea')
const ERC1271_MAGIC = '0x1626ba7e'

let chain: TestChain
let dir: string
let agentId: bigint
let account: Address
let token: Address
let wal: TraceWal
let wallet: AgentWallet
let server: X402DevServer
const signerKey = generatePrivateKey()
const signer = privateKeyToAccount(signerKey)
const policy: PolicyInput = {
  maxValuePerTx: parseEther('1'),
  dailyBudget: parseEther('3'),
  challengeWindow: 3_600,
  commitDeadline: 600,
  allowedTargets: [SHOP],
  allowedSelectors: [TRANSFER_WITH_AUTHORIZATION_SELECTOR, PERMIT_SELECTOR],
}
const nonce = () => toHex(randomBytes(32))
const now = () => Math.floor(Date.now() / 1000)
let actions = 0
const actionId = () => `${agentId}-${String(++actions).padStart(12, '0')}`

beforeAll(async () => {
  chain = await startTestChain()
  dir = mkdtempSync(join(tmpdir(), 'covenant-signatures-'))
  token = chain.deployment.contracts.bondToken
  policy.allowedTargets = [token, SHOP]
  const owner = chain.as(1)
  ;({ agentId } = await registerAgent(owner, { operator: chain.account(2).address, wallet: signer.address, manifestHash: keccak256(toBytes('pays')), policy }))
  await depositBond(owner, { agentId, eth: parseEther('10') })
  account = (await getAgent(chain.reader, agentId)).account
  await owner.publicClient.waitForTransactionReceipt({
    hash: await owner.walletClient.writeContract({ address: token, abi: testTokenAbi, functionName: 'mint', args: [account, parseEther('100')], account: owner.walletClient.account, chain: owner.walletClient.chain }),
  })
  await owner.publicClient.waitForTransactionReceipt({
    hash: await owner.walletClient.sendTransaction({ to: signer.address, value: parseEther('1'), account: owner.walletClient.account, chain: owner.walletClient.chain }),
  })
  wal = await TraceWal.open({ dir: join(dir, 'wal'), agentId: agentId.toString() })
  wallet = await openWallet()
  server = await startX402DevServer({
    chain: chain.reader.publicClient.chain!,
    facilitator: chain.account(3),
    token,
    tokenName: 'Covenant Test USD',
    tokenVersion: '1',
    payTo: SHOP,
    resources: { '/forecast': { price: parseEther('2'), body: 'sunny, 21 °C' }, '/premium': { price: parseEther('50'), body: 'secret' } },
  })
}, 120_000)

afterAll(async () => {
  await server?.close()
  await wal?.close()
  await chain?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const openWallet = (o: { policy?: PolicyInput; unsafe?: boolean } = {}) =>
  createAgentWallet({
    account: signer,
    chain: chain.reader.publicClient.chain!,
    wal,
    policy: o.policy ?? policy,
    policyVersion: 1,
    agentAccount: account,
    outboxDir: join(dir, 'outbox'),
    pollingIntervalMs: 50,
    logger: pino({ level: 'silent' }),
    ...(o.unsafe ? { unsafe: { skipPolicyCheck: true } } : {}),
  })
const read = () => chain.reader.publicClient
const tokenBalance = (a: Address) => read().readContract({ address: token, abi: testTokenAbi, functionName: 'balanceOf', args: [a] })
const callCount = () => read().readContract({ address: account, abi: agentAccountAbi, functionName: 'callCount' })
const coveredCalls = () => read().readContract({ address: chain.deployment.contracts.traceLog, abi: traceLogAbi, functionName: 'coveredCalls', args: [agentId] })
async function executedLeaves(): Promise<Hex[]> {
  const logs = await read().getContractEvents({ address: account, abi: agentAccountAbi, eventName: 'Executed', fromBlock: 0n })
  return logs.map((l) => l.args.leaf!)
}
/** A tool context's `read` outside a runtime: reads the world, records nothing. */
const liveRead = async <T,>(_label: string, fetch: () => T | Promise<T>): Promise<T> => fetch()
const committer = () => new Committer({ wal, da: { put: async (blob: Uint8Array) => keccak256(blob) }, client: chain.as(2), agentId, account })

describe('signatures that move money go through the account, under the policy, traced', () => {
  it('an EIP-3009 authorization: the wallet step is written first, the account records the same leaf, the token settles it, the batch covers it', async () => {
    const before = await tokenBalance(SHOP)
    const a = { token, to: SHOP, value: parseEther('5'), validBefore: now() + 300, nonce: nonce() }
    const signed = await wallet.authorizeTransfer(a, { actionId: actionId() })
    const { steps, leaves } = await wal.readAll()
    expect(steps.at(-1)).toMatchObject({
      kind: 'wallet',
      from: account.toLowerCase(),
      to: token.toLowerCase(),
      value: '0',
      data: encodeAuthorizationData(account, { kind: 'transfer', authorization: { ...a, validAfter: 0n, validBefore: BigInt(a.validBefore) } }),
    })
    expect((await executedLeaves()).at(-1)).toBe(leaves.at(-1))
    // the account (ERC-1271) accepts exactly this digest, whatever the bytes
    expect(await read().readContract({ address: account, abi: agentAccountCallAbi, functionName: 'isValidSignature', args: [signed.digest, signed.signature] })).toBe(ERC1271_MAGIC)
    const other = keccak256(toBytes('another transfer'))
    expect(await read().readContract({ address: account, abi: agentAccountCallAbi, functionName: 'isValidSignature', args: [other, '0x'] })).not.toBe(ERC1271_MAGIC)
    // a facilitator settles it with the account as `from`
    const facilitator = chain.as(3)
    await facilitator.publicClient.waitForTransactionReceipt({
      hash: await facilitator.walletClient.writeContract({
        address: token,
        abi: testTokenAbi,
        functionName: 'transferWithAuthorization',
        args: [account, SHOP, a.value, 0n, BigInt(a.validBefore), a.nonce, signed.signature],
        account: facilitator.walletClient.account,
        chain: facilitator.walletClient.chain,
      }),
    })
    expect((await tokenBalance(SHOP)) - before).toBe(parseEther('5'))
    await committer().flush()
    expect(await coveredCalls()).toBe(await callCount())
  })

  it('an EIP-2612 permit: the spender pulls only what the traced permit allows', async () => {
    const permitNonce = await read().readContract({ address: token, abi: testTokenAbi, functionName: 'nonces', args: [account] })
    const deadline = now() + 600
    const signed = await wallet.authorizePermit({ token, spender: SHOP, value: parseEther('3'), nonce: permitNonce, deadline }, { actionId: actionId() })
    const stranger = chain.as(5)
    await stranger.publicClient.waitForTransactionReceipt({
      hash: await stranger.walletClient.writeContract({
        address: token,
        abi: testTokenAbi,
        functionName: 'permit',
        args: [account, SHOP, parseEther('3'), BigInt(deadline), signed.signature],
        account: stranger.walletClient.account,
        chain: stranger.walletClient.chain,
      }),
    })
    expect(await read().readContract({ address: token, abi: testTokenAbi, functionName: 'allowance', args: [account, SHOP] })).toBe(parseEther('3'))
    await committer().flush()
    expect(await coveredCalls()).toBe(await callCount())
  })

  it('an authorization outside the policy is refused before anything is written or signed — by the wallet, and by the chain when the wallet check is off', async () => {
    const head = wal.head.nextIndex
    const calls = await callCount()
    const refuse = (w: AgentWallet, a: Partial<{ to: Address; validBefore: number }>) =>
      w.authorizeTransfer({ token, to: SHOP, value: 1n, validBefore: now() + 300, nonce: nonce(), ...a }, { actionId: actionId() }).catch((e: unknown) => e)
    expect(await refuse(wallet, { to: MALLORY })).toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed', attempted: MALLORY })
    expect(await refuse(wallet, { validBefore: now() + 2 * 86_400 })).toMatchObject({ name: 'InvalidTransactionError' })
    // a token the policy does not list
    const err = await wallet
      .authorizeTransfer({ token: MALLORY, to: SHOP, value: 1n, validBefore: now() + 300, nonce: nonce() }, { actionId: actionId() })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed', attempted: MALLORY })
    // a dishonest operator who hands the wallet a wider policy than the chain's: the account refuses in the estimate
    const unsafe = await openWallet({ policy: { ...policy, allowedTargets: [token, SHOP, MALLORY] } })
    expect(await refuse(unsafe, { to: MALLORY })).toMatchObject({ name: 'PolicyViolationError', rule: 'TargetNotAllowed' })
    expect(wal.head.nextIndex).toBe(head)
    expect(await callCount()).toBe(calls)
  })

  it('an x402 payment: 402 → EIP-3009 authorization through the account → the facilitator settles → the resource; the step is committed and covered', async () => {
    const tool = x402FetchTool({ token, chainId: chain.anvil.chainId, maxAmount: parseEther('3'), payTo: [SHOP] })
    expect(tool.effect).toEqual({ kind: 'call', targets: [getAddress(token)], selectors: [TRANSFER_WITH_AUTHORIZATION_SELECTOR] })
    const id = actionId()
    const handle = createWalletHandle(wallet, tool.effect, { actionId: id, tool: tool.name }) as CallHandle
    const before = await tokenBalance(SHOP)
    const head = wal.head.nextIndex
    const result = await tool.invoke({ url: `${server.url}/forecast` }, { actionId: id, agentId: agentId.toString(), toolCallId: 'c1', callIndex: 0, read: liveRead, wallet: handle })
    expect(result).toMatchObject({ status: 200, body: 'sunny, 21 °C', payment: { amount: parseEther('2').toString(), payTo: SHOP } })
    expect(result.payment?.settlementTx).toMatch(/^0x[0-9a-f]{64}$/)
    expect((await tokenBalance(SHOP)) - before).toBe(parseEther('2'))
    expect(server.settlements.at(-1)).toMatchObject({ success: true, payer: account })
    // exactly one wallet step, for this action, and the account's call has its leaf
    const { steps, leaves } = await wal.readAll()
    expect(steps.slice(head)).toMatchObject([{ kind: 'wallet', actionId: id, to: token.toLowerCase(), value: '0' }])
    expect((await executedLeaves()).at(-1)).toBe(leaves.at(-1))
    await committer().flush()
    expect(await coveredCalls()).toBe(await callCount())
  })

  it('an x402 payment outside the limits is refused before any authorization', async () => {
    const head = wal.head.nextIndex
    const calls = await callCount()
    const id = actionId()
    // too much for the tool
    const tool = x402FetchTool({ token, chainId: chain.anvil.chainId, maxAmount: parseEther('3'), payTo: [SHOP] })
    const handle = createWalletHandle(wallet, tool.effect, { actionId: id }) as CallHandle
    await expect(tool.invoke({ url: `${server.url}/premium` }, { actionId: id, agentId: agentId.toString(), toolCallId: 'c2', callIndex: 0, read: liveRead, wallet: handle })).rejects.toThrow(/more than this tool's maxAmount/)
    // a recipient the policy does not allow (the tool names no payees: the wallet's policy decides)
    const shady = await startX402DevServer({
      chain: chain.reader.publicClient.chain!,
      facilitator: chain.account(3),
      token,
      tokenName: 'Covenant Test USD',
      tokenVersion: '1',
      payTo: MALLORY,
      resources: { '/forecast': { price: 1n, body: 'cloudy' } },
    })
    try {
      const open = x402FetchTool({ token, chainId: chain.anvil.chainId, maxAmount: parseEther('3') })
      await expect(
        open.invoke({ url: `${shady.url}/forecast` }, { actionId: id, agentId: agentId.toString(), toolCallId: 'c3', callIndex: 1, read: liveRead, wallet: createWalletHandle(wallet, open.effect, { actionId: id }) as CallHandle }),
      ).rejects.toThrow(/TargetNotAllowed|recipient is not in allowedTargets/)
      expect(shady.settlements).toEqual([])
    } finally {
      await shady.close()
    }
    expect(wal.head.nextIndex).toBe(head)
    expect(await callCount()).toBe(calls)
  })

  it('recovery after a crash between the step and the signature sends exactly the authorization the step records', async () => {
    const authorization = { token, to: SHOP, value: parseEther('1'), validAfter: 0n, validBefore: BigInt(now() + 300), nonce: nonce() }
    const txNonce = await read().getTransactionCount({ address: signer.address, blockTag: 'pending' })
    // what authorizeTransfer writes before it signs; then the process "dies"
    const { leaf } = await wal.appendNext({
      kind: 'wallet',
      actionId: actionId(),
      timestamp: Date.now(),
      chainId: String(chain.anvil.chainId),
      from: account.toLowerCase() as Hex,
      to: token.toLowerCase() as Hex,
      value: '0',
      data: encodeAuthorizationData(account, { kind: 'transfer', authorization }),
      nonce: txNonce,
      policyVersion: 1,
    })
    const reopened = await openWallet()
    expect(reopened.recovered).toMatchObject([{ outcome: 'signed-and-sent', nonce: txNonce }])
    expect((await executedLeaves()).at(-1)).toBe(leaf)
    const domainSeparator = await read().readContract({ address: token, abi: testTokenAbi, functionName: 'DOMAIN_SEPARATOR' })
    const digest = authorizationDigest(domainSeparator, { kind: 'transfer', from: account, authorization })
    expect(await read().readContract({ address: account, abi: agentAccountCallAbi, functionName: 'authorizedUntil', args: [digest] })).toBe(authorization.validBefore)
    await committer().flush()
    expect(await coveredCalls()).toBe(await callCount())
  })

  it('an authorization made around the WAL (the signer calls the account directly) is proven untraced and slashed on chain; the honest ones never are', async () => {
    await committer().flush()
    const honestCalls = await callCount()
    expect(await coveredCalls()).toBe(honestCalls)
    // the signer key authorizes a transfer itself: no wallet step, no WAL
    const rogue = createWalletClient({ chain: chain.reader.publicClient.chain!, transport: http(chain.anvil.rpcUrl), account: signer })
    const a = { token, to: SHOP, value: parseEther('7'), validAfter: 0n, validBefore: BigInt(now() + 300), nonce: nonce() }
    const place = { stepIndex: 999n, prevHash: keccak256(toBytes('made up')), policyVersion: 1, nonce: 0n }
    await read().waitForTransactionReceipt({
      hash: await rogue.writeContract({ address: account, abi: agentAccountCallAbi, functionName: 'authorizeTransfer', args: [a, place] }),
    })
    const facilitator = chain.as(3)
    const before = await tokenBalance(SHOP)
    await facilitator.publicClient.waitForTransactionReceipt({
      hash: await facilitator.walletClient.writeContract({
        address: token,
        abi: testTokenAbi,
        functionName: 'transferWithAuthorization',
        args: [account, SHOP, a.value, 0n, a.validBefore, a.nonce, '0x'],
        account: facilitator.walletClient.account,
        chain: facilitator.walletClient.chain,
      }),
    })
    expect((await tokenBalance(SHOP)) - before).toBe(parseEther('7'))
    // the committer cannot cover it: no step of its WAL has that leaf
    await committer().flush()
    expect(await coveredCalls()).toBe(honestCalls)
    // the owner backs the agent with a token bond too (the vault's token is the one authorized)
    const owner = chain.as(1)
    await owner.publicClient.waitForTransactionReceipt({
      hash: await owner.walletClient.writeContract({ address: token, abi: testTokenAbi, functionName: 'mint', args: [owner.walletClient.account!.address, parseEther('20')], account: owner.walletClient.account!, chain: owner.walletClient.chain }),
    })
    await depositBond(owner, { agentId, token: parseEther('20') })
    // past the commit deadline anyone proves it, no vote — with the call's data, read back from its transaction
    await increaseTime(read(), 601)
    const bondBefore = (await getBond(chain.reader, agentId)).eth
    const credit = () => read().readContract({ address: chain.deployment.contracts.bondVault, abi: bondVaultAbi, functionName: 'tokenCredits', args: [owner.walletClient.account!.address] })
    const creditBefore = await credit()
    const proof = await proveUntracedCall(chain.as(4), { agentId, callSequence: honestCalls })
    expect(proof.slashedEth).toBeGreaterThan(0n)
    // the owner is repaid the 7 tokens the authorization let go, from the token bond, before any share
    expect(proof.compensatedToken).toBe(parseEther('7'))
    expect((await credit()) - creditBefore).toBe(parseEther('7'))
    expect((await getBond(chain.reader, agentId)).token).toBe(parseEther('20') - proof.slashedToken)
    expect(proof.slashedToken).toBe(parseEther('10')) // slashBps (half) of 20 is more than the 7 owed
    const dispute = await getDispute(chain.reader, proof.disputeId)
    expect(dispute).toMatchObject({ kind: 'UntracedAction', status: 'Slashed' })
    expect((await getBond(chain.reader, agentId)).eth).toBe(bondBefore - proof.slashedEth)
    // every honest, covered authorization is out of reach
    for (let k = 0; k < honestCalls; k++) await expect(proveUntracedCall(chain.as(4), { agentId, callSequence: k })).rejects.toThrow(/CallCovered/)
    // an authorization moves no ETH: nothing of the ETH bond is repaid
    const repaid = await read().getContractEvents({ address: chain.deployment.contracts.bondVault, abi: bondVaultAbi, eventName: 'Compensated', fromBlock: 0n })
    expect(repaid.filter((l) => l.args.agentId === agentId)).toEqual([])
  })

  it('covenant bonds says what the bond does not cover: the token authorizations the policy allows', () => {
    writeDeployment(join(dir, 'deployment.json'), chain.deployment)
    const bin = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url))
    const run = (json: boolean) =>
      spawnSync(process.execPath, [bin, 'bonds', agentId.toString(), ...(json ? ['--json'] : []), '--data-dir', dir, '--rpc', chain.anvil.rpcUrl, '--deployment', join(dir, 'deployment.json')], {
        encoding: 'utf8',
        env: { ...process.env, REDIS_URL: '' },
      })
    const j = run(true)
    expect(j.status, j.stderr).toBe(0)
    const report = JSON.parse(j.stdout) as { tokenAuthorizations: string[]; slashes: Array<{ ownerRepaidToken: string; ownerRepaidEth: string }> }
    expect(report.tokenAuthorizations).toEqual(['EIP-3009 transfer', 'EIP-2612 permit'])
    // the untraced authorization's slash (above) repaid the owner 7 bond tokens, no ETH
    expect(report.slashes).toEqual([expect.objectContaining({ ownerRepaidToken: parseEther('7').toString(), ownerRepaidEth: '0' })])
    expect(run(false).stdout).toContain(`owner repaid ${parseEther('7')} bond tokens first`)
    expect(run(false).stdout).toContain('not covered: token authorizations (EIP-3009 transfer, EIP-2612 permit) of allowlisted tokens — their amounts are not counted above; a slash repays them only from the token bond, and only authorizations of the bond token')
  }, 60_000)
})
