import {
  BaseError as ViemBaseError,
  ContractFunctionRevertedError,
  HttpRequestError,
  parseEventLogs,
  type Abi,
  type Address,
  type Hash,
  type TransactionReceipt,
} from 'viem'
import type { CovenantWriteClient } from '../client.js'
import { ContractRevertError, RpcError } from '../errors.js'
import { revertHints } from './revertHints.js'

export type WriteResult = { hash: Hash; receipt: TransactionReceipt; result: unknown }

/**
 * Simulates, sends and waits for one contract call. A revert becomes a
 * {@link ContractRevertError} naming the custom error and what to do about it.
 */
export async function writeAndWait(
  client: CovenantWriteClient,
  call: {
    contract: string
    address: Address
    abi: Abi
    functionName: string
    args: readonly unknown[]
    value?: bigint | undefined
    /** A fixed gas limit, for calls whose cost depends on what lands first (a vote that may settle a dispute). */
    gas?: bigint | undefined
  },
): Promise<WriteResult> {
  const { publicClient, walletClient } = client
  try {
    const { request, result } = await publicClient.simulateContract({
      account: walletClient.account,
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      ...(call.value !== undefined ? { value: call.value } : {}),
      ...(call.gas !== undefined ? { gas: call.gas } : {}),
      chain: walletClient.chain,
    } as unknown as Parameters<typeof publicClient.simulateContract>[0])
    // A node's estimate is exact for the block it simulated; the block that mines the call may
    // take a costlier branch (a later timestamp moves a stored deadline, a day rolls over), so a
    // call without a fixed limit gets a margin instead of running out of gas under load.
    const gas = call.gas ?? withGasMargin(await publicClient.estimateContractGas(request as Parameters<typeof publicClient.estimateContractGas>[0]))
    const hash = await walletClient.writeContract({ ...(request as object), gas } as Parameters<typeof walletClient.writeContract>[0])
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') {
      if (receipt.gasUsed >= gas) {
        throw new ContractRevertError(call.contract, call.functionName, 'OutOfGas', [hash], `The transaction used all of its ${gas} gas; retry it (a later block may cost more than the estimate).`)
      }
      throw await revertedInBlock(client, call, hash, receipt.blockNumber)
    }
    return { hash, receipt, result }
  } catch (err) {
    throw toCovenantError(err, call.contract, call.functionName, client.publicClient.chain?.rpcUrls.default.http[0])
  }
}

/** 20 % and 10,000 gas over the node's estimate: the gas a storage write costs more in a later block. */
export function withGasMargin(estimate: bigint): bigint {
  return estimate + estimate / 5n + 10_000n
}

/**
 * The simulation passed but the transaction reverted: the chain changed in between (another
 * transaction got there first). Re-run the call on the state it met to name the error.
 */
async function revertedInBlock(
  client: CovenantWriteClient,
  call: { contract: string; address: Address; abi: Abi; functionName: string; args: readonly unknown[]; value?: bigint | undefined },
  hash: Hash,
  blockNumber: bigint,
): Promise<unknown> {
  const fallback = new ContractRevertError(call.contract, call.functionName, 'TransactionReverted', [hash], 'The transaction reverted after its simulation passed: the chain changed in between.')
  try {
    await client.publicClient.simulateContract({
      account: client.walletClient.account,
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      ...(call.value !== undefined ? { value: call.value } : {}),
      blockNumber: blockNumber - 1n,
    } as unknown as Parameters<typeof client.publicClient.simulateContract>[0])
  } catch (err) {
    const named = toCovenantError(err, call.contract, call.functionName)
    if (named instanceof ContractRevertError) return named
  }
  return fallback
}

export function toCovenantError(err: unknown, contract: string, fn: string, rpcUrl?: string): unknown {
  if (err instanceof ViemBaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
    if (revert instanceof ContractFunctionRevertedError) {
      const name = revert.data?.errorName ?? revert.reason ?? 'unknown reason'
      return new ContractRevertError(contract, fn, name, revert.data?.args ?? [], revertHints[name])
    }
    const http = err.walk((e) => e instanceof HttpRequestError)
    if (http) return new RpcError(rpcUrl ?? 'the configured RPC URL', err)
  }
  return err
}

export function eventsOf<const TAbi extends Abi>(abi: TAbi, receipt: TransactionReceipt) {
  return parseEventLogs({ abi, logs: receipt.logs })
}
