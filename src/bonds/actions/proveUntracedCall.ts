import { concat, decodeFunctionData, encodeAbiParameters, isAddressEqual, keccak256, parseEventLogs, toFunctionSelector, type Address, type Hash, type Hex } from 'viem'
import { agentAccountAbi, agentRegistryAbi, bondVaultAbi, disputeGameAbi } from '../generated/abis.js'
import { requireWallet, type CovenantClient } from '../client.js'
import { eventsOf, writeAndWait } from '../internal/write.js'
import { commitEvidence } from './evidence.js'

export type ProveUntracedCallParameters = {
  agentId: bigint
  /** The AgentAccount call's sequence number (its `Executed` event). */
  callSequence: number
}
export type ProveUntracedCallReturnType = {
  disputeId: bigint
  slashedEth: bigint
  slashedToken: bigint
  /** Bond tokens repaid to the owner first: the amount an untraced authorization of the bond token let go (0 otherwise). */
  compensatedToken: bigint
  hash: Hash
  /** gas of the commit plus the reveal */
  gasUsed: bigint
}

/**
 * Proves on chain that the agent's account made call `callSequence` and no committed batch
 * covered it by its deadline: commit, then reveal in the next block. No vote; the bond is
 * slashed in the same transaction, the value the call moved paid to the agent's owner first.
 * The call's arguments come from its `Executed` event.
 */
export async function proveUntracedCall(client: CovenantClient, p: ProveUntracedCallParameters): Promise<ProveUntracedCallReturnType> {
  if (!Number.isInteger(p.callSequence) || p.callSequence < 0 || p.callSequence > 2 ** 32 - 1) {
    throw new RangeError(`callSequence must be a uint32, not ${String(p.callSequence)}`)
  }
  const c = requireWallet(client, 'proveUntracedCall')
  const address = c.deployment.contracts.disputeGame
  const account = await c.publicClient.readContract({ address: c.deployment.contracts.agentRegistry, abi: agentRegistryAbi, functionName: 'accountOf', args: [p.agentId] })
  const [event] = await c.publicClient.getContractEvents({
    address: account,
    abi: agentAccountAbi,
    eventName: 'Executed',
    args: { sequence: p.callSequence },
    fromBlock: c.deployment.deployedAtBlock,
    toBlock: 'latest',
  })
  if (!event) throw new RangeError(`agent ${p.agentId}'s account has no call ${p.callSequence}`)
  const e = event.args
  const call = {
    to: e.to!,
    value: e.value!,
    dataHash: e.dataHash!,
    stepIndex: e.stepIndex!,
    prevHash: e.prevHash!,
    policyVersion: e.policyVersion!,
    nonce: e.nonce!,
  }
  const evidence = await c.publicClient.readContract({ address, abi: disputeGameAbi, functionName: 'untracedCallEvidence', args: [p.agentId, p.callSequence] })
  const { salt, gasUsed: commitGas } = await commitEvidence(c, evidence)
  // a token authorization is proven with its call data, so that the owner is repaid the amount in kind
  const data = await authorizationData(c, account, event.transactionHash, e.dataHash!)
  const { hash, receipt } = data
    ? await writeAndWait(c, {
        contract: 'DisputeGame',
        address,
        abi: disputeGameAbi,
        functionName: 'proveUntracedAuthorization',
        args: [p.agentId, p.callSequence, call, data, salt],
      })
    : await writeAndWait(c, {
        contract: 'DisputeGame',
        address,
        abi: disputeGameAbi,
        functionName: 'proveUntracedCall',
        args: [p.agentId, p.callSequence, call, salt],
      })
  const events = eventsOf(disputeGameAbi, receipt)
  const proven = events.find((e) => e.eventName === 'UntracedCallProven')
  const resolved = events.find((e) => e.eventName === 'DisputeResolved')
  if (proven?.eventName !== 'UntracedCallProven' || resolved?.eventName !== 'DisputeResolved') {
    throw new Error('UntracedCallProven event missing from receipt')
  }
  const repaid = parseEventLogs({ abi: bondVaultAbi, logs: receipt.logs, eventName: 'CompensatedToken' }).reduce((sum, l) => sum + l.args.amount, 0n)
  return {
    disputeId: proven.args.disputeId,
    slashedEth: resolved.args.slashedEth,
    slashedToken: resolved.args.slashedToken,
    compensatedToken: repaid,
    hash,
    gasUsed: commitGas + receipt.gasUsed,
  }
}

const TRANSFER_WITH_AUTHORIZATION = toFunctionSelector('transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)')
const PERMIT = toFunctionSelector('permit(address,address,uint256,uint256,uint8,bytes32,bytes32)')

/**
 * The call data of an account call that was a token authorization, read back from the
 * transaction that made it — `authorizeTransfer` / `authorizePermit` sent to the account (the
 * wallet's way), or made from inside it (an EIP-7702 delegate at the signer's address, any
 * contract) as the node's call tracer shows: the selector and fields exactly as AgentAccount
 * built them, checked against the leaf's `dataHash`. Undefined for any other call, or an
 * inner one on a node without `debug_traceTransaction`: that call is proven without its data,
 * and nothing is repaid in kind.
 */
async function authorizationData(c: CovenantClient, account: Address, txHash: Hash | null, dataHash: Hex): Promise<Hex | undefined> {
  if (!txHash) return undefined
  const tx = await c.publicClient.getTransaction({ hash: txHash }).catch(() => undefined)
  if (!tx) return undefined
  // sent to the account itself, or — through a 7702 delegate, a contract — one of the calls
  // the transaction made to it (the node's call tracer, where it has one)
  const inputs = tx.to && isAddressEqual(tx.to, account) ? [tx.input] : await callsTo(c, txHash, account)
  for (const input of inputs) {
    const data = dataOf(account, input)
    if (data && keccak256(data) === dataHash.toLowerCase()) return data
  }
  return undefined
}

type TracedCall = { to?: string; input?: string; calls?: TracedCall[] }

/** The inputs of every call a transaction made to `to` (debug_traceTransaction, callTracer); none where the node has no tracer. */
async function callsTo(c: CovenantClient, txHash: Hash, to: Address): Promise<Hex[]> {
  let root: TracedCall
  try {
    root = (await c.publicClient.request({ method: 'debug_traceTransaction', params: [txHash, { tracer: 'callTracer' }] } as never)) as TracedCall
  } catch {
    return []
  }
  const out: Hex[] = []
  const walk = (call: TracedCall | undefined, depth: number) => {
    if (!call || depth > 64) return
    if (typeof call.to === 'string' && typeof call.input === 'string' && /^0x[0-9a-fA-F]{40}$/.test(call.to) && isAddressEqual(call.to as Address, to)) out.push(call.input as Hex)
    for (const inner of Array.isArray(call.calls) ? call.calls : []) walk(inner, depth + 1)
  }
  walk(root, 0)
  return out
}

/** The authorization data AgentAccount builds for an `authorizeTransfer` / `authorizePermit` call's input; undefined for any other input. */
function dataOf(account: Address, input: Hex): Hex | undefined {
  let decoded: ReturnType<typeof decodeFunctionData<typeof agentAccountAbi>>
  try {
    decoded = decodeFunctionData({ abi: agentAccountAbi, data: input })
  } catch {
    return undefined
  }
  let data: Hex
  if (decoded.functionName === 'authorizeTransfer') {
    const [a] = decoded.args
    data = concat([
      TRANSFER_WITH_AUTHORIZATION,
      encodeAbiParameters([{ type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'bytes32' }], [account, a.to, a.value, a.validAfter, a.validBefore, a.nonce]),
    ])
  } else if (decoded.functionName === 'authorizePermit') {
    const [a] = decoded.args
    data = concat([PERMIT, encodeAbiParameters([{ type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'uint256' }], [account, a.spender, a.value, a.nonce, a.deadline])])
  } else return undefined
  return data
}
